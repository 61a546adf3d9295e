/**
 * Decoders for compressed Arrow IPC buffers, registered with apache-arrow once: pyarrow (and so
 * pandas' `df.to_feather`) compresses with LZ4 frames by default, or ZSTD when asked. We only read
 * them; what we write is uncompressed, so its bytes stay canonical. lz4js and fzstd are pure JS.
 */
import { compressionRegistry, CompressionType } from 'apache-arrow';
import { decompress as zstdDecompress } from 'fzstd';
// @ts-expect-error lz4js ships no type declarations; decompress(Uint8Array) -> Uint8Array (LZ4 frame format).
import lz4 from 'lz4js';

const lz4Decompress = (lz4 as { decompress(src: Uint8Array, maxSize?: number): Uint8Array }).decompress;

/** apache-arrow views decoded buffers as typed arrays in place, so they must start 8-byte aligned. */
const aligned = (b: Uint8Array): Uint8Array => (b.byteOffset % 8 === 0 ? b : new Uint8Array(b));

let registered = false;

export function registerArrowCodecs(): void {
  if (registered) return;
  registered = true;
  compressionRegistry.set(CompressionType.LZ4_FRAME, { decode: (data: Uint8Array) => aligned(lz4Decompress(data)) });
  compressionRegistry.set(CompressionType.ZSTD, { decode: (data: Uint8Array) => aligned(zstdDecompress(data)) });
}
