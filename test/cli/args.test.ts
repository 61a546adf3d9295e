// The option-value parsers shared by the commands (cli/args.ts), table-tested.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { dataFormatArg, delimiterArg, headersArg, intArg, repeatable } from '../../cli/args.ts';

describe('cli/args', () => {
  test('delimiterArg: one character (one UTF-16 unit), \\t or tab for a tab; never a quote or a line break', () => {
    const ok: [string | undefined, string | undefined][] = [
      [undefined, undefined],
      [',', ','],
      [';', ';'],
      ['|', '|'],
      ['\t', '\t'],
      ['\\t', '\t'],
      ['tab', '\t'],
      ['§', '§'],
    ];
    for (const [v, want] of ok) assert.equal(delimiterArg(v), want, String(v));
    for (const v of ['', ';;', '"', '\n', '\r', '\\n', 'ab', '😀'])
      assert.throws(
        () => delimiterArg(v),
        new RegExp(`--delimiter '${v.replace(/[\\|]/g, '\\$&')}': give one character other than a quote or a line break`),
        JSON.stringify(v),
      );
  });

  test('dataFormatArg: csv, jsonl or parquet, else an error naming the choices', () => {
    for (const v of ['csv', 'jsonl', 'parquet'] as const) assert.equal(dataFormatArg(v), v);
    assert.equal(dataFormatArg(undefined), undefined);
    for (const v of ['', 'CSV', 'tsv', 'xlsx', 'json']) assert.throws(() => dataFormatArg(v), new RegExp(`--format '${v}': give csv, jsonl or parquet`));
  });

  test('intArg: an integer at least min', () => {
    assert.equal(intArg('--n', '3', 1), 3);
    assert.equal(intArg('--n', '0', 0), 0);
    for (const v of ['0', '-1', '1.5', 'x', '']) assert.throws(() => intArg('--n', v, 1), /--n expects an integer ≥ 1/, v);
  });

  test("headersArg: NAME=env:VAR values into ingest's headers (the value is checked by ingest); no name is an error", () => {
    assert.equal(headersArg(undefined), undefined);
    assert.equal(headersArg([]), undefined);
    assert.deepEqual(headersArg(['Authorization=env:TOKEN', ' X-Api-Key = env:KEY ', 'A=b=c']), {
      Authorization: 'env:TOKEN',
      'X-Api-Key': 'env:KEY',
      A: 'b=c',
    });
    for (const v of ['Authorization', '=env:X', '']) assert.throws(() => headersArg([v]), new RegExp(`--header '${v}': give NAME=env:VAR`), JSON.stringify(v));
    assert.deepEqual(repeatable('b', repeatable('a')), ['a', 'b']);
  });
});
