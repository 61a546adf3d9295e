/**
 * Deterministic random dense networks, for tests, benchmarks and demos that need a realistic model
 * without training one (e.g. the fraud MLP shape 16 → 64 → 64 → 1).
 */
import type { DenseNet, DenseLayer, Activation } from './index.ts';

import { mulberry32 as seededRandom } from '../random.ts';

/** The project's one seeded PRNG (mulberry32), under the name this module has always exported. */
export { seededRandom };

/**
 * An MLP with the given layer sizes ([16, 64, 64, 1] = 16 features, two hidden ReLU layers of 64,
 * one sigmoid output). Glorot-uniform-like weights, so outputs are spread over (0, 1).
 */
export function randomDenseNet(sizes: number[], seed = 1, opts: { normalize?: boolean; hidden?: Activation; last?: Activation } = {}): DenseNet {
  if (sizes.length < 2) throw new Error(`sizes must list the input width and at least one layer; got [${sizes.join(', ')}]`);
  const rnd = seededRandom(seed);
  const layers: DenseLayer[] = [];
  for (let l = 1; l < sizes.length; l++) {
    const fin = sizes[l - 1];
    const fout = sizes[l];
    const lim = Math.sqrt(6 / (fin + fout));
    const weights = Array.from({ length: fin }, () => Array.from({ length: fout }, () => (rnd() * 2 - 1) * lim));
    const bias = Array.from({ length: fout }, () => (rnd() * 2 - 1) * 0.1);
    layers.push({ weights, bias, activation: l === sizes.length - 1 ? (opts.last ?? 'sigmoid') : (opts.hidden ?? 'relu') });
  }
  const k = sizes[0];
  return {
    kind: sizes.length === 2 ? 'logistic' : 'mlp',
    featureNames: Array.from({ length: k }, (_, i) => `f${i}`),
    normalize:
      opts.normalize === false ? undefined : { mean: Array.from({ length: k }, () => rnd() * 10), std: Array.from({ length: k }, () => 0.5 + rnd() * 3) },
    layers,
  };
}
