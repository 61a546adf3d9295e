// Entry of a batch prediction worker thread (see worker-model.ts): loads worker.ts (or, compiled, worker.js).
import { loadWorker } from '../../pipelines/worker-bootstrap.mjs';

await loadWorker(import.meta.url);
