/**
 * `ghosteam runs artifact RUN TASK.OUTPUT`: what a step of a local run produced, from the
 * content-addressed store. A dataset shows its rows, columns and first rows (`--head`), and
 * `--out FILE` writes it as CSV, TSV, JSON Lines, Parquet or Arrow (by the extension); a model,
 * metrics or file artifact is printed when it is JSON text and copied with `--out`. Writes are
 * atomic and an existing file is refused unless --overwrite.
 */
import { copyFile, readFile, rename, rm } from 'node:fs/promises';
import { resolve } from 'node:path';
import { table } from '../table.ts';
import { ArtifactStore, RunStore, type RunRecord } from '../../pipelines/local/index.ts';
import type { ArtifactRef } from '../../pipelines/local/types.ts';

export interface ArtifactFlags {
  storeDir: string;
  out?: string;
  head: string;
  overwrite?: boolean;
  json?: boolean;
}

/** The artifact `ref` ('task.output') of a run, or an error listing the run's artifacts. */
export function findArtifact(r: RunRecord, ref: string): { node: string; output: string; artifact: ArtifactRef } {
  const all = r.order.flatMap((nid) => Object.entries(r.nodes[nid]?.outputs ?? {}).map(([o, a]) => ({ node: nid, output: o, artifact: a })));
  const hit = all.find((x) => `${x.node}.${x.output}` === ref);
  if (hit) return hit;
  const list = all.map((x) => `${x.node}.${x.output} (${x.artifact.kind})`).join(', ');
  throw new Error(`run ${r.id} has no artifact '${ref}'; ${list ? `its artifacts are ${list}` : 'it stored no artifacts (did its steps run?)'}`);
}

const cellText = (v: unknown): string => (v === null || v === undefined || (typeof v === 'number' && Number.isNaN(v)) ? '' : String(v));

export async function showArtifact(id: string, ref: string, flags: ArtifactFlags): Promise<void> {
  const root = resolve(flags.storeDir);
  const head = Number(flags.head);
  if (!Number.isInteger(head) || head < 0) throw new Error(`--head expects a whole number of rows ≥ 0, got '${flags.head}'`);
  const r = await new RunStore(root).load(id);
  const { node, output, artifact } = findArtifact(r, ref);
  const store = new ArtifactStore(root);
  const path = store.pathOf(artifact.digest);
  // A copy out is verified (a full hash); a preview only needs the file.
  const v = flags.out ? await store.verify(artifact.digest) : (await store.has(artifact.digest)) ? 'ok' : 'missing';
  if (v !== 'ok')
    throw new Error(
      `${ref} of run ${id} (${artifact.digest}) is ${v === 'missing' ? 'no longer in the store' : 'corrupt in the store (quarantined)'} at ${path}; run the pipeline again to make it`,
    );
  if (flags.out) {
    const out = resolve(flags.out);
    if (artifact.kind === 'dataset' && /\.(csv|tsv|jsonl|ndjson|parquet|pq|arrow|feather|ipc)$/i.test(out)) {
      const { exportDataset } = await import('../../components/batch/export-dataset.ts');
      const n = await exportDataset(path, out, { overwrite: flags.overwrite });
      process.stdout.write(`wrote ${flags.out} (${n.rows.toLocaleString('en-US')} rows × ${n.columns} columns) from ${ref} of run ${id}\n`);
      return;
    }
    if (artifact.kind === 'dataset')
      throw new Error(`--out ${flags.out}: a dataset is written as .csv, .tsv, .jsonl, .parquet or .arrow (Feather v2); name the file with one of those`);
    const { refuseExisting } = await import('../../components/batch/export-dataset.ts');
    await refuseExisting(flags.out, flags.overwrite);
    const tmp = `${out}.${process.pid}.tmp`;
    try {
      await copyFile(path, tmp);
      await rename(tmp, out);
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
    process.stdout.write(`wrote ${flags.out} (${artifact.kind}, ${artifact.size.toLocaleString('en-US')} bytes) from ${ref} of run ${id}\n`);
    return;
  }
  const about = { run: id, task: node, output, kind: artifact.kind, digest: artifact.digest, size: artifact.size, path };
  if (artifact.kind === 'dataset') {
    const { readDatasetChunks } = await import('../../components/dataset/stream.ts');
    const { cellAt } = await import('../../components/dataset/index.ts');
    let rows = 0;
    let columns: { name: string; type: string }[] = [];
    const first: Record<string, unknown>[] = [];
    for await (const chunk of readDatasetChunks(path)) {
      if (rows === 0) columns = chunk.columns.map((c) => ({ name: c.name, type: c.type }));
      for (let i = 0; i < chunk.rows && first.length < head; i++) first.push(Object.fromEntries(chunk.columns.map((c) => [c.name, cellAt(c, i)])));
      rows += chunk.rows;
    }
    if (flags.json) {
      process.stdout.write(JSON.stringify({ ...about, rows, columns, head: first }, null, 2) + '\n');
      return;
    }
    const lines = [
      `${ref}  dataset  ${artifact.digest}  ${artifact.size.toLocaleString('en-US')} B`,
      `${rows.toLocaleString('en-US')} rows × ${columns.length} columns: ${columns.map((c) => `${c.name} (${c.type})`).join(', ')}`,
    ];
    if (first.length) lines.push('', table([columns.map((c) => c.name), ...first.map((row) => columns.map((c) => cellText(row[c.name])))]));
    if (rows > first.length)
      lines.push(`… ${(rows - first.length).toLocaleString('en-US')} more rows (--head N; --out FILE.csv|.parquet|.jsonl writes them all)`);
    process.stdout.write(lines.join('\n') + '\n');
    return;
  }
  // Metrics and other JSON: the content; anything else: where it is.
  let json: unknown;
  if (artifact.size <= 1 << 20) {
    try {
      json = JSON.parse(await readFile(path, 'utf8'));
    } catch {
      json = undefined;
    }
  }
  if (flags.json) {
    process.stdout.write(JSON.stringify({ ...about, ...(json !== undefined ? { content: json } : {}) }, null, 2) + '\n');
    return;
  }
  process.stdout.write(`${ref}  ${artifact.kind}  ${artifact.digest}  ${artifact.size.toLocaleString('en-US')} B\n`);
  if (json !== undefined) process.stdout.write(JSON.stringify(json, null, 2) + '\n');
  else process.stdout.write(`stored at ${path} (read-only); --out FILE copies it\n`);
}
