// npm run peers:up [-- kube mlflow ...]   start the peers (installing what is missing), print env lines
// npm run peers:down                      stop them
// npm run peers:status                    say which are healthy
// Progress goes to stderr; stdout carries only the shell-sourceable KEY=value lines.
import { PEER_NAMES, stateFile, type PeerName } from './config.ts';
import { checkPeer, readState } from './state.ts';
import { envLines, peersDown, peersUp } from './up.ts';

const log = (line: string) => process.stderr.write(`[peers] ${line}\n`);

function parseNames(args: string[]): PeerName[] {
  if (args.length === 0) return [...PEER_NAMES];
  for (const a of args) {
    if (!(PEER_NAMES as readonly string[]).includes(a)) throw new Error(`unknown peer '${a}'; choose from ${PEER_NAMES.join(', ')}`);
  }
  return args as PeerName[];
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'up': {
      const t0 = performance.now();
      const { state, timings } = await peersUp(parseNames(rest), log);
      const total = Math.round((performance.now() - t0) / 100) / 10;
      const phases = Object.entries(timings).map(([k, v]) => `${k} ${v}s`);
      log(`up in ${total}s${phases.length ? ` (${phases.join(', ')})` : ' (all were already running)'}; state in ${stateFile}`);
      for (const line of envLines(state)) process.stdout.write(line + '\n');
      return 0;
    }
    case 'down':
      await peersDown(log);
      return 0;
    case 'status': {
      const state = readState();
      let bad = 0;
      for (const n of PEER_NAMES) {
        const why = await checkPeer(n, state);
        if (why) bad++;
        log(`${n}: ${why ?? 'healthy'}`);
      }
      for (const line of envLines(state)) process.stdout.write(line + '\n');
      return bad === 0 ? 0 : 1;
    }
    default:
      throw new Error(`usage: test/peers/cli.ts up [${PEER_NAMES.join('|')} ...] | down | status`);
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: Error) => {
    log(err.message);
    process.exit(1);
  },
);
