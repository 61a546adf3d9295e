/**
 * Every drift statistic against SciPy (the peers harness's venv), on random and adversarial data:
 * ties, tiny samples, heavy tails, all-equal columns, exact and asymptotic KS regimes, p-values down to
 * underflow. All cases go to ONE python run; agreement is relative 1e-9.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { usePeers } from '../peers/index.ts';
import { mulberry32 } from '../../components/random.ts';
import { chi2Contingency, chi2Sf, fdrAdjust, jensenShannon, ks2samp, kstwoSf, wasserstein, type Alternative } from '../../components/drift/index.ts';

const peers = await usePeers(['python']);

const rand = mulberry32(20261123);
const normal = (): number => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
const cauchy = (): number => Math.tan(Math.PI * (rand() - 0.5));

type Gen = (n: number, shift: number) => number[];
const gens: Record<string, Gen> = {
  normal: (n, s) => Array.from({ length: n }, () => normal() + s),
  ties: (n, s) => Array.from({ length: n }, () => Math.round(normal() * 2 + s)),
  heavy: (n, s) => Array.from({ length: n }, () => cauchy() * 1e3 + s),
  equal: (n, s) => Array.from({ length: n }, () => 7 + (s > 1 ? 1 : 0)),
  uniform: (n, s) => Array.from({ length: n }, () => rand() + s),
};

interface KsCase {
  a: number[];
  b: number[];
  /** One-sided exact p-values for unequal sizes cost O(n²) binomials (in SciPy too): test them on smaller samples. */
  alts: Alternative[];
}
const sizes: [number, number][] = [
  [1, 1],
  [1, 2],
  [2, 3],
  [3, 3],
  [5, 7],
  [8, 8],
  [10, 25],
  [25, 10],
  [40, 41],
  [100, 100],
  [97, 250],
  [600, 900],
  [1000, 1000],
  [2500, 4000],
  [10000, 9999],
  [10000, 10000],
  [10001, 20],
  [5, 12000],
  [12000, 15000],
];
const ksCases: KsCase[] = [];
for (const [n1, n2] of sizes) {
  for (const [g, shifts] of [
    ['normal', [0, 0.3, 2]],
    ['ties', [0, 1]],
    ['heavy', [0, 500]],
    ['equal', [0, 2]],
    ['uniform', [0.05]],
  ] as const) {
    if (n1 * n2 > 4e7 && g !== 'normal') continue;
    const alts: Alternative[] = n1 !== n2 && Math.max(n1, n2) <= 10000 && n1 * n2 > 1e5 ? ['two-sided'] : ['two-sided', 'less', 'greater'];
    for (const s of shifts) ksCases.push({ a: gens[g](n1, 0), b: gens[g](n2, s), alts });
  }
}

// kstwo.sf over every regime of SciPy's _kolmogn (Ruben-Gambino, DMTW, Pomeranz, Pelz-Good, Smirnov).
const kstwoGrid: [number, number][] = [];
for (const n of [1, 2, 3, 10, 50, 140, 141, 400, 1000, 5000, 50000, 100000, 100001, 250000, 500000, 1000000, 1500000]) {
  for (const x of [1e-4, 0.3 / n, 0.7 / n, 1.5 / n, 0.002, 0.005, 0.01, 0.02, 0.03, 0.05, 0.08, 0.12, 0.2, 0.35, 0.5, 0.6, 0.9, 1 - 0.5 / n, 0.999999]) {
    // SciPy's smirnov sums up to n double-double terms: keep the large-n grid small (its regimes are all still hit).
    if (n >= 100000 && n <= 100001 && ![1e-4, 0.002, 0.005, 0.01, 0.03, 0.5].includes(x)) continue;
    if (n > 100001 && ![1e-4, 0.005, 0.5].includes(x)) continue;
    if (x > 0 && x < 1) kstwoGrid.push([x, n]);
  }
}

const chiTables: [number[], number[]][] = [
  [
    [10, 20],
    [30, 40],
  ],
  [
    [1, 0],
    [0, 1],
  ],
  [
    [5, 5],
    [5, 5],
  ],
  [
    [3, 1],
    [1, 3],
  ],
  [
    [100, 0.0 + 1],
    [2, 50],
  ],
  [
    [0, 7],
    [3, 2],
  ],
  [[10], [20]],
  [
    [10, 20, 30],
    [30, 20, 10],
  ],
  [
    [1, 1, 1, 1],
    [1, 1, 1, 2],
  ],
  [
    [1000, 2000, 3000, 4000, 5],
    [1100, 1900, 3100, 3900, 60],
  ],
  [
    [500, 500, 500, 500, 500, 500],
    [400, 600, 450, 550, 500, 500],
  ],
  [
    [10000, 1],
    [1, 10000],
  ],
];
for (let t = 0; t < 20; t++) {
  const k = 2 + Math.floor(rand() * 12);
  const r0 = Array.from({ length: k }, () => 1 + Math.floor(rand() * 200));
  const r1 = Array.from({ length: k }, (_, j) => Math.max(0, r0[j] + Math.floor(normal() * 20 * (t % 3))));
  chiTables.push([r0, r1]);
}

const jsPairs: [number[], number[]][] = [
  [
    [1, 0],
    [0, 1],
  ],
  [
    [1, 1],
    [1, 1],
  ],
  [
    [0.2, 0.8],
    [0.5, 0.5],
  ],
  [
    [1, 2, 3, 0],
    [0, 3, 2, 1],
  ],
  [
    [1e-12, 1],
    [1, 1e-12],
  ],
  [[5], [7]],
];
for (let t = 0; t < 20; t++) {
  const k = 1 + Math.floor(rand() * 30);
  jsPairs.push([Array.from({ length: k }, () => (rand() < 0.2 ? 0 : rand() * 100)), Array.from({ length: k }, () => (rand() < 0.2 ? 0 : rand() * 100))]);
}
jsPairs.forEach(([p, q]) => {
  if (!p.some((x) => x !== 0)) p[0] = 1;
  if (!q.some((x) => x !== 0)) q[0] = 1;
});

const chiGrid: [number, number][] = [];
for (const dof of [1, 2, 3, 4, 7, 10, 33, 100, 999, 5000]) for (const x of [0, 1e-6, 0.1, 0.5, 1, 2, 5, 10, 30, 100, 700, 1500, 6000]) chiGrid.push([x, dof]);

const fdrSets: number[][] = [[0.01, 0.04, 0.03, 0.2, 0.5], [1e-10, 0.9, 0.049, 0.051, 0.02, 0.02], Array.from({ length: 40 }, () => rand() ** 3)];

const PY = `
import json, sys, warnings
warnings.filterwarnings('ignore')
import numpy as np
from scipy import stats
from scipy.spatial.distance import jensenshannon
c = json.load(open(sys.argv[1]))
out = {'ks': [], 'w': [], 'kstwo': [], 'chi': [], 'js': [], 'chisf': [], 'fdr': []}
for case in c['ks']:
    a = np.array(case['a'], dtype=float); b = np.array(case['b'], dtype=float)
    row = {}
    for alt in case['alts']:
        r = stats.ks_2samp(a, b, alternative=alt, method='auto')
        row[alt] = [float(r.statistic), float(r.pvalue)]
    out['ks'].append(row)
    out['w'].append(float(stats.wasserstein_distance(a, b)))
for x, n in c['kstwo']:
    out['kstwo'].append(float(stats.kstwo.sf(x, n)))
for t in c['chi']:
    r = stats.chi2_contingency(np.array(t, dtype=float))
    out['chi'].append([float(r.statistic), float(r.pvalue), int(r.dof)])
for p, q in c['js']:
    out['js'].append(float(jensenshannon(np.array(p, dtype=float), np.array(q, dtype=float))))
for x, dof in c['chisf']:
    out['chisf'].append(float(stats.chi2.sf(x, dof)))
for ps in c['fdr']:
    out['fdr'].append([float(v) for v in stats.false_discovery_control(np.array(ps))])
json.dump(out, open(sys.argv[2], 'w'))
`;

function close(actual: number, expected: number, rel = 1e-9): boolean {
  if (actual === expected) return true;
  if (!Number.isFinite(actual) || !Number.isFinite(expected)) return false;
  return Math.abs(actual - expected) <= rel * Math.max(Math.abs(expected), 1e-300);
}

describe('drift statistics agree with SciPy', { skip: peers.skip }, () => {
  let py: {
    ks: Record<Alternative, [number, number]>[];
    w: number[];
    kstwo: number[];
    chi: [number, number, number][];
    js: number[];
    chisf: number[];
    fdr: number[][];
  };
  let dir = '';
  after(() => dir && rmSync(dir, { recursive: true, force: true }));
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'drift-scipy-'));
    writeFileSync(join(dir, 'cases.json'), JSON.stringify({ ks: ksCases, kstwo: kstwoGrid, chi: chiTables, js: jsPairs, chisf: chiGrid, fdr: fdrSets }));
    writeFileSync(join(dir, 'run.py'), PY);
    const t0 = Date.now();
    execFileSync(peers.python, [join(dir, 'run.py'), join(dir, 'cases.json'), join(dir, 'out.json')], { stdio: ['ignore', 'ignore', 'inherit'] });
    if (process.env.DRIFT_TEST_TIMING) console.log(`python: ${Date.now() - t0} ms`);
    py = JSON.parse(readFileSync(join(dir, 'out.json'), 'utf8'));
  });

  test(`ks_2samp (auto: exact and asymptotic), ${ksCases.length} sample pairs × up to 3 alternatives`, () => {
    const bad: string[] = [];
    ksCases.forEach((c, i) => {
      const a = Float64Array.from(c.a).sort();
      const b = Float64Array.from(c.b).sort();
      for (const alt of c.alts) {
        const r = ks2samp(a, b, alt);
        const [s, p] = py.ks[i][alt];
        if (!close(r.statistic, s) || !close(r.pValue, p))
          bad.push(`n=${a.length},${b.length} ${alt}: D ${r.statistic} vs ${s}, p ${r.pValue} vs ${p} (${r.method})`);
      }
    });
    assert.deepEqual(bad, []);
  });

  test('kstwo.sf over all regimes (n from 1 to 1.5e6)', () => {
    const bad = kstwoGrid
      .filter(([x, n], i) => !close(kstwoSf(x, n), py.kstwo[i]))
      .map(([x, n]) => `n=${n} x=${x}: ${kstwoSf(x, n)} vs ${py.kstwo[kstwoGrid.findIndex((g) => g[0] === x && g[1] === n)]}`);
    assert.deepEqual(bad, []);
  });

  test('wasserstein_distance', () => {
    const bad: string[] = [];
    ksCases.forEach((c, i) => {
      const w = wasserstein(Float64Array.from(c.a).sort(), Float64Array.from(c.b).sort());
      if (!close(w, py.w[i])) bad.push(`n=${c.a.length},${c.b.length}: ${w} vs ${py.w[i]}`);
    });
    assert.deepEqual(bad, []);
  });

  test('chi2_contingency on 2×k tables (Yates when dof = 1, dof = 0)', () => {
    const bad: string[] = [];
    chiTables.forEach(([r0, r1], i) => {
      const r = chi2Contingency(r0, r1);
      const [s, p, dof] = py.chi[i];
      if (!close(r.statistic, s) || !close(r.pValue, p) || r.dof !== dof)
        bad.push(`${JSON.stringify([r0, r1])}: ${r.statistic}/${r.pValue}/${r.dof} vs ${s}/${p}/${dof}`);
    });
    assert.deepEqual(bad, []);
  });

  test('chi2.sf grid (dof 1..5000, x up to 6000)', () => {
    const bad = chiGrid
      .filter(([x, dof], i) => !close(chi2Sf(x, dof), py.chisf[i]))
      .map(([x, dof], i) => `x=${x} dof=${dof}: ${chi2Sf(x, dof)} vs ${py.chisf[i]}`);
    assert.deepEqual(bad, []);
  });

  test('jensenshannon (natural log, zeros, unnormalized inputs)', () => {
    const bad: string[] = [];
    jsPairs.forEach(([p, q], i) => {
      const js = jensenShannon(p, q);
      if (!close(js, py.js[i]) && !(Math.abs(js - py.js[i]) < 1e-15)) bad.push(`${JSON.stringify([p, q])}: ${js} vs ${py.js[i]}`);
    });
    assert.deepEqual(bad, []);
  });

  test('Benjamini-Hochberg adjusted p-values match false_discovery_control', () => {
    fdrSets.forEach((ps, i) => {
      const ours = fdrAdjust(ps);
      ours.forEach((v, j) => assert.ok(close(v, py.fdr[i][j], 1e-12), `set ${i}[${j}]: ${v} vs ${py.fdr[i][j]}`));
    });
  });
});
