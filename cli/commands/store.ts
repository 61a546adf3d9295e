/**
 * `ghosteam store verify`: hashes every artifact of the local content-addressed store
 * (.ghosteam/store/sha256) and reports the files whose bytes no longer match their digest. Each
 * reuse of an artifact is verified anyway (pipelines/local/store.ts); this is the full check, for
 * a schedule or after a disk scare. With --repair (the default) a corrupt file is moved to
 * store/corrupt/, so the next run rebuilds it. Exit 0: all good; 1: corrupt files found.
 */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { ArtifactStore } from '../../pipelines/local/store.ts';

interface VerifyFlags {
  storeDir: string;
  repair: boolean;
  json?: boolean;
}

export function register(program: Command): void {
  const store = program.command('store').description('Check the local artifact store');
  store
    .command('verify')
    .description('Hash every stored artifact and report (and by default quarantine) those whose bytes no longer match their digest')
    .option('--store-dir <dir>', 'Directory of the local state', '.ghosteam')
    .option('--no-repair', 'Only report; leave corrupt files where they are')
    .option('--json', 'Print the report as JSON')
    .action(async (f: VerifyFlags) => {
      const s = new ArtifactStore(resolve(f.storeDir));
      const started = Date.now();
      const r = await s.verifyAll({ repair: f.repair });
      if (f.json) process.stdout.write(JSON.stringify(r, null, 2) + '\n');
      else {
        for (const c of r.corrupt) {
          process.stdout.write(
            `corrupt: ${c.path}\n  recorded ${c.digest}\n  actual   ${c.actual}\n  ${c.quarantined ? `moved to ${c.quarantined}; the next run that needs it rebuilds it` : 'left in place (--no-repair)'}\n`,
          );
        }
        for (const x of r.foreign) process.stdout.write(`not an artifact (ignored): ${x}\n`);
        process.stdout.write(
          `${r.checked} artifact(s), ${(r.bytes / 1e6).toFixed(1)} MB checked in ${((Date.now() - started) / 1000).toFixed(1)} s: ${r.corrupt.length === 0 ? 'all match their digests' : `${r.corrupt.length} corrupt`}\n`,
        );
      }
      if (r.corrupt.length > 0) process.exitCode = 1;
    });
}
