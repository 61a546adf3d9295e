/**
 * `ghosteam plan --base <ref> [--head <ref>]`: what merging head into base will do to models,
 * pipelines and drift monitors, then the YAML diff. `--markdown` for a PR comment, `--json` for
 * machines. Exits 1 when the head fails validation (a PR gate). Logic: gitops/plan-run.ts.
 */
import type { Command } from 'commander';
import { runPlan } from '../../gitops/plan-run.ts';
import { planFails, renderJson, renderMarkdown, renderText } from '../../gitops/plan-render.ts';

interface PlanFlags {
  base: string;
  head: string;
  app: string;
  repo: string;
  markdown?: boolean;
  json?: boolean;
}

export function register(program: Command): void {
  program
    .command('plan')
    .description('Show what a change does to models, pipelines and drift monitors (for pull requests)')
    .requiredOption('--base <ref>', 'the commit the change goes into (e.g. origin/main)')
    .option('--head <ref>', 'the commit with the change', 'HEAD')
    .option('--app <file>', 'the app file, relative to the repository root', 'app.ts')
    .option('--repo <dir>', 'a directory inside the repository', '.')
    .option('--markdown', 'render as a Markdown pull-request comment')
    .option('--json', 'print JSON for machines')
    .addHelpText(
      'after',
      '\nExit status: 0 when the head is valid, 1 when it fails synthesis or validation.\n\nExample:\n  ghosteam plan --base origin/main --app examples/fraud-detection/app.ts --markdown',
    )
    .action(async (flags: PlanFlags) => {
      if (flags.markdown && flags.json) throw new Error('--markdown and --json are exclusive; pick one');
      const report = await runPlan({ repoDir: flags.repo, base: flags.base, head: flags.head, app: flags.app });
      const render = flags.json ? renderJson : flags.markdown ? renderMarkdown : renderText;
      process.stdout.write(render(report));
      if (planFails(report)) process.exitCode = 1;
    });
}
