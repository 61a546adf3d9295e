/**
 * The operator as a separate process, so a test can kill it (SIGKILL) mid-rollout and start it
 * again. Config from the environment: KUBECONFIG, GT_REGISTRY_DIR, GT_METRICS_FILE, GT_NAMESPACE, and
 * for write-back GT_GIT_REPO (+ GT_GIT_LOCK_FILE).
 */
import { startOperator } from '../../controllers/operator.ts';
import { LocalRegistry } from '../../components/registry/local.ts';
import { createLogger } from '../../controllers/runtime/log.ts';
import { FileMetrics } from './kube-helpers.ts';

const op = await startOperator({
  kubeconfig: process.env.KUBECONFIG,
  registry: new LocalRegistry({ dir: process.env.GT_REGISTRY_DIR! }),
  metrics: new FileMetrics(process.env.GT_METRICS_FILE!),
  namespace: process.env.GT_NAMESPACE,
  gpuScheduling: false,
  ...(process.env.GT_GIT_REPO
    ? { gitWriteBack: { repo: process.env.GT_GIT_REPO, lockFile: process.env.GT_GIT_LOCK_FILE ?? 'models.lock.json', backoff: { baseMs: 200, maxMs: 1000 } } }
    : {}),
  log: createLogger({ level: 'info', write: (l) => process.stdout.write(`${l}\n`) }),
});
process.stdout.write('OPERATOR-STARTED\n');
process.on('SIGTERM', () => void op.stop().then(() => process.exit(0)));
