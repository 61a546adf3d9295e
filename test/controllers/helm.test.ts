// `ghosteam install --helm <dir>`: the operator chart, generated from the objects `ghosteam install`
// applies. The real helm (helm.sh/helm/v3 from the Go module proxy, test/peers/helm.ts) lints it,
// renders it (compared object by object with `ghosteam install --dry-run` for the same settings),
// refuses bad values with the reason, and installs it on the peer kube-apiserver. The operator pod
// running from the chart is in test/cluster/.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { chartValues, operatorChartFiles, templateDocs, writeOperatorChart } from '../../charts/operator-helm.ts';
import { DEFAULT_DENY, operatorInstallManifests } from '../../charts/operator-install.ts';
import { ensureHelm, helmBinary } from '../peers/helm.ts';
import { rawKube, usePeers } from '../peers/index.ts';

const cli = (...args: string[]) => spawnSync(process.execPath, ['bin/ghosteam.mjs', ...args], { encoding: 'utf8' });
const docs = (yaml: string) =>
  parseAllDocuments(yaml)
    .map((d) => d.toJS() as { kind?: string; metadata?: { name?: string } } | null)
    .filter((o): o is { kind: string; metadata: { name: string } } => Boolean(o?.kind));
const byId = (objs: { kind: string; metadata: { name: string } }[]) =>
  Object.fromEntries(objs.map((o) => [`${o.kind}/${o.metadata.name}`, o] as const).sort(([a], [b]) => a.localeCompare(b)));

describe('the operator chart, generated', () => {
  it('has every file, values from the install flags and CRDs in crds/', () => {
    const files = operatorChartFiles({ image: 'reg.local/op:1', replicas: 3, watchNamespace: 'team-a' });
    assert.deepEqual(Object.keys(files).sort(), [
      'Chart.yaml',
      'crds/ghosteam-crds.yaml',
      'templates/NOTES.txt',
      'templates/_helpers.tpl',
      'templates/operator.yaml',
      'values.schema.json',
      'values.yaml',
    ]);
    assert.match(files['values.yaml'], /^image: reg\.local\/op:1$/m);
    assert.match(files['values.yaml'], /^replicas: 3$/m);
    assert.match(files['values.yaml'], /^watchNamespace: team-a$/m);
    assert.equal(docs(files['crds/ghosteam-crds.yaml']).length, 5);
    assert.ok(!files['templates/operator.yaml'].includes('CustomResourceDefinition'));
    // No placeholder survives.
    assert.ok(!/ghosteamhelm|7771|7772/.test(files['templates/operator.yaml']));
  });
  it('guards each option, and reproduces the objects for every combination (checked while generating)', () => {
    const d = templateDocs();
    const guarded = d.filter((x) => x.conds.length).map((x) => `${x.id} ${x.conds.join(' ')}`);
    assert.deepEqual(guarded, [
      'Namespace/ghosteamhelm-ns +createNamespace',
      // The UI's one rule beyond the controllers' (get on pods/log: step logs), only with the UI.
      'ClusterRole/ghosteam-operator-ui +ui',
      'ClusterRoleBinding/ghosteam-operator-ui +ui',
      'Role/ghosteam-operator +watchNamespace',
      'RoleBinding/ghosteam-operator +watchNamespace',
      'Service/ghosteam-payload-sink +payloadSink',
      // The namespace-wide default-deny comes with the namespace: a release namespace may hold other things.
      'NetworkPolicy/ghosteam-default-deny +createNamespace',
    ]);
  });
  it('defaults: values match `ghosteam install` defaults', () => {
    const v = chartValues({});
    assert.equal(v.replicas, null);
    assert.equal(v.workers, 4);
    assert.deepEqual(v.writeBack, { enabled: false, repo: '', branch: 'main', lockFile: 'models.lock.json', secret: '' });
  });
  it('is written whole, and never over a directory that holds something else', async () => {
    const root = mkdtempSync(join(tmpdir(), 'helm-chart-'));
    const dir = join(root, 'chart');
    await writeOperatorChart(dir, {});
    assert.ok(existsSync(join(dir, 'templates/operator.yaml')));
    await writeOperatorChart(dir, { image: 'x:2' }); // a chart it wrote: replaced
    assert.match(readFileSync(join(dir, 'values.yaml'), 'utf8'), /^image: x:2$/m);
    const other = join(root, 'other');
    mkdirSync(other);
    writeFileSync(join(other, 'notes.txt'), 'mine');
    await assert.rejects(writeOperatorChart(other, {}), /--helm .*other: the directory is not empty and holds no chart/);
    assert.equal(readFileSync(join(other, 'notes.txt'), 'utf8'), 'mine');
    rmSync(root, { recursive: true, force: true });
  });
});

// The real helm: CI builds it (a missing peer is a failure there); elsewhere the tests run when it is built.
const haveHelm = process.env.CI === 'true' || existsSync(helmBinary());
const skip = haveHelm
  ? undefined
  : `helm is not built; build it with: node --import tsx -e "await (await import('./test/peers/helm.ts')).ensureHelm(console.log)"`;

describe('the operator chart with the real helm', { skip }, () => {
  let helm = '';
  const root = mkdtempSync(join(tmpdir(), 'helm-real-'));
  const h = (...args: string[]) =>
    spawnSync(helm, args, {
      encoding: 'utf8',
      env: { ...process.env, HELM_CACHE_HOME: join(root, 'cache'), HELM_CONFIG_HOME: join(root, 'config'), HELM_DATA_HOME: join(root, 'data') },
    });
  before(async () => {
    helm = await ensureHelm((l) => process.stderr.write(`[helm] ${l}\n`));
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('reports its real version', () => {
    const r = h('version', '--short');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^v3\.\d+\.\d+/);
  });

  const settings: { name: string; flags: string[] }[] = [
    { name: 'defaults', flags: [] },
    {
      name: 'namespace scope, MLflow, Prometheus',
      flags: ['--watch-namespace', 'team-a', '--mlflow-uri', 'http://mlflow:5000', '--prometheus-url', 'http://prom:9090'],
    },
    {
      name: 'write-back with a Secret, payload sink, image, workers',
      flags: [
        '--git-repo',
        'https://git.example/ml/app.git',
        '--git-secret',
        'git-token',
        '--lock-file',
        'deploy/models.lock.json',
        '--payload-sink',
        '--image',
        'reg.local/op:2',
      ],
    },
    { name: 'the web UI read-only, with the payload sink', flags: ['--ui', '--ui-read-only', '--ui-viewer-token-secret', 'ui-viewer', '--payload-sink'] },
  ];
  for (const s of settings)
    it(`lints, and renders what \`ghosteam install\` emits: ${s.name}`, () => {
      const dir = join(root, s.name.replace(/\W+/g, '-'));
      const w = cli('install', '--helm', dir, ...s.flags);
      assert.equal(w.status, 0, w.stderr);
      const lint = h('lint', '--strict', dir);
      assert.equal(lint.status, 0, lint.stdout + lint.stderr);
      const t = h('template', 'ghosteam-operator', dir, '-n', 'mlops', '--include-crds');
      assert.equal(t.status, 0, t.stderr);
      const want = cli('install', '--dry-run', '-n', 'mlops', ...s.flags);
      assert.equal(want.status, 0, want.stderr);
      // The chart leaves the release namespace (and so its default-deny policy) to `helm install --create-namespace` by default.
      const expected = docs(want.stdout).filter((o) => o.kind !== 'Namespace' && !(o.kind === 'NetworkPolicy' && o.metadata.name === DEFAULT_DENY));
      assert.deepEqual(byId(docs(t.stdout)), byId(expected));
    });

  it('values set at install time give what the same flags give', () => {
    const dir = join(root, 'values');
    assert.equal(cli('install', '--helm', dir).status, 0);
    const t = h(
      'template',
      'op',
      dir,
      '-n',
      'ml',
      '--set',
      'watchNamespace=team-b,replicas=1,payloadSink.enabled=true,createNamespace=true,writeBack.enabled=true,writeBack.repo=git@git.example:ml/app.git,ui.enabled=true,ui.viewerTokenSecret=ui-viewer',
    );
    assert.equal(t.status, 0, t.stderr);
    const want = operatorInstallManifests({
      namespace: 'ml',
      replicas: 1,
      crds: false,
      watchNamespace: 'team-b',
      payloadSink: {},
      gitWriteBack: { repo: 'git@git.example:ml/app.git' },
      ui: { readOnly: true, viewerTokenSecret: { name: 'ui-viewer' } },
    });
    assert.deepEqual(byId(docs(t.stdout)), byId(JSON.parse(JSON.stringify(want))));
  });

  it('refuses bad values, saying which and why', () => {
    const dir = join(root, 'bad');
    assert.equal(cli('install', '--helm', dir).status, 0);
    const cases: [string[], RegExp][] = [
      [['--set', 'replicas=0'], /replicas/],
      [['--set', 'watchNamespace=Team_A'], /watchNamespace/],
      [['--set', 'payloadSink.enabled=true,replicas=2'], /payloadSink\.enabled keeps the payload log in the operator's pod, so it needs replicas 1 \(got 2\)/],
      [['--set', 'writeBack.enabled=true'], /writeBack\.repo is required with writeBack\.enabled/],
      [['--set', 'ui.enabled=true'], /ui\.viewerTokenSecret is required with ui\.enabled/],
      [['--set', 'writeBack.enabled=true,writeBack.repo=https://git.example/r.git,writeBack.lockFile=deploy/other.json'], /lockFile/],
      [['--set', 'imagee=x'], /additional properties|imagee/i],
    ];
    for (const [args, msg] of cases) {
      const r = h('template', 'op', dir, ...args);
      assert.notEqual(r.status, 0, `${args.join(' ')} was accepted`);
      assert.match(r.stderr, msg, args.join(' '));
    }
  });

  it('installs on the real API server, and uninstalls', async () => {
    const peers = await usePeers(['kube']);
    if (peers.skip) return assert.fail(peers.skip);
    const dir = join(root, 'install');
    const ns = `helm-${process.pid}`;
    // Namespace scope keeps the cluster-wide footprint to one ClusterRole (nodes) and its binding.
    assert.equal(cli('install', '--helm', dir, '--watch-namespace', ns, '--image', 'ghosteam.local/operator:test').status, 0);
    const kc = ['--kubeconfig', peers.kubeconfig];
    const i = h('install', 'ghosteam-operator', dir, '-n', ns, '--create-namespace', '--skip-crds', '--wait=false', ...kc);
    try {
      assert.equal(i.status, 0, i.stdout + i.stderr);
      const st = h('status', 'ghosteam-operator', '-n', ns, '-o', 'json', ...kc);
      assert.equal(JSON.parse(st.stdout).info.status, 'deployed');
      const m = h('get', 'manifest', 'ghosteam-operator', '-n', ns, ...kc);
      const kinds = docs(m.stdout)
        .map((o) => o.kind)
        .sort();
      assert.deepEqual(kinds, [
        'ClusterRole',
        'ClusterRoleBinding',
        'Deployment',
        'NetworkPolicy',
        'PodDisruptionBudget',
        'Role',
        'Role',
        'RoleBinding',
        'RoleBinding',
        'Service',
        'ServiceAccount',
      ]);
    } finally {
      const u = h('uninstall', 'ghosteam-operator', '-n', ns, ...kc);
      assert.equal(u.status, 0, u.stderr);
      await rawKube(peers.kubeconfig).request('DELETE', `/api/v1/namespaces/${ns}`);
    }
  });
});
