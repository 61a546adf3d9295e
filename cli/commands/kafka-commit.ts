/**
 * `ghosteam kafka-commit --offsets '<range JSON>'`
 * Commits a Kafka offset range that an ingest step read (its `kafkaOffsets` output: brokers, topic,
 * group and [start, end) per partition) for its consumer group, so the next bounded read starts
 * after it. A synthesized Argo workflow runs it in its exit handler only when the workflow
 * succeeded (pipelines/argo.ts); locally the engine commits itself. `null` (a step whose source
 * was not Kafka) commits nothing. Security (SASL, TLS) comes from the environment as for ingest:
 * KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_*, KAFKA_SSL_CA_FILE.
 */
import type { Command } from 'commander';
import { commitKafkaOffsets, kafkaRangeText, type KafkaRange } from '../../components/ingest/sources.ts';

/** The range from its JSON, checked; null when there is nothing to commit. */
export function parseOffsets(text: string): KafkaRange | null {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new Error(`--offsets: not JSON (${(err as Error).message}); pass an ingest step's kafkaOffsets output`);
  }
  if (v === null) return null;
  const r = v as Partial<KafkaRange>;
  const ok =
    typeof r === 'object' &&
    Array.isArray(r.brokers) &&
    r.brokers.every((b) => typeof b === 'string') &&
    typeof r.topic === 'string' &&
    typeof r.group === 'string' &&
    Array.isArray(r.partitions) &&
    r.partitions.every((p) => Number.isInteger(p?.partition) && /^\d+$/.test(String(p?.start)) && /^\d+$/.test(String(p?.end)));
  if (!ok)
    throw new Error(
      '--offsets: not an offset range ({"brokers": [...], "topic": ..., "group": ..., "partitions": [{"partition", "start", "end"}]}); pass an ingest step\'s kafkaOffsets output',
    );
  return r as KafkaRange;
}

export function register(program: Command): void {
  program
    .command('kafka-commit')
    .description(
      "Commit the Kafka offsets an ingest step read (its kafkaOffsets output) for its consumer group; run by a workflow's exit handler when it succeeded",
    )
    .requiredOption('--offsets <json>', "The range: an ingest step's kafkaOffsets output (null: nothing to commit)")
    .action(async (flags: { offsets: string }) => {
      const range = parseOffsets(flags.offsets);
      if (!range) {
        process.stdout.write('nothing to commit: the step did not read Kafka\n');
        return;
      }
      await commitKafkaOffsets(range);
      process.stdout.write(`committed ${kafkaRangeText(range)}\n`);
    });
}
