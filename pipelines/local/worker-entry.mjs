// Entry of a component worker thread: loads worker.ts (or, compiled, worker.js).
import { loadWorker } from '../worker-bootstrap.mjs';

await loadWorker(import.meta.url);
