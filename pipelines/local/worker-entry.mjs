// Entry of a component worker thread: TypeScript loads through tsx (workers do not inherit the
// main thread's loader hooks), then worker.ts runs the component.
import { register } from 'tsx/esm/api';
register();
await import('./worker.ts');
