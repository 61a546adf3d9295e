/**
 * What a finished run means beyond its status: a run can succeed while its quality gate rejected the
 * model (the register step is then skipped and nothing is registered). `ghosteam run` says so, and
 * the local operator reads it to leave the model unregistered.
 */

export interface GateOutcome {
  readonly passed: boolean;
  /** One line per failed rule ("rocAuc is 0.81; needs >= 0.9"). */
  readonly reasons: readonly string[];
}

/** The pipeline's quality gate: a node with a boolean output param `passed` (the gate component's); a rejection wins. */
export function gateOfNodes(nodes: readonly { outputParams?: Readonly<Record<string, unknown>> }[]): GateOutcome | undefined {
  let out: GateOutcome | undefined;
  for (const n of nodes) {
    const passed = n.outputParams?.passed;
    if (typeof passed !== 'boolean') continue;
    const reasons = Array.isArray(n.outputParams?.reasons) ? (n.outputParams.reasons as unknown[]).map(String) : [];
    if (!passed) return { passed, reasons };
    out = { passed, reasons };
  }
  return out;
}

/** The line `ghosteam run` prints after the status of a run whose gate rejected the model; undefined otherwise. */
export function gateNote(gate: GateOutcome | undefined): string | undefined {
  if (!gate || gate.passed) return undefined;
  return `the gate rejected the model (${gate.reasons.join('; ') || 'no reason given'}); nothing was registered`;
}
