// schemathesis (the peers' Python) over the UI's own OpenAPI document, served by a UI over a real
// local state with actions on (a static token): every route fuzzed, reads and actions alike; no
// answer is a 5xx and every documented answer conforms to its schema. The UI still answers after.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { usePeers } from '../peers/index.ts';
import { tempDir } from '../engine/helpers.ts';
import { startUi } from '../../ui/server.ts';
import { createAuthenticator } from '../../components/security/auth.ts';
import { MODEL, NS, uiFixture } from './fixture.ts';

const run = promisify(execFile);
const peers = await usePeers(['python']);
const token = 'ui-schemathesis-token';

test('schemathesis over the UI API document (every route, actions included): no 5xx, answers conform', async () => {
  const t = await tempDir();
  const fx = await uiFixture(t.dir);
  const ui = await startUi({
    stateDir: fx.stateDir,
    runsRoot: fx.runsRoot,
    registry: fx.registry,
    actions: { target: { stateDir: fx.stateDir }, auth: createAuthenticator({ token }) },
  });
  try {
    const doc = (await (await fetch(`${ui.url}/api/openapi.json`)).json()) as {
      paths: Record<string, Record<string, { parameters?: Array<{ name: string; schema: Record<string, unknown> }> }>>;
    };
    // Known names beside unknown ones, so the fuzz reaches past the 404s.
    for (const ops of Object.values(doc.paths))
      for (const op of Object.values(ops))
        for (const p of op.parameters ?? []) {
          if (p.name === 'namespace') p.schema.enum = [NS, 'other'];
          if (p.name === 'name') p.schema.enum = [MODEL, 'nope'];
          if (p.name === 'id') p.schema.enum = [fx.run.id, 'no-such-run', '..'];
        }
    const specPath = join(t.dir, 'ui-openapi.json');
    writeFileSync(specPath, JSON.stringify(doc));
    const st = join(dirname(peers.python), 'schemathesis');
    const r = await run(
      st,
      [
        'run',
        specPath,
        '--url',
        ui.url,
        '--checks',
        'not_a_server_error,response_schema_conformance',
        '--max-examples',
        '15',
        '--seed',
        '7',
        '--workers',
        '1',
        '--phases',
        'examples,coverage,fuzzing',
        '-H',
        `Authorization: Bearer ${token}`,
        '--no-color',
        '--request-timeout',
        '10',
        '--suppress-health-check',
        'all',
      ],
      { timeout: 300_000, maxBuffer: 16 * 1024 * 1024, env: { ...process.env, SCHEMATHESIS_HOOKS: '' }, cwd: t.dir },
    ).catch((e: { code?: number; stdout?: string; stderr?: string }) => e);
    const text = `${r.stdout ?? ''}${r.stderr ?? ''}`;
    assert.ok(!('code' in r) || r.code === 0, `schemathesis failed:\n${text.slice(-6000)}`);
    assert.match(text, /\d+ generated, \d+ passed/);
    const operations = Object.values(doc.paths).reduce((n, ops) => n + Object.keys(ops).length, 0);
    assert.ok(doc.paths['/api/trainingruns']?.post, 'the actions are in the document');
    assert.match(text, new RegExp(`Tested: ${operations}\\b`), 'every operation, the actions included, was tested');
    assert.equal((await fetch(`${ui.url}/api/models`)).status, 200);
  } finally {
    await ui.close();
    fx.close();
    await t.cleanup();
  }
});
