/** Prometheus metrics of the operator (prom-client), on its own registry. */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class OperatorMetrics {
  readonly registry = new Registry();
  readonly reconciles = new Counter({
    name: 'ghosteam_reconcile_total',
    help: 'Reconciles by controller and result',
    labelNames: ['controller', 'result'] as const,
    registers: [this.registry],
  });
  readonly errors = new Counter({
    name: 'ghosteam_reconcile_errors_total',
    help: 'Reconciles that failed and were retried',
    labelNames: ['controller'] as const,
    registers: [this.registry],
  });
  readonly duration = new Histogram({
    name: 'ghosteam_reconcile_duration_seconds',
    help: 'Reconcile duration',
    labelNames: ['controller'] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly depth = new Gauge({
    name: 'ghosteam_workqueue_depth',
    help: 'Keys waiting in the work queue',
    labelNames: ['controller'] as const,
    registers: [this.registry],
  });
  readonly leader = new Gauge({ name: 'ghosteam_leader', help: '1 when this replica holds the leader Lease', registers: [this.registry] });

  constructor(defaults = false) {
    if (defaults) collectDefaultMetrics({ register: this.registry, prefix: 'ghosteam_operator_' });
  }
}
