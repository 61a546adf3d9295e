/**
 * `ghosteam init <dir>`: scaffolds a working app in a new folder (cli/scaffold.ts) — package.json
 * with ghosteam, cdk8s and constructs, tsconfig.json, app.ts, seeded sample data, a README — and
 * runs `npm install` there, so `npx ghosteam synth app.ts` and `npx ghosteam run app.ts` work at once.
 */
import type { Command } from 'commander';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { PACKAGE_ROOT } from '../../api/own-files.ts';

interface InitFlags {
  ghosteam?: string;
  install: boolean;
}

/** The ghosteam dependency a new app gets: this checkout by path when run from one, else this version. */
export function defaultGhosteamSpec(root: string, version: string): string {
  return root.split(sep).includes('node_modules') ? `^${version}` : `file:${root}`;
}

export function register(program: Command): void {
  program
    .command('init')
    .description('Create a new ghosteam app (package.json, tsconfig, app.ts, sample data) in a new folder')
    .argument('<dir>', 'The folder to create, e.g. my-app (its name becomes the app name)')
    .option(
      '--ghosteam <spec>',
      'The ghosteam dependency to write (a version range, file:PATH or a tarball) (default: this version; this checkout by path when run from one)',
    )
    .option('--no-install', 'Write the files only; skip `npm install`')
    .action(async (dir: string, flags: InitFlags) => {
      const { scaffoldFiles } = await import('../scaffold.ts');
      const target = resolve(dir);
      if (existsSync(target) && readdirSync(target).length > 0) {
        throw new Error(`${dir} exists and is not empty; choose a new folder name (ghosteam init never overwrites files)`);
      }
      const own = JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string; dependencies: Record<string, string> };
      const files = scaffoldFiles({
        name: basename(target),
        ghosteam: flags.ghosteam ?? defaultGhosteamSpec(PACKAGE_ROOT, own.version),
        cdk8s: own.dependencies.cdk8s,
        constructs: own.dependencies.constructs,
      });
      for (const [rel, text] of Object.entries(files)) {
        const path = join(target, rel);
        mkdirSync(dirname(path), { recursive: true });
        writeFileSync(path, text, { flag: 'wx' });
      }
      process.stdout.write(`created ${dir}/: ${Object.keys(files).join(', ')}\n`);
      if (flags.install) {
        process.stdout.write(`installing dependencies (npm install in ${dir}) …\n`);
        const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
        const r = spawnSync(npm, ['install', '--no-audit', '--no-fund'], { cwd: target, stdio: 'inherit' });
        if (r.status !== 0)
          throw new Error(`npm install failed in ${dir} (exit ${r.status ?? r.signal}); fix the problem above and run \`npm install\` there again`);
      }
      process.stdout.write(
        [
          '',
          'next:',
          `  cd ${dir}`,
          ...(flags.install ? [] : ['  npm install']),
          '  npx ghosteam run app.ts                # train, evaluate, gate and register on this machine',
          '  npx ghosteam synth app.ts --out dist   # the Kubernetes YAML',
          '',
        ].join('\n'),
      );
    });
}
