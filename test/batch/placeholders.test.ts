// Time placeholders in batch prediction paths (components/batch/placeholders.ts): pure, table-tested.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hasPlaceholders, parseRunTime, placeholdersOf, renderPath } from '../../components/batch/placeholders.ts';

test('each placeholder renders in UTC, zero-padded; text without one is unchanged', () => {
  const at = new Date(Date.UTC(2026, 0, 5, 3, 7, 9));
  const cases: [string, string][] = [
    ['s3://data/scores/{date}.parquet', 's3://data/scores/2026-01-05.parquet'],
    ['/d/{year}/{month}/{day}/{hour}/s.csv', '/d/2026/01/05/03/s.csv'],
    ['/d/s-{datetime}.jsonl', '/d/s-20260105T030709Z.jsonl'],
    ['/d/{date}-{date}.csv', '/d/2026-01-05-2026-01-05.csv'],
    ['/d/scores.csv', '/d/scores.csv'],
  ];
  for (const [tpl, want] of cases) assert.equal(renderPath(tpl, at), want, tpl);
  assert.equal(hasPlaceholders('/d/scores.csv'), false);
  assert.deepEqual(placeholdersOf('/d/{year}/{date}.csv'), ['year', 'date']);
});

test('an unknown placeholder names itself and the known ones', () => {
  assert.throws(() => renderPath('/d/{Date}.csv', new Date()), {
    message: "'/d/{Date}.csv' has the placeholder {Date}, which is not one of {date}, {datetime}, {year}, {month}, {day}, {hour}",
  });
  assert.throws(() => hasPlaceholders('/d/{}.csv'), /has the placeholder \{\}/);
});

test('runTime: RFC 3339 with Z or an offset, or a date alone (midnight UTC); anything else is refused', () => {
  assert.equal(parseRunTime('2026-12-01T23:30:00-02:00').toISOString(), '2026-12-02T01:30:00.000Z');
  assert.equal(parseRunTime('2026-12-02T04:00:00Z').toISOString(), '2026-12-02T04:00:00.000Z');
  assert.equal(parseRunTime('2026-12-02').toISOString(), '2026-12-02T00:00:00.000Z');
  for (const bad of ['yesterday', '2026-13-02', '2026-12-02 04:00', '2026-12-02T04:00:00', '1733112000'])
    assert.throws(() => parseRunTime(bad), { message: `runTime '${bad}' is not an RFC 3339 time; write e.g. 2026-12-02T04:00:00Z or 2026-12-02` }, bad);
});
