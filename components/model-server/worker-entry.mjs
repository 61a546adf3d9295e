// Entry of a model-server cluster worker process (see cluster.ts): loads worker.ts (or, compiled, worker.js).
import { loadWorker } from '../../pipelines/worker-bootstrap.mjs';

await loadWorker(import.meta.url);
