/**
 * `ghosteam validate <dir|file>`: validates existing YAML with the same checks and messages as
 * `ghosteam synth` (charts/validate.ts). Exits 1 and lists every problem when something is wrong.
 */
import type { Command } from 'commander';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { LineCounter } from 'yaml';
import { formatIssue, type Issue } from '../../api/errors.ts';
import { validateObjects, type UncheckedObject, type SourcedObject } from '../../charts/validate.ts';
import { parseYamlStream } from '../../charts/yaml-read.ts';

function yamlFiles(path: string): string[] {
  const st = statSync(path);
  if (st.isFile()) return [path];
  const out: string[] = [];
  for (const name of readdirSync(path).sort()) {
    if (name.startsWith('.') || name === 'node_modules') continue;
    const p = join(path, name);
    if (statSync(p).isDirectory()) out.push(...yamlFiles(p));
    else if (/\.ya?ml$/.test(name)) out.push(p);
  }
  return out;
}

/** Reads every object from YAML files; syntax errors become issues naming file and line. */
export function readObjects(path: string): { objects: SourcedObject[]; issues: Issue[]; files: number } {
  if (!existsSync(path)) throw new Error(`${path} does not exist; pass a YAML file or a directory of them`);
  const files = yamlFiles(path);
  if (files.length === 0) throw new Error(`${path} holds no .yaml or .yml files`);
  const objects: SourcedObject[] = [];
  const issues: Issue[] = [];
  for (const file of files) {
    const shown = relative(process.cwd(), file) || file;
    const lc = new LineCounter();
    for (const doc of parseYamlStream(readFileSync(file, 'utf8'), lc)) {
      const line = lc.linePos(doc.range?.[0] ?? 0).line;
      if (doc.errors.length > 0) {
        const e = doc.errors[0];
        issues.push({
          path: `${shown}:${e.linePos?.[0]?.line ?? line}`,
          field: '',
          message: `is not valid YAML (${e.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '')}); fix the syntax`,
        });
        continue;
      }
      const value = doc.toJS({ maxAliasCount: 100 }) as unknown;
      if (value === null || value === undefined) continue;
      objects.push({ object: value as UncheckedObject, source: `${shown}:${line}` });
    }
  }
  return { objects, issues, files: files.length };
}

export function register(program: Command): void {
  program
    .command('validate')
    .description('Validate Kubernetes YAML with the same checks and messages as synth')
    .argument('<path>', 'a YAML file or a directory of them (searched recursively)')
    .option('-q, --quiet', 'print nothing when everything is valid')
    .action((path: string, flags: { quiet?: boolean }) => {
      const { objects, issues, files } = readObjects(path);
      issues.push(...validateObjects(objects));
      if (issues.length > 0) {
        for (const i of issues) process.stderr.write(`${formatIssue(i)}\n`);
        process.stderr.write(`${issues.length} problem${issues.length === 1 ? '' : 's'} in ${path}\n`);
        process.exitCode = 1;
        return;
      }
      if (!flags.quiet) process.stdout.write(`${objects.length} object${objects.length === 1 ? '' : 's'} in ${files} file${files === 1 ? '' : 's'}: valid\n`);
    });
}
