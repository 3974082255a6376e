// The status page in a real headless browser: Debian's chromium driven by playwright-core. The overview
// updates itself while a real worker completes a job, a dead job is retried with a click, and the
// page works with JavaScript turned off. Screenshots go to test-output/ (git-ignored).
// Without /usr/bin/chromium (CI installs it with apt-get) the tests are skipped and say why.

import assert from 'node:assert/strict';
import { existsSync, promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { addSchedule } from '../src/schedules.js';
import { REPO, waitFor } from './helpers.js';
import { type Dashboard, startDashboard } from './web-helpers.js';

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

/** Opens the URL `queuectl dashboard` prints (with ?token=): the page sets its cookie and drops the token from the URL. */
async function login(page: Page, d: Dashboard): Promise<void> {
  await page.goto(`${d.base}/?token=${d.token}`);
  assert.equal(new URL(page.url()).search, '', 'the token leaves the address bar');
}

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
    await login(page, d);
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
    await login(page, d);
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
  test('what the page shows is true: run order, newest first, the nav badge, an empty overview, ?limit, a stopping worker', async (t) => {
    const browser = await launch(t);
    if (!browser) return;
    const d = await startDashboard(t, { refreshSeconds: 0.3 });
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors = watchErrors(page);

    // An empty overview: the sentence gets the panel's width, on one line (not a 96 px grid column).
    await login(page, d);
    const empty = await page.evaluate(() => {
      const li = document.querySelector('#recent li.empty')!;
      const range = document.createRange();
      range.selectNodeContents(li);
      return { text: li.textContent, lines: range.getClientRects().length, width: range.getBoundingClientRect().width };
    });
    assert.equal(empty.text, 'Nothing has finished yet.');
    assert.equal(empty.lines, 1, `on one line, got ${JSON.stringify(empty)}`);

    // "In the order they will run": priority -5 before 0, whatever their age.
    const ago = (ms: number) => new Date(Date.now() - ms).toISOString();
    await d.enqueue([
      { id: 'old-p0', command: 'true', run_at: ago(60_000) },
      { id: 'new-pm5', command: 'true', priority: -5, run_at: ago(1_000) },
      { id: 'mid-p3', command: 'true', priority: 3, run_at: ago(30_000) },
    ]);
    await page.goto(`${d.base}/jobs?state=pending`);
    assert.deepEqual(await page.$$eval('table.jobs tbody td.id a', (as) => as.map((a) => a.textContent)), ['new-pm5', 'old-p0', 'mid-p3']);
    assert.match((await page.textContent('[data-order]')) ?? '', /order workers take them/);

    // ?limit=10 says 10 per page (the select used to fall back to its first option, 25).
    await page.goto(`${d.base}/jobs?state=pending&limit=10`);
    assert.equal(await page.$eval('select[name="limit"]', (s) => (s as HTMLSelectElement).selectedOptions[0].textContent), '10 per page');
    assert.equal(await page.$eval('select[name="limit"]', (s) => (s as HTMLSelectElement).value), '10');

    // Newest finished first: one worker runs them in run order, so the newest is the last run, not the largest id.
    const w = await d.startWorker();
    await waitFor(async () => (await d.counts()).completed === 3, { what: 'three completed jobs', timeoutMs: 15_000 });
    await w.stop();
    await page.goto(`${d.base}/jobs?state=completed`);
    assert.deepEqual(await page.$$eval('table.jobs tbody td.id a', (as) => as.map((a) => a.textContent)), ['mid-p3', 'old-p0', 'new-pm5']);
    assert.match((await page.textContent('[data-order]')) ?? '', /Newest finished first/);

    // The job page's nav carries the dead-letter badge like every other page.
    await d.enqueue([{ id: 'gone', command: 'true', delay: '1h' }]);
    assert.equal((await d.get('/api/jobs/gone/cancel', { method: 'POST', headers: { 'x-csrf-token': await d.csrf() } })).status, 200);
    await page.goto(`${d.base}/jobs/old-p0`);
    assert.equal(await page.textContent('nav a[href="/dlq"] .badge'), '1');
    assert.equal(await page.isVisible('nav a[href="/dlq"] .badge'), true);

    // A stopping worker is "stopping", not "idle", while jobs wait: one slot still runs a job, the other takes no more.
    const flag = `${d.dir}/release`;
    await d.enqueue([{ id: 'hold', command: `while [ ! -f '${flag}' ]; do sleep 0.05; done` }]);
    // One process of two slots (--processes 1): its idle slot stays, as "stopping", while the other runs.
    const two = await d.startWorker(['--count', '2', '--processes', '1']);
    await waitFor(async () => (await d.counts()).processing === 1, { what: 'hold to be running', timeoutMs: 10_000 });
    await page.goto(`${d.base}/`);
    await page.waitForFunction(() => document.querySelectorAll('#workers-body [data-worker-status]').length === 2, null, { timeout: 5_000 });
    assert.match((await page.textContent('#workers-body')) ?? '', /idle/, 'before the stop, the free slot is idle');
    two.child.kill('SIGTERM');
    // The live page follows (app.js), then a fresh render says the same.
    await page.waitForFunction(() => [...document.querySelectorAll('#workers-body [data-worker-status]')].every((b) => b.textContent === 'stopping'), null, { timeout: 10_000 });
    await d.enqueue([{ id: 'waits', command: 'true' }]);
    await page.reload();
    assert.deepEqual(await page.$$eval('#workers-body [data-worker-status]', (bs) => bs.map((b) => b.textContent)), ['stopping', 'stopping']);
    const rows = (await page.textContent('#workers-body')) ?? '';
    assert.doesNotMatch(rows, /idle/);
    assert.match(rows, /hold/);
    assert.match(rows, /stopping: takes no more jobs/);
    await fsp.writeFile(flag, '');
    await waitFor(() => two.child.exitCode !== null, { what: 'the stopping worker to finish hold and exit', timeoutMs: 10_000 });
    assert.equal((await d.counts()).pending, 1, 'waits was never taken');
    assert.deepEqual(errors, [], 'no script errors or CSP violations');
  });
  test('queues, dependencies and schedules on the page: pause a queue with a click, a waiting job and its dependency, a schedule with its next run', async (t) => {
    const browser = await launch(t);
    if (!browser) return;
    const d = await startDashboard(t, { refreshSeconds: 0.3 });
    await addSchedule(d.store, { name: 'nightly', cron: '0 2 * * *', tz: 'UTC', job: { command: './backup.sh', queue: 'backups' } }, Date.now());
    await d.enqueue([{ id: 'dump-db', command: 'true', queue: 'backups', delay: '1h' }]);
    await d.enqueue([{ id: 'upload', command: 'true', queue: 'backups', after: ['dump-db'] }, { id: 'thumbs', command: 'true', delay: '1h' }]);
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors = watchErrors(page);
    await login(page, d);
    const row = (q: string) => page.textContent(`#queues tr[data-queue="${q}"]`);
    assert.match((await row('backups')) ?? '', /backups\s*0\s*1\s*0\s*1\s*0/, 'pending 0, scheduled 1, failed 0, waiting 1, running 0');
    assert.match((await row('default')) ?? '', /default/);
    const sched = (await page.textContent('#schedules tr[data-schedule="nightly"]')) ?? '';
    assert.match(sched, /0 2 \* \* \*/);
    assert.match(sched, /02:00:00 \(in /, 'the next 02:00 UTC, relative to now');

    await page.click('#queues tr[data-queue="backups"] button[data-queue-action="pause"]');
    await page.waitForURL(/done=paused/);
    assert.match((await page.textContent('.notice')) ?? '', /Paused queue backups: what runs finishes, nothing new starts\./);
    assert.equal(await page.textContent('#queues tr[data-queue="backups"] [data-queue-state]'), 'paused');
    assert.ok(existsSync(join(d.root, 'queues', 'backups.paused')), 'the pause is the file workers read');
    await page.click('#queues tr[data-queue="backups"] button[data-queue-action="resume"]');
    await page.waitForURL(/done=resumed/);
    assert.equal(existsSync(join(d.root, 'queues', 'backups.paused')), false);

    await page.goto(`${d.base}/jobs/upload`);
    assert.equal(await page.textContent('[data-field="queue"]'), 'backups');
    await page.click('[data-field="after"] a');
    await page.waitForURL(/\/jobs\/dump-db$/);
    assert.match((await page.textContent('h1')) ?? '', /dump-db/);
    await page.goto(`${d.base}/jobs?state=waiting`);
    assert.deepEqual(await page.$$eval('table.jobs tbody td.id a', (as) => as.map((a) => a.textContent)), ['upload']);
    assert.deepEqual(errors, [], 'no script errors or CSP violations');
  });
});
