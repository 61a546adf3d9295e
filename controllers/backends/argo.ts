/** PipelineBackend over Argo Workflows: a Workflow created from the pipeline's WorkflowTemplate (workflowTemplateRef). */
import { isAlreadyExists, TYPES, type ObjectStore } from '../runtime/store.ts';
import { failureFromWorkflow, gateFromWorkflow, modelSourceFromWorkflow, type WorkflowObserved, type WorkflowSubmission } from '../planners/training-run.ts';
import type { PipelineBackend } from './types.ts';
import { ownerRef } from './kserve.ts';
import { SPEC_HASH_ANNOTATION, type K8sObject } from '../../api/objects.ts';

export function workflowFor(w: WorkflowSubmission, owner: K8sObject): K8sObject {
  const spec: Record<string, unknown> = {
    workflowTemplateRef: { name: w.template },
    arguments: {
      parameters: Object.entries(w.parameters)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([name, value]) => ({ name, value })),
    },
  };
  if (w.affinity) spec.affinity = w.affinity;
  if (w.tolerations) spec.tolerations = w.tolerations;
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Workflow',
    metadata: { name: w.name, namespace: w.namespace, labels: { 'app.kubernetes.io/managed-by': 'ghosteam', ...w.labels }, ownerReferences: [ownerRef(owner)] },
    spec,
  };
}

export class ArgoBackend implements PipelineBackend {
  constructor(private readonly store: ObjectStore) {}

  async templateExists(namespace: string, pipeline: string): Promise<boolean> {
    return (await this.store.get(TYPES.WorkflowTemplate, namespace, pipeline)) !== undefined;
  }

  async specHash(namespace: string, pipeline: string): Promise<string | undefined> {
    return (await this.store.get(TYPES.WorkflowTemplate, namespace, pipeline))?.metadata.annotations?.[SPEC_HASH_ANNOTATION];
  }

  async observe(namespace: string, name: string): Promise<WorkflowObserved | undefined> {
    const wf = await this.store.get(TYPES.Workflow, namespace, name);
    if (!wf) return undefined;
    const st = (wf.status ?? {}) as { phase?: string; message?: string; startedAt?: string; finishedAt?: string };
    const src = modelSourceFromWorkflow(wf.status as Record<string, unknown> | undefined);
    const gate = gateFromWorkflow(wf.status as Record<string, unknown> | undefined);
    const failure = st.phase === 'Failed' || st.phase === 'Error' ? failureFromWorkflow(wf.status as Record<string, unknown> | undefined) : undefined;
    return Object.fromEntries(
      Object.entries({ phase: st.phase, message: st.message, startedAt: st.startedAt, finishedAt: st.finishedAt, modelSource: src, gate, failure }).filter(
        ([, v]) => v,
      ),
    );
  }

  async submit(w: WorkflowSubmission, owner: K8sObject): Promise<'created' | 'unchanged'> {
    try {
      await this.store.create(TYPES.Workflow, workflowFor(w, owner));
      return 'created';
    } catch (e) {
      if (isAlreadyExists(e)) return 'unchanged';
      throw e;
    }
  }
}
