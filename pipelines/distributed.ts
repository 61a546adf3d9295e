/**
 * Data-parallel steps: what a user declares (`distributed: { workers, gpusPerWorker, exchange }`) and
 * the one check of it, shared by ContainerComponent.define and pipeline.component. Pure.
 */
import { isQuantity, quantityValue } from './resources.ts';
import type { DistributedSpec } from './spec.ts';

/** The exchange volume's size per distributed step when none is given. */
export const DEFAULT_EXCHANGE_SIZE = '10Gi';

export interface DistributedProps {
  /** Worker processes (pods in a cluster), each with torchrun's rendezvous environment. */
  readonly workers: number;
  /** GPUs each worker requests. @default 0 */
  readonly gpusPerWorker?: number;
  /**
   * In a cluster the step's artifacts pass through the workflow's ReadWriteMany exchange volume.
   * `size`: the room this step needs on it (its inputs and outputs); the volume is the sum over the
   * workflow's distributed steps. `storageClass`: a class that provides ReadWriteMany volumes (NFS,
   * CephFS, EFS, Filestore, ...). @default - { size: '10Gi', storageClass: the cluster's default class }
   */
  readonly exchange?: { readonly size?: string; readonly storageClass?: string };
}

const STORAGE_CLASS = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

/** What is wrong with a distributed declaration, by field (relative to `distributed.`); [] when nothing. */
export function distributedProblems(d: DistributedProps): { field: string; message: string }[] {
  const out: { field: string; message: string }[] = [];
  const { workers, gpusPerWorker = 0, exchange } = d;
  if (!Number.isInteger(workers) || workers < 1)
    out.push({ field: 'distributed.workers', message: `is ${String(workers)}; give a whole number of worker processes, at least 1` });
  if (!Number.isInteger(gpusPerWorker) || gpusPerWorker < 0)
    out.push({ field: 'distributed.gpusPerWorker', message: `is ${String(gpusPerWorker)}; give a whole number of GPUs per worker (0 for CPU workers)` });
  if (exchange?.size !== undefined && (!isQuantity(exchange.size) || !(quantityValue(exchange.size) >= 1)))
    out.push({ field: 'distributed.exchange.size', message: `is '${exchange.size}'; give a storage quantity such as '500Mi', '10Gi' or '1Ti'` });
  if (exchange?.storageClass !== undefined && !STORAGE_CLASS.test(exchange.storageClass))
    out.push({
      field: 'distributed.exchange.storageClass',
      message: `is '${exchange.storageClass}'; give the name of a StorageClass (lower case DNS subdomain, e.g. 'nfs-client') that provides ReadWriteMany volumes`,
    });
  return out;
}

/** The spec of a declaration distributedProblems accepted. */
export function distributedSpec(d: DistributedProps, stagingImage: string): DistributedSpec {
  return {
    workers: d.workers,
    gpusPerWorker: d.gpusPerWorker ?? 0,
    exchangeSize: d.exchange?.size ?? DEFAULT_EXCHANGE_SIZE,
    ...(d.exchange?.storageClass ? { storageClass: d.exchange.storageClass } : {}),
    stagingImage,
  };
}
