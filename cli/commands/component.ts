/**
 * `ghosteam component run <name>`: runs one built-in component, as a pipeline task does inside a
 * container (images/components). The path and output-param conventions are in components/index.ts.
 * `ghosteam component list` shows the catalog.
 */
import type { Command } from 'commander';
import { getComponent, listComponents } from '../../components/index.ts';
import { parseAssignments, runComponent } from '../../components/run.ts';
import { classifyFailure, exitCodeFor } from '../../api/failure.ts';

const collect = (v: string, acc: string[]) => [...acc, v];

export function register(program: Command): void {
  const cmd = program.command('component').description('Run or list built-in pipeline components');
  cmd
    .command('list')
    .description('List the built-in components with their inputs, outputs and output params')
    .option('--json', 'print JSON')
    .action((flags: { json?: boolean }) => {
      const cs = listComponents().map((c) => ({
        name: c.name,
        version: c.version,
        description: c.description,
        inputs: c.inputs,
        outputs: c.outputs,
        outputParams: c.outputParams ?? [],
      }));
      if (flags.json) return void process.stdout.write(JSON.stringify(cs, null, 2) + '\n');
      for (const c of cs) {
        process.stdout.write(`${c.name} (v${c.version}): ${c.description}\n`);
        process.stdout.write(`  inputs:  ${c.inputs.map((i) => `${i.name}:${i.kind}${i.optional ? '?' : ''}`).join(', ') || '-'}\n`);
        process.stdout.write(`  outputs: ${c.outputs.map((o) => `${o.name}:${o.kind}`).join(', ') || '-'}\n`);
        process.stdout.write(`  params:  ${c.outputParams.join(', ') || '-'}\n`);
      }
    });
  cmd
    .command('run')
    .description('Run one component (what a pipeline task does in its container)')
    .argument('<name>', 'component name, e.g. train-tabular')
    .option('--param <name=value>', 'a parameter (repeatable)', collect, [] as string[])
    .option('--input <name=path>', 'an input artifact file (repeatable)', collect, [] as string[])
    .option('--output <name=path>', 'where to write an output artifact (repeatable)', collect, [] as string[])
    .option('--output-params-dir <dir>', 'write each output param to <dir>/<name> (for Argo valueFrom.path)')
    .option('--json', 'print the output params as one JSON object on stdout')
    .action(async (name: string, flags: { param: string[]; input: string[]; output: string[]; outputParamsDir?: string; json?: boolean }) => {
      const c = getComponent(name);
      if (!c)
        throw new Error(
          `unknown component '${name}'; built-in components: ${listComponents()
            .map((x) => x.name)
            .join(', ')}`,
        );
      const ctl = new AbortController();
      const stop = () => ctl.abort(new Error('terminated'));
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
      const env: Record<string, string> = {};
      for (const [k, e] of [
        ['ghosteam.runId', 'GHOSTEAM_RUN_ID'],
        ['ghosteam.pipeline', 'GHOSTEAM_PIPELINE'],
        ['ghosteam.gitCommit', 'GHOSTEAM_GIT_COMMIT'],
      ] as const) {
        if (process.env[e]) env[k] = process.env[e]!;
      }
      try {
        const out = await runComponent(
          c,
          {
            params: parseAssignments(flags.param, '--param'),
            inputs: parseAssignments(flags.input, '--input'),
            outputs: parseAssignments(flags.output, '--output'),
            outputParamsDir: flags.outputParamsDir,
          },
          {
            env,
            signal: ctl.signal,
            log: (l) => process.stderr.write(`${l}\n`),
            progress: (e) => {
              // name=value, so Katib's StdOut metrics collector reads the per-epoch values (pipelines/tuning/katib.ts).
              if (e.epoch !== undefined)
                process.stderr.write(
                  `epoch ${e.epoch}/${e.epochs ?? '?'}${e.loss !== undefined ? ` loss=${e.loss.toPrecision(6)}` : ''}${e.valLoss !== undefined ? ` valLoss=${e.valLoss.toPrecision(6)}` : ''}\n`,
                );
              else if (e.message) process.stderr.write(`${e.message}\n`);
            },
          },
        );
        if (flags.json) process.stdout.write(JSON.stringify(out) + '\n');
        else for (const [k, v] of Object.entries(out)) process.stderr.write(`output ${k} = ${typeof v === 'string' ? v : JSON.stringify(v)}\n`);
      } catch (e) {
        // A failure retrying cannot change exits 64/65/78 (api/failure.ts), which the Argo template's
        // retryStrategy and the local engine do not retry.
        const f = classifyFailure(e);
        throw Object.assign(e instanceof Error ? e : new Error(String(e)), { exitCode: exitCodeFor(f) });
      } finally {
        process.off('SIGTERM', stop);
        process.off('SIGINT', stop);
      }
    });
}
