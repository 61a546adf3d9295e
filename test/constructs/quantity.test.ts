// Kubernetes quantities as ghosteam reads them (resource requests, the exchange volume's size): table-tested.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bytesQuantity, isQuantity, quantityValue } from '../../pipelines/resources.ts';

test('quantityValue reads every suffix Kubernetes defines for the forms isQuantity accepts, NaN for the rest', () => {
  const table: [string, number][] = [
    ['2', 2],
    ['500m', 0.5],
    ['1.5', 1.5],
    ['1k', 1e3],
    ['3M', 3e6],
    ['1G', 1e9],
    ['2T', 2e12],
    ['1P', 1e15],
    ['1E', 1e18],
    ['1Ki', 1024],
    ['512Mi', 512 * 2 ** 20],
    ['10Gi', 10 * 2 ** 30],
    ['1.5Gi', 1.5 * 2 ** 30],
    ['1Ti', 2 ** 40],
    ['1Pi', 2 ** 50],
    ['1Ei', 2 ** 60],
  ];
  for (const [q, v] of table) {
    assert.ok(isQuantity(q), q);
    assert.equal(quantityValue(q), v, q);
  }
  for (const bad of ['', '10 Gi', '10GB', '-1Gi', 'Gi', '1.Gi', '.5Gi', '1gi', '1e3'])
    assert.ok(!isQuantity(bad) && Number.isNaN(quantityValue(bad)), JSON.stringify(bad));
});

test('bytesQuantity writes the largest binary unit that is exact, else plain bytes; it reads back to the same value', () => {
  const table: [number, string][] = [
    [2 ** 30, '1Gi'],
    [10 * 2 ** 30, '10Gi'],
    [2560 * 2 ** 20, '2560Mi'],
    [2 ** 40, '1Ti'],
    [3 * 2 ** 10, '3Ki'],
    [1000, '1000'],
    [1, '1'],
    [2 ** 60, '1Ei'],
  ];
  for (const [bytes, q] of table) {
    assert.equal(bytesQuantity(bytes), q, String(bytes));
    assert.equal(quantityValue(q), bytes, q);
  }
});
