/**
 * Generates the CLI reference from the commands' own --help text and keeps it in README.md between
 * the `<!-- cli-reference:begin -->` and `<!-- cli-reference:end -->` markers.
 *   npm run docs:cli            rewrites README.md
 *   npm run docs:cli -- --check exits 1 when README.md is out of date
 */
import { readFileSync, writeFileSync, renameSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { buildProgram } from '../cli/main.ts';

export const BEGIN = '<!-- cli-reference:begin -->';
export const END = '<!-- cli-reference:end -->';

function helpOf(cmd: Command, path: string[]): string[] {
  const out = [`### \`${['ghosteam', ...path].join(' ')}\``, '', '```text', cmd.helpInformation().trimEnd(), '```', ''];
  for (const sub of cmd.commands as Command[]) {
    if (sub.name() === 'help') continue;
    out.push(...helpOf(sub, [...path, sub.name()]));
  }
  return out;
}

export async function cliReference(): Promise<string> {
  const program = await buildProgram();
  // Fixed width, so the text does not depend on the terminal it was generated in.
  program.configureOutput({ getOutHelpWidth: () => 100, getErrHelpWidth: () => 100 });
  for (const c of program.commands as Command[]) c.configureOutput({ getOutHelpWidth: () => 100, getErrHelpWidth: () => 100 });
  return helpOf(program, []).join('\n');
}

export function spliceReadme(readme: string, reference: string): string {
  const a = readme.indexOf(BEGIN);
  const b = readme.indexOf(END);
  if (a < 0 || b < a) throw new Error(`README.md: markers ${BEGIN} … ${END} not found; add them where the CLI reference goes`);
  return `${readme.slice(0, a + BEGIN.length)}\n${reference}\n${readme.slice(b)}`;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const file = fileURLToPath(new URL('../README.md', import.meta.url));
  const readme = readFileSync(file, 'utf8');
  const next = spliceReadme(readme, await cliReference());
  if (process.argv.includes('--check')) {
    if (next !== readme) {
      console.error('README.md: the CLI reference is out of date; run `npm run docs:cli`');
      process.exit(1);
    }
  } else if (next !== readme) {
    writeFileSync(`${file}.tmp`, next);
    renameSync(`${file}.tmp`, file);
    console.log('README.md: CLI reference updated');
  }
}
