// The status page over HTTP: the real app on an ephemeral port over a real temp root, jobs made through
// the core and run by real worker processes. Pages, the JSON API, /metrics, CSRF, tokens, escaping,
// security headers and cursor pagination.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, test } from 'node:test';
import { listJobsPage } from '../src/inspect.js';
import { CLI, explain, REPO, runCli, waitFor } from './helpers.js';
import { csrfFromPage, startDashboard } from './web-helpers.js';

const HTML = { accept: 'text/html' };
const JSON_ACCEPT = { accept: 'application/json' };
const XSS = 'echo "<script>alert(1)</script>"';

/** The number shown on the overview's card for a state. */
function cardCount(html: string, state: string): string | undefined {
  return new RegExp(`<span class="figure" data-count="${state}">([^<]*)</span>`).exec(html)?.[1];
}

describe('pages', () => {
  test('the overview shows counts by state as figures and SVG charts, workers and recent activity', async (t) => {
    const d = await startDashboard(t);
    await d.enqueue([{ command: 'true' }, { command: 'true' }, { command: 'true', delay: '1h' }]);
    const res = await d.get('/', { headers: HTML });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
    const html = await res.text();
    assert.equal(cardCount(html, 'pending'), '2');
    assert.equal(cardCount(html, 'scheduled'), '1');
    assert.equal(cardCount(html, 'dead'), '0');
    assert.match(html, /<svg class="chart state-chart"/);
    assert.match(html, /<svg class="chart tp-chart"/);
    assert.equal((html.match(/<g class="col">/g) ?? []).length, 60, 'one column per minute of the last hour');
    assert.match(html, /No workers\. Start one with/);
    assert.match(html, /Nothing has finished yet/);
    assert.match(html, /<script src="\/static\/app\.js" defer><\/script>/);
  });

  test('every page carries the security headers and has no inline script', async (t) => {
    const d = await startDashboard(t);
    const [job] = await d.enqueue([{ id: 'j1', command: 'true' }]);
    for (const path of ['/', '/jobs', `/jobs/${job.id}`, '/dlq', '/api/status', '/metrics', '/static/app.js', '/no-such-page']) {
      const res = await d.get(path, { headers: HTML });
      const csp = res.headers.get('content-security-policy') ?? '';
      assert.match(csp, /script-src 'self'(;|$)/, `${path}: ${csp}`);
      assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/, path);
      assert.match(csp, /frame-ancestors 'none'/, path);
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff', path);
      assert.equal(res.headers.get('x-frame-options'), 'DENY', path);
      assert.equal(res.headers.get('x-powered-by'), null, path);
      const body = await res.text();
      if ((res.headers.get('content-type') ?? '').startsWith('text/html')) {
        assert.doesNotMatch(body, /<script(?![^>]*\bsrc=)[^>]*>/, `${path}: inline <script>`);
        assert.doesNotMatch(body, /\son[a-z]+\s*=/i, `${path}: inline event handler`);
        assert.doesNotMatch(body, /\sstyle\s*=/i, `${path}: inline style (blocked by the CSP)`);
        assert.doesNotMatch(body, /https?:\/\/(?!127\.0\.0\.1|www\.w3\.org\/2000\/svg)/, `${path}: an external URL`);
      }
    }
    const js = await d.get('/static/app.js');
    assert.match(js.headers.get('content-type') ?? '', /javascript/);
  });

  test('job text is escaped: a command with <script> shows as text on every page', async (t) => {
    const d = await startDashboard(t);
    await d.enqueue([{ id: 'xss', command: XSS }, { id: 'dead-xss', command: XSS }]);
    const csrf = await d.csrf();
    const cancel = await d.get('/api/jobs/dead-xss/cancel', { method: 'POST', headers: { 'x-csrf-token': csrf, ...JSON_ACCEPT } });
    assert.equal(cancel.status, 200, await cancel.text());
    for (const path of ['/', '/jobs', '/jobs?state=dead', '/jobs/xss', '/jobs/dead-xss', '/dlq', `/jobs?q=${encodeURIComponent('<script>')}`]) {
      const html = await (await d.get(path, { headers: HTML })).text();
      assert.ok(!html.includes('<script>alert(1)'), `${path} holds the raw <script>`);
      assert.ok(html.includes('&lt;script&gt;alert(1)&lt;/script&gt;'), `${path} shows the command as text`);
    }
    const api = (await (await d.get('/api/jobs/xss')).json()) as { command: string };
    assert.equal(api.command, XSS, 'the API returns the text as it is (JSON, not HTML)');
  });

  test('the jobs page filters by state and text and pages with a cursor', async (t) => {
    const d = await startDashboard(t);
    await d.enqueue(Array.from({ length: 5 }, (_, i) => ({ id: `p${i}`, command: i === 3 ? 'echo needle' : 'true', priority: i })));
    const first = await (await d.get('/jobs?state=pending&limit=2', { headers: HTML })).text();
    assert.match(first, /href="\/jobs\/p0"/);
    assert.match(first, /href="\/jobs\/p1"/);
    assert.doesNotMatch(first, /href="\/jobs\/p2"/);
    const next = /<a class="button" href="([^"]+)" rel="next">/.exec(first)?.[1]?.replace(/&amp;/g, '&');
    assert.ok(next, 'a next-page link');
    const second = await (await d.get(next, { headers: HTML })).text();
    assert.match(second, /href="\/jobs\/p2"/);
    assert.match(second, /href="\/jobs\/p3"/);
    assert.doesNotMatch(second, /href="\/jobs\/p1"/);
    assert.match(second, /← First page/);

    const found = await (await d.get('/jobs?q=NEEDLE', { headers: HTML })).text();
    assert.match(found, /href="\/jobs\/p3"/);
    assert.doesNotMatch(found, /href="\/jobs\/p0"/);
    const byId = await (await d.get('/jobs?q=p4', { headers: HTML })).text();
    assert.match(byId, /href="\/jobs\/p4"/);

    const bad = await d.get('/jobs?state=nope', { headers: HTML });
    assert.equal(bad.status, 400);
    assert.match(await bad.text(), /Expected state to be one of/);
  });

  test('a job page shows fields, every attempt and the output log of each; unknown ids are 404', async (t) => {
    const d = await startDashboard(t);
    await d.enqueue([
      { id: 'ok', command: 'echo "<img src=x onerror=alert(1)>"; echo second line' },
      { id: 'bad', command: 'echo attempt output; exit 3', max_retries: 1, env: { API_KEY: 'hunter2' } },
    ]);
    const w = await d.startWorker();
    await waitFor(async () => (await d.counts()).completed === 1 && (await d.counts()).dead === 1, { what: 'ok completed and bad dead', timeoutMs: 15_000 });
    await w.stop();

    const ok = await (await d.get('/jobs/ok', { headers: HTML })).text();
    assert.match(ok, /badge st-completed">completed</);
    assert.ok(ok.includes('&lt;img src=x onerror=alert(1)&gt;'), 'the output log, escaped');
    assert.ok(!ok.includes('<img src=x'), 'no raw tag from the output');
    assert.match(ok, /second line/);

    const bad = await (await d.get('/jobs/bad', { headers: HTML })).text();
    assert.match(bad, /Run 2/);
    assert.match(bad, /Run 1/);
    assert.equal((bad.match(/exit 3<\/td>/g) ?? []).length, 2, 'two attempts in the table');
    assert.match(bad, /API_KEY=\*\*\*/);
    assert.doesNotMatch(bad, /hunter2/, 'env values are never shown');
    assert.match(bad, /action="\/api\/jobs\/bad\/retry"/, 'a retry form');

    const missing = await d.get('/jobs/nope', { headers: HTML });
    assert.equal(missing.status, 404);
    assert.match(await missing.text(), /No job with id &#34;nope&#34;/);
  });
});

describe('JSON API', () => {
  test('/api/status has the shape of `status --json`, plus throughput of the last hour', async (t) => {
    const d = await startDashboard(t);
    await d.enqueue([{ command: 'true' }, { command: 'true', delay: '1h' }]);
    const api = (await (await d.get('/api/status')).json()) as Record<string, unknown> & { throughput: { minutes: unknown[] } };
    const r = await runCli(['status', '--json'], { root: d.root });
    assert.equal(r.code, 0, explain(r));
    const cli = JSON.parse(r.stdout) as Record<string, unknown>;
    for (const key of Object.keys(cli)) assert.deepEqual(api[key], cli[key], key);
    assert.equal(api.throughput.minutes.length, 60);
    assert.deepEqual(Object.keys(api.throughput).sort(), ['completed', 'failed', 'minutes']);
    assert.equal(typeof api.now, 'number');
  });

  test('/api/jobs pages with a cursor, only reads the page, filters by state and q; env values are redacted', async (t) => {
    const d = await startDashboard(t);
    await d.enqueue(Array.from({ length: 7 }, (_, i) => ({ id: `j${i}`, command: i % 3 === 0 ? `echo special ${i}` : 'true', priority: i, env: { TOKEN: 'secret' } })));
    const seen: string[] = [];
    let cursor: string | null = null;
    const sizes: number[] = [];
    do {
      const url: string = `/api/jobs?state=pending&limit=3${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const page = (await (await d.get(url)).json()) as { jobs: { id: string; env: Record<string, string> }[]; next_cursor: string | null; scanned: number };
      sizes.push(page.jobs.length);
      assert.equal(page.scanned, page.jobs.length, 'only the page\'s files are opened');
      for (const j of page.jobs) {
        seen.push(j.id);
        assert.deepEqual(j.env, { TOKEN: '***' });
      }
      cursor = page.next_cursor;
    } while (cursor);
    assert.deepEqual(sizes, [3, 3, 1]);
    assert.deepEqual(seen, ['j0', 'j1', 'j2', 'j3', 'j4', 'j5', 'j6'], 'run order (priority), no job twice');

    const exact = (await (await d.get('/api/jobs?limit=6&state=pending')).json()) as { next_cursor: string | null };
    assert.ok(exact.next_cursor, '6 of 7: there is a next page');
    const all = (await (await d.get('/api/jobs?limit=7&state=pending')).json()) as { next_cursor: string | null };
    assert.equal(all.next_cursor, null, 'a page that ends exactly at the last job has no next page');

    const found = (await (await d.get('/api/jobs?q=SPECIAL')).json()) as { jobs: { id: string }[] };
    assert.deepEqual(found.jobs.map((j) => j.id), ['j0', 'j3', 'j6']);

    assert.equal((await d.get('/api/jobs?state=bogus')).status, 400);
    assert.equal((await d.get('/api/jobs?limit=0')).status, 400);
    assert.equal((await d.get('/api/jobs?cursor=garbage')).status, 400);
    assert.equal((await d.get('/api/jobs?state=dead&cursor=pending:x')).status, 400, 'a cursor of another listing');

    const one = (await (await d.get('/api/jobs/j3')).json()) as { id: string; env: Record<string, string> };
    assert.equal(one.id, 'j3');
    assert.deepEqual(one.env, { TOKEN: '***' });
    const missing = await d.get('/api/jobs/nope');
    assert.equal(missing.status, 404);
    assert.match(((await missing.json()) as { error: string }).error, /No job with id "nope"/);
  });

  test('a text search opens at most scanLimit files and says where to continue', async (t) => {
    const d = await startDashboard(t);
    await d.enqueue(Array.from({ length: 10 }, (_, i) => ({ id: `s${i}`, command: i === 8 ? 'echo findme' : 'true', priority: i })));
    const now = Date.now();
    const first = await listJobsPage(d.store, { state: 'pending', q: 'findme', limit: 2, now, scanLimit: 5 });
    assert.deepEqual(first.jobs, []);
    assert.equal(first.partial, true);
    assert.equal(first.scanned, 5);
    assert.ok(first.next_cursor);
    const rest = await listJobsPage(d.store, { state: 'pending', q: 'findme', limit: 2, now, scanLimit: 5, cursor: first.next_cursor! });
    assert.deepEqual(rest.jobs.map((j) => j.id), ['s8']);
    assert.equal(rest.partial, false);
    assert.equal(rest.next_cursor, null);
  });

  test('retry, retry selected, retry all and cancel through the API; forms get a redirect back', async (t) => {
    const d = await startDashboard(t);
    await d.enqueue([
      { id: 'd1', command: 'exit 3', max_retries: 0 },
      { id: 'd2', command: 'exit 4', max_retries: 0 },
      { id: 'd3', command: 'exit 5', max_retries: 0 },
      { id: 'd4', command: 'exit 6', max_retries: 0 },
    ]);
    const w = await d.startWorker();
    await waitFor(async () => (await d.counts()).dead === 4, { what: 'four dead jobs', timeoutMs: 15_000 });
    await w.stop();
    const page = await (await d.get('/dlq', { headers: HTML })).text();
    const csrf = csrfFromPage(page);
    for (const id of ['d1', 'd2', 'd3', 'd4']) assert.match(page, new RegExp(`name="ids" value="${id}"`));

    // A plain form post (no JavaScript): 303 back to the page with the outcome.
    const form = await d.get('/api/jobs/d1/retry', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html', origin: d.base, referer: `${d.base}/dlq` },
      body: new URLSearchParams({ _csrf: csrf, back: '/dlq' }),
    });
    assert.equal(form.status, 303);
    assert.equal(form.headers.get('location'), '/dlq?done=retried&n=1&id=d1');
    const after = await (await d.get(form.headers.get('location')!, { headers: HTML })).text();
    assert.match(after, /Moved job d1 back to pending\./);
    assert.doesNotMatch(after, /name="ids" value="d1"/);

    // Retry selected: the checkboxes post repeated ids.
    const body = new URLSearchParams({ _csrf: csrf, back: '/dlq' });
    body.append('ids', 'd2');
    body.append('ids', 'd3');
    const selected = await d.get('/api/dlq/retry', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' }, body });
    assert.equal(selected.status, 303);
    assert.equal(selected.headers.get('location'), '/dlq?done=retried&n=2&failed=0');

    // An off-site `back` is ignored.
    const offsite = await d.get('/api/dlq/retry-all', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' },
      body: new URLSearchParams({ _csrf: csrf, back: '//evil.example/x' }),
    });
    assert.equal(offsite.status, 303);
    assert.equal(offsite.headers.get('location'), '/?done=retried&n=1&failed=0');
    assert.equal((await d.counts()).dead, 0);
    assert.equal((await d.counts()).pending, 4);

    // JSON: retrying a job that is not dead is a conflict with a reason; cancel moves a pending job to dead.
    const notDead = await d.get('/api/jobs/d1/retry', { method: 'POST', headers: { 'x-csrf-token': csrf } });
    assert.equal(notDead.status, 409);
    assert.match(((await notDead.json()) as { error: string }).error, /is pending, not dead/);
    const cancel = await d.get('/api/jobs/d2/cancel', { method: 'POST', headers: { 'x-csrf-token': csrf } });
    assert.equal(cancel.status, 200);
    assert.deepEqual(await cancel.json(), { cancelled: 'd2', was: 'pending', dependents: [] });
    const again = (await (await d.get('/api/jobs/d2')).json()) as { state: string; last_error: string };
    assert.equal(again.state, 'dead');
    assert.equal(again.last_error, 'cancelled');
    const all = await d.get('/api/dlq/retry-all', { method: 'POST', headers: { 'x-csrf-token': csrf } });
    assert.deepEqual(await all.json(), { retried: ['d2'], errors: [] });
    assert.equal((await d.get('/api/jobs/nope/cancel', { method: 'POST', headers: { 'x-csrf-token': csrf } })).status, 404);
  });
});

describe('CSRF and tokens', () => {
  test('the Queues panel: counts by queue, limits, pause and resume by form (CSRF) or API; schedules with their next run; /metrics by queue', async (t) => {
    const d = await startDashboard(t);
    await d.enqueue([{ id: 'q1', command: 'true', queue: 'reports' }, { id: 'q2', command: 'true', queue: 'reports', delay: '1h' }, { id: 'q3', command: 'true' }]);
    const cli = (args: string[]) => runCli(['--root', d.root, ...args]);
    assert.equal((await cli(['queue', 'limit', 'reports', '2'])).code, 0);
    assert.equal((await cli(['schedule', 'add', 'nightly', '--cron', '0 2 * * *', '--tz', 'UTC', '--', 'true'])).code, 0);
    const page = await (await d.get('/', { headers: HTML })).text();
    assert.match(page, /<tr data-queue="reports">\s*<td class="mono">reports<\/td>\s*<td class="num">1<\/td>\s*<td class="num hide-narrow">1<\/td>/);
    assert.match(page, /<tr data-schedule="nightly">[\s\S]*?0 2 \* \* \*[\s\S]*?\d{4}-\d\d-\d\d 02:00:00/);
    const csrf = csrfFromPage(page);
    // Without the token: refused, nothing changes.
    const refused = await d.get('/api/queues/reports/pause', { method: 'POST', headers: JSON_ACCEPT });
    assert.equal(refused.status, 403);
    assert.equal((JSON.parse((await cli(['queue', 'list', '--json'])).stdout) as { name: string; paused: boolean }[]).find((q) => q.name === 'reports')!.paused, false);
    // A plain form post: 303 back with the outcome; the queue is paused.
    const form = await d.get('/api/queues/reports/pause', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html', origin: d.base, referer: `${d.base}/` },
      body: new URLSearchParams({ _csrf: csrf, back: '/' }),
    });
    assert.equal(form.status, 303);
    assert.equal(form.headers.get('location'), '/?done=paused&queue=reports');
    const after = await (await d.get(form.headers.get('location')!, { headers: HTML })).text();
    assert.match(after, /Paused queue reports/);
    assert.match(after, /data-queue="reports">[\s\S]*?data-queue-state>paused</);
    const api = await (await d.get('/api/queues', { headers: JSON_ACCEPT })).json() as { name: string; paused: boolean; limit: number }[];
    assert.deepEqual(api.find((q) => q.name === 'reports'), { ...api.find((q) => q.name === 'reports')!, paused: true, limit: 2 });
    const metrics = await (await d.get('/metrics')).text();
    assert.match(metrics, /^queuectl_queue_paused\{queue="reports"\} 1$/m);
    assert.match(metrics, /^queuectl_queue_limit\{queue="reports"\} 2$/m);
    assert.match(metrics, /^queuectl_queue_jobs\{queue="reports",state="scheduled"\} 1$/m);
    const resume = await d.get('/api/queues/reports/resume', { method: 'POST', headers: { 'x-csrf-token': csrf, ...JSON_ACCEPT } });
    assert.deepEqual(await resume.json(), { queue: 'reports', paused: false });
    const bad = await d.get('/api/queues/Bad%20Name/pause', { method: 'POST', headers: { 'x-csrf-token': csrf, ...JSON_ACCEPT } });
    assert.equal(bad.status, 409);
  });

  test('a POST without the CSRF token, or from another site, is refused with 403 and changes nothing', async (t) => {
    const d = await startDashboard(t);
    await d.enqueue([{ id: 'c1', command: 'true' }]);
    const csrf = await d.csrf();
    const form = (extra: Record<string, string>, fields: Record<string, string>) =>
      d.get('/api/jobs/c1/cancel', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html', ...extra }, body: new URLSearchParams(fields) });

    const none = await form({}, {});
    assert.equal(none.status, 403);
    assert.match(await none.text(), /Missing or wrong CSRF token/);
    assert.equal((await form({}, { _csrf: 'wrong' })).status, 403);
    assert.equal((await form({ origin: 'http://evil.example' }, { _csrf: csrf })).status, 403, 'cross-site Origin');
    assert.equal((await form({ origin: 'null' }, { _csrf: csrf })).status, 403, 'opaque Origin');
    assert.equal((await form({ referer: 'http://evil.example/page' }, { _csrf: csrf })).status, 403, 'cross-site Referer');
    assert.equal((await form({ 'sec-fetch-site': 'cross-site' }, { _csrf: csrf })).status, 403, 'Sec-Fetch-Site');
    assert.equal((await form({ 'sec-fetch-site': 'same-site' }, { _csrf: csrf })).status, 403, 'another port of the same host');
    const json = await d.get('/api/dlq/retry-all', { method: 'POST' });
    assert.equal(json.status, 403);
    assert.match(((await json.json()) as { error: string }).error, /CSRF/);
    assert.equal((await d.counts()).pending, 1, 'nothing was cancelled');

    const ok = await form({ origin: d.base, 'sec-fetch-site': 'same-origin' }, { _csrf: csrf, back: '/jobs' });
    assert.equal(ok.status, 303);
    assert.equal((await d.counts()).dead, 1);
    assert.equal((await d.get('/api/jobs/c1/cancel')).status, 404, 'actions are POST only');
  });

  test('on loopback without a token, other Host names are refused (DNS rebinding)', async (t) => {
    const d = await startDashboard(t);
    const res = await new Promise<number>((resolve, reject) => {
      // fetch cannot set Host; a raw request can.
      import('node:http').then(({ request }) => {
        const req = request(`${d.base}/api/status`, { headers: { host: 'evil.example:80' } }, (r) => {
          r.resume();
          resolve(r.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end();
      }, reject);
    });
    assert.equal(res, 403);
    assert.equal((await fetch(`${d.base.replace('127.0.0.1', 'localhost')}/healthz`)).status, 200);
  });

  test('every request but /healthz and /static/ needs the token: Bearer header (any case), or ?token= once then a cookie', async (t) => {
    const token = 'tok-0123456789abcdef';
    const d = await startDashboard(t, { token });
    assert.equal((await d.anon('/healthz')).status, 200);
    assert.equal((await d.anon('/static/app.css')).status, 200);
    for (const path of ['/', '/jobs', '/dlq', '/jobs/x', '/api/status', '/api/jobs', '/api/jobs/x', '/api/csrf', '/metrics']) {
      const res = await d.anon(path, { headers: JSON_ACCEPT });
      assert.equal(res.status, 401, path);
      assert.match(res.headers.get('www-authenticate') ?? '', /Bearer/);
      assert.doesNotMatch(await res.text(), /"token":/, `${path} gives nothing away`);
    }
    const page = await d.anon('/', { headers: HTML });
    assert.equal(page.status, 401);
    assert.match(await page.text(), /needs its token/);
    assert.equal((await d.anon('/api/status', { headers: { authorization: 'Bearer wrong-token-here' } })).status, 401);
    for (const scheme of ['Bearer', 'bearer', 'BEARER', 'bEaReR']) {
      assert.equal((await d.anon('/api/status', { headers: { authorization: `${scheme} ${token}` } })).status, 200, scheme);
    }
    assert.equal((await d.anon('/api/status', { headers: { authorization: `Basic ${token}` } })).status, 401, 'another scheme');
    assert.equal((await d.anon('/?token=wrong', { headers: HTML })).status, 401);

    const login = await d.anon(`/jobs?state=dead&token=${token}`, { headers: HTML });
    assert.equal(login.status, 303);
    assert.equal(login.headers.get('location'), '/jobs?state=dead', 'the token leaves the URL');
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0];
    assert.match(login.headers.get('set-cookie') ?? '', /HttpOnly/);
    assert.match(login.headers.get('set-cookie') ?? '', /SameSite=Strict/);
    assert.equal((await d.anon('/jobs?state=dead', { headers: { cookie, ...HTML } })).status, 200);

    // The token does not replace CSRF.
    assert.equal((await d.anon('/api/dlq/retry-all', { method: 'POST', headers: { cookie } })).status, 403);
    const csrf = await d.csrf();
    assert.equal((await d.anon('/api/dlq/retry-all', { method: 'POST', headers: { cookie, 'x-csrf-token': csrf } })).status, 200);
  });

  test('a form\'s `back` is checked as it will be sent: "/.//evil.com" and friends go to a page of this server', async (t) => {
    const d = await startDashboard(t);
    const csrf = await d.csrf();
    const back = async (value: string) => {
      const res = await d.get('/api/dlq/retry-all', {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' },
        body: new URLSearchParams({ _csrf: csrf, back: value }),
      });
      assert.equal(res.status, 303, value);
      return res.headers.get('location') ?? '';
    };
    for (const evil of ['//evil.example/x', '/.//evil.example', '/..//evil.example/x', '/././/evil.example', '/\t/evil.example', '/\\evil.example', '/%2e//evil.example', 'https://evil.example/', 'evil.example']) {
      const location = await back(evil);
      assert.equal(location, '/?done=retried&n=0&failed=0', `${JSON.stringify(evil)} -> ${location}`);
      assert.doesNotMatch(location, /^\/\/|evil/);
    }
    assert.equal(await back('/jobs?state=dead'), '/jobs?state=dead&done=retried&n=0&failed=0', 'a page of this server is kept');
    assert.equal(await back('/dlq/../jobs'), '/jobs?done=retried&n=0&failed=0', 'normalised');
  });
});

describe('metrics and health', () => {
  test('/metrics is valid Prometheus text: jobs by state, counters, duration histogram, workers, oldest due job age', async (t) => {
    const d = await startDashboard(t);
    await d.enqueue([{ id: 'm1', command: 'true' }, { id: 'm2', command: 'exit 1', max_retries: 0 }]);
    const w = await d.startWorker();
    await waitFor(async () => (await d.counts()).completed === 1 && (await d.counts()).dead === 1, { what: 'm1 completed, m2 dead', timeoutMs: 15_000 });
    await w.stop(); // flushes the worker's counters
    await d.enqueue([{ id: 'old', command: 'true', run_at: new Date(Date.now() - 90_000).toISOString() }, { id: 'later', command: 'true', delay: '1h' }]);

    const res = await d.get('/metrics');
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    const samples = new Map<string, number>();
    const typed = new Set<string>();
    for (const line of text.trimEnd().split('\n')) {
      if (line.startsWith('# TYPE ')) {
        typed.add(line.split(' ')[2]);
        continue;
      }
      if (line.startsWith('# HELP ')) continue;
      const m = /^([a-z_:][a-z0-9_:]*)(\{[a-z_]+="[^"]*"(?:,[a-z_]+="[^"]*")*\})? (-?(?:\d+(?:\.\d+)?(?:e[+-]?\d+)?|\+Inf|NaN))$/.exec(line);
      assert.ok(m, `not a sample line: ${JSON.stringify(line)}`);
      const family = m[1].replace(/_(bucket|sum|count)$/, '');
      assert.ok(typed.has(m[1]) || typed.has(family), `no # TYPE before ${m[1]}`);
      samples.set(m[1] + (m[2] ?? ''), Number(m[3]));
    }
    assert.equal(samples.get('queuectl_jobs{state="pending"}'), 1);
    assert.equal(samples.get('queuectl_jobs{state="scheduled"}'), 1);
    assert.equal(samples.get('queuectl_jobs{state="completed"}'), 1);
    assert.equal(samples.get('queuectl_jobs{state="dead"}'), 1);
    assert.equal(samples.get('queuectl_jobs_completed_total'), 1);
    assert.equal(samples.get('queuectl_jobs_failed_total'), 1);
    assert.equal(samples.get('queuectl_jobs_dead_total'), 1);
    assert.equal(samples.get('queuectl_job_duration_seconds_count{outcome="completed"}'), 1);
    assert.equal(samples.get('queuectl_job_duration_seconds_count{outcome="dead"}'), 1);
    assert.equal(samples.get('queuectl_job_duration_seconds_count{outcome="failed"}'), 0, 'm2 had no retry: its one failed run is dead');
    assert.equal(samples.get('queuectl_job_duration_seconds_bucket{outcome="completed",le="+Inf"}'), 1);
    for (const outcome of ['completed', 'failed', 'dead']) {
      const buckets = [...samples].filter(([k]) => k.startsWith(`queuectl_job_duration_seconds_bucket{outcome="${outcome}"`)).map(([, v]) => v);
      assert.equal(buckets.length, 18, 'buckets from 10 ms to 24 h, and +Inf');
      assert.deepEqual(buckets, [...buckets].sort((a, b) => a - b), 'cumulative buckets never decrease');
    }
    const build = [...samples].find(([k]) => k.startsWith('queuectl_build_info{'));
    assert.match(build?.[0] ?? '', /^queuectl_build_info\{version="\d+\.\d+\.\d+[^"]*",node="v[\d.]+"\}$/);
    assert.equal(build?.[1], 1);
    assert.equal(samples.get('queuectl_workers_alive'), 0);
    const age = samples.get('queuectl_oldest_pending_job_age_seconds')!;
    assert.ok(age >= 89 && age < 200, `oldest due job waited ~90s, got ${age}`);
  });

  test('/healthz answers ok', async (t) => {
    const d = await startDashboard(t);
    const res = await d.get('/healthz');
    assert.equal(res.status, 200);
    assert.equal(await res.text(), 'ok\n');
  });
});

describe('queuectl dashboard', () => {
  test('refuses a non-loopback host without --token (exit 2), and a short token', async (t) => {
    const d = await startDashboard(t);
    const r = await runCli(['dashboard', '--host', '0.0.0.0', '--port', '0'], { root: d.root });
    assert.equal(r.code, 2, explain(r));
    assert.match(r.stderr, /Refusing to serve the dashboard on 0\.0\.0\.0 without a token/);
    assert.match(r.stderr, /--token/);
    const short = await runCli(['dashboard', '--host', '0.0.0.0', '--token', 'abc'], { root: d.root });
    assert.equal(short.code, 2, explain(short));
    assert.match(short.stderr, /at least 12 characters/);
  });

  test('prints its URL with a fresh token, serves the page to that URL only, and stops on Ctrl+C (SIGINT) with exit 0', async (t) => {
    const d = await startDashboard(t);
    const dash = await spawnDashboard(t, d.root);
    const { url, base, token } = dash;
    // The hint is the banner's last line: it may come in a later chunk than the URL.
    await waitFor(() => /Press Ctrl\+C to stop/.test(dash.output()), { timeoutMs: 5_000, what: `the Ctrl+C hint; output: ${dash.output()}` });
    assert.ok(token.length >= 32, `a long random token, got ${token}`);
    assert.equal((await fetch(`${base}/`, { headers: HTML })).status, 401, 'the page without the token');
    const login = await fetch(url, { headers: HTML, redirect: 'manual' });
    assert.equal(login.status, 303);
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0];
    const page = await fetch(`${base}${login.headers.get('location')}`, { headers: { ...HTML, cookie } });
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<title>Overview · queuectl<\/title>/);
    const again = await spawnDashboard(t, d.root);
    assert.notEqual(again.token, token, 'each start makes a new token');
    again.child.kill('SIGKILL');
    const exited = new Promise<number | null>((resolve) => dash.child.once('exit', (code) => resolve(code)));
    dash.child.kill('SIGINT');
    const code = await Promise.race([exited, new Promise<string>((r) => setTimeout(() => r('timeout'), 5_000).unref())]);
    assert.equal(code, 0, dash.output());
  });

  test('another local user gets nothing from the default (loopback) dashboard: no job, no command, no CSRF token, no action', async (t) => {
    const why = otherUserUnavailable();
    if (why) return t.skip(why);
    const d = await startDashboard(t);
    await d.enqueue([{ id: 'secret-job', command: 'echo the-password-is-hunter2', delay: '1h' }]);
    const dash = await spawnDashboard(t, d.root);
    const probe = await asNobody(dash.base, [
      { path: '/api/jobs/secret-job' },
      { path: '/api/jobs?state=all' },
      { path: '/api/status' },
      { path: '/api/csrf' },
      { path: '/jobs/secret-job', html: true },
      { path: '/', html: true },
      { path: '/metrics' },
      { path: '/api/jobs/secret-job/cancel', method: 'POST' },
      { path: '/api/jobs/secret-job/cancel', method: 'POST', authorization: 'Bearer guessed-token-123' },
      { path: '/healthz' },
    ]);
    for (const r of probe.slice(0, -1)) {
      assert.equal(r.status, 401, `${r.method} ${r.path}: ${r.body.slice(0, 200)}`);
      // (The token form echoes the path asked for: nothing the asker did not know.)
      assert.doesNotMatch(r.body, /hunter2|the-password|"token":|csrf-token|scheduled/, `${r.path} leaks`);
    }
    assert.deepEqual(probe.at(-1), { path: '/healthz', method: 'GET', status: 200, body: 'ok\n' }, 'only the health check answers');
    assert.equal((await d.counts()).scheduled, 1, 'nothing was cancelled');
    // The token is not in the process's command line (which every user can read), and its environment is private.
    const proc = await asNobodyReads([`/proc/${dash.child.pid}/cmdline`, `/proc/${dash.child.pid}/environ`]);
    assert.doesNotMatch(proc[0], new RegExp(dash.token));
    assert.equal(proc[1], null, 'environ is not readable by another user');
    // The owner, with the URL it printed, gets everything.
    assert.equal((await fetch(`${dash.base}/api/jobs/secret-job`, { headers: { authorization: `Bearer ${dash.token}` } })).status, 200);
  });
});

interface SpawnedDashboard {
  child: import('node:child_process').ChildProcess;
  /** The URL it printed, with ?token=. */
  url: string;
  base: string;
  token: string;
  output(): string;
}

/** `queuectl dashboard --port 0` on the root as a real process; killed when the test ends. */
async function spawnDashboard(t: { after: (fn: () => void) => void }, root: string): Promise<SpawnedDashboard> {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
  delete env.QUEUECTL_DASHBOARD_TOKEN;
  const child = spawn(process.execPath, [CLI, 'dashboard', '--root', root, '--port', '0'], { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (out += s));
  const m = await waitFor(() => /(http:\/\/127\.0\.0\.1:\d+)\/\?token=([A-Za-z0-9_-]+)/.exec(out), { what: `the dashboard to print its URL with a token; output:\n${out}`, timeoutMs: 10_000 });
  return { child, url: m[0], base: m[1], token: m[2], output: () => out };
}

/** Why the other-user test cannot run here, or null: it needs root, runuser and the "nobody" account. */
function otherUserUnavailable(): string | null {
  if (process.getuid?.() !== 0) return 'needs root, to run a probe as the user "nobody" (runuser)';
  if (!existsSync('/usr/sbin/runuser') && !existsSync('/sbin/runuser')) return 'runuser not found (util-linux)';
  if (spawnSync('id', ['-u', 'nobody']).status !== 0) return 'no "nobody" account';
  return null;
}

/** Runs node as the user nobody (another local account) and returns what it printed as JSON. */
function runAsNobody(script: string, arg: string): unknown {
  const r = spawnSync('runuser', ['-u', 'nobody', '--', process.execPath, '-e', script, arg], { cwd: '/', encoding: 'utf8', timeout: 20_000, env: { PATH: process.env.PATH } });
  assert.equal(r.status, 0, `runuser -u nobody node: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

interface Probe {
  path: string;
  method?: string;
  html?: boolean;
  authorization?: string;
}

/** Requests made by another local user (nobody), as `curl http://127.0.0.1:PORT/...` would. */
async function asNobody(base: string, probes: Probe[]): Promise<{ path: string; method: string; status: number; body: string }[]> {
  const script = `
    const { base, probes } = JSON.parse(process.argv[1]);
    (async () => {
      const out = [];
      for (const p of probes) {
        const headers = { accept: p.html ? 'text/html' : 'application/json' };
        if (p.authorization) headers.authorization = p.authorization;
        const method = p.method || 'GET';
        const r = await fetch(base + p.path, { method, headers, redirect: 'manual' });
        out.push({ path: p.path, method, status: r.status, body: await r.text() });
      }
      console.log(JSON.stringify(out));
    })();`;
  return runAsNobody(script, JSON.stringify({ base, probes })) as { path: string; method: string; status: number; body: string }[];
}

/** Files as another local user (nobody) reads them: their text, or null when it may not. */
async function asNobodyReads(paths: string[]): Promise<(string | null)[]> {
  const script = `
    const fs = require('fs');
    console.log(JSON.stringify(JSON.parse(process.argv[1]).map((p) => { try { return fs.readFileSync(p, 'latin1'); } catch { return null; } })));`;
  return runAsNobody(script, JSON.stringify(paths)) as (string | null)[];
}
