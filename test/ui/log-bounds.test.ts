// The log bounds on their own: tailText (a local log file's tail, pure) and kubeGetText's own cut
// — a body longer than asked for (an API server that ignored limitBytes) is read only up to the
// bound and the transfer aborted. The server here is a plain node:http one streaming a long body:
// it stands for such an API server, which the real one (test/cluster/ui-logs.test.ts) is not.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { kubeGetText } from '../../api/kube-http.ts';
import { tailText } from '../../ui/source.ts';

describe('log bounds', () => {
  test('tailText: the last N lines, at most limitBytes of them', () => {
    const text = Array.from({ length: 10 }, (_, i) => `line ${i}`).join('\n') + '\n';
    assert.deepEqual(tailText(text, { tailLines: 3, limitBytes: 1000 }), { text: 'line 7\nline 8\nline 9\n', truncated: false });
    assert.deepEqual(tailText(text, { tailLines: 3, limitBytes: 10 }), { text: 'line 7\nlin', truncated: true });
    assert.deepEqual(tailText('', { tailLines: 3, limitBytes: 10 }), { text: '', truncated: false });
  });

  test('kubeGetText stops reading at maxBytes and says it cut', async () => {
    let sent = 0;
    let closed = false;
    const server = createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      const chunk = Buffer.alloc(64 * 1024, 'x');
      const write = () => {
        while (sent < 64 * 1024 * 1024) {
          sent += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', write);
        }
        res.end();
      };
      res.on('close', () => (closed = true));
      write();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const kc = new KubeConfig();
      kc.loadFromOptions({
        clusters: [{ name: 'c', server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, skipTLSVerify: true }],
        users: [{ name: 'u', token: 'ignored-token' }],
        contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
        currentContext: 'x',
      });
      const got = await kubeGetText(kc)('/api/v1/namespaces/a/pods/b/log', 100_000);
      assert.equal(got.truncated, true);
      assert.equal(got.text.length, 100_000);
      for (let i = 0; i < 50 && !closed; i++) await new Promise((r) => setTimeout(r, 20));
      assert.ok(closed, 'the transfer was aborted');
      assert.ok(sent < 64 * 1024 * 1024, `the server stopped early (${sent} bytes written)`);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});
