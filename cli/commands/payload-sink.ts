/**
 * `ghosteam payload-sink`: receives inference CloudEvents (KServe's inference logger, or
 * `ghosteam serve --payload-sink <url>`) and appends them to DIR/payloads.jsonl, the payload log
 * DriftMonitors read (`ghosteam operator --payload-log DIR/payloads.jsonl`). Runs until SIGTERM/SIGINT.
 *
 *   ghosteam payload-sink --port 8090 --dir /var/lib/ghosteam/payloads --host 0.0.0.0
 */
import { join, resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { intArg } from '../args.ts';
import { exposureWarning, isLoopback } from '../../components/model-server/http.ts';
import { addSecurityOptions, authFromFlags, tlsFromFlags, type SecurityFlags } from '../security.ts';

interface SinkFlags extends SecurityFlags {
  port: string;
  dir: string;
  host: string;
  tokenEnv?: string;
  pairTtl: string;
  fsync: 'always' | 'interval' | 'never';
}

/** The file the sink writes in --dir (the operator's --payload-log names it). */
export const PAYLOAD_LOG_FILE = 'payloads.jsonl';

export function register(program: Command): void {
  const cmd = program
    .command('payload-sink')
    .description('Receive inference CloudEvents (KServe logger, ghosteam serve) into the payload log DriftMonitors read')
    .option('-p, --port <port>', 'port to listen on (0 = any free port)', '8090')
    .option('-d, --dir <dir>', `directory of the payload log (${PAYLOAD_LOG_FILE}, rotated at 64 MiB)`, '.ghosteam/payloads')
    .option('--host <addr>', 'address to bind (0.0.0.0 in a pod)', '127.0.0.1')
    .option('--token-env <NAME>', "environment variable holding a bearer token required on POST / and /metrics (KServe's logger sends none)")
    .option('--pair-ttl <ms>', 'how long a KServe request waits for its response; then it is written without outputs', '30000')
    .addOption(
      new Option(
        '--fsync <policy>',
        'when the log is fsynced: always (before each answer; one fsync covers the requests that arrive meanwhile), interval (every second; an answer still means written, so kill -9 loses nothing, a power loss may), never',
      )
        .choices(['always', 'interval', 'never'])
        .default('always'),
    )
    .addHelpText(
      'after',
      `
Accepts POST / with CloudEvents 1.0: binary mode (ce-* headers; KServe's inference logger sends
org.kubeflow.serving.inference.request/.response pairs joined by ce-id) or structured batches
(ghosteam serve --payload-sink). A bad event gets 400 {"error"}. GET /healthz, GET /metrics.

A 200 means the events are on disk (see --fsync). KServe halves waiting for their pair are kept
in ${PAYLOAD_LOG_FILE}.pending and come back after a restart. When the sink cannot keep that
promise it answers 429 (busy) or 503 (disk full or failing) with Retry-After, /healthz turns 503,
and stderr says why. A torn last line (crash, full disk) is moved to ${PAYLOAD_LOG_FILE}.torn-<time>
on start.

Example (point the InferenceService's logger.url, or PayloadLogging.enabled({ url }), at it):
  ghosteam payload-sink --host 0.0.0.0 --dir /data/payloads
  ghosteam operator --payload-log /data/payloads/${PAYLOAD_LOG_FILE}`,
    );
  addSecurityOptions(cmd, { clientCa: true, routes: 'ingest (POST /), metrics' }).action(async (f: SinkFlags) => {
    let token: string | undefined;
    if (f.tokenEnv) {
      token = process.env[f.tokenEnv];
      if (!token) throw new Error(`--token-env ${f.tokenEnv}: the environment variable is not set or empty`);
    }
    const auth = authFromFlags(f);
    const tls = tlsFromFlags(f);
    // KServe's logger sends no token, so the sink may run without one beyond loopback (mutual TLS
    // or a NetworkPolicy are the other ways to limit who posts); but never silently.
    const warning = tls?.clientCa === undefined && auth === undefined ? exposureWarning('the payload sink', f.host, token) : undefined;
    if (warning) process.stderr.write(`${warning}\n`);
    if (!isLoopback(f.host) && tls === undefined)
      process.stderr.write(
        `WARNING: the payload sink listens on ${f.host} over plain HTTP: payloads cross the network in the clear. Pass --tls-cert and --tls-key.\n`,
      );
    const { startPayloadSink } = await import('../../components/payload-sink/index.ts');
    const file = resolve(join(f.dir, PAYLOAD_LOG_FILE));
    const sink = await startPayloadSink({
      file,
      port: intArg('--port', f.port, 0),
      host: f.host,
      pairTtlMs: intArg('--pair-ttl', f.pairTtl, 1),
      fsync: f.fsync,
      ...(token ? { token } : {}),
      ...(auth ? { auth } : {}),
      ...(tls ? { tls } : {}),
    });
    // The handlers go in before the line that says the sink is ready: a supervisor that stops it
    // the moment it reads that line must get the flush, not Node's default death by signal.
    const stopped = new Promise<void>((done) => {
      const stop = (sig: string): void => {
        process.stderr.write(`${sig}: flushing the payload log\n`);
        sink.close().then(done, (e: Error) => {
          process.stderr.write(`error while closing: ${e.message}\n`);
          process.exitCode = 1;
          done();
        });
      };
      process.once('SIGTERM', () => stop('SIGTERM'));
      process.once('SIGINT', () => stop('SIGINT'));
    });
    process.stdout.write(`payload sink listening on ${sink.url}, writing ${file}\n`);
    await stopped;
  });
}
