/**
 * The checkouts `ghosteam watch` synthesizes and trains from: one git worktree per commit under
 * `<stateDir>/trees/<sha>`, made from the watcher's private clone, with the repository's own
 * dependencies installed in it as the user's checkout has them (`npm ci` with a package-lock.json,
 * else `npm install`, when the commit has a package.json). A checkout stays until newer ones replace
 * it, because the local operator runs the pipelines of the last applied commit from it.
 *
 * Dependencies are installed once per package.json + lockfile content (`<stateDir>/deps/<hash>`) and
 * linked into every checkout that has the same ones, so a commit that changes only code installs
 * nothing. A checkout is complete only when its `.ghosteam-ready` marker exists; one without it (a watcher
 * killed mid-install) is removed and made again.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PACKAGE_ROOT as ownRoot } from '../api/own-files.ts';
import { gitClient } from './git.ts';

const READY = '.ghosteam-ready';
const DEP_FILES = ['package.json', 'package-lock.json', 'npm-shrinkwrap.json'] as const;
/** Checkouts kept (newest first by modification time); older ones are removed. */
export const KEEP_TREES = 3;

/** How a checkout gets its dependencies (pure). */
export function installCommand(files: { packageJson: boolean; packageLock: boolean; npmShrinkwrap?: boolean }): string[] | undefined {
  if (!files.packageJson) return undefined;
  if (files.packageLock || files.npmShrinkwrap) return ['ci', '--no-audit', '--no-fund'];
  return ['install', '--no-audit', '--no-fund', '--no-package-lock'];
}

function npm(args: string[], cwd: string, timeoutMs: number): Promise<{ code: number; output: string }> {
  const cli = process.env.npm_execpath && /npm-cli\.js$/.test(process.env.npm_execpath) ? [process.execPath, process.env.npm_execpath] : ['npm'];
  return new Promise((res) => {
    execFile(
      cli[0],
      [...cli.slice(1), ...args],
      { cwd, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024, env: { ...process.env, npm_config_update_notifier: 'false' } },
      (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
        res({ code, output: `${stdout}${stderr}` });
      },
    );
  });
}

/**
 * The checkout of `sha` under `treesDir`, made (with dependencies) if it does not exist yet.
 * Throws with npm's last lines when the dependencies do not install.
 */
export async function prepareTree(
  cloneDir: string,
  treesDir: string,
  sha: string,
  log: (line: string) => void = () => {},
  installTimeoutMs = 600_000,
): Promise<string> {
  const tree = join(treesDir, sha);
  if (existsSync(join(tree, READY))) return tree;
  const git = gitClient(cloneDir);
  if (existsSync(tree)) {
    await git.raw(['worktree', 'remove', '--force', tree]).catch(() => undefined);
    await rm(tree, { recursive: true, force: true });
  }
  await git.raw(['worktree', 'prune']).catch(() => undefined);
  await mkdir(treesDir, { recursive: true });
  await git.raw(['worktree', 'add', '--quiet', '--detach', tree, sha]);
  const manifests = DEP_FILES.filter((f) => existsSync(join(tree, f)));
  const cmd = installCommand({
    packageJson: manifests.includes('package.json'),
    packageLock: manifests.includes('package-lock.json'),
    npmShrinkwrap: manifests.includes('npm-shrinkwrap.json'),
  });
  if (cmd && !existsSync(join(tree, 'node_modules'))) {
    const texts = await Promise.all(manifests.map((f) => readFile(join(tree, f), 'utf8')));
    // Dependencies are installed once per package.json + lockfile and shared by the checkouts that
    // have the same ones; a relative file: dependency only resolves from the checkout itself.
    const shareable = !texts.some((t) => /"file:(?!\/)|"link:(?!\/)/.test(t));
    const key = createHash('sha256')
      .update(manifests.map((f, i) => `${f}\0${texts[i]}\0`).join(''))
      .digest('hex')
      .slice(0, 16);
    const depsDir = shareable ? join(treesDir, '..', 'deps', key) : tree;
    if (!existsSync(join(depsDir, READY))) {
      if (shareable) {
        await rm(depsDir, { recursive: true, force: true });
        await mkdir(depsDir, { recursive: true });
        for (const [i, f] of manifests.entries()) await writeFile(join(depsDir, f), texts[i]);
      }
      log(`${sha.slice(0, 7)}: installing the repository's dependencies (npm ${cmd[0]})`);
      const r = await npm(cmd, depsDir, installTimeoutMs);
      if (r.code !== 0) {
        const last = r.output
          .trim()
          .split('\n')
          .filter((l) => !/^npm warn/i.test(l))
          .slice(-5)
          .join(' | ');
        // npm's own error code (E404, ETARGET, ECONNREFUSED, …) says whether a retry could install (api/failure.ts).
        const code = /npm (?:error|ERR!) code (\S+)/.exec(r.output)?.[1];
        throw Object.assign(
          new Error(
            `npm ${cmd[0]} failed in the checkout of ${sha.slice(0, 7)} (exit ${r.code}${code ? `, ${code}` : ''}): ${last}; fix package.json/package-lock.json in the repository`,
          ),
          code ? { code } : {},
        );
      }
      if (shareable) await writeFile(join(depsDir, READY), `${new Date().toISOString()}\n`);
    }
    if (shareable) await symlink(join(depsDir, 'node_modules'), join(tree, 'node_modules'), 'dir');
  } else if (!cmd && !existsSync(join(tree, 'node_modules')) && existsSync(join(ownRoot, 'node_modules'))) {
    // No package.json: the app can only import what ghosteam itself has.
    await symlink(join(ownRoot, 'node_modules'), join(tree, 'node_modules'), 'dir');
  }
  await writeFile(join(tree, READY), `${new Date().toISOString()}\n`);
  return tree;
}

/** Removes all but the newest `keep` checkouts (and `except`). */
export async function pruneTrees(cloneDir: string, treesDir: string, except: string, keep = KEEP_TREES): Promise<void> {
  if (!existsSync(treesDir)) return;
  const trees = readdirSync(treesDir)
    .map((n) => ({ n, t: statSync(join(treesDir, n)).mtimeMs }))
    .sort((a, b) => b.t - a.t)
    .map((x) => x.n)
    .filter((n) => join(treesDir, n) !== except);
  const git = gitClient(cloneDir);
  for (const n of trees.slice(Math.max(0, keep - 1))) {
    await git.raw(['worktree', 'remove', '--force', join(treesDir, n)]).catch(() => undefined);
    await rm(join(treesDir, n), { recursive: true, force: true });
  }
  await git.raw(['worktree', 'prune']).catch(() => undefined);
}
