/**
 * Value classes for the choices a task makes: GPUs, CPU/memory, retries, caching, schedules. Private
 * constructors and static factories that validate, so a bad value fails where it is written.
 */
import { CronExpressionParser } from 'cron-parser';
import type { CacheSpec, GpuSpec, ResourcesSpec, RetrySpec, ScheduleSpec } from './spec.ts';
import { parseDuration } from '../api/names.ts';

/**
 * Short product names → the `nvidia.com/gpu.product` node label that GPU feature discovery sets.
 * A full label (anything with an upper-case letter) is used as is.
 */
export const GPU_PRODUCTS: Readonly<Record<string, string>> = {
  'nvidia-t4': 'Tesla-T4',
  'nvidia-v100': 'Tesla-V100-SXM2-16GB',
  'nvidia-a10g': 'NVIDIA-A10G',
  'nvidia-l4': 'NVIDIA-L4',
  'nvidia-l40s': 'NVIDIA-L40S',
  'nvidia-a100': 'NVIDIA-A100-SXM4-40GB',
  'nvidia-a100-80gb': 'NVIDIA-A100-SXM4-80GB',
  'nvidia-h100': 'NVIDIA-H100-80GB-HBM3',
  'nvidia-h200': 'NVIDIA-H200',
};

export function gpuProductLabel(product: string): string {
  if (/[A-Z]/.test(product)) return product;
  const label = GPU_PRODUCTS[product];
  if (!label) {
    throw new Error(`GPU product '${product}' is unknown; use one of ${Object.keys(GPU_PRODUCTS).join(', ')} or the exact nvidia.com/gpu.product node label`);
  }
  return label;
}

const QUANTITY = /^[0-9]+(\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/;
const QUANTITY_FACTOR: Readonly<Record<string, number>> = {
  '': 1,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

/** Whether `q` is a Kubernetes quantity of the forms ghosteam accepts ('500m', '2', '512Mi', '4Gi', '1.5G'). */
export function isQuantity(q: string): boolean {
  return QUANTITY.test(q);
}

/** The value of a quantity accepted by isQuantity (bytes for a storage or memory quantity); NaN for anything else. */
export function quantityValue(q: string): number {
  const m = /^([0-9]+(?:\.[0-9]+)?)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/.exec(q);
  return m ? Number(m[1]) * QUANTITY_FACTOR[m[2] ?? ''] : NaN;
}

/** A whole number of bytes as the shortest exact binary quantity: 10737418240 → '10Gi', 1536 Mi → '1536Mi'. */
export function bytesQuantity(bytes: number): string {
  for (const unit of ['Ei', 'Pi', 'Ti', 'Gi', 'Mi', 'Ki'] as const) {
    const f = QUANTITY_FACTOR[unit];
    if (bytes >= f && bytes % f === 0) return `${bytes / f}${unit}`;
  }
  return String(Math.ceil(bytes));
}
const MIG = /^[0-9]+g\.[0-9]+gb$/;

export class Gpu {
  private constructor(readonly spec: GpuSpec) {}
  /**
   * Whole GPUs per pod.
   * @param opts.product short name ('nvidia-a100') or node label; @default - any GPU
   * @param opts.minMemoryGiB minimum memory per GPU; @default - any
   */
  static count(count: number, opts: { product?: string; minMemoryGiB?: number } = {}): Gpu {
    if (!Number.isInteger(count) || count < 1)
      throw new Error(`Gpu.count(${count}): the count must be a whole number >= 1; drop the GPU request instead of asking for ${count}`);
    if (opts.minMemoryGiB !== undefined && !(opts.minMemoryGiB > 0)) throw new Error(`Gpu.count: minMemoryGiB ${opts.minMemoryGiB} must be > 0`);
    return new Gpu({
      count,
      ...(opts.product ? { product: gpuProductLabel(opts.product) } : {}),
      ...(opts.minMemoryGiB ? { minMemoryMiB: Math.round(opts.minMemoryGiB * 1024) } : {}),
    });
  }
  /** A MIG slice such as '1g.10gb' (requests `nvidia.com/mig-1g.10gb`). */
  static mig(profile: string, opts: { count?: number; product?: string } = {}): Gpu {
    if (!MIG.test(profile)) throw new Error(`Gpu.mig('${profile}'): a MIG profile looks like '1g.10gb' or '3g.40gb'`);
    const count = opts.count ?? 1;
    if (!Number.isInteger(count) || count < 1) throw new Error(`Gpu.mig: count ${count} must be a whole number >= 1`);
    return new Gpu({ count, mig: profile, ...(opts.product ? { product: gpuProductLabel(opts.product) } : {}) });
  }
}

export class Resources {
  private constructor(readonly spec: ResourcesSpec) {}
  /**
   * @param r.cpu CPU request (a Kubernetes quantity, e.g. '500m' or '2'); the limit defaults to it
   * @param r.memory memory request and limit, e.g. '1Gi'
   */
  static of(r: { cpu: string; memory: string; cpuLimit?: string; memoryLimit?: string; gpu?: Gpu }): Resources {
    for (const k of ['cpu', 'memory', 'cpuLimit', 'memoryLimit'] as const) {
      const v = r[k];
      if (v !== undefined && !QUANTITY.test(v))
        throw new Error(`Resources.of: ${k} '${v}' is not a Kubernetes quantity; write e.g. '500m', '2', '512Mi' or '4Gi'`);
    }
    return new Resources({
      cpu: r.cpu,
      memory: r.memory,
      ...(r.cpuLimit ? { cpuLimit: r.cpuLimit } : {}),
      ...(r.memoryLimit ? { memoryLimit: r.memoryLimit } : {}),
      ...(r.gpu ? { gpu: r.gpu.spec } : {}),
    });
  }
  static readonly DEFAULT = Resources.of({ cpu: '500m', memory: '512Mi' });
}

export class Retry {
  private constructor(readonly spec: RetrySpec | undefined) {}
  static none(): Retry {
    return new Retry(undefined);
  }
  /**
   * Retries after a failure (non-zero exit). `backoff` is the first wait, multiplied by `factor`
   * each time, never longer than `maxBackoff`.
   */
  static onFailure(opts: { limit: number; backoff?: string | number; factor?: number; maxBackoff?: string | number }): Retry {
    return Retry.make('OnFailure', opts);
  }
  /** Retries also on infrastructure errors (pod evicted, node lost). */
  static always(opts: { limit: number; backoff?: string | number; factor?: number; maxBackoff?: string | number }): Retry {
    return Retry.make('Always', opts);
  }
  private static make(policy: RetrySpec['policy'], opts: { limit: number; backoff?: string | number; factor?: number; maxBackoff?: string | number }): Retry {
    if (!Number.isInteger(opts.limit) || opts.limit < 1 || opts.limit > 100) throw new Error(`Retry: limit ${opts.limit} must be a whole number from 1 to 100`);
    const factor = opts.factor ?? 2;
    if (!(factor >= 1)) throw new Error(`Retry: factor ${factor} must be >= 1`);
    const backoff =
      opts.backoff === undefined
        ? undefined
        : {
            durationSeconds: parseDuration(opts.backoff),
            factor,
            ...(opts.maxBackoff !== undefined ? { maxDurationSeconds: parseDuration(opts.maxBackoff) } : {}),
          };
    return new Retry({ limit: opts.limit, policy, ...(backoff ? { backoff } : {}) });
  }
}

export class Cache {
  private constructor(readonly spec: CacheSpec) {}
  /** Reuse a previous result with the same inputs. @param opts.maxAge e.g. '7d'; @default - forever */
  static enabled(opts: { maxAge?: string | number } = {}): Cache {
    return new Cache({ enabled: true, ...(opts.maxAge !== undefined ? { maxAgeSeconds: parseDuration(opts.maxAge) } : {}) });
  }
  static disabled(): Cache {
    return new Cache({ enabled: false });
  }
  /**
   * Reuse only where the data read by path or URI keys the result (the local engine: its content);
   * not memoized in Argo, whose key is the params. The default for steps that read data by path.
   */
  static contentKeyedOnly(): Cache {
    return new Cache({ enabled: true, contentKeyedOnly: true });
  }
}

export class Schedule {
  private constructor(readonly spec: ScheduleSpec) {}
  /**
   * A standard 5-field cron expression ('0 3 * * *').
   * @param opts.concurrencyPolicy @default 'Forbid'
   */
  static cron(expression: string, opts: { timezone?: string; concurrencyPolicy?: ScheduleSpec['concurrencyPolicy'] } = {}): Schedule {
    const fields = expression.trim().split(/\s+/);
    if (fields.length !== 5) throw new Error(`Schedule.cron('${expression}'): write 5 fields (minute hour day-of-month month day-of-week), e.g. '0 3 * * *'`);
    if (opts.timezone) {
      try {
        new Intl.DateTimeFormat('en', { timeZone: opts.timezone });
      } catch {
        throw new Error(`Schedule.cron: timezone '${opts.timezone}' is not an IANA time zone; write e.g. 'UTC' or 'Europe/Paris'`);
      }
    }
    try {
      CronExpressionParser.parse(expression, opts.timezone ? { tz: opts.timezone } : {});
    } catch (err) {
      throw new Error(`Schedule.cron('${expression}'): ${(err as Error).message}`);
    }
    return new Schedule({
      cron: fields.join(' '),
      ...(opts.timezone ? { timezone: opts.timezone } : {}),
      concurrencyPolicy: opts.concurrencyPolicy ?? 'Forbid',
    });
  }
}
