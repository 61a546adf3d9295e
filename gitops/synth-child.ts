/**
 * Child process of `synthAt`: synthesizes one app with the synth module of the tree it lives in and
 * writes the objects as JSON to a file. Run in its own process so that two commits' module graphs
 * (and any global state the app keeps) never mix, and a crashing app can't take `plan` or `watch`
 * down.
 *
 *   node --import tsx gitops/synth-child.ts <synth-module> <app.ts> <commit|-> <out.json>
 */
import { writeFileSync } from 'node:fs';
import { dirname, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { thrownAt } from './thrown-at.ts';

const [synthModule, appPath, commit, outFile] = process.argv.slice(2);

try {
  const mod = (await import(pathToFileURL(synthModule).href)) as {
    synthApp?: (app: string, opts: { sourceCommit?: string | false }) => Promise<{ objects: readonly unknown[] }>;
  };
  if (typeof mod.synthApp !== 'function') throw new Error(`${synthModule} exports no synthApp; is this a ghosteam checkout?`);
  const result = await mod.synthApp(appPath, { sourceCommit: commit === '-' ? false : commit });
  writeFileSync(outFile, JSON.stringify(result.objects));
} catch (err) {
  const at = thrownAt(err, process.cwd(), relative(process.cwd(), dirname(appPath)));
  const message = (err as Error)?.message ?? String(err);
  // A plain exception from the app: say where, and that the app (not ghosteam) is to fix.
  process.stderr.write(
    at ? `${at}: the app threw: ${message}\nFix the app there (ghosteam synth ${appPath.split('/').pop()} reproduces it).\n` : `${message}\n`,
  );
  process.exitCode = 3;
}
