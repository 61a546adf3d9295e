import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parse, parseDocument, stringify } from 'yaml';
import { scalar, toYamlDocument } from '../../charts/yaml-emit.ts';
import { synthApp } from '../../charts/synth.ts';
import { join } from 'node:path';

const TRICKY = [
  '',
  ' ',
  'a',
  'a b',
  ' lead',
  'trail ',
  'true',
  'True',
  'yes',
  'no',
  'on',
  'off',
  'y',
  'n',
  'null',
  '~',
  'Null',
  '1',
  '1.5',
  '-1',
  '+1',
  '0x1F',
  '0o7',
  '1e3',
  '.5',
  '.inf',
  '-.inf',
  '.nan',
  '500m',
  '1Gi',
  '2',
  '0.80',
  '>= 0.80',
  '{{inputs.parameters.x}}',
  '{{item}}',
  '[1,2,3]',
  '{"a":1}',
  '- x',
  '-x',
  '--param',
  ':x',
  'a:b',
  'a: b',
  'a #b',
  'a#b',
  '#x',
  '&a',
  '*a',
  '!tag',
  '|',
  '>',
  "'q'",
  '"q"',
  '%x',
  '@x',
  '`x`',
  'a\nb',
  'tab\there',
  'ünïcode',
  'sha256:abc',
  'http://x.y/z?q=1#f',
  '*/15 * * * *',
  '0 3 * * 1',
  '=',
  '<<',
  'a,b',
  '[x',
  'x]',
  '?',
  '? x',
  ':',
  '-',
  '--',
  '---',
  '...',
  'é',
  '(train.Succeeded || train.Skipped)',
  "'{{workflow.parameters.mode}}' == 'fast'",
  'ghcr.io/ghosteam/components:0.1.0',
  'C:\\path',
  '\u0000',
  '\u2028',
];

describe('YAML emitter', () => {
  test('every tricky string survives a round trip through yaml (1.2) and reads as a string in YAML 1.1', () => {
    for (const s of TRICKY) {
      const doc = toYamlDocument({ k: s, [s || 'empty']: 1, list: [s] });
      assert.deepEqual(parse(doc), { k: s, [s || 'empty']: 1, list: [s] }, JSON.stringify(s));
      assert.equal(parseDocument(`k: ${scalar(s)}\n`, { version: '1.1' }).toJS().k, s, `1.1: ${JSON.stringify(s)}`);
    }
  });

  test('numbers, booleans, null, empties and nesting', () => {
    const v = { a: 1, b: -2.5, c: true, d: null, e: {}, f: [], g: [{ x: 1, y: [1, [2, 3], {}] }, [], [[1]]], h: { i: { j: 'k' } } };
    assert.deepEqual(parse(toYamlDocument(v)), v);
  });

  test('the example renders as yaml.stringify would read it', async () => {
    const { objects } = await synthApp(join(import.meta.dirname, '..', '..', 'examples', 'fraud-detection', 'app.ts'), { sourceCommit: false });
    for (const o of objects) {
      assert.deepEqual(parse(toYamlDocument(o)), o);
      assert.deepEqual(parse(toYamlDocument(o)), parse(stringify(o)));
    }
  });
});
