import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { payloadPredictionDrift } from '../../controllers/backends/drift-check.ts';

test('prediction drift between canary and stable outputs, from the payload log window', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gt-pd-'));
  try {
    const t0 = Date.parse('2026-11-23T04:00:00Z');
    const lines: string[] = [];
    let s = 1;
    const rnd = () => (s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32;
    for (let i = 0; i < 2000; i++) {
      const version = i % 2 ? '1' : '2';
      const same = version === '1' ? rnd() * 0.3 : rnd() * 0.3;
      const shifted = version === '1' ? rnd() * 0.3 : 0.6 + rnd() * 0.4;
      lines.push(
        JSON.stringify({
          ts: new Date(t0 + i * 20).toISOString(),
          model: 'same',
          version,
          id: `a${i}`,
          inputs: {},
          outputs: { p: { shape: [1, 1], datatype: 'FP32', data: [[same]] } },
        }),
      );
      lines.push(
        JSON.stringify({
          ts: new Date(t0 + i * 20).toISOString(),
          model: 'shift',
          version,
          id: `b${i}`,
          inputs: {},
          outputs: { p: { shape: [1, 1], datatype: 'FP32', data: [shifted] } },
        }),
      );
    }
    // A torn record in the middle (a crash mid-append), a bare null and a garbage last line: skipped and counted.
    lines.splice(100, 0, '{"ts":"2026-11-23T04:00:01.000Z","model":"sa', 'null');
    lines.push('not json');
    writeFileSync(join(dir, 'p.jsonl'), lines.join('\n'));
    const skipped: Array<[number, string]> = [];
    const pd = payloadPredictionDrift({ payloadLog: () => join(dir, 'p.jsonl'), onSkipped: (n, first) => skipped.push([n, first]) });
    const m = (name: string) => ({ spec: { modelRef: { name } } });
    const low = await pd(m('same'), 1, 2, t0, t0 + 60_000);
    const high = await pd(m('shift'), 1, 2, t0, t0 + 60_000);
    assert.ok(low !== null && low < 0.05, `same distribution: ${low}`);
    assert.ok(high !== null && high > 1, `shifted: ${high}`);
    assert.equal(skipped.length, 2);
    assert.equal(skipped[0][0], 3);
    assert.match(skipped[0][1], new RegExp(`^${join(dir, 'p.jsonl').replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:101: `));
    // A window with too few predictions is unknown, not zero.
    assert.equal(await pd(m('shift'), 1, 2, t0, t0 + 500), null);
    const gone = payloadPredictionDrift({ payloadLog: () => join(dir, 'missing.jsonl') });
    assert.equal(await gone(m('shift'), 1, 2, t0, t0 + 60_000), null);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
