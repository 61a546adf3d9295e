// The payload sink's promise, probed as issue #25 did: a 2xx means the events are on disk. A 50,000-
// event batch, a full disk (a real 1 MiB tmpfs mounted in a private mount namespace with
// unshare(1); the test reads the sink's files through /proc/<pid>/root), kill -9 right after the
// answers, a torn last line, 60 large KServe request events in a 512 MiB heap, 10,000-deep JSON and
// strings in FP32 data. All of them failed before the sink wrote before answering.
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startPayloadSink, KSERVE_REQUEST, KSERVE_RESPONSE } from '../../components/payload-sink/index.ts';
import { tempDir } from '../model-server/fixtures.ts';

const BIN = join(import.meta.dirname, '../../bin/ghosteam.mjs');
const dirs: string[] = [];
const children: ChildProcess[] = [];
after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
});
const dir = () => {
  const d = tempDir('ghosteam-sinkd-');
  dirs.push(d);
  return d;
};

/** A payload record; `pad` more feature values make it larger (about 8 bytes each). */
const record = (i: number, pad = 0) => ({
  ts: '2026-11-23T07:00:00.000Z',
  model: 'fraud',
  version: '1',
  id: `r${i}`,
  inputs: { input: { shape: [1, 2 + pad], datatype: 'FP32', data: [i, 1, ...Array.from({ length: pad }, (_, j) => j + 0.25)] } },
  outputs: {},
});
const event = (i: number, pad = 0) => ({ specversion: '1.0', id: `e${i}`, source: 's', type: 'io.ghosteam.inference.payload', data: record(i, pad) });
const batch = (from: number, n: number, pad = 0) => JSON.stringify(Array.from({ length: n }, (_, k) => event(from + k, pad)));
const postBatch = (url: string, body: string) => fetch(`${url}/`, { method: 'POST', headers: { 'content-type': 'application/cloudevents-batch+json' }, body });

function kserve(url: string, type: string, id: string, body: string) {
  return fetch(`${url}/`, {
    method: 'POST',
    body,
    headers: {
      'content-type': 'application/json',
      'ce-specversion': '1.0',
      'ce-id': id,
      'ce-source': 'http://localhost:9081/',
      'ce-type': type,
      'ce-inferenceservicename': 'fraud',
      'ce-namespace': 'ml',
    },
  });
}

/** Lines of a JSON Lines file: how many parse, and whether the file ends in a torn line. */
function audit(file: string): { ids: string[]; bad: number; torn: boolean } {
  const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
  const lines = text.split('\n');
  const torn = lines[lines.length - 1] !== '';
  const ids: string[] = [];
  let bad = 0;
  for (const l of lines.slice(0, -1)) {
    try {
      ids.push(JSON.parse(l).id);
    } catch {
      bad++;
    }
  }
  return { ids, bad, torn };
}

interface Child {
  readonly proc: ChildProcess;
  readonly url: string;
  stderr(): string;
}

/** Starts `ghosteam payload-sink` (optionally inside `wrap`, e.g. unshare) and waits for its URL. */
async function startCli(args: string[], opts: { wrap?: string[]; env?: NodeJS.ProcessEnv } = {}): Promise<Child> {
  const cmd = [...(opts.wrap ?? []), process.execPath, BIN, 'payload-sink', '--port', '0', ...args];
  const proc = spawn(cmd[0], cmd.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...opts.env } });
  children.push(proc);
  let out = '';
  let err = '';
  proc.stderr.on('data', (c) => (err += c));
  const url = await new Promise<string>((resolve, reject) => {
    proc.stdout.on('data', (c) => {
      out += c;
      const m = /listening on (\S+),/.exec(out);
      if (m) resolve(m[1]);
    });
    proc.once('exit', (code) => reject(new Error(`payload-sink exited ${code}: ${out}${err}`)));
  });
  return { proc, url, stderr: () => err };
}

const exit = (p: ChildProcess, sig: NodeJS.Signals) =>
  new Promise<number | null>((resolve) => {
    if (p.exitCode !== null || p.signalCode !== null) return resolve(p.exitCode);
    p.once('exit', (code) => resolve(code));
    p.kill(sig);
  });

describe('a 2xx from the payload sink means the events are on disk', () => {
  test('a 50,000-event batch is answered only once all 50,000 are written', async () => {
    const file = join(dir(), 'p.jsonl');
    const sink = await startPayloadSink({ port: 0, file, log: () => {} });
    try {
      const res = await postBatch(sink.url, batch(0, 50_000));
      assert.deepEqual([res.status, await res.json()], [200, { accepted: 50_000 }]);
      // Before any close or timer: the answer came after the write.
      const a = audit(file);
      assert.equal(a.ids.length, 50_000);
      assert.equal(new Set(a.ids).size, 50_000);
      assert.equal(a.torn, false);
    } finally {
      await sink.close();
    }
  });

  test('kill -9 right after the answers loses nothing acknowledged, KServe halves waiting for their pair included', async () => {
    const d = dir();
    const file = join(d, 'payloads.jsonl');
    const sink = await startCli(['--dir', d]);
    let acked = 0;
    const sends = [];
    for (let b = 0; b < 20; b++)
      sends.push(
        postBatch(sink.url, batch(b * 50, 50)).then(async (r) => {
          if (r.status === 200) acked += ((await r.json()) as { accepted: number }).accepted;
        }),
      );
    // Three requests whose responses never come, and one pair split over two POSTs.
    for (const id of ['q1', 'q2', 'q3', 'pair'])
      sends.push(kserve(sink.url, KSERVE_REQUEST, id, '{"instances":[[1,2]]}').then((r) => assert.equal(r.status, 200)));
    await Promise.all(sends);
    assert.equal((await kserve(sink.url, KSERVE_RESPONSE, 'pair', '{"predictions":[0.5]}')).status, 200);
    sink.proc.kill('SIGKILL');
    await exit(sink.proc, 'SIGKILL');
    assert.equal(acked, 1000);
    const a = audit(file);
    assert.equal(a.ids.filter((id) => id.startsWith('r')).length, 1000, 'every acknowledged record is in the log');
    assert.deepEqual(
      a.ids.filter((id) => !id.startsWith('r')),
      ['pair'],
    );
    // The three lone requests were acknowledged too: they come back from the journal after a restart
    // and are written (without outputs) at the latest when the sink stops.
    const again = await startCli(['--dir', d]);
    assert.match(again.stderr(), /3 KServe half\/halves acknowledged before the last stop came back/);
    assert.equal(await exit(again.proc, 'SIGTERM'), 0);
    const b = audit(file);
    assert.deepEqual(b.ids.filter((id) => id.startsWith('q')).sort(), ['q1', 'q2', 'q3']);
    assert.equal(b.ids.length, 1004);
  });

  test('a torn last line is quarantined on start, never appended onto', async () => {
    const d = dir();
    const file = join(d, 'payloads.jsonl');
    writeFileSync(file, JSON.stringify(record(1)) + '\n' + '{"ts":"2026-11-23T07:00:00.000Z","model":"fr');
    const sink = await startCli(['--dir', d]);
    assert.equal((await postBatch(sink.url, batch(2, 1))).status, 200);
    assert.match(
      sink.stderr(),
      /its last line was torn \(44 bytes without a newline, left by a crash or a full disk\); moved them to .*payloads\.jsonl\.torn-/,
    );
    assert.equal(await exit(sink.proc, 'SIGTERM'), 0);
    assert.deepEqual(audit(file), { ids: ['r1', 'r2'], bad: 0, torn: false });
    const q = readdirSync(d).filter((f) => f.startsWith('payloads.jsonl.torn-'));
    assert.equal(q.length, 1);
    assert.equal(readFileSync(join(d, q[0]), 'utf8'), '{"ts":"2026-11-23T07:00:00.000Z","model":"fr');
  });

  test("the model server's --payload-log writer repairs a torn line too", async () => {
    const { PayloadLogger } = await import('../../components/model-server/payload-log.ts');
    const file = join(dir(), 'serve.jsonl');
    writeFileSync(file, '{"ts":"2026-11-23T07:00:00.000Z","mo');
    const w = new PayloadLogger({ file, flushIntervalMs: 5 });
    w.push(record(7) as never);
    await w.close();
    assert.deepEqual(audit(file), { ids: ['r7'], bad: 0, torn: false });
  });

  test(
    'a full disk (1 MiB tmpfs): 503 + Retry-After, /healthz 503, stderr says why; every 200 is on disk; it recovers when space returns',
    { skip: unshareSkip() },
    async () => {
      const d = dir();
      const mnt = join(d, 'mnt');
      mkdirSync(mnt);
      // A private mount namespace: the tmpfs exists only for the sink (and is gone with it).
      const sink = await startCli(['--dir', mnt], {
        wrap: ['unshare', ...(process.getuid?.() === 0 ? ['-m'] : ['-rm']), 'sh', '-c', `mount -t tmpfs -o size=1m none '${mnt}' && exec "$0" "$@"`],
      });
      const inNs = (p: string) => `/proc/${sink.proc.pid}/root${p}`;
      try {
        const filler = inNs(join(mnt, 'filler'));
        writeFileSync(filler, Buffer.alloc(256 * 1024));
        let acked = 0;
        let refused: Response | undefined;
        for (let i = 0; i < 200 && !refused; i++) {
          const r = await postBatch(sink.url, batch(i * 20, 20, 60));
          if (r.status === 200) acked += ((await r.json()) as { accepted: number }).accepted;
          else refused = r;
        }
        assert.ok(refused, 'the disk filled up');
        assert.equal(refused.status, 503);
        assert.equal(refused.headers.get('retry-after'), '5');
        assert.match(((await refused.json()) as { error: string }).error, /^the payload sink cannot write its log \(cannot write .*ENOSPC/);
        const health = await fetch(`${sink.url}/healthz`);
        assert.equal(health.status, 503);
        assert.match(((await health.json()) as { reason: string }).reason, /ENOSPC/);
        assert.match(sink.stderr(), /payload sink: cannot write .*ENOSPC.*answering 503 with Retry-After \(and \/healthz 503\) until it can write again/);
        // Every acknowledged record is there, whole; nothing half-written.
        const a = audit(inNs(join(mnt, 'payloads.jsonl')));
        assert.equal(a.ids.length, acked);
        assert.deepEqual([a.bad, a.torn], [0, false]);
        // Space comes back: the sink takes events again on its own.
        unlinkSync(filler);
        const deadline = Date.now() + 10_000;
        while ((await fetch(`${sink.url}/healthz`)).status !== 200) {
          assert.ok(Date.now() < deadline, 'healthz turned ready again');
          await new Promise((r) => setTimeout(r, 100));
        }
        assert.match(sink.stderr(), /writing .* again/);
        const ok = await postBatch(sink.url, batch(100_000, 5, 60));
        assert.equal(ok.status, 200);
        acked += 5;
        sink.proc.kill('SIGKILL');
        await exit(sink.proc, 'SIGKILL');
      } finally {
        if (sink.proc.exitCode === null && sink.proc.signalCode === null) await exit(sink.proc, 'SIGKILL');
      }
    },
  );

  test('memory is bounded by bytes: 60 large KServe request events in a sink with a small heap', async () => {
    // The probe of #25 crashed a 512 MiB heap with 60 request events of up to 16 MiB held for their
    // responses. Scaled down 4x to keep the test short: 60 events of 2 MiB (120 MiB of JSON, several
    // times that as parsed values) into a 128 MiB heap. The sink holds at most maxPendingBytes of
    // halves (the oldest is written alone beyond) and admits maxInflightBytes of bodies at a time.
    const d = dir();
    const sink = await startCli(['--dir', d, '--fsync', 'never'], { env: { NODE_OPTIONS: '--max-old-space-size=128' } });
    try {
      const row = Array.from({ length: 500 }, (_, j) => ((j % 97) / 97 + 0.000123).toFixed(6)).join(',');
      const body = `{"inputs":[{"name":"input","shape":[500,500],"datatype":"FP32","data":[${Array(500).fill(`[${row}]`).join(',')}]}]}`;
      assert.ok(body.length > 2_000_000);
      let next = 0;
      const worker = async () => {
        for (let i = next++; i < 60; i = next++) {
          for (;;) {
            // A reset connection (a keep-alive race on a loaded machine) is no acknowledgement: send again.
            const r = await kserve(sink.url, KSERVE_REQUEST, `big-${i}`, body).catch((e: Error) => e);
            if (r instanceof Error) {
              assert.equal(sink.proc.exitCode, null, `the sink died: ${sink.stderr()}`);
              continue;
            }
            await r.arrayBuffer();
            if (r.status === 200) break;
            assert.equal(r.status, 429, `event ${i}`);
            await new Promise((res) => setTimeout(res, 200));
          }
        }
      };
      await Promise.all(Array.from({ length: 4 }, worker));
      assert.equal(sink.proc.exitCode, null, `the sink is alive: ${sink.stderr()}`);
      assert.equal(await exit(sink.proc, 'SIGTERM'), 0, sink.stderr());
    } finally {
      await exit(sink.proc, 'SIGKILL');
    }
    // All 60 written (alone: their responses never came), each a whole line; 130 MB of them pass the
    // 64 MiB rotation twice, so the older ones are in payloads.jsonl.1 and .2.
    const logs = readdirSync(d)
      .filter((f) => /^payloads\.jsonl(\.\d+)?$/.test(f))
      .map((f) => audit(join(d, f)));
    assert.ok(logs.length >= 2, 'the log rotated');
    assert.deepEqual([new Set(logs.flatMap((a) => a.ids)).size, logs.filter((a) => a.bad > 0 || a.torn).length], [60, 0]);
  });

  test('10,000-deep JSON is a 400, not a 500; strings in FP32 data are refused', async () => {
    const file = join(dir(), 'p.jsonl');
    const sink = await startPayloadSink({ port: 0, file, log: () => {} });
    try {
      const deep = '['.repeat(10_000) + ']'.repeat(10_000);
      const r1 = await kserve(sink.url, KSERVE_REQUEST, 'deep', `{"instances":${deep}}`);
      assert.deepEqual(
        [r1.status, await r1.json()],
        [400, { error: 'event deep: the body nests arrays/objects more than 64 levels deep; send tensors as flat or [rows][columns] arrays' }],
      );
      const r2 = await kserve(sink.url, KSERVE_REQUEST, 'str', '{"inputs":[{"name":"x","shape":[1,2],"datatype":"FP32","data":[1,"two"]}]}');
      assert.deepEqual([r2.status, await r2.json()], [400, { error: 'event str: inputs[0] (x).data[1] is "two", not a number as datatype FP32 needs' }]);
      const r3 = await postBatch(
        sink.url,
        JSON.stringify([{ ...event(1), data: { ...record(1), inputs: { x: { shape: [2], datatype: 'INT64', data: [1, 2.5] } } } }]),
      );
      assert.deepEqual([r3.status, await r3.json()], [400, { error: 'event 0 (e1): data.inputs.x.data[1] is 2.5, not an integer as datatype INT64 needs' }]);
    } finally {
      await sink.close();
    }
    assert.equal(readFileSync(file, 'utf8'), '');
  });
});

function unshareSkip(): string | false {
  const r = spawnSync('unshare', [...(process.getuid?.() === 0 ? ['-m'] : ['-rm']), 'true']);
  if (r.status === 0) return false;
  const why = `unshare(1) cannot make a mount namespace here (${r.stderr?.toString().trim() || r.error?.message}); the full-disk probe needs one for its tmpfs`;
  if (process.env.CI === 'true') throw new Error(why);
  return why;
}
