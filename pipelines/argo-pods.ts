/**
 * Which pod ran an Argo Workflow step (pure). Argo does not record a node's pod name in the
 * Workflow's status; it derives it (workflow/util/pod_name.go, GeneratePodName) and so does anyone
 * who reads the pod — Argo's own UI, `ghosteam runs show --cluster --logs` (matching the Argo
 * Server's log entries to steps) and the web UI in a cluster (reading a step's log through the API
 * server's pods/log).
 *
 *  - v1 (annotation `workflows.argoproj.io/pod-name-format: v1`): the pod is named by the node id.
 *  - v2 (the default since Argo 3.4): `<workflow>-<template>-<hash>`, where the hash is the node
 *    id's suffix (the FNV-32a of the node name, with any collision suffix Argo added), the prefix
 *    cut so that the name stays within 253 characters. A node with no template name (a
 *    containerSet's container runs in its boundary's pod) falls back to the id.
 */

/** The Workflow annotation that picks the pod naming scheme. */
export const POD_NAME_FORMAT_ANNOTATION = 'workflows.argoproj.io/pod-name-format';
const MAX_NAME = 253;
/** Argo keeps this much room for `-<hash>` when it cuts the prefix. */
const HASH_ROOM = 10;

/** The fields of a Workflow read here. */
export interface ArgoPodWorkflow {
  readonly metadata: { readonly name?: string; readonly annotations?: Readonly<Record<string, string>> };
}

/** The fields of a NodeStatus read here. */
export interface ArgoPodNode {
  readonly id: string;
  readonly type?: string;
  readonly boundaryID?: string;
  readonly templateName?: string;
  readonly templateRef?: { readonly template?: string };
}

/** The name of the pod that runs a Pod node (or a containerSet container's pod). */
export function argoPodName(wf: ArgoPodWorkflow, node: ArgoPodNode): string {
  const wfName = wf.metadata.name ?? '';
  if (wf.metadata.annotations?.[POD_NAME_FORMAT_ANNOTATION] === 'v1') return node.id;
  const podNode = node.type === 'Container' && node.boundaryID ? node.boundaryID : node.id;
  if (podNode === wfName) return wfName;
  const template = node.templateName || node.templateRef?.template || '';
  if (!template || !podNode.startsWith(`${wfName}-`)) return podNode;
  const hash = podNode.slice(wfName.length + 1);
  let prefix = `${wfName}-${template}`;
  if (prefix.length > MAX_NAME - HASH_ROOM - 1) prefix = prefix.slice(0, MAX_NAME - HASH_ROOM - 1);
  const excess = prefix.length + 1 + hash.length - MAX_NAME;
  if (excess > 0) prefix = prefix.slice(0, prefix.length - excess);
  return `${prefix}-${hash}`;
}

/** Whether a pod name is the pod of a node: its v2 name, or (older workflows) its id. */
export function podOfNode(wf: ArgoPodWorkflow, node: ArgoPodNode, podName: string): boolean {
  return podName === node.id || podName === argoPodName(wf, node);
}
