// The status page in a real headless browser: Debian's chromium driven by playwright-core. The overview
// updates itself while a real worker completes a job, a dead job is retried with a click, and the
// page works with JavaScript turned off. Screenshots go to test-output/ (git-ignored).
// Without /usr/bin/chromium (CI installs it with apt-get) the tests are skipped and say why.

import assert from 'node:assert/strict';
import { existsSync, promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { REPO, waitFor } from './helpers.js';
import { startDashboard } from './web-helpers.js';

const CHROMIUM = '/usr/bin/chromium';
const OUT = join(REPO, 'test-output');
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** Launches chromium, closed when the test ends; null (test skipped) when it is not installed. */
async function launch(t: { skip: (msg: string) => void; after: (fn: () => Promise<void>) => void }): Promise<Browser | null> {
  if (!existsSync(CHROMIUM)) {
    t.skip(`chromium not installed: ${CHROMIUM} is missing (apt-get install chromium)`);
    return null;
  }
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, timeout: 20_000 });
  t.after(() => browser.close());
  return browser;
}

/** Collects script errors and CSP violations (chromium reports both on the console). */
function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  return errors;
}

const cardText = (page: Page, state: string) => page.textContent(`.counts [data-count="${state}"]`);

describe('the status page in chromium', { timeout: 60_000 }, () => {
  test('the overview updates live when a worker completes a job, and a dead job is retried with a click', async (t) => {
    const browser = await launch(t);
    if (!browser) return;
    const d = await startDashboard(t, { refreshSeconds: 0.3 });
    // A job that fails until a flag file exists: dead now, succeeds once retried.
    const flag = join(d.dir, 'flag');
    await d.enqueue([{ id: 'flaky', command: `echo "checking <flag>"; test -f '${flag}'`, max_retries: 0 }]);
    const first = await d.startWorker();
    await waitFor(async () => (await d.counts()).dead === 1, { what: 'flaky to be dead', timeoutMs: 10_000 });
    await first.stop();
    await d.enqueue([{ id: 'hello', command: 'echo hello from the queue' }, { id: 'later', command: 'true', delay: '1h' }]);

    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors = watchErrors(page);
    await page.goto(`${d.base}/`);
    assert.equal(await cardText(page, 'pending'), '1');
    assert.equal(await cardText(page, 'completed'), '0');
    assert.equal(await cardText(page, 'dead'), '1');
    await page.waitForSelector('#live:not([hidden])', { timeout: 5_000 });
    // A marker that a full reload would wipe.
    await page.evaluate(() => ((window as unknown as { marker: number }).marker = 42));

    await d.startWorker();
    await page.waitForFunction(() => document.querySelector('.counts [data-count="completed"]')?.textContent === '1', null, { timeout: 10_000 });
    assert.equal(await page.evaluate(() => (window as unknown as { marker?: number }).marker), 42, 'updated in place, not reloaded');
    assert.equal(await cardText(page, 'pending'), '0');
    await page.waitForFunction(() => document.querySelectorAll('#workers-body .badge.st-completed').length === 1, null, { timeout: 5_000 });
    await page.waitForFunction(() => document.querySelector('#recent a[href="/jobs/hello"]') !== null, null, { timeout: 5_000 });
    assert.equal(await page.getAttribute('#state-chart g[data-state="completed"] .bar', 'width') !== '0.0', true, 'the completed bar grew');

    // Retry the dead job from the dead letter queue with a click.
    await fsp.writeFile(flag, '');
    await page.click('nav a[href="/dlq"]');
    await page.waitForSelector('button[data-retry="flaky"]');
    await page.click('button[data-retry="flaky"]');
    await page.waitForURL(/\/dlq\?done=retried/);
    assert.match((await page.textContent('.notice')) ?? '', /Moved job flaky back to pending\./);
    assert.match((await page.textContent('tbody')) ?? '', /The dead letter queue is empty/);

    await page.click('nav a[href="/"]');
    await page.waitForFunction(() => document.querySelector('.counts [data-count="completed"]')?.textContent === '2', null, { timeout: 10_000 });
    assert.equal(await cardText(page, 'dead'), '0');
    // The throughput chart fills once the worker flushes its counters (every 2 s).
    await page.waitForFunction(() => Number(document.querySelector('[data-tp="completed"]')?.textContent) >= 2, null, { timeout: 10_000 });

    await fsp.mkdir(OUT, { recursive: true });
    await page.screenshot({ path: join(OUT, 'dashboard-overview.png'), fullPage: true });
    await page.goto(`${d.base}/jobs/flaky`);
    assert.match((await page.textContent('h1')) ?? '', /flaky/);
    assert.match((await page.textContent('pre.log')) ?? '', /checking <flag>/, 'output shown as text');
    await page.screenshot({ path: join(OUT, 'dashboard-job.png'), fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${d.base}/`);
    await page.screenshot({ path: join(OUT, 'dashboard-narrow.png'), fullPage: true });
    assert.deepEqual(errors, [], 'no script errors or CSP violations');
  });

  test('without JavaScript the pages work: retry selected dead jobs with checkboxes and a plain form', async (t) => {
    const browser = await launch(t);
    if (!browser) return;
    const d = await startDashboard(t);
    await d.enqueue([{ id: 'x1', command: 'true', delay: '1h' }, { id: 'x2', command: 'true', delay: '1h' }, { id: 'x3', command: 'true', delay: '1h' }]);
    const csrf = await d.csrf();
    for (const id of ['x1', 'x2', 'x3']) assert.equal((await d.get(`/api/jobs/${id}/cancel`, { method: 'POST', headers: { 'x-csrf-token': csrf } })).status, 200);

    const context = await browser.newContext({ javaScriptEnabled: false, viewport: { width: 1024, height: 768 } });
    const page = await context.newPage();
    await page.goto(`${d.base}/dlq`);
    await page.check('input[name="ids"][value="x1"]');
    await page.check('input[name="ids"][value="x3"]');
    await page.click('button[data-needs-selection]');
    await page.waitForURL(/\/dlq\?done=retried&n=2/);
    assert.match((await page.textContent('.notice')) ?? '', /Moved 2 jobs back to pending\./);
    assert.deepEqual((await d.counts()).dead, 1);
    assert.equal(await page.locator('input[name="ids"]').count(), 1);
    await fsp.mkdir(OUT, { recursive: true });
    await page.screenshot({ path: join(OUT, 'dashboard-dlq-nojs.png'), fullPage: true });

    // Cancel from the job page, also without JavaScript (no confirmation dialog then).
    await page.goto(`${d.base}/jobs/x1`);
    await page.click('.actions-bar button');
    await page.waitForURL(/done=cancelled/);
    assert.match((await page.textContent('.notice')) ?? '', /Cancelled job x1/);
  });
});
