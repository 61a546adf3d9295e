// The UI in a real browser: Debian's Chromium driven by Playwright (playwright-core; `npx
// playwright install` cannot download browsers here). Each page opened against a real local state,
// its content checked, a canary step arriving live without a reload, and screenshots taken (into
// GHOSTEAM_UI_SCREENSHOTS when set, e.g. `docs/` for the README; else a temp folder).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { tempDir } from '../engine/helpers.ts';
import { ensureChromium } from '../peers/install.ts';
import { startUi, type UiServer } from '../../ui/server.ts';
import { addDriftMonitor, at, DRIFT_STATUS, MODEL, MONITOR, NS, uiFixture, UNSERVED, type UiFixture } from './fixture.ts';
import { TYPES } from '../../controllers/runtime/store.ts';

describe('ghosteam ui in headless Chromium', () => {
  let fx: UiFixture;
  let ui: UiServer;
  let browser: Browser;
  let page: Page;
  let shots: string;
  let cleanup: () => Promise<void>;
  before(async () => {
    const executablePath = await ensureChromium((l) => process.stderr.write(`${l}\n`));
    const t = await tempDir();
    cleanup = t.cleanup;
    shots = process.env.GHOSTEAM_UI_SCREENSHOTS ?? join(t.dir, 'shots');
    mkdirSync(shots, { recursive: true });
    fx = await uiFixture(t.dir);
    await addDriftMonitor(fx.store);
    ui = await startUi({ stateDir: fx.stateDir, runsRoot: fx.runsRoot, registry: fx.registry, watchDirs: [fx.stateDir, fx.registryDir], debounceMs: 50 });
    // The flags the machine notes give: no sandbox as root, and no background traffic off the machine.
    browser = await chromium.launch({
      executablePath,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  });
  after(async () => {
    await browser?.close();
    await ui?.close();
    fx?.close();
    await cleanup?.();
  });

  test('the models page lists the Model with its canary traffic, and a canary step arrives live without a reload', async () => {
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${ui.url}/`);
    const row = page.locator(`tr[data-model="${NS}/${MODEL}"]`);
    await row.waitFor();
    assert.match(await row.innerText(), /Progressing[\s\S]*v1[\s\S]*v2[\s\S]*10% on v2/);
    await page.locator('#live-state', { hasText: 'live' }).waitFor({ timeout: 10_000 });
    await page.screenshot({ path: join(shots, 'ui-models.png') });
    const navigations: string[] = [];
    page.on('framenavigated', (f) => navigations.push(f.url()));
    await fx.step(1, 50);
    await row.locator('.traffic', { hasText: '50% on v2' }).waitFor({ timeout: 10_000 });
    assert.deepEqual(navigations, [], 'updated in place, not reloaded');
    assert.deepEqual(errors, []);
  });

  test('a registered model no Model serves is listed under the Models and opens to its versions and their lineage', async () => {
    await page.goto(`${ui.url}/`);
    const row = page.locator(`tr[data-registered="${UNSERVED}"]`);
    assert.match(await row.innerText(), /churn\s+v1\s+1/);
    await row.getByRole('link', { name: UNSERVED, exact: true }).click();
    await page.waitForURL(new RegExp(`/registered-models/${UNSERVED}$`));
    assert.match(await page.locator('main').innerText(), /No Model serves it/);
    await page.getByRole('link', { name: 'v1', exact: true }).click();
    await page.waitForURL(new RegExp(`/registered-models/${UNSERVED}/versions/1$`));
    assert.match(await page.locator('dl').innerText(), new RegExp(`Run\\s+${fx.run.id}\\s+Succeeded`));
  });

  test('the model page shows the canary analysis growing live; a version page shows lineage; the run page its tasks', async () => {
    await page.goto(`${ui.url}/models/${NS}/${MODEL}`);
    const rows = page.locator('table.analysis tbody tr');
    const before = await rows.count();
    await page.locator('#live-state', { hasText: 'live' }).waitFor({ timeout: 10_000 });
    await fx.step(2, 100);
    await page.locator('.traffic', { hasText: '100% on v2' }).waitFor({ timeout: 10_000 });
    assert.equal(await rows.count(), before + 1);
    await page.screenshot({ path: join(shots, 'ui-model.png'), fullPage: true });

    await page.getByRole('link', { name: 'v2', exact: true }).first().click();
    await page.waitForURL(/\/versions\/2$/);
    const lineage = await page.locator('dl').innerText();
    assert.match(lineage, /Triggered by\s+drift/);
    assert.match(lineage, new RegExp(`Run\\s+${fx.run.id}\\s+Succeeded`));
    await page.getByRole('link', { name: fx.run.id }).click();
    await page.waitForURL(new RegExp(`/runs/${fx.run.id}$`));
    assert.match(await page.locator('tr[data-node="train"]').innerText(), /train\s+Succeeded/);
    await page.screenshot({ path: join(shots, 'ui-run.png'), fullPage: true });
  });

  test('the drift page draws histograms and the history; a new check arrives live; the experiments page compares runs', async () => {
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${ui.url}/drift`);
    await page.locator(`tr[data-monitor="${NS}/${MONITOR}"]`).getByRole('link', { name: MONITOR }).click();
    await page.waitForURL(new RegExp(`/drift/${NS}/${MONITOR}$`));
    assert.equal(await page.locator('svg.hist').count(), 2, 'a histogram per feature');
    const points = page.locator('svg.history').first().locator('circle');
    assert.equal(await points.count(), 3);
    await page.locator('#live-state', { hasText: 'live' }).waitFor({ timeout: 10_000 });
    await page.screenshot({ path: join(shots, 'ui-drift.png'), fullPage: true });
    // The operator writes the next check: the history grows in place.
    const cur = (await fx.store.get(TYPES.DriftMonitor, NS, MONITOR))!;
    await fx.store.replaceStatus(TYPES.DriftMonitor, {
      ...cur,
      status: {
        ...DRIFT_STATUS,
        lastCheckTime: at(45),
        history: [...DRIFT_STATUS.history!, { time: at(45), samples: 700, driftShare: 1, datasetDrift: true }],
      },
    });
    await points.nth(3).waitFor({ timeout: 10_000 });

    await page.goto(`${ui.url}/experiments`);
    const boxes = page.locator('input[type="checkbox"][name="run"]');
    assert.ok((await boxes.count()) >= 1);
    await boxes.first().check();
    await page.getByRole('button', { name: 'Compare the selected runs' }).click();
    await page.waitForURL(/\/experiments\?.*run=/);
    assert.match(await page.locator('h1').innerText(), /1 run compared/);
    assert.deepEqual(errors, []);
  });

  test('an unknown model is a 404 page that says what exists', async () => {
    const res = await page.goto(`${ui.url}/models/${NS}/nope`);
    assert.equal(res?.status(), 404);
    assert.match(await page.locator('main').innerText(), /no Model 'nope' in namespace 'fraud'/);
  });
});
