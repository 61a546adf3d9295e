// The real `helm` (helm.sh/helm/v3, built from the Go module proxy once into the peers' cache), for
// the tests that lint, render and install the operator chart `ghosteam install --helm` writes.
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { cacheDir, shortHash, versions } from './config.ts';
import { run, which, withLock, type Log } from './install.ts';

/** Stamped with its version, so `helm version` tells the truth (a plain `go install` says v3.x-dev or nothing). */
export function helmLdflags(): string {
  const pkg = 'helm.sh/helm/v3/internal/version';
  return ['-s', '-w', `-X ${pkg}.version=${versions.helm}`, `-X ${pkg}.gitTreeState=clean`].join(' ');
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
