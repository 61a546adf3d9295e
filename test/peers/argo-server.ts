// The real Argo Server (`argo server`, the argo CLI built from the Argo Workflows Go module by
// test/peers/cluster/argo.ts), started for one test file against a kube-apiserver: the peer one,
// or the cluster's. `--auth-mode client`: every call carries a Kubernetes bearer token and runs with
// that token's RBAC, as in a real install. Plain HTTP (`--secure=false`): the test reaches it on
// loopback only.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, logTail, spawnDaemon, stopPid, waitReady } from './daemons.ts';
import type { RawKube } from './raw.ts';

export interface ArgoServerPeer {
  readonly url: string;
  readonly pid: number;
  readonly log: string;
  stop(): Promise<void>;
}

export async function startArgoServer(opts: { argo: string; kubeconfig: string; namespace: string }): Promise<ArgoServerPeer> {
  const dir = mkdtempSync(join(tmpdir(), 'ghosteam-argo-server-'));
  const log = join(dir, 'argo-server.log');
  const port = await freePort();
  const child = spawnDaemon(
    opts.argo,
    [
      'server',
      '--auth-mode=client',
      '--secure=false',
      `--port=${port}`,
      '--namespaced',
      `--managed-namespace=${opts.namespace}`,
      `--namespace=${opts.namespace}`,
      `--kubeconfig=${opts.kubeconfig}`,
      '--browser=false',
    ],
    log,
    { env: { ...process.env, KUBECONFIG: opts.kubeconfig, ARGO_SERVER_METRICS_AUTH: 'false' }, attached: true },
  );
  const pid = child.pid!;
  const url = `http://127.0.0.1:${port}`;
  try {
    // Up once every gRPC service the client calls answers through the server's HTTP gateway. The
    // gateway holds one gRPC connection per service, dialled to the server's own port before it
    // listens; each retries on its own backoff, so one service (version) can answer while another
    // (workflows) still says 503 "connection refused" for a second. Without a token, a connected
    // service answers 401 from the server's auth interceptor (version needs none: 200).
    const probes = [
      '/api/v1/version',
      `/api/v1/workflows/${opts.namespace}`,
      `/api/v1/workflow-templates/${opts.namespace}`,
      `/api/v1/archived-workflows?namespace=${opts.namespace}`,
    ];
    await waitReady('argo server', pid, log, 120_000, async () => {
      try {
        const statuses = await Promise.all(probes.map(async (p) => (await fetch(`${url}${p}`)).status));
        return statuses.every((s) => s < 500);
      } catch {
        return false;
      }
    });
  } catch (e) {
    await stopPid(pid, 2000);
    throw e;
  }
  return {
    url,
    pid,
    log,
    stop: async () => {
      await stopPid(pid, 5000);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function argoServerLogTail(p: ArgoServerPeer): string {
  return logTail(p.log, 40);
}

/** A ServiceAccount's token (TokenRequest API), as `kubectl create token` makes it. */
export async function serviceAccountToken(kube: RawKube, namespace: string, name: string, seconds = 3600): Promise<string> {
  const r = await kube.request<{ status: { token: string } }>('POST', `/api/v1/namespaces/${namespace}/serviceaccounts/${name}/token`, {
    apiVersion: 'authentication.k8s.io/v1',
    kind: 'TokenRequest',
    spec: { expirationSeconds: seconds },
  });
  return r.status.token;
}
