/**
 * `npm run demo`'s flow end to end with smaller sizes: real local engine, registry, OIP server over
 * HTTP, local operator, git repository, write-back and plan. The outcome is checked twice: by the
 * demo's own checks, and here again from what it left on disk (registry, operator state, git).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runDemo } from '../../examples/fraud-detection/demo.ts';
import { LocalRegistry } from '../../components/registry/index.ts';
import { LocalStore } from '../../controllers/runtime/local-store.ts';
import { TYPES } from '../../controllers/runtime/store.ts';

test(
  'the demo: drift → one retrain (reason drift) → v2 promoted → broken v3 rolled back → late labels alert → pin committed → plan → report',
  { timeout: 300_000 },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gt-demo-'));
    const lines: string[] = [];
    try {
      // Speed 10 (not the demo's 15): in CI other test files share the 2 cores, and each canary step must
      // still see the policy's 200 requests at 10% of the live rate within the step and its grace period.
      const out = await runDemo({
        dir: join(dir, 'ws'),
        report: join(dir, 'report.html'),
        rows: 12_000,
        trafficRows: 2000,
        speed: 10,
        rate: 500,
        progress: 'quiet',
        print: (l) => lines.push(l),
        stepTimeoutMs: 60_000,
      });
      assert.deepEqual(
        out.checks.filter((c) => !c.ok),
        [],
        lines.join('\n'),
      );
      assert.equal(out.checks.length, 9);
      assert.equal(out.ok, true);

      // The registry: v1 trained by hand, v2 by the drift run, v3 the broken one.
      const reg = new LocalRegistry({ dir: join(dir, 'ws', 'registry') });
      const versions = await reg.listVersions('fraud');
      assert.deepEqual(versions.map((v) => v.version).sort(), [1, 2, 3]);
      const v2 = versions.find((v) => v.version === 2)!;
      assert.equal(v2.lineage.reason, 'drift');
      assert.match(v2.lineage.runId ?? '', /^fraud-drift-drift-/);
      assert.ok(v2.metrics.rocAuc >= 0.8, `v2 passed the gate: ${v2.metrics.rocAuc}`);
      assert.equal((await reg.resolve('fraud', 'champion')).version, 2);

      // The operator's state: one TrainingRun (reason drift); the Model rolled v3 back and serves v2.
      const store = await LocalStore.open({ stateDir: join(dir, 'ws', 'state') });
      try {
        const runs = (await store.list(TYPES.TrainingRun)).items;
        assert.equal(runs.length, 1);
        assert.equal((runs[0].spec as { reason: string }).reason, 'drift');
        assert.deepEqual((runs[0].spec as { params?: Record<string, string> }).params, { data: 'data/fraud/recent.csv' });
        const model = (await store.get(TYPES.Model, 'fraud', 'fraud'))!;
        const st = model.status as {
          stableVersion: number;
          lastFailedVersion: number;
          phase: string;
          conditions: Array<{ type: string; reason: string; message: string }>;
        };
        assert.equal(st.stableVersion, 2);
        assert.equal(st.lastFailedVersion, 3);
        assert.equal(st.phase, 'RolledBack');
        const degraded = st.conditions.find((c) => c.type === 'Degraded')!;
        assert.equal(degraded.reason, 'ErrorRateTooHigh');
        assert.match(degraded.message, /^canary error rate [0-9.]+ exceeds 0\.01 at step 1 \(10%\)$/);
      } finally {
        store.close();
      }
      // The promotion's analysis: two steps passed before 100%.
      const promoted = out.record.rollouts.find((r) => r.version === 2)!;
      assert.equal(promoted.outcome, 'promoted');
      assert.deepEqual(
        promoted.analysis.map((a) => [a.trafficPercent, a.passed]),
        [
          [10, true],
          [50, true],
        ],
      );
      // Real traffic reached v3 and some of it failed with HTTP 500.
      const errors500 = out.record.traffic.reduce((n, b) => n + (b.errors['500'] ?? 0), 0);
      assert.ok(errors500 > 0, 'v3 answered some requests with 500');
      assert.ok(
        out.record.traffic.some((b) => (b.ok['3'] ?? 0) > 0),
        'v3 answered some requests',
      );

      // Git: the app commit, then the write-back commit touching only the lock file.
      const repo = out.repoDir;
      const log = execFileSync('git', ['log', '--format=%s%n%b%x00'], { cwd: repo, encoding: 'utf8' })
        .split('\0')
        .map((s) => s.trim())
        .filter(Boolean);
      assert.equal(log.length, 2);
      assert.match(log[0], /Ghosteam-Writeback: true/);
      assert.equal(execFileSync('git', ['show', '--format=', '--name-only', 'HEAD'], { cwd: repo, encoding: 'utf8' }).trim(), 'models.lock.json');
      const lock = JSON.parse(readFileSync(join(repo, 'models.lock.json'), 'utf8'));
      assert.equal(lock.models.fraud.version, 2);
      assert.equal(lock.models.fraud.previous, 1);
      assert.equal(lock.models.fraud.reason, 'drift');
      assert.match(out.record.plan, /version: 2/);

      // Late labels: v2's accuracy from feedback fell below 0.85 and the operator's local rule evaluation fired.
      const acc = out.record.alerts.find((a) => a.alert === 'GhosteamModelAccuracyLow' && a.state === 'firing');
      assert.ok(acc, JSON.stringify(out.record.alerts));
      assert.equal(acc.labels.version, '2');
      assert.ok(acc.value < 0.85, `accuracy ${acc.value}`);
      assert.equal(out.record.quality?.samples, 100);
      assert.ok(Math.abs((out.record.quality?.metrics?.accuracy ?? 1) - acc.value) < 1e-9, 'the alert carries the quality the server reports');
      assert.ok(
        lines.some((l) => /GhosteamModelAccuracyLow FIRING: fraud version 2: accuracy \d+(\.\d+)?% is below 85%/.test(l)),
        'the console says so',
      );

      // The report.
      assert.ok(existsSync(out.reportPath));
      const html = readFileSync(out.reportPath, 'utf8');
      assert.doesNotMatch(html, /<script|src="http|href="http/);
      for (const s of [
        'ErrorRateTooHigh',
        'AnalysisPassed',
        'Ghosteam-Writeback',
        'drift → retrain',
        '<svg',
        'GhosteamModelAccuracyLow',
        'Quality from late labels',
      ])
        assert.ok(html.includes(s), `report mentions ${s}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
