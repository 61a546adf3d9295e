/**
 * The operator as a Helm chart (`ghosteam install --helm <dir>`), generated from the same objects
 * `ghosteam install` applies (operatorInstallManifests): one source of truth, no hand-kept
 * templates to drift.
 *
 * How: the objects are rendered with placeholder values (sentinels) once with every option off and
 * then once per option turned on (each on top of the ones before). A line diff of each pair says
 * which lines an option adds or removes; those lines get `{{- if … }}` guards, and the sentinels
 * become `.Values` expressions. Before anything is written the template is checked against the
 * objects themselves: for EVERY combination of options, the guarded lines must read exactly as the
 * objects rendered with that combination, or generation fails. test/controllers/helm.test.ts then has
 * the real `helm` lint the chart and render it against `ghosteam install --dry-run` output.
 *
 * The chart: Chart.yaml, values.yaml (the flags of `ghosteam install` as defaults), values.schema.json
 * (Helm validates values against it: from the TypeBox type below), templates/operator.yaml,
 * templates/_helpers.tpl (replicas and its check), crds/ (Helm's place for CRDs: installed first,
 * never templated; `helm install --skip-crds` leaves them out).
 */
import { mkdtemp, rename, rm, writeFile, mkdir } from 'node:fs/promises';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { diffArrays } from 'diff';
import { Type, type Static } from '@sinclair/typebox';
import { stringify } from 'yaml';
import { ghosteamCrds } from '../api/crds/index.ts';
import type { K8sObject } from '../api/objects.ts';
import { DEFAULT_DENY, operatorInstallManifests, type OperatorInstallProps } from './operator-install.ts';

export const CHART_NAME = 'ghosteam-operator';
const CHART_VERSION = '0.1.0';

/** The chart's values: what `ghosteam install` takes as flags. Its JSON Schema is values.schema.json. */
export const OperatorChartValuesSchema = Type.Object(
  {
    image: Type.String({ minLength: 1, description: 'operator image' }),
    replicas: Type.Union([Type.Integer({ minimum: 1 }), Type.Null()], { description: 'replicas (one leads at a time); null: 2, or 1 with payloadSink' }),
    workers: Type.Integer({ minimum: 1, description: 'workers per controller' }),
    createNamespace: Type.Boolean({
      description:
        "create the release namespace with the 'restricted' Pod Security labels and a default-deny ingress NetworkPolicy (leave false with `helm install --create-namespace`)",
    }),
    watchNamespace: Type.String({
      pattern: '^([a-z0-9]([-a-z0-9]*[a-z0-9])?)?$',
      maxLength: 63,
      description: "namespace scope: watch only this namespace (a Role there); '' watches every namespace (a ClusterRole)",
    }),
    mlflowUri: Type.String({ description: "MLflow tracking URI of the model registry ('' for none)" }),
    prometheusUrl: Type.String({ description: "Prometheus base URL for canary analysis ('' for none)" }),
    writeBack: Type.Object(
      {
        enabled: Type.Boolean({ description: 'commit promoted versions to the lock file in Git' }),
        repo: Type.String({ pattern: '^$|^(https?|ssh|git)://[^@/]+(/.*)?$|^ssh://|^[^/\\s]+@[^:\\s]+:', description: 'remote URL, without credentials' }),
        branch: Type.String({ minLength: 1 }),
        lockFile: Type.String({ pattern: '^([^/]+/)*models\\.lock\\.json$' }),
        secret: Type.String({
          pattern: '^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*)?$',
          description: "Secret with the Git token (key 'token', optional 'username'); '' for none",
        }),
      },
      { additionalProperties: false },
    ),
    payloadSink: Type.Object(
      {
        enabled: Type.Boolean({ description: 'host the payload sink in the operator (Service ghosteam-payload-sink); needs replicas 1' }),
        sizeLimit: Type.String({ pattern: '^[0-9]+(\\.[0-9]+)?(Ki|Mi|Gi|Ti|k|M|G|T)?$' }),
      },
      { additionalProperties: false },
    ),
    ui: Type.Object(
      {
        enabled: Type.Boolean({
          description:
            "serve the web UI read-only from the operator (port http-ui 8070 on its pods and Service; NetworkPolicy: namespaces labelled ghosteam.io/ui-access=true); reads need ui.viewerTokenSecret; the UI's actions need the audit log: use `ghosteam install --ui` for them",
        }),
        viewerTokenSecret: Type.String({
          description: "a Secret in the release namespace whose key 'token' allows reading the UI (required with ui.enabled: reads are authenticated)",
        }),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);
export type OperatorChartValues = Static<typeof OperatorChartValuesSchema>;

/** The values.yaml defaults for install props (the flags of `ghosteam install`). */
export function chartValues(p: OperatorInstallProps): OperatorChartValues {
  const g = p.gitWriteBack;
  return {
    image: p.image ?? 'ghcr.io/ghosteam/operator:0.1.0',
    replicas: p.replicas ?? null,
    workers: p.workers ?? 4,
    createNamespace: false,
    watchNamespace: p.watchNamespace ?? '',
    mlflowUri: p.mlflowUri ?? '',
    prometheusUrl: p.prometheusUrl ?? '',
    writeBack: {
      enabled: Boolean(g),
      repo: g?.repo ?? '',
      branch: g?.branch ?? 'main',
      lockFile: g?.lockFile ?? 'models.lock.json',
      secret: g?.secret?.name ?? '',
    },
    payloadSink: { enabled: Boolean(p.payloadSink), sizeLimit: p.payloadSink?.sizeLimit ?? '1Gi' },
    ui: { enabled: Boolean(p.ui), viewerTokenSecret: p.ui?.viewerTokenSecret?.name ?? '' },
  };
}

// ---- the template, from the objects ----------------------------------------------------------

const S = {
  namespace: 'ghosteamhelm-ns',
  image: 'ghosteamhelm-image',
  mlflowUri: 'ghosteamhelm-mlflowuri',
  prometheusUrl: 'ghosteamhelm-prometheusurl',
  repo: 'https://ghosteamhelm-repo.invalid/repo.git',
  branch: 'ghosteamhelm-branch',
  lockFile: 'ghosteamhelm-lockfile/models.lock.json',
  secret: 'ghosteamhelm-secret',
  sizeLimit: 'ghosteamhelm-sizelimit',
  watchNamespace: 'ghosteamhelm-watchns',
  uiViewerSecret: 'ghosteamhelm-uiviewer',
  replicas: 7771,
  workers: 7772,
} as const;

/** Each sentinel as it appears as a whole YAML scalar, and the template expression replacing it. */
const SUBSTITUTIONS: readonly [string, string][] = [
  [S.namespace, '{{ .Release.Namespace | quote }}'],
  [S.image, '{{ .Values.image | quote }}'],
  [S.mlflowUri, '{{ .Values.mlflowUri | quote }}'],
  [S.prometheusUrl, '{{ .Values.prometheusUrl | quote }}'],
  [S.repo, '{{ required "writeBack.repo is required with writeBack.enabled (the remote URL the operator clones)" .Values.writeBack.repo | quote }}'],
  [S.branch, '{{ .Values.writeBack.branch | quote }}'],
  [S.lockFile, '{{ .Values.writeBack.lockFile | quote }}'],
  [S.secret, '{{ .Values.writeBack.secret | quote }}'],
  [S.sizeLimit, '{{ .Values.payloadSink.sizeLimit | quote }}'],
  [S.watchNamespace, '{{ .Values.watchNamespace | quote }}'],
  [
    S.uiViewerSecret,
    `{{ required "ui.viewerTokenSecret is required with ui.enabled (a Secret with key 'token': the UI's reads need a credential)" .Values.ui.viewerTokenSecret | quote }}`,
  ],
  [String(S.replicas), `{{ include "${CHART_NAME}.replicas" . }}`],
  [`"${S.workers}"`, '{{ .Values.workers | toString | quote }}'],
];

interface Feature {
  readonly key: string;
  /** The Helm condition under which the feature's lines show. */
  readonly cond: string;
  /** Features that must be on for this one to mean anything (their conditions are added). */
  readonly requires?: readonly string[];
  readonly apply: (p: Record<string, unknown>) => void;
}

/** In the order their lines appear in the objects (later options add after earlier ones). */
const FEATURES: readonly Feature[] = [
  { key: 'createNamespace', cond: '.Values.createNamespace', apply: () => {} },
  { key: 'watchNamespace', cond: '.Values.watchNamespace', apply: (p) => (p.watchNamespace = S.watchNamespace) },
  { key: 'prometheus', cond: '.Values.prometheusUrl', apply: (p) => (p.prometheusUrl = S.prometheusUrl) },
  { key: 'mlflow', cond: '.Values.mlflowUri', apply: (p) => (p.mlflowUri = S.mlflowUri) },
  {
    key: 'writeBack',
    cond: '.Values.writeBack.enabled',
    apply: (p) => (p.gitWriteBack = { repo: S.repo, branch: S.branch, lockFile: S.lockFile }),
  },
  {
    key: 'gitSecret',
    cond: '.Values.writeBack.secret',
    requires: ['writeBack'],
    apply: (p) => (p.gitWriteBack = { ...(p.gitWriteBack as object), secret: { name: S.secret } }),
  },
  { key: 'payloadSink', cond: '.Values.payloadSink.enabled', apply: (p) => (p.payloadSink = { sizeLimit: S.sizeLimit }) },
  { key: 'ui', cond: '.Values.ui.enabled', apply: (p) => (p.ui = { readOnly: true, viewerTokenSecret: { name: S.uiViewerSecret } }) },
];

/** The objects with the given features on (CRDs apart: they go to crds/), each as its id and YAML lines. */
function render(on: ReadonlySet<string>): Doc[] {
  const p: Record<string, unknown> = { namespace: S.namespace, image: S.image, replicas: 1, workers: S.workers, crds: false };
  for (const f of FEATURES) if (on.has(f.key)) f.apply(p);
  return (
    operatorInstallManifests(p as OperatorInstallProps)
      // The namespace, and its default-deny, only where the chart creates the namespace (the release's may hold other things).
      .filter((o) => (o.kind !== 'Namespace' && o.metadata.name !== DEFAULT_DENY) || on.has('createNamespace'))
      .map((o) => (o.kind === 'Deployment' ? withReplicas(o) : o))
      .map((o) => ({ id: `${o.kind}/${o.metadata.name}`, lines: stringify(o, { lineWidth: 0 }).replace(/\n$/, '').split('\n') }))
  );
}

interface Doc {
  readonly id: string;
  readonly lines: string[];
}

/** The Deployment's replicas as the sentinel (the payload sink's "needs 1" is the template's check). */
function withReplicas(o: K8sObject): K8sObject {
  return { ...o, spec: { ...(o.spec as object), replicas: S.replicas } };
}

/** Features that must be on (`+key`) or off (`-key`) for a line or an object to show. */
type Conds = string[];

/** A template line, or an object (its lines), and when it shows. */
interface Entry {
  readonly line: string;
  readonly conds: Conds;
}
interface DocEntry {
  readonly id: string;
  readonly conds: Conds;
  readonly lines: Entry[];
}

function visible(conds: Conds, on: ReadonlySet<string>): boolean {
  return conds.every((c) => (c[0] === '+' ? on.has(c.slice(1)) : !on.has(c.slice(1))));
}

/**
 * Merges one feature's diff into guarded items: `before` is what the visible items read now,
 * `after` what they must read with the feature on. Unchanged items stay, removed ones get `-key`,
 * added ones `need`. Hidden items (other features off) keep their place.
 */
function merge<T extends { conds: Conds }, V>(
  items: T[],
  before: readonly V[],
  after: readonly V[],
  on: ReadonlySet<string>,
  key: string,
  same: (a: V, b: V) => boolean,
  added: (v: V) => T,
  kept: (item: T, b: V, a: V) => T,
): T[] {
  const next: T[] = [];
  let i = 0;
  const takeHidden = () => {
    while (i < items.length && !visible(items[i].conds, on)) next.push(items[i++]);
  };
  let bi = 0;
  let ai = 0;
  for (const part of diffArrays(before as V[], after as V[], { comparator: same })) {
    if (part.added) {
      takeHidden();
      for (const v of part.value) {
        next.push(added(v));
        ai++;
      }
      continue;
    }
    for (let k = 0; k < part.value.length; k++) {
      takeHidden();
      const item = items[i++];
      if (part.removed) next.push({ ...item, conds: [...item.conds, `-${key}`] });
      else next.push(kept(item, before[bi], after[ai++]));
      bi++;
    }
  }
  while (i < items.length) next.push(items[i++]);
  return next;
}

/** The guarded objects: the base rendering, then each feature's diff (objects, then lines) on top of the ones before. */
export function templateDocs(): DocEntry[] {
  let docs: DocEntry[] = render(new Set()).map((d) => ({ id: d.id, conds: [], lines: d.lines.map((line) => ({ line, conds: [] })) }));
  const on = new Set<string>();
  for (const f of FEATURES) {
    const before = render(on);
    const after = render(new Set([...on, f.key]));
    if (show(docs, on).join('\n') !== before.flatMap((d) => d.lines).join('\n'))
      throw new Error(`operator chart: the template lost track of the objects before '${f.key}'`);
    const need = [`+${f.key}`, ...(f.requires ?? []).map((r) => `+${r}`)];
    docs = merge(
      docs,
      before,
      after,
      on,
      f.key,
      (a, b) => a.id === b.id,
      (d) => ({ id: d.id, conds: need, lines: d.lines.map((line) => ({ line, conds: [] })) }),
      (doc, b, a) => ({
        ...doc,
        lines: merge(
          doc.lines,
          b.lines,
          a.lines,
          on,
          f.key,
          (x, y) => x === y,
          (line) => ({ line, conds: need }),
          (e) => e,
        ),
      }),
    );
    on.add(f.key);
  }
  checkEveryCombination(docs);
  return docs;
}

function show(docs: readonly DocEntry[], on: ReadonlySet<string>): string[] {
  return docs.filter((d) => visible(d.conds, on)).flatMap((d) => d.lines.filter((e) => visible(e.conds, on)).map((e) => e.line));
}

/** Every combination of features: the guarded lines must read exactly as the objects render. */
function checkEveryCombination(docs: readonly DocEntry[]): void {
  const n = FEATURES.length;
  for (let mask = 0; mask < 1 << n; mask++) {
    const on = new Set(FEATURES.filter((_, b) => mask & (1 << b)).map((f) => f.key));
    if (FEATURES.some((f) => on.has(f.key) && (f.requires ?? []).some((r) => !on.has(r)))) continue;
    if (
      show(docs, on).join('\n') !==
      render(on)
        .flatMap((d) => d.lines)
        .join('\n')
    )
      throw new Error(
        `operator chart: the template does not reproduce the objects with ${[...on].join(', ') || 'no options'}; the options interact, guard them together`,
      );
  }
}

function helmCond(conds: readonly string[]): string {
  const byKey = new Map(FEATURES.map((f) => [f.key, f.cond]));
  const terms = conds.map((c) => (c[0] === '+' ? byKey.get(c.slice(1))! : `(not ${byKey.get(c.slice(1))})`));
  const uniq = [...new Set(terms)];
  return uniq.length === 1 ? uniq[0].replace(/^\((.*)\)$/, '$1') : `and ${uniq.join(' ')}`;
}

/** A YAML line with a whole-scalar sentinel replaced by its expression; any other use of a sentinel is an error. */
function substitute(line: string): string {
  for (const [token, expr] of SUBSTITUTIONS) {
    const m = new RegExp(`^(\\s*(?:- )?(?:[\\w./-]+: )?)${token.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}$`).exec(line);
    if (m) return m[1] + expr;
  }
  if (/ghosteamhelm|7771|7772/.test(line)) throw new Error(`operator chart: a placeholder is part of a larger value and cannot be templated: ${line.trim()}`);
  return line;
}

/** Lines under guards: consecutive entries with the same conditions share one `if`. */
function guarded(items: readonly { conds: Conds; text: string[] }[]): string[] {
  const out: string[] = [];
  let open: string | undefined;
  for (const it of items) {
    const key = it.conds.length ? helmCond(it.conds) : undefined;
    if (key !== open) {
      if (open !== undefined) out.push('{{- end }}');
      if (key !== undefined) out.push(`{{- if ${key} }}`);
      open = key;
    }
    out.push(...it.text);
  }
  if (open !== undefined) out.push('{{- end }}');
  return out;
}

/** templates/operator.yaml: the guarded objects, sentinels replaced by values. */
export function operatorTemplate(): string {
  const docs = templateDocs().map((d) => ({
    conds: d.conds,
    text: ['---', ...guarded(d.lines.map((e) => ({ conds: e.conds, text: [substitute(e.line)] })))],
  }));
  return [`{{- include "${CHART_NAME}.check" . }}`, ...guarded(docs)].join('\n') + '\n';
}

const HELPERS = `{{/* Replicas: the value, else 2, or 1 with the payload sink (it keeps its log in the pod). */}}
{{- define "${CHART_NAME}.replicas" -}}
{{- if kindIs "invalid" .Values.replicas -}}
{{- if .Values.payloadSink.enabled }}1{{ else }}2{{ end -}}
{{- else -}}
{{- .Values.replicas -}}
{{- end -}}
{{- end -}}

{{/* What values.schema.json cannot say. */}}
{{- define "${CHART_NAME}.check" -}}
{{- if and .Values.payloadSink.enabled (ne (include "${CHART_NAME}.replicas" . | int) 1) -}}
{{- fail (printf "payloadSink.enabled keeps the payload log in the operator's pod, so it needs replicas 1 (got %v); with several replicas, run 'ghosteam payload-sink' as its own Deployment on a ReadWriteMany volume" .Values.replicas) -}}
{{- end -}}
{{- if and .Values.writeBack.secret (not .Values.writeBack.enabled) -}}
{{- fail "writeBack.secret needs writeBack.enabled (and writeBack.repo)" -}}
{{- end -}}
{{- end -}}
`;

/** Every file of the chart, by path inside the chart directory. */
export function operatorChartFiles(props: OperatorInstallProps = {}): Record<string, string> {
  const values = chartValues(props);
  const header = [
    `# Values of the ${CHART_NAME} chart, written by \`ghosteam install --helm\` (its flags are the defaults here).`,
    '# values.schema.json checks them; every key is described there.',
    '',
  ].join('\n');
  return {
    'Chart.yaml': stringify({
      apiVersion: 'v2',
      name: CHART_NAME,
      description: 'The ghosteam operator: Models, TrainingRuns and DriftMonitors reconciled in the cluster (generated by `ghosteam install --helm`)',
      type: 'application',
      version: CHART_VERSION,
      appVersion: CHART_VERSION,
      kubeVersion: '>=1.29.0-0',
    }),
    'values.yaml': header + stringify(values, { lineWidth: 0 }),
    'values.schema.json': JSON.stringify({ $schema: 'http://json-schema.org/draft-07/schema#', ...OperatorChartValuesSchema }, null, 2) + '\n',
    'templates/_helpers.tpl': HELPERS,
    'templates/operator.yaml': operatorTemplate(),
    'templates/NOTES.txt': `The ghosteam operator runs in {{ .Release.Namespace }} ({{ include "${CHART_NAME}.replicas" . }} replica(s), one leads).\nIts health and metrics: Service ${CHART_NAME}-metrics, port 8081 (/healthz, /readyz, /metrics).\n{{- if .Values.ui.enabled }}\nThe web UI (read-only): port 8070 of the same Service; kubectl port-forward -n {{ .Release.Namespace }} svc/${CHART_NAME}-metrics 8070\n{{- end }}\n`,
    'crds/ghosteam-crds.yaml': ghosteamCrds()
      .map((o) => stringify(o, { lineWidth: 0 }))
      .join('---\n'),
  };
}

/**
 * Writes the chart to `dir` (created; an existing directory must be empty or a chart this wrote):
 * into a temporary directory beside it first, then renamed, so a failure leaves nothing half-written.
 */
export async function writeOperatorChart(dir: string, props: OperatorInstallProps = {}): Promise<string[]> {
  if (props.audit)
    throw new Error(
      "--helm with --audit-log: the chart does not template the audit log's claim yet; apply with `ghosteam install --audit-log`, or `--dry-run` for the manifests",
    );
  if (props.ui && !props.ui.readOnly)
    throw new Error(
      '--helm with --ui: the chart serves the UI read-only (its actions need the audit log, which the chart does not template yet); add --ui-read-only, or apply with `ghosteam install --ui`',
    );
  const target = resolve(dir);
  if (existsSync(target)) {
    if (!statSync(target).isDirectory()) throw new Error(`--helm ${dir}: exists and is not a directory`);
    const entries = readdirSync(target);
    if (entries.length && !entries.includes('Chart.yaml'))
      throw new Error(`--helm ${dir}: the directory is not empty and holds no chart; give a new or empty directory`);
  }
  const files = operatorChartFiles(props);
  await mkdir(dirname(target), { recursive: true });
  const tmp = await mkdtemp(`${target}.tmp-`);
  try {
    for (const [rel, text] of Object.entries(files)) {
      await mkdir(dirname(join(tmp, rel)), { recursive: true });
      await writeFile(join(tmp, rel), text);
    }
    if (existsSync(target)) {
      const old = `${target}.old-${process.pid}`;
      await rename(target, old);
      await rename(tmp, target);
      await rm(old, { recursive: true, force: true });
    } else await rename(tmp, target);
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
  return Object.keys(files);
}
