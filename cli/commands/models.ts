/**
 * `ghosteam models list|show <name>`: reads the configured model registry (MLFLOW_TRACKING_URI →
 * MLflow, else GHOSTEAM_REGISTRY_DIR or .ghosteam/registry).
 */
import type { Command } from 'commander';
import { openRegistry, parseModelRef, type ModelRegistry, type ModelVersion } from '../../components/registry/index.ts';

interface RegFlags {
  registry?: string;
  json?: boolean;
}

function open(flags: RegFlags): ModelRegistry {
  if (!flags.registry) return openRegistry();
  return /^https?:\/\//.test(flags.registry) ? openRegistry({ trackingUri: flags.registry }) : openRegistry({ dir: flags.registry });
}

const fmt = (n: number) => (Number.isInteger(n) ? String(n) : n.toFixed(4));

export function formatVersion(v: ModelVersion): string {
  const lines = [
    `${v.name} version ${v.version}${v.aliases.length ? `  @${v.aliases.join(' @')}` : ''}`,
    `  created   ${v.createdAt}`,
    `  format    ${v.format}`,
    `  source    ${v.source}`,
    ...(v.digest ? [`  digest    ${v.digest}`] : []),
  ];
  const kv = (title: string, o: Readonly<Record<string, string | number>>) => {
    const e = Object.entries(o);
    if (e.length) lines.push(`  ${title.padEnd(9)} ${e.map(([k, x]) => `${k}=${typeof x === 'number' ? fmt(x) : x}`).join(' ')}`);
  };
  kv('metrics', v.metrics);
  kv('params', v.params);
  kv('tags', v.tags);
  kv('lineage', v.lineage as Record<string, string>);
  return lines.join('\n');
}

export function register(program: Command): void {
  const cmd = program.command('models').description('Inspect the model registry (local or MLflow)');
  const regOpt = ['--registry <dir|url>', 'registry directory or MLflow URL (default: $MLFLOW_TRACKING_URI, else .ghosteam/registry)'] as const;
  cmd
    .command('list')
    .description('List registered models with their latest version and aliases')
    .option(...regOpt)
    .option('--json', 'print JSON')
    .action(async (flags: RegFlags) => {
      const reg = open(flags);
      const models = await reg.listModels();
      if (flags.json) return void process.stdout.write(JSON.stringify(models, null, 2) + '\n');
      if (!models.length) return void process.stdout.write(`no models registered (${reg.kind} registry)\n`);
      const rows = models.map((m) => [
        m.name,
        m.latestVersion === undefined ? '-' : String(m.latestVersion),
        Object.entries(m.aliases)
          .map(([a, v]) => `${a}=${v}`)
          .join(' ') || '-',
      ]);
      const w = [Math.max(5, ...rows.map((r) => r[0].length)), Math.max(6, ...rows.map((r) => r[1].length))];
      process.stdout.write(`${'MODEL'.padEnd(w[0])}  ${'LATEST'.padEnd(w[1])}  ALIASES\n`);
      for (const r of rows) process.stdout.write(`${r[0].padEnd(w[0])}  ${r[1].padEnd(w[1])}  ${r[2]}\n`);
    });
  cmd
    .command('show')
    .description("Show a model's versions, or one version (NAME@VERSION or NAME@ALIAS)")
    .argument('<ref>', 'fraud, fraud@champion or fraud@3')
    .option(...regOpt)
    .option('--json', 'print JSON')
    .action(async (ref: string, flags: RegFlags) => {
      const reg = open(flags);
      const { name, version } = parseModelRef(ref);
      const versions = ref.includes('@') || ref.includes(':') ? [await reg.resolve(name, version)] : await reg.listVersions(name);
      if (flags.json) return void process.stdout.write(JSON.stringify(versions.length === 1 && ref.match(/[@:]/) ? versions[0] : versions, null, 2) + '\n');
      process.stdout.write(versions.map(formatVersion).join('\n\n') + '\n');
    });
}
