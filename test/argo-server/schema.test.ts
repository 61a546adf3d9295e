// The committed Argo Server client types are what `npm run gen:argo` makes from Argo's OpenAPI
// document (read in place from ../shared/upstream): a changed document or generator fails here
// until the file is regenerated. Without the upstream folder the check cannot run: CI fails, a
// developer's run skips.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { ARGO_SCHEMA_FILE, ARGO_SWAGGER, generateArgoSchema } from '../../scripts/gen-argo-client.ts';

const missing = existsSync(ARGO_SWAGGER) ? undefined : `${ARGO_SWAGGER} is missing (the upstream folder ../shared/upstream)`;
if (missing && process.env.CI === 'true') throw new Error(missing);

describe('Argo Server client types', { skip: missing }, () => {
  it('regenerating them from swagger.json gives the committed file', async () => {
    const fresh = await generateArgoSchema();
    const committed = readFileSync(ARGO_SCHEMA_FILE, 'utf8');
    assert.ok(fresh.includes('"/api/v1/workflows/{namespace}/submit"'), 'the generated types lack the submit path');
    assert.ok(fresh === committed, `${ARGO_SCHEMA_FILE} differs from what \`npm run gen:argo\` makes now: run it and commit the result`);
  });
});
