// npm run cluster:up       start the test cluster (installing and building once), print env lines
// npm run cluster:build    install and build what it runs (packages, Go builds, s3proxy), start nothing
// npm run cluster:down     stop it and remove its traces (the caches stay)
// npm run cluster:status   say whether it is healthy
// npm run cluster:logs     what to read when something failed: health, failing pods, Warning events, daemon logs
// Progress goes to stderr; stdout carries only the shell-sourceable KEY=value lines.
import { clusterStateFile } from './config.ts';
import { checkCluster, clusterBuild, clusterDiagnostics, clusterDown, clusterEnvLines, clusterUp, readClusterState } from './node.ts';

const log = (line: string) => process.stderr.write(`[cluster] ${line}\n`);

async function main(cmd: string | undefined): Promise<number> {
  switch (cmd) {
    case 'up': {
      const t0 = performance.now();
      const { state, timings } = await clusterUp(log);
      const total = Math.round((performance.now() - t0) / 100) / 10;
      const phases = Object.entries(timings).map(([k, v]) => `${k} ${v}s`);
      log(`up in ${total}s${phases.length ? ` (${phases.join(', ')})` : ' (it was already running)'}; state in ${clusterStateFile}`);
      for (const line of clusterEnvLines(state)) process.stdout.write(line + '\n');
      return 0;
    }
    case 'build': {
      const t0 = performance.now();
      const timings: Record<string, number> = {};
      await clusterBuild(log, timings);
      const total = Math.round((performance.now() - t0) / 100) / 10;
      log(
        `built in ${total}s (${Object.entries(timings)
          .map(([k, v]) => `${k} ${v}s`)
          .join(', ')})`,
      );
      return 0;
    }
    case 'down':
      await clusterDown(log);
      return 0;
    case 'logs':
      process.stdout.write((await clusterDiagnostics()) + '\n');
      return 0;
    case 'status': {
      const state = readClusterState();
      const why = await checkCluster(state);
      log(why ?? 'healthy');
      if (state && !why) for (const line of clusterEnvLines(state)) process.stdout.write(line + '\n');
      return why ? 1 : 0;
    }
    default:
      throw new Error('usage: test/peers/cluster/cli.ts up | build | down | status | logs');
  }
}

main(process.argv[2]).then(
  (code) => process.exit(code),
  (err: Error) => {
    log(err.message);
    process.exit(1);
  },
);
