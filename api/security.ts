/**
 * The restricted Pod Security Standard, as every pod ghosteam renders runs it (Argo steps, the model
 * server, the operator): non-root as distroless `nonroot`, read-only root filesystem, no privilege
 * escalation, all capabilities dropped, the runtime's default seccomp profile.
 */

/** UID/GID the pods run as (distroless `nonroot`). */
export const RUN_AS = 65532;

export interface PodSecurityContext {
  runAsNonRoot: boolean;
  runAsUser: number;
  runAsGroup: number;
  fsGroup: number;
  seccompProfile: { type: 'RuntimeDefault' | 'Localhost' | 'Unconfined' };
}

export interface ContainerSecurityContext {
  runAsNonRoot: boolean;
  readOnlyRootFilesystem: boolean;
  allowPrivilegeEscalation: boolean;
  capabilities: { drop: string[] };
  seccompProfile: { type: 'RuntimeDefault' | 'Localhost' | 'Unconfined' };
}

/** A fresh copy of the pod-level security defaults (safe to embed in an object and mutate). */
export function podSecurityContext(): PodSecurityContext {
  return { runAsNonRoot: true, runAsUser: RUN_AS, runAsGroup: RUN_AS, fsGroup: RUN_AS, seccompProfile: { type: 'RuntimeDefault' } };
}

/** A fresh copy of the container-level security defaults. */
export function containerSecurityContext(): ContainerSecurityContext {
  return {
    runAsNonRoot: true,
    readOnlyRootFilesystem: true,
    allowPrivilegeEscalation: false,
    capabilities: { drop: ['ALL'] },
    seccompProfile: { type: 'RuntimeDefault' },
  };
}
