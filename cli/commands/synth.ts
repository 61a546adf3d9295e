/**
 * `ghosteam synth [app] --out dist`: loads a TypeScript app (no build step), synthesizes every chart,
 * validates every object, then writes one YAML file per chart plus ghosteam-crds.yaml. Nothing is
 * written when validation fails. Logic lives in charts/synth.ts.
 */
import type { Command } from 'commander';
import { relative } from 'node:path';
import { synthApp } from '../../charts/synth.ts';

interface SynthFlags {
  out: string;
  sourceCommit: boolean;
  crds: boolean;
  stdout?: boolean;
}

export function register(program: Command): void {
  program
    .command('synth')
    .description('Synthesize an app to validated Kubernetes YAML (Argo, KServe, ghosteam CRDs)')
    .argument('[app]', 'the app file: default-exports a cdk8s App or a function (app) => void', 'app.ts')
    .option('-o, --out <dir>', 'directory for synthesized manifests', 'dist')
    .option('--stdout', 'print the YAML instead of writing files')
    .option('--no-source-commit', 'leave out the ghosteam.io/source-commit annotation')
    .option('--no-crds', 'leave out ghosteam-crds.yaml')
    .addHelpText('after', '\nExample:\n  ghosteam synth examples/fraud-detection/app.ts --out dist')
    .action(async (app: string, flags: SynthFlags) => {
      const result = await synthApp(app, {
        ...(flags.stdout ? {} : { outDir: flags.out }),
        ...(flags.sourceCommit ? {} : { sourceCommit: false }),
        crds: flags.crds,
      });
      if (flags.stdout) {
        process.stdout.write(result.files.map((f) => `# ${f.name}\n${f.yaml}`).join('---\n'));
        return;
      }
      for (const f of result.files) {
        const kinds = new Map<string, number>();
        for (const o of f.objects) kinds.set(String(o.kind), (kinds.get(String(o.kind)) ?? 0) + 1);
        const summary = [...kinds].map(([k, n]) => (n > 1 ? `${n} ${k}s` : `${n} ${k}`)).join(', ');
        const abs = `${result.outDir}/${f.name}`;
        const rel = relative(process.cwd(), abs);
        process.stdout.write(`wrote ${rel.startsWith('..') ? abs : rel} (${summary})\n`);
      }
    });
}
