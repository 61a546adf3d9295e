// An Argo Workflow as the controller writes it, for the UI's cluster tests (the API-server suites
// create it and play Argo by writing its status; the cluster suite runs real ones).
import type { K8sObject } from '../../api/objects.ts';

/** A Workflow as Argo writes it: a DAG of prep (a memoization hit) → train (retried once, then a metric output). */
export function workflow(ns: string): K8sObject {
  const t = (m: number) => new Date(Date.UTC(2026, 11, 2, 6, m)).toISOString();
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Workflow',
    metadata: {
      name: 'fraud-train-x7k2p',
      namespace: ns,
      labels: { 'ghosteam.io/pipeline': 'fraud-train' },
      annotations: { 'ghosteam.io/source-commit': 'b'.repeat(40) },
    },
    spec: { workflowTemplateRef: { name: 'fraud-train' }, arguments: { parameters: [{ name: 'rows', value: '1000' }] } },
    status: {
      phase: 'Succeeded',
      startedAt: t(0),
      finishedAt: t(3),
      nodes: {
        'fraud-train-x7k2p': {
          id: 'fraud-train-x7k2p',
          name: 'fraud-train-x7k2p',
          displayName: 'fraud-train-x7k2p',
          type: 'DAG',
          phase: 'Succeeded',
          children: ['fraud-train-x7k2p-1'],
        },
        'fraud-train-x7k2p-1': {
          id: 'fraud-train-x7k2p-1',
          name: 'fraud-train-x7k2p.prep',
          displayName: 'prep',
          type: 'Pod',
          templateName: 'prep',
          phase: 'Succeeded',
          startedAt: t(0),
          finishedAt: t(1),
          memoizationStatus: { hit: true, key: 'k', cacheName: 'c' },
          outputs: {
            artifacts: [
              { name: 'data', path: '/tmp/data.csv', s3: { key: 'fraud-train-x7k2p/fraud-train-x7k2p-prep-1/data.tgz' } },
              { name: 'report', path: '/tmp/r.html', s3: { bucket: 'reports', key: 'r/1.html' } },
              { name: 'card', path: '/tmp/c.json', http: { url: 'https://store.example/c.json' } },
            ],
          },
          children: ['fraud-train-x7k2p-2'],
        },
        'fraud-train-x7k2p-2': {
          id: 'fraud-train-x7k2p-2',
          name: 'fraud-train-x7k2p.train',
          displayName: 'train',
          type: 'Retry',
          phase: 'Succeeded',
          startedAt: t(1),
          finishedAt: t(3),
          children: ['fraud-train-x7k2p-3', 'fraud-train-x7k2p-4'],
        },
        'fraud-train-x7k2p-3': {
          id: 'fraud-train-x7k2p-3',
          name: 'fraud-train-x7k2p.train(0)',
          displayName: 'train(0)',
          type: 'Pod',
          templateName: 'train',
          phase: 'Failed',
          message: 'OOMKilled',
          startedAt: t(1),
          finishedAt: t(2),
        },
        'fraud-train-x7k2p-4': {
          id: 'fraud-train-x7k2p-4',
          name: 'fraud-train-x7k2p.train(1)',
          displayName: 'train(1)',
          type: 'Pod',
          templateName: 'train',
          phase: 'Succeeded',
          startedAt: t(2),
          finishedAt: t(3),
          outputs: {
            parameters: [
              { name: 'auc', value: '0.91' },
              { name: 'note', value: 'ok' },
            ],
          },
        },
      },
    },
  };
}
