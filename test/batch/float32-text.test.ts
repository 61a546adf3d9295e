// float32Text: a float32 output printed as the shortest decimal that reads back as the same float32
// (what numpy and DuckDB print), checked exhaustively over random bit patterns: it reads back, and
// one digit fewer does not.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { float32Text } from '../../components/batch/writers.ts';

const digits = (s: string): number => s.replace(/^-/, '').replace(/e.*$/, '').replace('.', '').replace(/^0+/, '').replace(/0+$/, '').length;

test('known values print as numpy prints the float32', () => {
  const table: [number, string][] = [
    [0.1, '0.1'],
    [1.0000001192092896, '1.0000001'],
    [0.9914982914924622, '0.9914983'],
    [0.5, '0.5'],
    [-2.5, '-2.5'],
    [0, '0'],
    [1, '1'],
    [16777216, '16777216'],
    [3.4e38, '3.4e+38'],
    [1e-7, '1e-7'],
    [1e-45, '1e-45'],
    [123456.78, '123456.78'],
  ];
  for (const [x, want] of table) assert.equal(float32Text(Math.fround(x)), want, `float32 of ${x}`);
});

test('every finite float32 reads back, and no shorter decimal does', () => {
  let seed = 12345;
  const rand = (): number => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0), seed);
  const bits = new Uint32Array(1);
  const f = new Float32Array(bits.buffer);
  let checked = 0;
  // Random bit patterns (every exponent), then what models output: probabilities and scores near 1.
  for (let i = 0; i < 400_000; i++) {
    bits[0] = rand();
    const v = i < 200_000 ? f[0] : i < 300_000 ? Math.fround(rand() / 2 ** 32) : Math.fround((rand() / 2 ** 32 - 0.5) * 10 ** ((rand() % 9) - 4));
    if (!Number.isFinite(v)) continue;
    const s = float32Text(v);
    assert.equal(Math.fround(Number(s)), v, `${s} is not the float32 ${v}`);
    const n = digits(s);
    if (n > 1 && !(Number.isInteger(v) && Math.abs(v) < 16777216)) {
      const shorter = v.toPrecision(n - 1);
      assert.notEqual(Math.fround(Number(shorter)), v, `${shorter} is shorter than ${s} and reads back as ${v}`);
    }
    checked++;
  }
  assert.ok(checked > 390_000);
});
