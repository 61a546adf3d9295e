// Worker bootstrap: load TypeScript through tsx, then the drift worker (see parallel.ts).
import { register } from 'tsx/esm/api';
register();
await import('./worker.ts');
