// The test cluster's fixed facts: addresses, names and where its state lives. A test peer
// (`npm run cluster:up`), never part of the product.
import { join } from 'node:path';
import { cacheDir } from '../config.ts';

/**
 * Addresses nothing else on this machine uses. The node's address lives on `lo` (a /32, not in
 * 127/8, so the kubelet accepts it as a node IP): the host reaches it locally, pods reach it through
 * the bridge, and no other machine routes to it. Pods and Services get ranges of their own; the
 * guard chain (GHOSTEAM-GUARD) rejects anything from the pod range that would be forwarded off the
 * machine, and the cluster suite's capture checks that nothing of these ranges reaches eth0.
 */
export const CLUSTER_NET = {
  nodeIP: '10.205.0.1',
  podCIDR: '10.203.0.0/16',
  podGateway: '10.203.0.1',
  serviceCIDR: '10.204.0.0/16',
  /** The `kubernetes` Service's ClusterIP: the first address of serviceCIDR. */
  apiServiceIP: '10.204.0.1',
  /** The CNI bridge (Linux limits names to 15 characters). */
  bridge: 'ghosteam0',
  guardChain: 'GHOSTEAM-GUARD',
} as const;

export const NODE_NAME = 'ghosteam-node';
/** The namespace the Argo Workflows controller watches and pipelines run in. */
export const ARGO_NAMESPACE = 'argo';
/** The sandbox image, built here from cmd/ghosteam-pause (Docker Hub is not reachable). */
export const PAUSE_IMAGE = 'ghosteam.local/pause:1';

/** Survives cluster:down: containerd's content store (imported images), so a warm up imports nothing. */
export const clusterCacheDir = join(cacheDir, 'cluster');
export const containerdRoot = join(clusterCacheDir, 'containerd');
/** The state file of a running cluster (pids, dirs, kubeconfig). */
export const clusterStateFile = process.env.GHOSTEAM_CLUSTER_STATE ?? join(cacheDir, 'cluster.json');

/** Debian packages the node needs, and the file each one provides (the check that it is installed). */
export const NODE_PACKAGES: readonly { pkg: string; file: string; why: string }[] = [
  { pkg: 'containerd', file: '/usr/bin/containerd', why: 'the container runtime (CRI) the kubelet drives' },
  { pkg: 'runc', file: '/usr/sbin/runc', why: "containerd's OCI runtime" },
  { pkg: 'containernetworking-plugins', file: '/usr/lib/cni/bridge', why: 'pod networking (bridge, host-local, loopback)' },
  { pkg: 'iptables', file: '/usr/sbin/iptables', why: 'kube-proxy Service rules and the egress guard' },
  { pkg: 'conntrack', file: '/usr/sbin/conntrack', why: 'kube-proxy clears stale UDP flows with it' },
  { pkg: 'tcpdump', file: '/usr/bin/tcpdump', why: 'the check that no test traffic leaves the machine' },
  { pkg: 'ipset', file: '/usr/sbin/ipset', why: "kube-router's NetworkPolicy firewall keeps each policy's peers in ipsets" },
];

/** Debian packages `images:build` needs: a Docker daemon of our own and the tool that makes the local base. */
export const IMAGE_PACKAGES: readonly { pkg: string; file: string; why: string }[] = [
  { pkg: 'docker.io', file: '/usr/sbin/dockerd', why: 'builds the images with their own Dockerfiles' },
  { pkg: 'debootstrap', file: '/usr/sbin/debootstrap', why: 'makes the local Debian base image (Docker Hub is not reachable)' },
];
