/**
 * ghosteam's CLI entry. Each command lives in cli/commands/<name>.ts and exports
 * `register(program: Command): void`; this file loads them all, so adding a command never edits it.
 * Errors print one line (no stack) unless --verbose is given, and exit non-zero.
 */
import { Command, CommanderError } from 'commander';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { MODULE_EXT } from '../api/own-files.ts';

const here = dirname(fileURLToPath(import.meta.url));

export async function buildProgram(argv: readonly string[] = []): Promise<Command> {
  const program = new Command('ghosteam')
    .description('Declarative, GitOps-driven machine learning on Kubernetes or on one machine')
    .version('0.1.0')
    .option('--verbose', 'print stack traces and debug logs')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  const dir = join(here, 'commands');
  const all = readdirSync(dir)
    .filter((f) => f.endsWith(MODULE_EXT) && !f.endsWith('.test.ts'))
    .sort();
  // Start-up cost matters (every command imports heavy libraries): when the first argument names a
  // command module, load only that one; top-level help and unknown commands load them all.
  const first = argv.slice(2).find((a) => !a.startsWith('-'));
  const versionOnly = first === undefined && argv.some((a) => a === '-V' || a === '--version');
  const only = versionOnly ? [] : first !== undefined && all.includes(`${first}${MODULE_EXT}`) ? [`${first}${MODULE_EXT}`] : all;
  for (const f of only) {
    const mod = (await import(pathToFileURL(join(dir, f)).href)) as { register?: (p: Command) => void };
    if (typeof mod.register === 'function') mod.register(program);
  }
  return program;
}

// `ghosteam ... | head` closes the pipe early: that is not an error.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});

/**
 * Started by npm (`npx ghosteam serve`, `npm run …`), this process runs under `sh -c`: npm forwards
 * SIGTERM and SIGINT to that shell, which dies without passing them on, and a server would be left
 * running as an orphan. So under npm, the parent going away is taken as the SIGTERM it was sent:
 * every command's own SIGTERM handling (serve drains, run cancels its steps) then runs. Outside
 * npm nothing changes (`nohup ghosteam serve &` keeps running). Polls `process.ppid`, 4 times a second.
 */
export function stopWhenOrphaned(env: NodeJS.ProcessEnv = process.env, intervalMs = 250): void {
  if (env.npm_lifecycle_event === undefined || env.GHOSTEAM_SURVIVE_PARENT === '1') return;
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(timer);
    process.kill(process.pid, 'SIGTERM');
  }, intervalMs);
  timer.unref();
}

async function main(argv: string[]): Promise<number> {
  stopWhenOrphaned();
  const verbose = argv.includes('--verbose');
  try {
    const program = await buildProgram(argv);
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      return err.exitCode;
    }
    const e = err as Error & { exitCode?: number };
    if (verbose) console.error(e.stack ?? e);
    else console.error(`error: ${e.message}`);
    return typeof e.exitCode === 'number' ? e.exitCode : 1;
  }
}

if (process.argv[1] && /ghosteam(\.mjs)?$|cli[\\/]main\.[jt]s$/.test(process.argv[1])) {
  process.exitCode = await main(process.argv);
}
