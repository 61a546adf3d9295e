/**
 * Picks the fastest TensorFlow.js backend present at run time:
 *   1. 'tensorflow' from @tensorflow/tfjs-node-gpu (added only by images/trainer/Dockerfile; it
 *      can't be a package dependency: its install downloads libtensorflow), then @tensorflow/tfjs-node;
 *   2. 'wasm' (@tensorflow/tfjs-backend-wasm, about 2.5x the pure-JS backend; its .wasm files ship
 *      in the package, so no network);
 *   3. 'cpu' (pure JS).
 * `prefer` forces one ('auto' tries in that order). The result names the backend actually used.
 */
export type BackendChoice = 'auto' | 'tensorflow' | 'wasm' | 'cpu';
export type Tf = typeof import('@tensorflow/tfjs');

// tfjs is imported on first use, so loading the component catalog stays cheap.
let tfModule: Promise<Tf> | undefined;
const loadModule = (): Promise<Tf> => (tfModule ??= import('@tensorflow/tfjs'));

async function tryImport(name: string): Promise<boolean> {
  try {
    // A variable specifier keeps bundlers and tsc from resolving an optional package.
    await import(name);
    return true;
  } catch {
    return false;
  }
}

let chosen: Promise<string> | undefined;
let chosenFor: BackendChoice | undefined;

export async function loadTf(prefer: BackendChoice = 'auto'): Promise<{ tf: Tf; backend: string }> {
  const tf = await loadModule();
  if (!chosen || chosenFor !== prefer) {
    chosenFor = prefer;
    chosen = pick(tf, prefer);
  }
  return { tf, backend: await chosen };
}

async function pick(tf: Tf, prefer: BackendChoice): Promise<string> {
  const order: BackendChoice[] = prefer === 'auto' ? ['tensorflow', 'wasm', 'cpu'] : [prefer];
  const tried: string[] = [];
  for (const b of order) {
    if (b === 'tensorflow') {
      const pkgs = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'];
      let ok = false;
      for (const p of pkgs) if ((ok = await tryImport(p))) break;
      if (ok && (await tf.setBackend('tensorflow').catch(() => false))) return 'tensorflow';
      tried.push('tensorflow (@tensorflow/tfjs-node-gpu not installed)');
    } else if (b === 'wasm') {
      if ((await tryImport('@tensorflow/tfjs-backend-wasm')) && (await tf.setBackend('wasm').catch(() => false))) return 'wasm';
      tried.push('wasm');
    } else if (await tf.setBackend('cpu')) return 'cpu';
  }
  throw new Error(`train-tabular: no TensorFlow.js backend could be loaded (tried ${tried.join(', ')}); use backend=auto`);
}
