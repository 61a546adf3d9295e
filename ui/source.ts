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
import type { K8sObject } from '../api/objects.ts';
import { readStateObjects } from '../controllers/runtime/inbox.ts';
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
  /** A node's log ('' when it has none here). */
  readLog(run: RunRecord, node: NodeRecord): Promise<string>;
  /** The status shown for a run (the local engine tells an interrupted run from a running one). */
  status(run: RunRecord): string;
  /** Calls `changed` after every change of what `read`/`runs` return; the server coalesces bursts. */
  subscribe(changed: () => void): void;
  /** Where actions go when the UI is started with credentials: the same place this source reads. */
  readonly target?: ActionTarget;
  close(): Promise<void>;
}

export class RunNotFoundError extends Error {}

/** The registered versions of each Model's registered model, oldest first, read side by side. */
export async function registryVersions(registry: ModelRegistry | undefined, models: readonly K8sObject[]): Promise<Record<string, ModelVersion[]>> {
  const versions: Record<string, ModelVersion[]> = {};
  if (!registry) return versions;
  // Side by side: with a thousand models one after another is a second of file reads (bench:ui).
  const names = [...new Set(models.map((m) => (m.spec as { modelRef?: { name?: string } } | undefined)?.modelRef?.name ?? m.metadata.name))];
  const lists = await Promise.all(names.map((name) => registry.listVersions(name).catch((): ModelVersion[] => [])));
  names.forEach((name, i) => (versions[name] = lists[i].sort((a, b) => a.version - b.version)));
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
      return { models, trainingRuns, driftMonitors, versions };
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
    readLog: async (run, node) => (runStore && node.log ? runStore.readLog(run.id, node.log) : ''),
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
