/**
 * `ghosteam plan --base <ref> [--head <ref>]`: what merging head into base will do to models
 * (versions, pins, rollout policy: old → new values), pipelines and drift monitors, then the YAML
 * diff, against the merge-base of the two. `--markdown` for a PR comment, `--json` for machines.
 * Exits 1 when the head fails type-checking or validation (a PR gate). Logic: gitops/plan-run.ts.
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
  typecheck: boolean;
  mergeBase: boolean;
}

export function register(program: Command): void {
  program
    .command('plan')
    .description('Show what a change does to models, pipelines and drift monitors (for pull requests)')
    .requiredOption('--base <ref>', 'the commit the change goes into (e.g. origin/main)')
    .option('--head <ref>', 'the commit with the change', 'HEAD')
    .option('--app <file>', 'the app file, relative to the repository root', 'app.ts')
    .option('--repo <dir>', 'a directory inside the repository', '.')
    .option('--no-merge-base', "compare with the tip of --base instead of its merge-base with --head (a pull request's diff)")
    .option('--no-typecheck', "don't type-check the app (with its own tsconfig.json) before synthesizing it")
    .option('--markdown', 'render as a Markdown pull-request comment')
    .option('--json', 'print JSON for machines')
    .addHelpText(
      'after',
      '\nThe head is compared with its merge-base with --base, as a pull request diff is, and type-checked first.\nExit status: 0 when the head is valid, 1 when it fails type-checking, synthesis or validation.\n\nExample:\n  ghosteam plan --base origin/main --app examples/fraud-detection/app.ts --markdown',
    )
    .action(async (flags: PlanFlags) => {
      if (flags.markdown && flags.json) throw new Error('--markdown and --json are exclusive; pick one');
      const report = await runPlan({
        repoDir: flags.repo,
        base: flags.base,
        head: flags.head,
        app: flags.app,
        mergeBase: flags.mergeBase,
        typecheck: flags.typecheck,
      });
      const render = flags.json ? renderJson : flags.markdown ? renderMarkdown : renderText;
      process.stdout.write(render(report));
      if (planFails(report)) process.exitCode = 1;
    });
}
