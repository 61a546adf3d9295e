#!/usr/bin/env node
// The ghosteam CLI. TypeScript sources (ours and the user's app.ts) load through tsx, so no build step.
import { register } from 'tsx/esm/api';
register();
await import('../cli/main.ts');
