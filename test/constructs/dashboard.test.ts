/**
 * `dashboard: Dashboard.of()` on a Model → the Grafana dashboard JSON in a sidecar ConfigMap and a
 * grafana-operator GrafanaDashboard, checked against the upstream CRD (../shared/upstream, strict);
 * every panel query is parsed and run by the real Prometheus peer.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Dashboard, Model } from '../../charts/index.ts';
import { chart, find, issuesOf, synth } from './helpers.ts';
import { upstreamValidator } from './upstream.ts';
import { promQuery, usePeers } from '../peers/index.ts';

const peers = await usePeers(['prometheus']);
const CRD = 'grafana-operator/grafana.integreatly.org_grafanadashboards.yaml';

function objects(dashboard: Dashboard) {
  const { app, chart: c } = chart('serving');
  new Model(c, 'fraud', { registry: 'fraud@champion', useLockFile: false, dashboard });
  return synth(app).objects;
}

describe('Dashboard.of on a Model', () => {
  test('a sidecar ConfigMap by default; a GrafanaDashboard valid against the upstream CRD when asked', () => {
    const cm = find(objects(Dashboard.of()), 'ConfigMap', 'fraud-dashboard');
    assert.equal((cm.metadata as { labels: Record<string, string> }).labels.grafana_dashboard, '1');
    const json = JSON.parse((cm as unknown as { data: Record<string, string> }).data['fraud.json']);
    assert.equal(json.uid, 'ghosteam-fraud');
    assert.deepEqual(
      json.panels.map((p: { title: string }) => p.title),
      [
        'Requests per second by version',
        'p99 latency by version',
        'Error rate by version',
        'Quality from delayed labels',
        'Quality estimated before the labels arrive (CBPE)',
        'Labelled predictions in the quality window',
        'Feedback by outcome',
        'Canary step and traffic',
        'Drift share (last check)',
        'Drift statistic per feature (last check)',
        'Drifted features',
        'Firing alerts',
      ],
    );
    const objs = objects(Dashboard.of({ grafanaOperator: { instanceSelector: { dashboards: 'grafana' }, folder: 'ml' } }));
    const gd = find(objs, 'GrafanaDashboard', 'fraud');
    assert.equal(gd.apiVersion, 'grafana.integreatly.org/v1beta1');
    const valid = upstreamValidator(CRD, 'v1beta1', gd);
    assert.ok(valid(gd), JSON.stringify(valid.errors));
    assert.deepEqual(JSON.parse(gd.spec.json), json, 'the CR carries the same dashboard as the ConfigMap');
    // The strict check does catch a mistake.
    const bad = { ...gd, spec: { ...gd.spec, instanceSelector: { matchLabel: {} } } };
    assert.equal(upstreamValidator(CRD, 'v1beta1', bad)(bad), false);
  });

  test('bad options name the field', () => {
    assert.deepEqual(
      issuesOf(() => Dashboard.of({ grafanaOperator: { instanceSelector: {} } })),
      ["Dashboard.of: 'grafanaOperator.instanceSelector' is empty; give the labels of your Grafana resource, e.g. { dashboards: 'grafana' }"],
    );
  });

  test('every panel query parses and runs on a real Prometheus', { skip: peers.skip }, async () => {
    for (const p of Dashboard.panels('fraud', 'fraud-api'))
      for (const t of p.targets) {
        // $__rate_interval is Grafana's; Prometheus gets what Grafana would send.
        const r = await promQuery(peers.prometheusUrl, t.expr.replaceAll('$__rate_interval', '1m'));
        assert.ok(Array.isArray(r), `${p.title}: ${t.expr}`);
      }
  });
});
