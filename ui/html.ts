/**
 * The UI's pages, rendered on the server from the API's objects (ui/api.ts), so the pages and the
 * JSON API never disagree. Pure: strings in, HTML out; every interpolated value is escaped. No
 * framework and no client-side rendering: live parts are server-rendered fragments that a 30-line
 * script (LIVE_JS) swaps in when the server's event stream says the state changed.
 */
import type { ModelResponse, ModelSummary, RegisteredModelResponse, RegisteredModelSummary, RunDetail, RunSummary, VersionView } from './api.ts';

import { esc, Html, html } from './markup.ts';
import { dagSvg } from './dag.ts';

export { esc, Html, html };

const enc = encodeURIComponent;
export const modelHref = (ns: string, name: string): string => `/models/${enc(ns)}/${enc(name)}`;
export const versionHref = (ns: string, name: string, v: number): string => `${modelHref(ns, name)}/versions/${v}`;
export const runHref = (id: string): string => `/runs/${enc(id)}`;
/** A registered model's page (one no Model has to serve). */
export const registeredHref = (name: string): string => `/registered-models/${enc(name)}`;

const CSS = `
body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
header{background:#1d2330;color:#fff;padding:10px 24px;display:flex;gap:24px;align-items:center}
header a{color:#cfd6e4;text-decoration:none}header a:hover{color:#fff}header b{color:#fff;margin-right:12px}
main{padding:16px 24px;max-width:1200px}
table{border-collapse:collapse;width:100%;background:#fff}th,td{text-align:left;padding:6px 10px;border-bottom:1px solid #e3e6eb;vertical-align:top}
th{font-weight:600;color:#4a5263;background:#fafbfc}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;background:#e3e6eb}
.Ready,.Succeeded,.Promoted,.passed{background:#d6f5df;color:#14632d}.Failed,.Error,.RolledBack,.failed,.Degraded{background:#fde0e0;color:#8a1c1c}
.Progressing,.Running,.Paused{background:#fff1c7;color:#6b4e00}
.bar{position:relative;height:10px;width:160px;background:#cfe3ff;border-radius:5px;overflow:hidden;display:inline-block;vertical-align:middle}
.bar i{position:absolute;left:0;top:0;bottom:0;background:#f0a020}
.dagbox{overflow-x:auto;background:#fff;padding:12px;margin:12px 0}.muted{color:#6b7385}code{font-size:12px}dl{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px;background:#fff;padding:12px}dt{color:#6b7385}
`;

export function layout(title: string, body: Html, opts: { live?: string } = {}): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${esc(title)} · ghosteam</title><style>${CSS}</style></head>
<body${opts.live ? ` data-live="${esc(opts.live)}"` : ''}>
<header><b>ghosteam</b><a href="/">Models</a><a href="/drift">Drift and quality</a><a href="/runs">Runs</a><a href="/experiments">Experiments</a><a href="/api/openapi.json">API</a><span class="muted" id="live-state"></span></header>
<main>${body.text}</main>
${opts.live ? '<script src="/static/live.js"></script>' : ''}${body.text.includes('id="actions"') ? '<script src="/static/actions.js"></script>' : ''}
</body></html>`;
}

function badge(s: string | undefined): Html {
  return s ? html`<span class="badge ${s}">${s}</span>` : html``;
}

function traffic(m: ModelSummary): Html {
  if (m.canary === undefined) return html`<span class="muted">100% on v${m.stable ?? '—'}</span>`;
  const pct = m.trafficPercent ?? 0;
  return html`<span class="bar" title="${pct}% on the canary"><i style="width:${pct}%"></i></span> ${pct}% on v${m.canary}`;
}

/** The models table's rows. */
export function modelRows(models: readonly ModelSummary[]): Html {
  if (!models.length)
    return html`<tr>
      <td colspan="7" class="muted">
        No Model serves a registered model yet. Apply one with <code>ghosteam watch</code> or <code>ghosteam operator --local --manifests</code>.
      </td>
    </tr>`;
  return html`${models.map(
    (m) =>
      html`<tr data-model="${m.namespace}/${m.name}">
        <td>
          <a href="${modelHref(m.namespace, m.name)}">${m.name}</a>
          <div class="muted">${m.namespace}</div>
        </td>
        <td>${badge(m.phase)}</td>
        <td>${m.stable !== undefined ? html`<a href="${versionHref(m.namespace, m.name, m.stable)}">v${m.stable}</a>` : '—'}</td>
        <td class="canary">${m.canary !== undefined ? html`<a href="${versionHref(m.namespace, m.name, m.canary)}">v${m.canary}</a>` : '—'}</td>
        <td class="traffic">${traffic(m)}</td>
        <td>${m.champion !== undefined ? html`champion → v${m.champion}` : ''}</td>
        <td>
          ${
            m.rolloutReason
              ? html`${badge(m.rolloutPhase)} ${m.rolloutReason}
                  <div class="muted">${m.rolloutMessage ?? ''}</div>`
              : html`<span class="muted">${m.message}</span>`
          }
        </td>
      </tr>`,
  )}`;
}

/** The registered models no Model serves: what a pipeline registered before anything serves it. */
function unservedRows(registered: readonly RegisteredModelSummary[]): Html {
  return html`${registered.map(
    (r) =>
      html`<tr data-registered="${r.name}">
        <td><a href="${registeredHref(r.name)}">${r.name}</a></td>
        <td>${r.latest !== undefined ? html`<a href="${registeredHref(r.name)}/versions/${r.latest}">v${r.latest}</a>` : '—'}</td>
        <td>${r.versions.length}</td>
        <td>${Object.entries(r.aliases).map(([a, v]) => html`${a} → v${v} `)}</td>
        <td>${r.latestCreatedAt ?? ''}</td>
        <td>${metricsBrief(r.latestMetrics)}</td>
      </tr>`,
  )}`;
}

/** The Models page's live part (the fragment the live script refreshes): the Models, then the registered models none serves. */
export function modelsLive(models: readonly ModelSummary[], registered: readonly RegisteredModelSummary[]): Html {
  const unserved = registered.filter((r) => r.servedBy.length === 0);
  return html`<table>
      <thead>
        <tr>
          <th>Model</th>
          <th>Phase</th>
          <th>Serving</th>
          <th>Canary</th>
          <th>Traffic</th>
          <th>Aliases</th>
          <th>Last rollout</th>
        </tr>
      </thead>
      <tbody>
        ${modelRows(models)}
      </tbody>
    </table>
    ${
      unserved.length
        ? html`<h2>Registered models no Model serves</h2>
            <table id="registered">
              <thead>
                <tr>
                  <th>Registered model</th>
                  <th>Latest</th>
                  <th>Versions</th>
                  <th>Aliases</th>
                  <th>Latest registered</th>
                  <th>Latest metrics</th>
                </tr>
              </thead>
              <tbody>
                ${unservedRows(unserved)}
              </tbody>
            </table>`
        : ''
    }`;
}

export function modelsPage(models: readonly ModelSummary[], registered: readonly RegisteredModelSummary[]): string {
  return layout(
    'Models',
    html`<h1>Models</h1>
      <div id="live" data-fragment="/fragments/models">${modelsLive(models, registered)}</div>`,
    { live: '/fragments/models' },
  );
}

/** A registered model's page: its versions with lineage, aliases, and the Models serving it. */
export function registeredModelPage(r: RegisteredModelResponse): string {
  const m = r.model;
  return layout(
    m.name,
    html`<h1>${m.name} <span class="muted">registered model</span></h1>
      <p>
        ${
          m.servedBy.length
            ? html`Served by
              ${m.servedBy.map((k, i) => {
                const [ns, name] = k.split('/');
                return html`${i ? ', ' : ''}<a href="${modelHref(ns, name)}">${k}</a>`;
              })}.`
            : html`<span class="muted"
                >No Model serves it; apply a Model whose <code>modelRef.name</code> is <code>${m.name}</code> to serve and roll it out.</span
              >`
        }
      </p>
      <h2>Versions</h2>
      ${versionsTable(registeredHref(m.name), r.versions)}`,
  );
}

/** The live part of a model page: rollout state and the canary analysis. */
export function modelLive(r: ModelResponse): Html {
  const m = r.model;
  const analysis = r.status.analysis ?? [];
  return html`<dl>
      <dt>Phase</dt>
      <dd>${badge(m.phase)} <span class="muted">${m.message}</span></dd>
      <dt>Serving</dt>
      <dd>${m.stable !== undefined ? html`v${m.stable}` : '—'}</dd>
      <dt>Canary</dt>
      <dd class="canary">${m.canary !== undefined ? html`v${m.canary}, step ${(m.step ?? 0) + 1}` : '—'}</dd>
      <dt>Traffic</dt>
      <dd class="traffic">${traffic(m)}</dd>
      <dt>Last rollout</dt>
      <dd>
        ${badge(m.rolloutPhase)} ${m.rolloutReason ?? ''}
        <span class="muted">${m.rolloutMessage ?? ''}</span>${m.promotedAt ? html` <span class="muted">(promoted ${m.promotedAt})</span>` : ''}
      </dd>
      ${
        m.lastFailedVersion !== undefined
          ? html`<dt>Last rolled back</dt>
              <dd>v${m.lastFailedVersion}</dd>`
          : ''
      }
    </dl>
    ${
      r.alerts.length
        ? html`<h2>Alerts</h2>
            <table class="alerts">
              <tbody>
                ${r.alerts.map(
                  (a) =>
                    html`<tr data-alert="${a.alert}">
                      <td>${badge(a.state === 'firing' ? 'Failed' : 'Pending')} ${a.state}</td>
                      <td><strong>${a.alert}</strong>${a.version !== undefined ? html` <span class="muted">v${a.version}</span>` : ''}</td>
                      <td>${a.summary ?? ''}</td>
                      <td class="muted">since ${a.since} · value ${round(a.value)}</td>
                    </tr>`,
                )}
              </tbody>
            </table>`
        : ''
    }
    <h2>Canary analysis</h2>
    ${
      analysis.length
        ? html`<table class="analysis">
            <thead>
              <tr>
                <th>Checked</th>
                <th>Version</th>
                <th>Step</th>
                <th>Traffic</th>
                <th>Requests</th>
                <th>Error rate</th>
                <th>p99 ms</th>
                <th>Prediction drift</th>
                <th>Result</th>
              </tr>
            </thead>
            <tbody>
              ${analysis.map(
                (a) =>
                  html`<tr>
                    <td>${a.checkedAt}</td>
                    <td>v${a.version}</td>
                    <td>${a.step + 1}</td>
                    <td>${a.trafficPercent}%</td>
                    <td>${a.requests ?? ''}</td>
                    <td>${a.errorRate ?? ''}</td>
                    <td>${a.p99LatencyMs ?? ''}</td>
                    <td>${a.predictionDrift ?? ''}</td>
                    <td>${badge(a.passed ? 'passed' : 'failed')} ${a.message ?? ''}</td>
                  </tr>`,
              )}
            </tbody>
          </table>`
        : html`<p class="muted">No canary analysis yet.</p>`
    }`;
}

/** `base`: the page the versions belong to (a Model's or a registered model's); a version's page is base/versions/<n>. */
function versionsTable(base: string, versions: readonly VersionView[]): Html {
  if (!versions.length) return html`<p class="muted">No registered versions.</p>`;
  return html`<table>
    <thead>
      <tr>
        <th>Version</th>
        <th>Aliases</th>
        <th>Created</th>
        <th>Reason</th>
        <th>Metrics</th>
        <th>Run</th>
      </tr>
    </thead>
    <tbody>
      ${versions.map(
        (v) =>
          html`<tr>
            <td><a href="${base}/versions/${v.version}">v${v.version}</a></td>
            <td>${v.aliases.join(', ')}</td>
            <td>${v.createdAt}</td>
            <td>${v.reason ?? ''}</td>
            <td>${metricsBrief(v.metrics)}</td>
            <td>${v.runId ? html`<a href="${runHref(v.runId)}">${v.runId}</a>` : ''}</td>
          </tr>`,
      )}
    </tbody>
  </table>`;
}

const round = (x: number): string => (Number.isInteger(x) ? String(x) : x.toPrecision(4));
/** A version's first four metrics, in a table cell. */
const metricsBrief = (metrics: Readonly<Record<string, number>>): Html =>
  html`${Object.entries(metrics)
    .slice(0, 4)
    .map(([k, x]) => html`${k} ${round(x)} `)}`;

/** The model page's actions: a token field and one button per action (ACTIONS_JS posts them). */
export function actionsSection(r: ModelResponse): Html {
  const m = r.model;
  const pipelines = [...new Set(r.trainingRuns.map((t) => t.pipeline))].sort();
  return html`<section class="actions" id="actions" data-namespace="${m.namespace}" data-name="${m.name}">
    <h2>Actions</h2>
    <p class="muted">Each action needs a token with the admin permission and is recorded in the audit log.</p>
    <label>Token <input type="password" id="action-token" autocomplete="off" size="40" /></label>
    ${(['pause', 'resume', 'promote', 'abort'] as const).map((a) => html` <button type="button" data-rollout="${a}">${a}</button>`)}
    ${pipelines.map((p) => html` <button type="button" data-retrain="${p}" data-retrain-namespace="${m.namespace}">retrain ${p}</button>`)}
    <p><output id="action-result" aria-live="polite"></output></p>
  </section>`;
}

export function modelPage(r: ModelResponse, opts: { actions?: boolean } = {}): string {
  const m = r.model;
  const frag = `/fragments${modelHref(m.namespace, m.name)}`;
  return layout(
    m.name,
    html`<h1>${m.name} <span class="muted">${m.namespace} · registered model ${m.registered}</span></h1>
      <section id="live" data-fragment="${frag}">${modelLive(r)}</section>
      ${opts.actions ? actionsSection(r) : html``}
      <h2>Versions</h2>
      ${versionsTable(modelHref(m.namespace, m.name), r.versions)}
      <h2>Training runs</h2>
      ${
        r.trainingRuns.length
          ? html`<table>
              <thead>
                <tr>
                  <th>TrainingRun</th>
                  <th>Pipeline</th>
                  <th>Reason</th>
                  <th>Phase</th>
                  <th>Registered</th>
                  <th>Message</th>
                </tr>
              </thead>
              <tbody>
                ${r.trainingRuns.map(
                  (t) =>
                    html`<tr>
                      <td>${t.name}</td>
                      <td>${t.pipeline}</td>
                      <td>${t.reason}</td>
                      <td>${badge(t.phase)}</td>
                      <td>${t.registeredVersion !== undefined ? html`v${t.registeredVersion}` : t.gateRejected ? 'gate rejected' : ''}</td>
                      <td class="muted">${t.message}</td>
                    </tr>`,
                )}
              </tbody>
            </table>`
          : html`<p class="muted">No TrainingRuns.</p>`
      }`,
    { live: frag },
  );
}

/** An optimized copy's original: a link to its version page when it is a version of the same registered model, else its name or file. */
function derivedFromLink(base: string, v: VersionView): Html {
  const m = /^(.+)@(\d+)$/.exec(v.derivedFrom ?? '');
  const digest = v.derivedFromDigest ? html` <code title="${v.derivedFromDigest}">${v.derivedFromDigest.slice(0, 19)}</code>` : '';
  if (m && m[1] === v.name) return html`<a href="${base}/versions/${m[2]}">${v.derivedFrom}</a> (optimized, not trained)${digest}`;
  return html`<code>${v.derivedFrom ?? ''}</code> (optimized, not trained)${digest}`;
}

/** A version's page; `owner`: the page it belongs to (a Model's or a registered model's) and its title. */
export function versionPage(owner: { readonly href: string; readonly title: string }, v: VersionView, run: RunSummary | undefined): string {
  return layout(
    `${owner.title} v${v.version}`,
    html`<h1><a href="${owner.href}">${owner.title}</a> v${v.version}</h1>
      <h2>Lineage</h2>
      <dl>
        <dt>Registered model</dt>
        <dd>${v.name}</dd>
        <dt>Created</dt>
        <dd>${v.createdAt}</dd>
        <dt>Triggered by</dt>
        <dd>${v.reason ?? 'unknown'}</dd>
        ${
          v.derivedFrom
            ? html`<dt>Derived from</dt>
                <dd class="derived">${derivedFromLink(owner.href, v)}</dd>`
            : ''
        }
        <dt>Run</dt>
        <dd>
          ${v.runId ? (run ? html`<a href="${runHref(v.runId)}">${v.runId}</a> ${badge(run.status)}` : html`${v.runId} <span class="muted">(not a local run here)</span>`) : '—'}
        </dd>
        <dt>Pipeline</dt>
        <dd>${v.pipeline ?? '—'}</dd>
        <dt>Git commit</dt>
        <dd><code>${v.gitCommit ?? '—'}</code>${v.gitDirty ? html` <span class="badge Paused">dirty ${v.gitDirty.slice(0, 19)}</span>` : ''}</dd>
        <dt>Dataset</dt>
        <dd><code>${v.datasetDigest ?? '—'}</code></dd>
        <dt>Model file</dt>
        <dd><code>${v.digest ?? '—'}</code> (${v.format})</dd>
        <dt>Aliases</dt>
        <dd>${v.aliases.join(', ') || '—'}</dd>
      </dl>
      <h2>Metrics</h2>
      <table>
        <tbody>
          ${Object.entries(v.metrics).map(
            ([k, x]) =>
              html`<tr>
                <th>${k}</th>
                <td>${round(x)}</td>
              </tr>`,
          )}
        </tbody>
      </table>
      <h2>Params</h2>
      <table>
        <tbody>
          ${Object.entries(v.params).map(
            ([k, x]) =>
              html`<tr>
                <th>${k}</th>
                <td><code>${x}</code></td>
              </tr>`,
          )}
        </tbody>
      </table>`,
  );
}

const ms = (x: number | undefined): string => (x === undefined ? '' : x < 1000 ? `${Math.round(x)} ms` : `${(x / 1000).toFixed(1)} s`);

export function runRows(runs: readonly RunSummary[]): Html {
  if (!runs.length)
    return html`<tr>
      <td colspan="6" class="muted">No runs. Start one with <code>ghosteam run app.ts</code>.</td>
    </tr>`;
  return html`${runs.map(
    (r) =>
      html`<tr>
        <td><a href="${runHref(r.id)}">${r.id}</a></td>
        <td>${r.pipeline}</td>
        <td>${badge(r.status)}</td>
        <td>${r.startedAt}</td>
        <td>${ms(r.durationMs)}</td>
        <td>${r.tasks} tasks, ${r.cached} cached</td>
      </tr>`,
  )}`;
}

export function runsPage(runs: readonly RunSummary[]): string {
  return layout(
    'Runs',
    html`<h1>Pipeline runs</h1>
      <table>
        <thead>
          <tr>
            <th>Run</th>
            <th>Pipeline</th>
            <th>Status</th>
            <th>Started</th>
            <th>Duration</th>
            <th>Tasks</th>
          </tr>
        </thead>
        <tbody id="live" data-fragment="/fragments/runs">
          ${runRows(runs)}
        </tbody>
      </table>`,
    { live: '/fragments/runs' },
  );
}

export function runNodes(d: RunDetail): Html {
  return html`${d.nodes.map(
    (n) =>
      html`<tr data-node="${n.id}" id="task-${encodeURIComponent(n.id)}">
        <td>${n.id}</td>
        <td>${badge(n.state)}${n.cached ? html` <span class="badge">cache hit</span>` : ''}${n.resumed ? html` <span class="badge">resumed</span>` : ''}</td>
        <td>${ms(n.durationMs)}</td>
        <td>${n.attempts}</td>
        <td>
          ${Object.entries(n.outputs).map(([k, a]) => html`<div>${k} <code title="${a.digest}">${a.digest.slice(0, 19)}</code> <span class="muted">${a.kind}, ${a.size} B</span></div>`)}${Object.entries(
            n.outputParams,
          ).map(([k, v]) => html`<div>${k} = <code>${JSON.stringify(v)}</code></div>`)}${(n.artifacts ?? []).map(
            (a) =>
              html`<div class="artifact">
                ${a.name} <code>${a.location}</code> <span class="muted">${a.store}${a.size !== undefined ? `, ${a.size} B` : ''}</span>
              </div>`,
          )}
        </td>
        <td class="muted">${n.message ?? ''}${n.hasLog ? html` <a href="${runHref(d.run.id)}/logs/${encodeURIComponent(n.id)}">log</a>` : ''}</td>
      </tr>`,
  )}`;
}

/** The run's DAG: its tasks (a parallelFor task once, with its instance count), not the instances. */
export function runDag(d: RunDetail): Html {
  const instances = new Set(d.nodes.flatMap((n) => n.instances ?? []));
  return dagSvg(
    d.nodes
      .filter((n) => !instances.has(n.id))
      .map((n) => ({
        id: n.id,
        dependsOn: n.dependsOn,
        state: n.state,
        note: [n.cached ? 'cache hit' : n.durationMs !== undefined ? ms(n.durationMs) : '', n.instances ? `×${n.instances.length}` : '']
          .filter(Boolean)
          .join(' · '),
      })),
  );
}

/** What changes while a run runs: the DAG and the task table (the fragment the live script refreshes). */
export function runLive(d: RunDetail): Html {
  return html`<div class="dagbox">${runDag(d)}</div>
    <h2>Tasks</h2>
    <table>
      <thead>
        <tr>
          <th>Task</th>
          <th>State</th>
          <th>Duration</th>
          <th>Attempts</th>
          <th>Outputs</th>
          <th>Message</th>
        </tr>
      </thead>
      <tbody>
        ${runNodes(d)}
      </tbody>
    </table>`;
}

export function runPage(d: RunDetail): string {
  const r = d.run;
  const frag = `/fragments${runHref(r.id)}`;
  return layout(
    r.id,
    html`<h1>Run ${r.id} <span class="muted">${r.pipeline}</span></h1>
      <dl>
        <dt>Status</dt>
        <dd>${badge(r.status)} <span class="muted">${r.message ?? ''}</span></dd>
        <dt>Started</dt>
        <dd>${r.startedAt}</dd>
        <dt>Duration</dt>
        <dd>${ms(r.durationMs)}</dd>
        <dt>Git commit</dt>
        <dd><code>${r.gitCommit ?? '—'}</code>${r.gitDirty ? html` <span class="badge Paused">dirty</span>` : ''}</dd>
        <dt>Params</dt>
        <dd><code>${JSON.stringify(d.params)}</code></dd>
      </dl>
      <section id="live" data-fragment="${frag}">${runLive(d)}</section>`,
    { live: frag },
  );
}

/** The sign-in page of a UI whose reads are authenticated: the token goes to POST /login, which sets an HttpOnly cookie. */
export function loginPage(message: string, next: string): string {
  return layout(
    'Sign in',
    html`<h1>Sign in</h1>
      <p class="error">${message}</p>
      <form method="post" action="/login">
        <input type="hidden" name="next" value="${next}" />
        <label>Token <input type="password" name="token" id="login-token" autocomplete="off" size="40" required /></label>
        <button type="submit">Sign in</button>
      </form>
      <p class="muted">
        A token with the view (or admin) permission: the UI's viewer or admin token, or an OIDC token of the configured issuer. Scripts send it as
        <code>Authorization: Bearer …</code> instead.
      </p>`,
  );
}

export function errorPage(status: number, message: string): string {
  return layout(
    status === 404 ? 'Not found' : 'Bad request',
    html`<h1>${status === 404 ? 'Not found' : 'Bad request'}</h1>
      <p class="error">${message}</p>
      <p><a href="/">All models</a> · <a href="/runs">All runs</a></p>`,
  );
}

/**
 * The live script: one EventSource on /api/events; on each `change` event it fetches the page's
 * fragment and swaps it in. The browser reconnects by itself; no polling.
 */
export const LIVE_JS = `(() => {
  const target = document.getElementById('live');
  const state = document.getElementById('live-state');
  if (!target || !window.EventSource) return;
  let busy = false, again = false;
  async function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    try {
      const res = await fetch(target.dataset.fragment, { headers: { accept: 'text/html' } });
      if (res.ok) target.innerHTML = await res.text();
    } finally {
      busy = false;
      if (again) { again = false; refresh(); }
    }
  }
  const es = new EventSource('/api/events');
  es.addEventListener('open', () => { state.textContent = 'live'; });
  es.addEventListener('error', () => { state.textContent = 'reconnecting…'; });
  es.addEventListener('change', () => { refresh(); });
})();
`;

/**
 * The actions script: each button POSTs its action as JSON with the token from the field (kept for
 * the tab in sessionStorage, never in a cookie, so another site cannot act through the browser)
 * and shows the answer; the page's live region shows the effect when the operator applies it.
 */
export const ACTIONS_JS = `(() => {
  const box = document.getElementById('actions');
  if (!box) return;
  const token = document.getElementById('action-token');
  const out = document.getElementById('action-result');
  token.value = sessionStorage.getItem('ghosteam-token') || '';
  token.addEventListener('change', () => sessionStorage.setItem('ghosteam-token', token.value));
  async function post(url, body) {
    out.textContent = '…';
    const headers = { 'content-type': 'application/json' };
    if (token.value) headers.authorization = 'Bearer ' + token.value;
    try {
      const res = await fetch(url, { method: 'POST', headers, body: JSON.stringify(body) });
      const data = await res.json().catch(() => ({}));
      out.textContent = (res.ok ? '' : res.status + ': ') + (data.message || data.error || res.statusText);
      out.className = res.ok ? 'ok' : 'error';
    } catch (e) {
      out.textContent = String(e);
      out.className = 'error';
    }
  }
  const ns = encodeURIComponent(box.dataset.namespace), name = encodeURIComponent(box.dataset.name);
  for (const b of box.querySelectorAll('button[data-rollout]'))
    b.addEventListener('click', () => post('/api/models/' + ns + '/' + name + '/rollout', { action: b.dataset.rollout }));
  for (const b of box.querySelectorAll('button[data-retrain]'))
    b.addEventListener('click', () => post('/api/trainingruns', { pipeline: b.dataset.retrain, namespace: b.dataset.retrainNamespace }));
})();
`;
