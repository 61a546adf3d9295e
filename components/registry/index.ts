/**
 * The model registry: one interface (types.ts), two implementations.
 * `openRegistry()` picks MLflow when a tracking URI is given or MLFLOW_TRACKING_URI is set, else
 * the local registry under GHOSTEAM_REGISTRY_DIR or `.ghosteam/registry`.
 */
import { LocalRegistry } from './local.ts';
import { MlflowRegistry } from './mlflow/index.ts';
import type { ModelRegistry } from './types.ts';

export * from './types.ts';
export { RegistryError, checkAlias, checkModelName, type RegistryErrorCode } from './errors.ts';
export { LocalRegistry, sha256File, type LocalRegistryOptions } from './local.ts';
export { MlflowRegistry, MlflowError, type MlflowRegistryOptions } from './mlflow/index.ts';

export interface OpenRegistryOptions {
  /** An MLflow tracking URI (http://host:port). @default process.env.MLFLOW_TRACKING_URI */
  readonly trackingUri?: string;
  /** Local registry directory. @default process.env.GHOSTEAM_REGISTRY_DIR ?? '.ghosteam/registry' */
  readonly dir?: string;
  /** MLflow experiment for registration runs. @default process.env.GHOSTEAM_MLFLOW_EXPERIMENT ?? 'ghosteam' */
  readonly experiment?: string;
  readonly env?: NodeJS.ProcessEnv;
}

export function openRegistry(opts: OpenRegistryOptions = {}): ModelRegistry {
  const env = opts.env ?? process.env;
  const uri = opts.trackingUri ?? (opts.dir ? undefined : env.MLFLOW_TRACKING_URI);
  // GHOSTEAM_MLFLOW_CACHE_DIR: where downloaded model files go. The default is relative to the working
  // directory, which a container with a read-only root file system cannot write (the model-server
  // image sets it under /tmp).
  if (uri)
    return new MlflowRegistry({
      trackingUri: uri,
      experiment: opts.experiment ?? env.GHOSTEAM_MLFLOW_EXPERIMENT,
      ...(env.GHOSTEAM_MLFLOW_CACHE_DIR ? { cacheDir: env.GHOSTEAM_MLFLOW_CACHE_DIR } : {}),
    });
  return new LocalRegistry({ dir: opts.dir ?? env.GHOSTEAM_REGISTRY_DIR ?? '.ghosteam/registry' });
}
