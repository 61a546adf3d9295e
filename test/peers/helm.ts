// The real `helm` (helm.sh/helm/v3, built from the Go module proxy once into the peers' cache), for
// the tests that lint, render and install the operator chart `ghosteam install --helm` writes.
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { cacheDir, shortHash, versions } from './config.ts';
import { run, which, withLock, type Log } from './install.ts';

/**
 * Helm's Makefile flags: its version, so `helm version` tells the truth, and the Kubernetes version
 * of its client-go (v0.36 → 1.36) as the default capabilities, without which `helm template` and
 * `helm lint` assume Kubernetes v1.20 and refuse a chart whose kubeVersion asks for more.
 */
export const HELM_KUBE_VERSION = { major: '1', minor: '36' } as const;
export function helmLdflags(): string {
  const pkg = 'helm.sh/helm/v3';
  return [
    '-s',
    '-w',
    `-X ${pkg}/internal/version.version=${versions.helm}`,
    `-X ${pkg}/internal/version.gitTreeState=clean`,
    ...['pkg/lint/rules', 'pkg/chartutil'].flatMap((p) => [
      `-X ${pkg}/${p}.k8sVersionMajor=${HELM_KUBE_VERSION.major}`,
      `-X ${pkg}/${p}.k8sVersionMinor=${HELM_KUBE_VERSION.minor}`,
    ]),
  ].join(' ');
}

export function helmBinary(): string {
  return process.env.GHOSTEAM_HELM_BIN ?? join(cacheDir, 'bin', `helm-${versions.helm}-${shortHash(helmLdflags())}`);
}

/** Builds helm once (under a lock; about 10 min of CPU cold, seconds with a warm Go build cache). */
export async function ensureHelm(log: Log): Promise<string> {
  const bin = helmBinary();
  if (existsSync(bin)) return bin;
  return withLock('helm', async () => {
    if (existsSync(bin)) return bin;
    if (!which('go')) throw new Error('the Go toolchain is not on PATH; install Go >= 1.25 (only the helm test peer needs it)');
    mkdirSync(join(cacheDir, 'bin'), { recursive: true });
    const gobin = mkdtempSync(join(cacheDir, 'bin', '.helm-build-'));
    try {
      log(`helm: building helm.sh/helm/v3 ${versions.helm} from the Go module proxy (first time only)`);
      await run('nice', ['-n', '10', 'go', 'install', '-trimpath', `-ldflags=${helmLdflags()}`, `helm.sh/helm/v3/cmd/helm@${versions.helm}`], {
        // pkg@version: module mode outside any module, the exact version and its own go.mod.
        cwd: gobin,
        env: { ...process.env, GOBIN: gobin },
        log,
      });
      renameSync(join(gobin, 'helm'), bin);
    } finally {
      rmSync(gobin, { recursive: true, force: true });
    }
    return bin;
  });
}
