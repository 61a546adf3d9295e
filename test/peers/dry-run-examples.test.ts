// The strongest check that the YAML ghosteam synthesizes is valid: every object synthesized from
// examples/ is server-side applied with dryRun=All against the real API server, which validates it
// against the real upstream CRD schemas (and admission) without storing it.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CoreV1Api } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { repoRoot } from './config.ts';
import { kubeConfig, uniqueName, usePeers } from './index.ts';
import { KubeHttpError, rawKube, type KubeObject } from './raw.ts';

const peers = await usePeers(['kube']);

const examples = readdirSync(join(repoRoot, 'examples'), { withFileTypes: true })
  .filter((d) => d.isDirectory() && existsSync(join(repoRoot, 'examples', d.name, 'app.ts')))
  .map((d) => d.name)
  .sort();

/** Synthesize one example with the real CLI and return every object it wrote, with its file. */
async function synth(example: string): Promise<{ file: string; obj: KubeObject }[]> {
  const out = mkdtempSync(join(tmpdir(), `ghosteam-dry-run-${example}-`));
  try {
    await promisify(execFile)(process.execPath, ['bin/ghosteam.mjs', 'synth', `examples/${example}/app.ts`, '--out', out], { cwd: repoRoot, timeout: 120_000 });
    const objs: { file: string; obj: KubeObject }[] = [];
    for (const file of readdirSync(out)
      .filter((f) => f.endsWith('.yaml'))
      .sort()) {
      for (const doc of parseAllDocuments(readFileSync(join(out, file), 'utf8'))) {
        const obj = doc.toJS() as KubeObject | null;
        if (obj) objs.push({ file, obj });
      }
    }
    return objs;
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

describe('server-side dry-run apply of everything synthesized from examples/', { skip: peers.skip }, () => {
  test('there is at least one example', () => {
    assert.ok(examples.length > 0, 'no examples/*/app.ts found');
  });

  for (const example of examples) {
    describe(`examples/${example}`, () => {
      let objects: { file: string; obj: KubeObject }[] = [];
      before(async () => {
        objects = await synth(example);
        // Namespaced objects need their namespace to exist, even for a dry run. Each synthesized
        // namespace maps to one of this run's own, so other tests sharing the peer can't interfere.
        const core = kubeConfig(peers).makeApiClient(CoreV1Api);
        const renamed = new Map<string, string>();
        for (const { obj } of objects) {
          const ns = obj.metadata?.namespace;
          if (!ns) continue;
          if (!renamed.has(ns)) {
            const mine = uniqueName(ns);
            renamed.set(ns, mine);
            await core.createNamespace({ body: { metadata: { name: mine } } });
          }
          obj.metadata!.namespace = renamed.get(ns);
        }
      });

      test('synthesizes objects, including workflows, an InferenceService and ghosteam resources', () => {
        const kinds = new Set(objects.map((o) => o.obj.kind));
        for (const kind of ['WorkflowTemplate', 'InferenceService', 'Model']) assert.ok(kinds.has(kind), `no ${kind} in ${[...kinds].join(', ')}`);
      });

      test('the API server accepts every object (server-side apply, dryRun=All)', async () => {
        const kube = rawKube(peers.kubeconfig);
        const failures: string[] = [];
        for (const { file, obj } of objects) {
          try {
            const applied = await kube.apply<KubeObject>(obj, { dryRun: true, fieldManager: 'ghosteam-dry-run' });
            assert.equal(applied.metadata?.name, obj.metadata?.name);
          } catch (err) {
            failures.push(`${file}: ${obj.kind} ${obj.metadata?.namespace ?? ''}/${obj.metadata?.name}: ${(err as Error).message.slice(0, 800)}`);
          }
        }
        assert.deepEqual(failures, []);
      });

      test('the dry run validates: a copy missing a field the upstream schema requires is rejected', async () => {
        const isvc = objects.find((o) => o.obj.kind === 'InferenceService');
        assert.ok(isvc, 'no InferenceService synthesized');
        const broken = structuredClone(isvc.obj) as KubeObject & { spec: { predictor: { model: { modelFormat: { name?: string } } } } };
        assert.ok(broken.spec.predictor.model?.modelFormat?.name, 'the synthesized InferenceService has no spec.predictor.model.modelFormat.name');
        delete broken.spec.predictor.model.modelFormat.name;
        await assert.rejects(rawKube(peers.kubeconfig).apply(broken, { dryRun: true }), (err: unknown) => {
          assert.ok(err instanceof KubeHttpError, String(err));
          assert.equal(err.status, 422, err.message);
          assert.match(err.message, /spec\.predictor\.model\.modelFormat\.name: Required value/);
          return true;
        });
      });

      test('a dry run stores nothing', async () => {
        const kube = rawKube(peers.kubeconfig);
        const isvc = objects.find((o) => o.obj.kind === 'InferenceService');
        assert.ok(isvc, 'no InferenceService synthesized');
        const { item } = await kube.paths(isvc.obj);
        await assert.rejects(kube.request('GET', item), (err: unknown) => err instanceof KubeHttpError && err.status === 404);
      });
    });
  }
});
