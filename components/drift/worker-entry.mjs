// Entry of a drift worker thread (see parallel.ts): loads worker.ts (or, compiled, worker.js).
import { loadWorker } from '../../pipelines/worker-bootstrap.mjs';

await loadWorker(import.meta.url);
