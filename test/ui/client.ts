// HTTP helpers of the UI tests: a GET that normalises whitespace between tags, and a check of a
// response against the served OpenAPI document itself (ajv), so the document cannot drift from what
// the API sends.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { createAjv } from '../../api/crds/validate.ts';
import { openApiDocument } from '../../ui/api.ts';

export async function get(
  url: string,
  method = 'GET',
): Promise<{ status: number; type: string; body: string; headers: Record<string, string | string[] | undefined> }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      // Whitespace between tags is not content (the templates are formatted source).
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type'] ?? ''), body: body.replace(/>\s+</g, '><'), headers: res.headers }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}
const ajv = createAjv();
ajv.addSchema(openApiDocument('test'), 'ui-api');
export function schemaErrors(name: string, body: unknown): string[] {
  const validate = ajv.getSchema(`ui-api#/components/schemas/${name}`);
  assert.ok(validate, `no schema ${name} in the OpenAPI document`);
  return validate(body) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message ?? ''}`);
}
export const getJson = async (url: string) => {
  const r = await get(url);
  return { ...r, json: JSON.parse(r.body) as Record<string, unknown> };
};
