/**
 * sweep-controller: the step between rounds of a Sweep synthesized to Argo (cluster 'argo'): reads
 * the last round's results, stops the trials ASHA stops, and proposes the next round
 * (components/tuning/controller.ts). The Sweep's compiler wires it; a pipeline does not use it.
 *
 * Params:
 *   spec      the controller spec (JSON): the sweep IR, and the trial task's epochs param with early stopping
 *   state     the state the previous round's controller wrote (JSON; empty for the first round)
 *   results   the last round's trial outputs, as Argo aggregates them (JSON list; empty for the first round)
 * Output params: items (the next round's trials, JSON list), state, done, final (the best trial's
 * params as a one-item list once done), best.
 */
import { defineComponent } from '../component.ts';
import { Params, ParamError } from '../params.ts';
import { PARAMS } from '../param-decls.ts';
import { controllerStep, type ControllerSpec, type ControllerState, type RoundResult } from '../tuning/controller.ts';

export const sweepController = defineComponent({
  name: 'sweep-controller',
  version: '1',
  description: "Proposes each round of a cluster Sweep's trials and stops the ones ASHA stops (wired by the Sweep's Argo synthesis)",
  inputs: [],
  outputs: [],
  outputParams: ['items', 'state', 'done', 'final', 'best'],
  params: PARAMS['sweep-controller'],
  async run(ctx) {
    const p = new Params('sweep-controller', ctx, PARAMS['sweep-controller']);
    const spec = p.json<ControllerSpec>('spec');
    if (!spec || typeof spec !== 'object' || !spec.sweep)
      throw new ParamError("sweep-controller: param 'spec' must be the controller spec the Sweep synthesized");
    const stateText = p.string('state', '') ?? '';
    const state = stateText.trim() === '' ? null : (JSON.parse(stateText) as ControllerState);
    const resultsText = p.string('results', '') ?? '';
    const results = resultsText.trim() === '' ? [] : (JSON.parse(resultsText) as RoundResult[]);
    if (!Array.isArray(results)) throw new ParamError("sweep-controller: param 'results' must be a JSON list of the trials' output params");
    const out = controllerStep(spec, state, results);
    ctx.log(
      (out.done
        ? `sweep done after round ${out.state.round}: ${out.state.trials.length} trials${out.best ? `, best ${out.best.value} (trial ${out.best.number})` : ', none completed'}`
        : `round ${out.state.round}: ${out.items.length} trials`) + (out.budget ? `; epochs ${out.budget.spent} of ${out.budget.epochs}` : ''),
    );
    ctx.setOutput('items', out.items);
    ctx.setOutput('state', JSON.stringify(out.state));
    ctx.setOutput('done', out.done);
    ctx.setOutput('final', out.final);
    ctx.setOutput('best', out.best ?? null);
  },
});
