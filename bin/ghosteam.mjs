#!/usr/bin/env node
// The ghosteam CLI. It runs the compiled build (build/, `npm run build`, made on `npm install`)
// while that matches the TypeScript sources, else the sources through tsx: same behaviour, the
// build only starts faster. GHOSTEAM_FROM_SOURCE=1 forces the sources. A user's app.ts loads through
// tsx either way (api/own-files.ts enableTypeScript).
import { fileURLToPath } from 'node:url';
import { buildIsFresh } from './build-state.mjs';

const root = fileURLToPath(new URL('..', import.meta.url)).replace(/\/$/, '');
const verbose = process.argv.includes('--verbose');
const fromSource = process.env.GHOSTEAM_FROM_SOURCE === '1';
if (!fromSource && buildIsFresh(root)) {
  if (verbose) {
    process.setSourceMapsEnabled(true);
    console.error('ghosteam: running the compiled build (build/)');
  }
  await import('../build/cli/main.js');
} else {
  if (verbose)
    console.error(
      `ghosteam: running from the TypeScript sources (${fromSource ? 'GHOSTEAM_FROM_SOURCE=1' : "build/ is missing or older than the sources; 'npm run build' makes it"})`,
    );
  const { register } = await import('tsx/esm/api');
  register();
  await import('../cli/main.ts');
}
