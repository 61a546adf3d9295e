// Proof that the Prometheus peer scrapes targets a test registers (shared instance via file_sd, and
// a test's own instance), and that the venv python has the reference tools.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { promisify } from 'node:util';
import { addScrapeTargets, eventually, promQuery, startTestPrometheus, uniqueName, usePeers } from './index.ts';

const peers = await usePeers(['prometheus']);
const py = await usePeers(['python']);

describe('prometheus peer', { skip: peers.skip }, () => {
  let server: Server;
  let target: string;
  let hits = 0;

  before(async () => {
    server = createServer((req, res) => {
      if (req.url !== '/metrics') {
        res.writeHead(404).end();
        return;
      }
      hits++;
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
      res.end(`# TYPE peers_test_hits counter\npeers_test_hits_total ${hits}\n`);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const addr = server.address();
    target = `127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  });
  after(() => server?.close());

  test(
    'the shared Prometheus scrapes a target registered through file_sd',
    { skip: peers.prometheusTargetsDir ? false : 'shared Prometheus not started by the harness' },
    async () => {
      const job = uniqueName('peers-fsd');
      const remove = addScrapeTargets(peers, job, { job, targets: [target] });
      try {
        const result = await eventually(
          'a scraped sample',
          async () => {
            const r = await promQuery(peers.prometheusUrl, `peers_test_hits_total{job="${job}"}`);
            return r.length > 0 ? r : undefined;
          },
          { timeoutMs: 20_000, intervalMs: 250 },
        );
        assert.equal(result[0].metric.instance, target);
        assert.ok(Number(result[0].value[1]) >= 1);
      } finally {
        remove();
      }
    },
  );

  test('a test-owned Prometheus scrapes its static targets, and stops', async () => {
    const prom = await startTestPrometheus({ scrape: [{ job: 'own', targets: [target], labels: { area: 'peers' } }] });
    try {
      const up = await eventually(
        'up{job="own"} == 1',
        async () => {
          const r = await promQuery(prom.url, 'up{job="own"}');
          return r[0]?.value[1] === '1' ? r : undefined;
        },
        { timeoutMs: 20_000, intervalMs: 250 },
      );
      assert.equal(up[0].metric.area, 'peers');
      await assert.rejects(promQuery(prom.url, 'sum(('), /PromQL sum\(\(: .*parse error/);
    } finally {
      await prom.stop();
    }
    await assert.rejects(fetch(`${prom.url}/-/ready`));
  });
});

describe('python peer (venv with the reference tools)', { skip: py.skip }, () => {
  test('imports every reference tool and computes a scipy statistic', async () => {
    const code = [
      'import json, mlflow, scipy, scipy.stats, tritonclient.http, kserve, onnxruntime, schemathesis',
      'r = scipy.stats.ks_2samp([1.0, 2.0, 3.0, 4.0], [1.5, 2.5, 3.5, 10.0])',
      'print(json.dumps({"mlflow": mlflow.__version__, "scipy": scipy.__version__, "onnxruntime": onnxruntime.__version__, "ks": r.statistic}))',
    ].join('\n');
    const { stdout } = await promisify(execFile)(py.python, ['-c', code], { timeout: 60_000 });
    const got = JSON.parse(stdout) as { mlflow: string; scipy: string; onnxruntime: string; ks: number };
    const pins = (await import('./versions.json', { with: { type: 'json' } })).default.python;
    assert.equal(got.mlflow, pins.mlflow);
    assert.equal(got.scipy, pins.scipy);
    assert.equal(got.onnxruntime, pins.onnxruntime);
    // By hand: the two ECDFs differ by at most one step of 1/4 (at x = 1, 2, 3 and 4).
    assert.equal(got.ks, 0.25);
  });
});
