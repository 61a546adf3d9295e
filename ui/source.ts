/**
 * Where the UI's data comes from: one interface, two implementations, the same pages.
 *  - `localSource` (here): the embedded default's files — the local operator's state directory,
 *    the registry and the local engine's run records — watched with inotify;
 *  - `clusterSource` (ui/cluster.ts): the API server's Models, TrainingRuns, DriftMonitors and Argo
 *    Workflows through informers (list, then watch), and the registry (MLflow or local).
 * The server (ui/server.ts) caches the snapshot, coalesces change notifications into Server-Sent
 * Events and serves the pages; it never asks where the data came from.
 */
import { existsSync, readdirSync, statSync, watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import type { ModelRegistry, ModelVersion } from '../components/registry/types.ts';
import { registeredModelOf, type K8sObject } from '../api/objects.ts';
import { readStateObjects } from '../controllers/runtime/inbox.ts';
import { readAlertState } from '../controllers/runtime/alert-state.ts';
import { effectiveStatus, RunStore } from '../pipelines/local/store.ts';
import type { NodeRecord, RunRecord } from '../pipelines/local/types.ts';
import type { Snapshot } from './api.ts';
import type { ActionTarget } from '../controllers/actions.ts';

export interface UiSource {
  /** What the pages show now (objects and registered versions). */
  read(): Promise<Snapshot>;
  /** Pipeline runs, newest first. */
  runs(): Promise<RunRecord[]>;
  /** One run; throws RunNotFoundError (the page's 404) when there is none. */
  run(id: string): Promise<RunRecord>;
  /**
   * A node's log, bounded: its last `tailLines` lines, at most `limitBytes` of them (a local log
   * file, or an Argo step's pod log through the API server). Throws LogUnavailableError when it
   * cannot be read (the pod is gone, the UI may not read it).
   */
  readLog(run: RunRecord, node: NodeRecord, bounds: LogBounds): Promise<LogRead>;
  /** The status shown for a run (the local engine tells an interrupted run from a running one). */
  status(run: RunRecord): string;
  /** Calls `changed` after every change of what `read`/`runs` return; the server coalesces bursts. */
  subscribe(changed: () => void): void;
  /** Where actions go when the UI is started with credentials: the same place this source reads. */
  readonly target?: ActionTarget;
  close(): Promise<void>;
}

export class RunNotFoundError extends Error {}

/** A log read's bounds: the UI never reads a whole log it did not bound. */
export interface LogBounds {
  readonly tailLines: number;
  readonly limitBytes: number;
}

export interface LogRead {
  readonly text: string;
  /** `limitBytes` cut the tail. */
  readonly truncated: boolean;
}

/** Why a log cannot be shown: `status` is the page's (404: gone; 403: the UI may not read it). */
export class LogUnavailableError extends Error {
  constructor(
    readonly status: 403 | 404,
    message: string,
  ) {
    super(message);
  }
}

/** The last `tailLines` lines of a text, at most `limitBytes` of them (pure; the API server's pods/log bounds, for local files). */
export function tailText(text: string, b: LogBounds): LogRead {
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  const tail = lines
    .slice(-b.tailLines)
    .map((l) => l + '\n')
    .join('');
  const bytes = Buffer.from(tail, 'utf8');
  return bytes.length > b.limitBytes ? { text: bytes.subarray(0, b.limitBytes).toString('utf8'), truncated: true } : { text: tail, truncated: false };
}

/**
 * The registered versions, oldest first, of every registered model the registry lists and of every
 * one a Model names, read side by side. A name the registry does not know has no entry (its Model
 * shows no versions); a registry that cannot list its models still gives the Models' versions.
 */
export async function registryVersions(registry: ModelRegistry | undefined, models: readonly K8sObject[]): Promise<Record<string, ModelVersion[]>> {
  const versions: Record<string, ModelVersion[]> = {};
  if (!registry) return versions;
  const listed = await registry.listModelNames().catch((): string[] => []);
  // Side by side: with a thousand models one after another is a second of file reads (bench:ui).
  const names = [...new Set([...models.map(registeredModelOf), ...listed])];
  const lists = await Promise.all(names.map((name) => registry.listVersions(name).catch((): undefined => undefined)));
  names.forEach((name, i) => {
    const l = lists[i];
    if (l) versions[name] = l.sort((a, b) => a.version - b.version);
  });
  return versions;
}

export interface LocalSourceOptions {
  /** The local operator's state directory (Models, TrainingRuns, DriftMonitors); absent: no models. */
  readonly stateDir?: string;
  /** The folder holding the local engine's `runs/`; absent: no runs. */
  readonly runsRoot?: string;
  readonly registry?: ModelRegistry;
  /** Folders whose changes are pushed to the pages (the state, registry and runs folders). */
  readonly watchDirs?: readonly string[];
}

/** The embedded default's state, read from files and watched with inotify (not polling). */
export function localSource(o: LocalSourceOptions): UiSource {
  const runStore = o.runsRoot ? new RunStore(o.runsRoot) : undefined;
  const watchers: FSWatcher[] = [];
  return {
    ...(o.stateDir ? { target: { stateDir: o.stateDir } } : {}),
    async read() {
      const models = o.stateDir ? readStateObjects(o.stateDir, 'Model') : [];
      const trainingRuns = o.stateDir ? readStateObjects(o.stateDir, 'TrainingRun') : [];
      const versions = await registryVersions(o.registry, models);
      const driftMonitors = o.stateDir ? readStateObjects(o.stateDir, 'DriftMonitor') : [];
      return { models, trainingRuns, driftMonitors, versions, alerts: o.stateDir ? readAlertState(o.stateDir) : [] };
    },
    runs: async () => (runStore ? runStore.list() : []),
    async run(id) {
      if (!runStore) throw new RunNotFoundError(`no run '${id}': this UI has no runs folder (start it with --store-dir)`);
      try {
        return await runStore.load(id);
      } catch (e) {
        throw new RunNotFoundError((e as Error).message);
      }
    },
    readLog: async (run, node, bounds) => tailText(runStore && node.log ? await runStore.readLog(run.id, node.log) : '', bounds),
    status: (r) => effectiveStatus(r),
    subscribe(changed) {
      // One inotify watch per folder, not `recursive: true`: Node 20's recursive watcher on Linux
      // follows files, and loses a file once it is replaced by rename (every atomic write here).
      const watched = new Set<string>();
      const watchFolder = (d: string, depth: number) => {
        if (watched.has(d) || watched.size >= 4096) return;
        let w: FSWatcher;
        try {
          w = watch(d, (_event, name) => {
            changed();
            if (name && depth < 6) {
              const sub = join(d, name.toString());
              try {
                if (statSync(sub).isDirectory()) watchFolder(sub, depth + 1);
              } catch {
                // gone already (a temp file)
              }
            }
          });
        } catch {
          return; // a folder that cannot be watched still serves; its changes show after maxAgeMs
        }
        w.on('error', () => {});
        watched.add(d);
        watchers.push(w);
        if (depth < 6) for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) watchFolder(join(d, e.name), depth + 1);
      };
      for (const d of o.watchDirs ?? []) if (existsSync(d)) watchFolder(d, 0);
    },
    async close() {
      for (const w of watchers) w.close();
    },
  };
}
