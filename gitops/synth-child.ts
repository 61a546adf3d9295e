/**
 * Child process of `synthAt`: synthesizes one app with the synth module of the tree it lives in and
 * writes the objects as JSON to a file. Run in its own process so that two commits' module graphs
 * (and any global state the app keeps) never mix, and a crashing app can't take `plan` or `watch`
 * down.
 *
 *   node --import tsx gitops/synth-child.ts <synth-module> <app.ts> <commit|-> <out.json>
 */
import { writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { pathToFileURL } from 'node:url';

const [synthModule, appPath, commit, outFile] = process.argv.slice(2);

try {
  const mod = (await import(pathToFileURL(synthModule).href)) as {
    synthApp?: (app: string, opts: { sourceCommit?: string | false }) => Promise<{ objects: readonly unknown[] }>;
  };
  if (typeof mod.synthApp !== 'function') throw new Error(`${synthModule} exports no synthApp; is this a ghosteam checkout?`);
  const result = await mod.synthApp(appPath, { sourceCommit: commit === '-' ? false : commit });
  writeFileSync(outFile, JSON.stringify(result.objects));
} catch (err) {
  const message = (err as Error)?.message ?? String(err);
  // loadApp prefixes what the app's own code threw with its place ('app.ts:12:9: …'): say that the
  // app is what to fix. A ValidationError names its construct path and field instead.
  const thrownByApp = (err as Error)?.name !== 'ValidationError' && /^[^\s:]+:\d+:\d+: /.test(message);
  process.stderr.write(thrownByApp ? `${message}\nFix the app there (ghosteam synth ${basename(appPath)} reproduces it).\n` : `${message}\n`);
  process.exitCode = 3;
}
