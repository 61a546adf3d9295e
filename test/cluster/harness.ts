/**
 * The cluster suite's access to the test cluster (`npm run cluster:up`) and the images
 * (`npm run images:build`). With CI=true a missing cluster or image fails the suite; elsewhere
 * `skip` says what to run.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { rawKube, type KubeObject, type RawKube } from '../peers/raw.ts';
import { eventually } from '../peers/index.ts';
import { CLUSTER_NET } from '../peers/cluster/config.ts';
import { checkCluster, clusterImageId, readClusterState } from '../peers/cluster/node.ts';
import { BUILT_IMAGES, imageRef, staleImage, type BuiltImage } from '../peers/cluster/images.ts';

export interface Cluster {
  readonly skip?: string;
  readonly kubeconfig: string;
  readonly kube: RawKube;
  image(name: BuiltImage): string;
}

export async function useCluster(images: readonly BuiltImage[] = BUILT_IMAGES): Promise<Cluster> {
  const state = readClusterState();
  let why = await checkCluster(state);
  if (why === undefined) {
    // Each image as this tree makes it, not a leftover of an earlier build (containerd's store
    // outlives cluster:down).
    why = images.map((i) => staleImage(i, clusterImageId(state!.containerdSocket, imageRef(i)))).find((w) => w !== undefined);
  }
  const kubeconfig = state?.kubeconfig ?? '';
  const cluster: Cluster = { kubeconfig, kube: why ? (undefined as unknown as RawKube) : rawKube(kubeconfig), image: imageRef };
  if (why === undefined) return cluster;
  if (process.env.CI === 'true')
    throw new Error(`the test cluster is missing in CI: ${why}. .ci/run starts it with \`npm run cluster:up\` and \`npm run images:build\`.`);
  return { ...cluster, skip: `needs the test cluster: ${why}; run \`npm run cluster:up\` and \`npm run images:build\` (as root)` };
}

/** The restricted Pod Security profile's container settings, as every test pod uses them. */
export const RESTRICTED = {
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  runAsNonRoot: true,
  runAsUser: 65532,
  capabilities: { drop: ['ALL'] },
  seccompProfile: { type: 'RuntimeDefault' },
} as const;

/** `eventually` with the cluster's pace: a 2-minute default and a poll every 500 ms. */
export function waitFor<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 120_000): Promise<T> {
  return eventually(what, fn, { timeoutMs, intervalMs: 500 });
}

interface PodLike extends KubeObject {
  status?: { phase?: string; containerStatuses?: { state?: { waiting?: { reason?: string; message?: string }; terminated?: { exitCode: number } } }[] };
}

/** Wait for a pod to reach one of `phases`; fail at once on an image or config error. */
export async function waitPod(kube: RawKube, ns: string, name: string, phases: readonly string[], timeoutMs = 180_000): Promise<PodLike> {
  return waitFor(
    `pod ${ns}/${name} to be ${phases.join(' or ')}`,
    async () => {
      const pod = await kube.request<PodLike>('GET', `/api/v1/namespaces/${ns}/pods/${name}`);
      const waiting = pod.status?.containerStatuses?.map((c) => c.state?.waiting).find((w) => w && /Err|Invalid|BackOff/.test(w.reason ?? ''));
      if (waiting) throw Object.assign(new Error(`pod ${ns}/${name}: ${waiting.reason}: ${waiting.message ?? ''}`), { fatal: true });
      return phases.includes(pod.status?.phase ?? '') ? pod : undefined;
    },
    timeoutMs,
  ).catch(async (err: Error) => {
    const events = await kube
      .request<{ items: { reason: string; message: string }[] }>('GET', `/api/v1/namespaces/${ns}/events?fieldSelector=involvedObject.name=${name}`)
      .catch(() => ({ items: [] }));
    throw new Error(`${err.message}\nevents: ${events.items.map((e) => `${e.reason}: ${e.message}`).join(' | ')}`);
  });
}

export async function podLogs(kube: RawKube, ns: string, name: string): Promise<string> {
  // rawKube parses a body that is JSON: a log of one JSON line comes back as an object.
  const log = await kube.request<unknown>('GET', `/api/v1/namespaces/${ns}/pods/${name}/log`);
  return typeof log === 'string' ? log : JSON.stringify(log);
}

/** The interface of the default route: where traffic that leaves the machine goes. */
export function defaultInterface(): string {
  const route = readFileSync('/proc/net/route', 'utf8')
    .split('\n')
    .slice(1)
    .map((l) => l.trim().split(/\s+/))
    .find((f) => f[1] === '00000000');
  if (!route) throw new Error('no default route in /proc/net/route');
  return route[0];
}

export interface Capture {
  /** Stop the capture and return the packets it saw, one line each. */
  stop(): Promise<string[]>;
}

/**
 * Capture, on the interface traffic leaves this machine by, every packet to or from the cluster's
 * addresses (pods, Services, the node's address). A passing suite sees none.
 */
export async function captureClusterEgress(): Promise<Capture> {
  const iface = defaultInterface();
  const filter = `net ${CLUSTER_NET.podCIDR} or net ${CLUSTER_NET.serviceCIDR} or host ${CLUSTER_NET.nodeIP}`;
  const bin = ['/usr/bin/tcpdump', '/usr/sbin/tcpdump'].find(existsSync) ?? 'tcpdump';
  const child: ChildProcess = spawn(bin, ['-i', iface, '-nn', '-l', '-p', filter], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString('utf8')));
  child.stderr!.on('data', (b: Buffer) => (err += b.toString('utf8')));
  // tcpdump says "listening on" once the capture runs.
  await waitFor(
    `tcpdump on ${iface} to listen`,
    async () => {
      if (child.exitCode !== null) throw new Error(`tcpdump exited: ${err}`);
      return /listening on/.test(err);
    },
    15_000,
  );
  return {
    async stop() {
      child.kill('SIGINT');
      await new Promise((r) => child.once('close', r));
      return out.split('\n').filter(Boolean);
    },
  };
}

/**
 * Call last inside a cluster suite's `describe`: capture the outward interface from the first test
 * on (a `before` hook), and end with a test that fails on any packet of the cluster's addresses.
 */
export function noTrafficLeavesTheMachine(): void {
  let capture: Capture | undefined;
  before(async () => {
    capture = await captureClusterEgress();
  });
  after(async () => {
    await capture?.stop();
  });
  test('none of the cluster traffic left the machine', async () => {
    assert.ok(capture, 'the capture started');
    const packets = await capture.stop();
    capture = undefined;
    assert.deepEqual(packets, [], `packets of the cluster's addresses on the outward interface:\n${packets.slice(0, 20).join('\n')}`);
  });
}

/** A Workflow as the tests read it back. */
export interface WorkflowLike {
  metadata?: { name?: string };
  status?: {
    phase?: string;
    message?: string;
    nodes?: Record<
      string,
      {
        displayName: string;
        type?: string;
        phase: string;
        message?: string;
        startedAt?: string;
        finishedAt?: string;
        outputs?: { parameters?: { name: string; value?: string }[]; artifacts?: { name: string; s3?: { key?: string } }[] };
      }
    >;
  };
}

export interface Forward {
  /** The URL pods use: the target's scheme on the node address and the forwarder's port. */
  readonly url: string;
  close(): Promise<void>;
}

/**
 * Make a server on this machine's loopback (a peer such as MLflow) reachable from pods: a TCP
 * forwarder listening on the node address, which only this machine routes (it is on `lo`).
 */
export async function forwardToPods(target: string): Promise<Forward> {
  const u = new URL(target);
  const sockets = new Set<Socket>();
  const server = createServer((down) => {
    const up = connect(Number(u.port), u.hostname);
    for (const s of [down, up]) {
      sockets.add(s);
      s.once('close', () => sockets.delete(s));
    }
    down.on('error', () => up.destroy());
    up.on('error', () => down.destroy());
    down.pipe(up).pipe(down);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, CLUSTER_NET.nodeIP, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `${u.protocol}//${CLUSTER_NET.nodeIP}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/**
 * A peer on this machine's loopback (MLflow) as pods reach a server in a real cluster: a Service
 * of its own. The Service has no selector; its EndpointSlice points at a `forwardToPods` forwarder
 * on the node address, so a pod's call to `http://<ClusterIP>:<port>` goes through kube-proxy's
 * rules to the node and on to the peer, never off the machine. Pods resolve no names here, so the
 * URL carries the ClusterIP; in a production cluster it would be the Service's DNS name.
 */
export async function peerService(kube: RawKube, target: string, where: { namespace: string; name: string }): Promise<Forward> {
  const forward = await forwardToPods(target);
  const port = Number(new URL(forward.url).port);
  const servicePort = Number(new URL(target).port) || 80;
  try {
    const svc = await kube.apply<{ spec: { clusterIP: string } }>({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: where.name, namespace: where.namespace, labels: { 'app.kubernetes.io/part-of': 'ghosteam-test-peers' } },
      spec: { type: 'ClusterIP', ports: [{ name: 'http', port: servicePort, targetPort: port, protocol: 'TCP' }] },
    });
    await kube.apply({
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: {
        name: where.name,
        namespace: where.namespace,
        labels: { 'kubernetes.io/service-name': where.name, 'endpointslice.kubernetes.io/managed-by': 'ghosteam-test-harness' },
      },
      addressType: 'IPv4',
      endpoints: [{ addresses: [CLUSTER_NET.nodeIP], conditions: { ready: true } }],
      ports: [{ name: 'http', port, protocol: 'TCP' }],
    });
    const url = `${new URL(target).protocol}//${svc.spec.clusterIP}:${servicePort}`;
    return {
      url,
      async close() {
        await kube.request('DELETE', `/apis/discovery.k8s.io/v1/namespaces/${where.namespace}/endpointslices/${where.name}`).catch(() => {});
        await kube.request('DELETE', `/api/v1/namespaces/${where.namespace}/services/${where.name}`).catch(() => {});
        await forward.close();
      },
    };
  } catch (err) {
    await forward.close();
    throw err;
  }
}

/** The `main` container logs of a Workflow's pods, for a failure message. */
export async function workflowLogs(kube: RawKube, ns: string, workflow: string): Promise<string> {
  const pods = await kube
    .request<{ items: { metadata: { name: string } }[] }>('GET', `/api/v1/namespaces/${ns}/pods?labelSelector=workflows.argoproj.io/workflow=${workflow}`)
    .catch(() => ({ items: [] }));
  const logs = await Promise.all(
    pods.items.map(async (p) => {
      const log = await kube
        .request<unknown>('GET', `/api/v1/namespaces/${ns}/pods/${p.metadata.name}/log?container=main&tailLines=30`)
        .catch((e: Error) => e.message);
      return `--- ${p.metadata.name}\n${typeof log === 'string' ? log : JSON.stringify(log)}`;
    }),
  );
  return logs.join('\n');
}

/** The parts of a synthesized KServe ServingRuntime and InferenceService that a predictor pod is made of. */
export interface PredictorSources {
  runtime: { spec: { containers: Record<string, unknown>[]; volumes?: Record<string, unknown>[] } };
  isvc: {
    metadata: { name: string; namespace?: string };
    spec: {
      predictor: {
        securityContext?: object;
        serviceAccountName?: string;
        model: { storageUri?: string; env?: object[]; resources?: object; securityContext?: object };
      };
    };
  };
}

/** What KServe's storage initializer does for a `storageUri`: an init container writing the model into `/mnt/models`. */
export interface StorageInitializer {
  image: string;
  command: string[];
  env: { name: string; value: string }[];
  /** Where it reads the model from, when not over the network (mounted into it only). */
  source?: { volume: { name: string } & Record<string, unknown>; mountPath: string };
}

/**
 * The Deployment and Service that KServe's RawDeployment mode makes of an InferenceService on a
 * ServingRuntime (no Knative, no KServe controller here): the runtime's container with `{{.Name}}`
 * in its args replaced by the InferenceService's name and the predictor's model fields (env,
 * resources, securityContext) laid over it; the predictor's pod securityContext; the model put in
 * `/mnt/models` (volume `kserve-provision-location`, read-only to the server) by an init container
 * named `storage-initializer`, which gets the storageUri as its last argument; a Service
 * `<name>-predictor` on port 80 to the container's port. KServe's own storage-initializer image is
 * not reachable here (and it reads no `mlflow-artifacts:` URIs), so the caller gives the one to run.
 */
export function rawDeployment(src: PredictorSources, storage: StorageInitializer): { deployment: KubeObject; service: KubeObject } {
  const name = src.isvc.metadata.name;
  const predictor = src.isvc.spec.predictor;
  const model = predictor.model;
  if (src.runtime.spec.containers.length !== 1) throw new Error(`the ServingRuntime has ${src.runtime.spec.containers.length} containers; KServe serves one`);
  const c = src.runtime.spec.containers[0] as {
    args?: string[];
    env?: object[];
    ports?: { containerPort: number }[];
    volumeMounts?: object[];
    [k: string]: unknown;
  };
  const port = c.ports?.[0]?.containerPort;
  if (!port) throw new Error('the ServingRuntime container declares no port');
  if (!model.storageUri) throw new Error(`InferenceService ${name} has no storageUri: nothing would put the model into /mnt/models`);
  const labels = { 'serving.kserve.io/inferenceservice': name, component: 'predictor', app: `isvc.${name}-predictor` };
  const provision = { name: 'kserve-provision-location', mountPath: '/mnt/models' };
  const tmp = (c.volumeMounts ?? []).filter((m) => (m as { mountPath?: string }).mountPath === '/tmp');
  const server = {
    ...c,
    args: (c.args ?? []).map((a) => a.replaceAll('{{.Name}}', name)),
    env: [...(c.env ?? []), ...(model.env ?? [])],
    ...(model.resources ? { resources: model.resources } : {}),
    ...(model.securityContext ? { securityContext: model.securityContext } : {}),
    volumeMounts: [...(c.volumeMounts ?? []), { ...provision, readOnly: true }],
  };
  const init = {
    name: 'storage-initializer',
    image: storage.image,
    command: [...storage.command, model.storageUri, provision.mountPath],
    env: [...(model.env ?? []), ...storage.env],
    resources: { requests: { cpu: '100m', memory: '256Mi' }, limits: { cpu: '1', memory: '512Mi' } },
    securityContext: model.securityContext ?? c.securityContext,
    volumeMounts: [provision, ...tmp, ...(storage.source ? [{ name: storage.source.volume.name, mountPath: storage.source.mountPath, readOnly: true }] : [])],
  };
  const deployment = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: `${name}-predictor`, namespace: src.isvc.metadata.namespace, labels },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: labels.app } },
      template: {
        metadata: { labels },
        spec: {
          automountServiceAccountToken: false,
          ...(predictor.serviceAccountName ? { serviceAccountName: predictor.serviceAccountName } : {}),
          ...(predictor.securityContext ? { securityContext: predictor.securityContext } : {}),
          initContainers: [init],
          containers: [server],
          volumes: [...(src.runtime.spec.volumes ?? []), { name: provision.name, emptyDir: {} }, ...(storage.source ? [storage.source.volume] : [])],
        },
      },
    },
  };
  const service = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: `${name}-predictor`, namespace: src.isvc.metadata.namespace, labels },
    spec: { selector: { app: labels.app }, ports: [{ name: 'http', port: 80, targetPort: port, protocol: 'TCP' }] },
  };
  return { deployment, service };
}
