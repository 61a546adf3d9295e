/**
 * The model registry seen by every other part of ghosteam (register step, model server, operator,
 * CLI). Two implementations: local files under .ghosteam/registry, and MLflow over REST.
 * Both must pass the same shared test suite.
 */
export interface Lineage {
  /** The pipeline run (local run id or Argo Workflow name) that produced the version. */
  readonly runId?: string;
  readonly pipeline?: string;
  readonly datasetDigest?: string;
  readonly gitCommit?: string;
  /** Present when the code was not committed: the digest of the uncommitted changes on top of gitCommit (api/git-source.ts). */
  readonly gitDirty?: string;
  /** Why the version exists: 'drift' | 'git-change' | 'schedule' | 'manual'. */
  readonly reason?: string;
  /**
   * The task of the run that registered it (the pipeline's register step, or a TrainingRun). With
   * runId it is the idempotency key: a registry holds at most one version per (runId, task), so a
   * run killed after its registration and resumed gets the same version back, not a second one.
   */
  readonly task?: string;
  /**
   * The version this one was made from without training (an optimized or quantized copy): the
   * original's 'name@version' (or its file, when it was not a registry version), and its sha256.
   */
  readonly derivedFrom?: string;
  readonly derivedFromDigest?: string;
}

export interface ModelVersion {
  readonly name: string;
  readonly version: number;
  /** Where the model file lives (local path or URI). */
  readonly source: string;
  /** sha256 of the model file, 'sha256:<hex>'. */
  readonly digest?: string;
  readonly format: 'onnx' | string;
  readonly aliases: readonly string[];
  readonly tags: Readonly<Record<string, string>>;
  readonly metrics: Readonly<Record<string, number>>;
  readonly params: Readonly<Record<string, string>>;
  readonly lineage: Lineage;
  /** ISO-8601. */
  readonly createdAt: string;
}

export interface RegisteredModel {
  readonly name: string;
  readonly latestVersion?: number;
  readonly aliases: Readonly<Record<string, number>>;
  readonly description?: string;
}

export interface RegisterInput {
  /** Path of the model file to register (copied into the registry's store). */
  readonly artifactPath: string;
  readonly format?: string;
  readonly metrics?: Record<string, number>;
  readonly params?: Record<string, string>;
  readonly tags?: Record<string, string>;
  readonly lineage?: Lineage;
  /**
   * When a version with the same digest exists, return it (`reused: 'digest'`) instead of making a
   * new one: a cached re-run of a pipeline then registers nothing new. @default false
   */
  readonly reuseIdentical?: boolean;
  /**
   * The digest the caller recorded for the file ('sha256:<hex>', e.g. the artifact store's). When
   * the file's bytes hash to something else, nothing is registered and the error says so.
   */
  readonly expectedDigest?: string;
}

/** What registerVersion returns: the version, and why it is an existing one, when it is. */
export type RegisteredVersion = ModelVersion & {
  /** 'run': this (runId, task) registered it before; 'digest': the same bytes are that version. */
  readonly reused?: 'run' | 'digest';
};

/** The existing version a registration must return instead of a new one (pure; see RegisterInput). */
export function reusableVersion(
  existing: readonly ModelVersion[],
  input: Pick<RegisterInput, 'lineage' | 'reuseIdentical'>,
  digest: string,
): RegisteredVersion | undefined {
  const l = input.lineage;
  if (l?.runId && l.task) {
    const same = existing.find((v) => v.lineage.runId === l.runId && v.lineage.task === l.task);
    if (same) return { ...same, reused: 'run' };
  }
  if (input.reuseIdentical) {
    const same = existing.find((v) => v.digest === digest);
    if (same) return { ...same, reused: 'digest' };
  }
  return undefined;
}

/** The error for a file whose bytes are not what the caller recorded (nothing is registered). */
export function digestMismatch(name: string, path: string, actual: string, expected: string): string {
  return `cannot register '${name}': model file ${path} hashes to ${actual}, but its recorded digest is ${expected} (its bytes changed after they were stored); nothing was registered. Check the store with 'ghosteam store verify' and run the pipeline again`;
}

/** A reference to a model version: a number, an alias ('champion'), or 'latest'. */
export type VersionRef = number | string;

export interface ModelRegistry {
  readonly kind: 'local' | 'mlflow';
  /**
   * Registers a new version (creating the model if needed) and returns it; or the existing version
   * of the same (lineage.runId, lineage.task), or with reuseIdentical of the same digest (`reused`).
   */
  registerVersion(name: string, input: RegisterInput): Promise<RegisteredVersion>;
  getVersion(name: string, version: number): Promise<ModelVersion>;
  /** Resolves a version number, alias or 'latest'. Throws a clear error when it doesn't exist. */
  resolve(name: string, ref: VersionRef): Promise<ModelVersion>;
  listModels(): Promise<RegisteredModel[]>;
  /**
   * The registered models' names, sorted, without reading each model (what a UI refresh needs); a
   * model being created may be listed before listVersions finds it.
   */
  listModelNames(): Promise<string[]>;
  listVersions(name: string): Promise<ModelVersion[]>;
  setAlias(name: string, alias: string, version: number): Promise<void>;
  deleteAlias(name: string, alias: string): Promise<void>;
  setTag(name: string, version: number, key: string, value: string): Promise<void>;
  /** Returns a local path of the version's model file (or model directory), fetching it if needed. */
  fetchArtifact(mv: ModelVersion): Promise<string>;
  /**
   * MLflow only: fetches the model a run URI (`runs:/RUN_ID/model`) names into a local directory
   * and returns it with the model's name (the path's last segment).
   */
  fetchRunModel?(uri: string): Promise<{ name: string; path: string }>;
}

/**
 * Parses 'fraud@champion', 'fraud@3', 'fraud:3' or 'fraud' (= latest), and MLflow's model URIs
 * 'models:/fraud@champion', 'models:/fraud/3' and 'models:/fraud/latest'.
 */
export function parseModelRef(ref: string): { name: string; version: VersionRef } {
  const uri = /^models:\/([^/@]+)(?:@([^/]+)|\/([^/]+))?$/.exec(ref);
  if (ref.startsWith('models:')) {
    if (!uri) throw new Error(`'${ref}' is not an MLflow model URI; write models:/NAME@ALIAS, models:/NAME/VERSION or models:/NAME/latest`);
    return parseModelRef(`${uri[1]}${uri[2] !== undefined ? `@${uri[2]}` : uri[3] !== undefined ? `@${uri[3]}` : ''}`);
  }
  const m = /^([A-Za-z0-9][-A-Za-z0-9_.]*)(?:[@:]([-A-Za-z0-9_.]+))?$/.exec(ref);
  if (!m)
    throw new Error(
      `'${ref}' is not a model reference; write NAME, NAME@ALIAS or NAME@VERSION (e.g. fraud@champion), or an MLflow URI (models:/fraud@champion, models:/fraud/3)`,
    );
  const v = m[2];
  return { name: m[1], version: v === undefined ? 'latest' : /^\d+$/.test(v) ? Number(v) : v };
}
