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
  /** Why the version exists: 'drift' | 'git-change' | 'schedule' | 'manual'. */
  readonly reason?: string;
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
}

/** A reference to a model version: a number, an alias ('champion'), or 'latest'. */
export type VersionRef = number | string;

export interface ModelRegistry {
  readonly kind: 'local' | 'mlflow';
  /** Registers a new version (creating the model if needed) and returns it. */
  registerVersion(name: string, input: RegisterInput): Promise<ModelVersion>;
  getVersion(name: string, version: number): Promise<ModelVersion>;
  /** Resolves a version number, alias or 'latest'. Throws a clear error when it doesn't exist. */
  resolve(name: string, ref: VersionRef): Promise<ModelVersion>;
  listModels(): Promise<RegisteredModel[]>;
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
  if (!m) throw new Error(`'${ref}' is not a model reference; write NAME, NAME@ALIAS or NAME@VERSION (e.g. fraud@champion), or an MLflow URI (models:/fraud@champion, models:/fraud/3)`);
  const v = m[2];
  return { name: m[1], version: v === undefined ? 'latest' : /^\d+$/.test(v) ? Number(v) : v };
}
