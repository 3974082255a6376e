#!/usr/bin/env node
// How fast the status page answers over a big queue. Fills a root with N jobs written straight into
// pending/ (ready, scheduled and failed-awaiting-retry names) and completed/<hour>/ shards (plus a few in
// dead/), the way workers leave them, then serves the real app (dist/web/server.js) on an ephemeral port
// and times every page and API call over HTTP. Needs a build: npx tsc -p .
//
//   node bench/dashboard-scale.mjs [--jobs 100000] [--runs 5] [--root DIR] [--keep]
//
// Figures are wall-clock ms per request as seen by the client (first call, then the median of --runs).
// ids/ markers are not written (nothing on the read path needs them), so the fill is fast.

import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const dist = (p) => import(join(REPO, 'dist', p));
const { openStore, completedShard } = await dist('store.js');
const { completedPath, deadPath, pendingName } = await dist('lifecycle.js');
const { serializeJob } = await dist('job.js');
const { resolveConfig } = await dist('config.js');
const { createApp } = await dist('web/server.js');

const { values: args } = parseArgs({
  options: {
    jobs: { type: 'string', default: '100000' },
    runs: { type: 'string', default: '5' },
    root: { type: 'string' },
    keep: { type: 'boolean', default: false },
  },
});
const N = Number(args.jobs);
const RUNS = Math.max(1, Number(args.runs));
const root = args.root ?? join(await fsp.mkdtemp(join(tmpdir(), 'queuectl-dash-')), 'queue');
const store = await openStore(root);
const now = Date.now();

// ---- fill ----------------------------------------------------------------------------------------
// Half pending (80% ready, 10% scheduled, 10% failed awaiting retry), 49% completed over the last 48 hours,
// 1% dead. ids look like newJobId's: time-sortable base-36.
const iso = (ms) => new Date(ms).toISOString();
const idAt = (ms, i) => `${ms.toString(36).padStart(9, '0')}${(i % 46656).toString(36).padStart(3, '0')}-${randomBytes(4).toString('hex')}`;
const COMMANDS = ['./backup.sh /srv/data', 'python3 resize.py --width 640 img_%d.png', 'curl -fsS https://example.com/hook/%d', 'make -C /src/app test', 'echo "report %d" | mail -s nightly ops@example.com'];

function makeJob(i, state) {
  const created = now - 48 * 3600_000 + Math.floor((i / N) * 48 * 3600_000);
  const id = idAt(created, i);
  const command = COMMANDS[i % COMMANDS.length].replace('%d', String(i));
  const job = {
    id, command, state: 'pending', priority: (i % 7) - 3, attempts: 0, max_retries: 3,
    run_at: iso(created), available_at: iso(created), timeout: null, cwd: '/srv',
    created_at: iso(created), updated_at: iso(created),
  };
  if (state === 'scheduled') job.available_at = job.run_at = iso(now + 3600_000 + i);
  if (state === 'failed') {
    job.attempts = 1;
    job.available_at = iso(now + 60_000 + i);
  }
  if (state === 'completed' || state === 'dead') {
    const ok = state === 'completed';
    const started = created + 1000;
    job.state = state;
    job.attempts = ok ? 1 : 4;
    job.finished_at = job.updated_at = iso(started + 2000);
    job.exit_code = ok ? 0 : 1;
    job.signal = null;
    job.last_error = ok ? null : 'exited with status 1';
    job.output_tail = ok ? 'done\n' : 'error: connection refused\n';
    job.history = [{ attempt: 1, worker: 'wbench00000', host: 'bench', pid: 1, started_at: iso(started), ended_at: iso(started + 2000), duration_ms: 2000, exit_code: job.exit_code, signal: null, reason: ok ? 'completed' : 'failed' }];
  }
  return job;
}

async function fill() {
  const shards = new Map(); // shard -> its mkdir, awaited by every writer into it
  const tasks = [];
  for (let i = 0; i < N; i++) {
    const r = i % 100;
    const state = r < 40 ? 'pending' : r < 45 ? 'scheduled' : r < 50 ? 'failed' : r < 99 ? 'completed' : 'dead';
    tasks.push([i, state]);
  }
  let next = 0;
  const lane = async () => {
    while (next < tasks.length) {
      const [i, state] = tasks[next++];
      const job = makeJob(i, state);
      let path;
      if (state === 'completed') {
        const shard = completedShard(Date.parse(job.finished_at));
        if (!shards.has(shard)) shards.set(shard, fsp.mkdir(join(store.completed, shard), { recursive: true, mode: 0o700 }));
        await shards.get(shard);
        path = completedPath(store, shard, job.id);
      } else if (state === 'dead') path = deadPath(store, job.id);
      else path = join(store.pending, pendingName(job));
      await fsp.writeFile(path, serializeJob(job), { mode: 0o600 });
    }
  };
  await Promise.all(Array.from({ length: 64 }, lane));
  // One worker process's counters, so the throughput chart and /metrics have data.
  const minutes = {};
  for (let m = Math.floor(now / 60_000) - 59; m <= Math.floor(now / 60_000); m++) minutes[m] = { completed: 20 + (m % 17), failed: m % 5 };
  const { StatsRecorder } = await dist('stats.js');
  const recorder = new StatsRecorder(store, 'wbench00000');
  for (const [m, c] of Object.entries(minutes)) {
    for (let k = 0; k < c.completed; k++) recorder.record('completed', 2000, Number(m) * 60_000);
    for (let k = 0; k < c.failed; k++) recorder.record('failed', 2000, Number(m) * 60_000);
  }
  await recorder.flush(now);
}

const existing = (await fsp.readdir(store.pending)).length;
if (existing === 0) {
  const t = performance.now();
  await fill();
  console.log(`filled ${root} with ${N} jobs in ${((performance.now() - t) / 1000).toFixed(1)}s`);
} else {
  console.log(`using the jobs already in ${root}`);
}

// ---- serve and time ---------------------------------------------------------------------------------
const token = 'bench-token-0123456789'; // every dashboard has one (src/web/security.ts)
const app = createApp({ store, config: resolveConfig({}), viewsDir: join(REPO, 'views'), token });
const server = await new Promise((ok) => {
  const s = app.listen(0, '127.0.0.1', () => ok(s));
});
const base = `http://127.0.0.1:${server.address().port}`;

async function get(path) {
  const t = performance.now();
  const res = await fetch(base + path, { headers: { authorization: `Bearer ${token}`, accept: path.startsWith('/api') || path === '/metrics' ? 'application/json' : 'text/html' } });
  const body = await res.text();
  return { ms: performance.now() - t, status: res.status, bytes: body.length, body };
}

// Ids and cursors to ask for, found through the API itself.
const first = JSON.parse((await get('/api/jobs?state=pending&limit=50')).body);
const pendingId = first.jobs[0].id;
const completedOld = JSON.parse((await get('/api/jobs?state=completed&limit=1')).body);
const deadFirst = JSON.parse((await get('/api/jobs?state=dead&limit=1')).body);
const cursor = encodeURIComponent(first.next_cursor);

const targets = [
  ['overview', '/'],
  ['jobs: all, page 1', '/jobs'],
  ['jobs: pending, page 1', '/jobs?state=pending'],
  ['jobs: pending, page 2 (cursor)', `/jobs?state=pending&cursor=${cursor}`],
  ['jobs: scheduled', '/jobs?state=scheduled'],
  ['jobs: failed', '/jobs?state=failed'],
  ['jobs: completed', '/jobs?state=completed'],
  ['jobs: dead', '/jobs?state=dead'],
  ['jobs: q = exact id', `/jobs?q=${encodeURIComponent(pendingId)}`],
  ['jobs: q = command text (hits)', '/jobs?state=completed&q=backup.sh'],
  ['jobs: q = no match (2000-file scan)', '/jobs?q=zzz-nothing'],
  ['job page (pending)', `/jobs/${pendingId}`],
  ['job page (completed)', `/jobs/${completedOld.jobs[0].id}`],
  ['job page (dead)', `/jobs/${deadFirst.jobs[0].id}`],
  ['dead letter queue', '/dlq'],
  ['GET /api/status', '/api/status'],
  ['GET /api/jobs (pending, 50)', '/api/jobs?state=pending&limit=50'],
  ['GET /api/jobs (completed, 50)', '/api/jobs?state=completed&limit=50'],
  ['GET /api/jobs (all, 500)', '/api/jobs?limit=500'],
  ['GET /api/jobs/:id', `/api/jobs/${pendingId}`],
  ['GET /metrics', '/metrics'],
  ['GET /healthz', '/healthz'],
];

const rows = [];
for (const [label, path] of targets) {
  const times = [];
  let status = 0;
  let bytes = 0;
  for (let i = 0; i < RUNS + 1; i++) {
    const r = await get(path);
    times.push(r.ms);
    status = r.status;
    bytes = r.bytes;
  }
  const [firstMs, ...rest] = times;
  rest.sort((a, b) => a - b);
  rows.push({ label, status, firstMs, medianMs: rest[Math.floor(rest.length / 2)], maxMs: rest[rest.length - 1], bytes });
}
server.close();

console.log(`\n${N} jobs; node ${process.version}; ${RUNS} timed runs after a first call\n`);
console.log(`${'request'.padEnd(40)} ${'status'.padStart(6)} ${'first ms'.padStart(9)} ${'median'.padStart(8)} ${'max'.padStart(8)} ${'bytes'.padStart(9)}`);
for (const r of rows) {
  console.log(`${r.label.padEnd(40)} ${String(r.status).padStart(6)} ${r.firstMs.toFixed(1).padStart(9)} ${r.medianMs.toFixed(1).padStart(8)} ${r.maxMs.toFixed(1).padStart(8)} ${String(r.bytes).padStart(9)}`);
}
if (!args.keep && !args.root) await fsp.rm(dirname(root), { recursive: true, force: true });
else console.log(`\nroot kept: ${root}`);
