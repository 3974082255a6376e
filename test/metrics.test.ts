// The counters behind /metrics and `queuectl metrics` (src/stats.ts, src/metrics.ts): they never go down
// and never count a run twice, across clean restarts, killed workers, live workers with old files, and
// several reapers folding the same files at once (real processes). The text passes `promtool check
// metrics` (Debian's prometheus package; skipped with the reason when promtool is absent).

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { formatMetrics } from '../src/metrics.js';
import { readStatus } from '../src/inspect.js';
import { DURATION_BUCKETS, readStats, retiredPath, retireStats, type StatsSnapshot, StatsRecorder, statsPath } from '../src/stats.js';
import { openStore, type Store } from '../src/store.js';
import { explain, REPO, waitFor } from './helpers.js';
import { startDashboard } from './web-helpers.js';
import { makeQueue, startWorker, type WorkerProc } from './worker-helpers.js';

type Sample = Pick<StatsSnapshot, 'completed' | 'failed' | 'dead'> & { runs: number };

const sample = (s: StatsSnapshot): Sample => ({
  completed: s.completed,
  failed: s.failed,
  dead: s.dead,
  runs: s.durations.completed.count + s.durations.failed.count + s.durations.dead.count,
});

/** Reads the counters every few ms until stopped (at the latest when the test ends); returns every reading. */
function sampler(t: { after: (fn: () => Promise<unknown>) => void }, store: Store): { stop(): Promise<Sample[]> } {
  const out: Sample[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      out.push(sample(await readStats(store)));
      await new Promise((r) => setTimeout(r, 15));
    }
  })();
  const stop = async () => {
    running = false;
    await loop;
    return out;
  };
  t.after(stop);
  return { stop };
}

async function statsFiles(root: string): Promise<string[]> {
  return (await fsp.readdir(join(root, 'workers'))).filter((n) => n.endsWith('.stats')).sort();
}

async function enqueueSpecs(q: { ok(args: string[], opts?: { input?: string }): Promise<string> }, specs: Record<string, unknown>[]): Promise<void> {
  await q.ok(['enqueue', '-'], { input: specs.map((s) => JSON.stringify(s)).join('\n') });
}

describe('counters never go backwards, and never count twice', () => {
  test('across a live worker with a day-old file, a clean restart, a killed worker and two reapers at once', { timeout: 90_000 }, async (t) => {
    const q = await makeQueue(t);
    const store = await openStore(q.root);
    const counters = sampler(t, store);
    const is = async (want: Sample, what: string) =>
      waitFor(async () => {
        const s = sample(await readStats(store));
        return s.completed === want.completed && s.failed === want.failed && s.dead === want.dead && s.runs === want.runs;
      }, { what: `${what}: counters ${JSON.stringify(want)} (now ${JSON.stringify(sample(await readStats(store)))})`, timeoutMs: 20_000 });

    // Worker A runs 3 jobs and buries 1; its counters reach its file within a flush (2 s).
    const a = await startWorker(q);
    await enqueueSpecs(q, [{ command: 'true' }, { command: 'true' }, { command: 'true' }, { command: 'exit 1', max_retries: 0 }]);
    await is({ completed: 3, failed: 1, dead: 1, runs: 4 }, 'A ran four jobs');
    const [aFile] = await statsFiles(q.root);
    assert.ok(aFile, 'A has a stats file');

    // A's file looks a day old (A was idle); a reaper in another process must not drop a live worker's counts.
    const old = new Date(Date.now() - 2 * 86_400_000);
    await fsp.utimes(join(q.root, 'workers', aFile), old, old);
    const b = await startWorker(q); // reaps before it prints "ready"
    assert.ok((await statsFiles(q.root)).includes(aFile), 'a live worker keeps its file, whatever its age');
    assert.equal(sample(await readStats(store)).completed, 3);

    // A stops cleanly: B's reaper folds its counts into retired.totals and removes its file.
    a.kill('SIGTERM');
    await a.waitForExit();
    await waitFor(async () => !(await statsFiles(q.root)).includes(aFile), { what: "B's reaper to fold A's file", timeoutMs: 20_000 });
    await is({ completed: 3, failed: 1, dead: 1, runs: 4 }, 'after A retired');

    // B runs two more, flushes, and is killed (SIGKILL: no clean exit, its heartbeat stays).
    await enqueueSpecs(q, [{ command: 'true' }, { command: 'true' }]);
    await is({ completed: 5, failed: 1, dead: 1, runs: 6 }, 'B ran two more');
    const bFile = (await statsFiles(q.root))[0];
    b.kill('SIGKILL');
    await b.waitForExit();

    // Two workers start at once; both reapers see B dead and fold its file: it must count once.
    const [c, d] = await Promise.all([startWorker(q), startWorker(q)]);
    await waitFor(async () => !(await statsFiles(q.root)).includes(bFile), { what: "a reaper to fold the killed B's file", timeoutMs: 20_000 });
    await is({ completed: 5, failed: 1, dead: 1, runs: 6 }, 'after B retired');
    await enqueueSpecs(q, [{ command: 'true' }]);
    await is({ completed: 6, failed: 1, dead: 1, runs: 7 }, 'one more on C or D');
    await stopAll([c, d]);
    await is({ completed: 6, failed: 1, dead: 1, runs: 7 }, 'after every worker stopped');

    const samples = await counters.stop();
    assert.ok(samples.length > 20, `sampled often (${samples.length})`);
    for (let i = 1; i < samples.length; i++) {
      for (const k of ['completed', 'failed', 'dead', 'runs'] as const) {
        assert.ok(samples[i][k] >= samples[i - 1][k], `${k} went down from ${samples[i - 1][k]} to ${samples[i][k]} (sample ${i})`);
      }
    }
    assert.ok(samples.every((s) => s.completed <= 6 && s.runs <= 7), 'never above the runs that happened');
  });

  test('several processes folding the same files at once count them once; a fold cut short counts nothing twice', { timeout: 60_000 }, async (t) => {
    const q = await makeQueue(t);
    const store = await openStore(q.root);
    // Five processes that are gone (no heartbeat), each with a stats file a minute old.
    const now = Date.now();
    for (let i = 0; i < 5; i++) {
      const r = new StatsRecorder(store, `wgone${i}`);
      for (let n = 0; n <= i; n++) r.record('completed', 1000 * n, now);
      r.record('failed', 5, now);
      await r.flush(now);
      const old = new Date(now - 60_000);
      await fsp.utimes(statsPath(store, `wgone${i}`), old, old);
    }
    const want = { completed: 15, failed: 5, dead: 0, runs: 20 };
    assert.deepEqual(sample(await readStats(store)), want);

    // Six real processes run retireStats at the same moment.
    const script = `
      import { openStore } from ${JSON.stringify(pathToFileURL(join(REPO, 'src/store.ts')).href)};
      import { retireStats } from ${JSON.stringify(pathToFileURL(join(REPO, 'src/stats.ts')).href)};
      const store = await openStore(process.argv[1]);
      console.log(await retireStats(store, () => true));`;
    const results = await Promise.all(Array.from({ length: 6 }, () => runNode(script, q.root)));
    const folded = results.reduce((sum, r) => sum + Number(r.trim()), 0);
    assert.equal(folded, 5, `each file folded by exactly one process (${results.map((r) => r.trim()).join(', ')})`);
    assert.deepEqual(await statsFiles(q.root), []);
    assert.deepEqual(sample(await readStats(store)), want);

    // A crash between writing retired.totals and removing a file leaves the file: it adds nothing, and the
    // next fold removes it without counting it again.
    const r = new StatsRecorder(store, 'wlate');
    r.record('dead', 2_000, now);
    await r.flush(now);
    const kept = await fsp.readFile(statsPath(store, 'wlate'), 'utf8');
    await fsp.utimes(statsPath(store, 'wlate'), new Date(now - 60_000), new Date(now - 60_000));
    assert.equal(await retireStats(store, () => true), 1);
    await fsp.writeFile(statsPath(store, 'wlate'), kept, { mode: 0o600 }); // as if the unlink never happened
    const after = { completed: 15, failed: 6, dead: 1, runs: 21 };
    assert.deepEqual(sample(await readStats(store)), after);
    await fsp.utimes(statsPath(store, 'wlate'), new Date(now - 60_000), new Date(now - 60_000));
    assert.equal(await retireStats(store, () => true), 1);
    assert.deepEqual(sample(await readStats(store)), after);
    // A process judged dead that writes again adds only its new runs.
    r.record('completed', 10, now);
    await r.flush(now);
    assert.deepEqual(sample(await readStats(store)), { ...after, completed: 16, runs: 22 });
    // A file written in the last few seconds waits (its process may have started after it was judged).
    assert.equal(await retireStats(store, () => true), 0);
    assert.ok(JSON.parse(await fsp.readFile(retiredPath(store), 'utf8')).folded.wlate, 'retired.totals remembers what it folded');
  });
});

describe('the metrics text', () => {
  test('runs of over an hour land in their bucket; the histogram has an outcome label; build_info has the version', async (t) => {
    const q = await makeQueue(t);
    const store = await openStore(q.root);
    const r = new StatsRecorder(store, 'wlong');
    const now = Date.now();
    r.record('completed', 2.5 * 3_600_000, now); // a 2.5-hour backup
    r.record('failed', 30, now);
    r.record('dead', 40, now);
    await r.flush(now);
    const text = formatMetrics({ status: await readStatus(store, now, 600), stats: await readStats(store), oldestDueAt: null, now });
    const value = (series: string) => Number(new RegExp(`^${series.replace(/[{}"+.]/g, '\\$&')} (\\S+)$`, 'm').exec(text)?.[1]);
    assert.equal(value('queuectl_job_duration_seconds_bucket{outcome="completed",le="3600"}'), 0);
    assert.equal(value('queuectl_job_duration_seconds_bucket{outcome="completed",le="7200"}'), 0);
    assert.equal(value('queuectl_job_duration_seconds_bucket{outcome="completed",le="14400"}'), 1);
    assert.equal(value('queuectl_job_duration_seconds_bucket{outcome="completed",le="+Inf"}'), 1);
    assert.equal(value('queuectl_job_duration_seconds_sum{outcome="completed"}'), 9000);
    assert.equal(value('queuectl_job_duration_seconds_count{outcome="failed"}'), 1);
    assert.equal(value('queuectl_job_duration_seconds_count{outcome="dead"}'), 1);
    assert.ok(DURATION_BUCKETS.at(-1)! >= 86_400, 'buckets up to a day');
    const { version } = JSON.parse(await fsp.readFile(join(REPO, 'package.json'), 'utf8')) as { version: string };
    assert.match(text, new RegExp(`^queuectl_build_info\\{version="${version.replace(/\./g, '\\.')}",node="v[\\d.]+"\\} 1$`, 'm'));
  });

  test('`queuectl metrics` prints what /metrics serves, and promtool check metrics passes on both', async (t) => {
    const d = await startDashboard(t);
    await d.enqueue([{ id: 'ok', command: 'true' }, { id: 'bad', command: 'exit 3', max_retries: 0 }, { id: 'later', command: 'true', delay: '1h' }]);
    const w = await d.startWorker();
    await waitFor(async () => (await d.counts()).completed === 1 && (await d.counts()).dead === 1, { what: 'ok completed, bad dead', timeoutMs: 15_000 });
    await w.stop(); // flushes the counters
    const served = await (await d.get('/metrics')).text();
    const cli = await runCliText(['metrics', '--root', d.root]);
    const steady = (text: string) => text.replace(/^queuectl_oldest_pending_job_age_seconds .*$/m, '');
    assert.equal(steady(cli), steady(served), 'the same text, apart from the age that moves with the clock');
    assert.match(cli, /^queuectl_jobs_completed_total 1$/m);
    assert.match(cli, /^queuectl_jobs_dead_total 1$/m);

    const promtool = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
    if (promtool.error) return t.skip('promtool not installed (apt-get install prometheus)');
    for (const [what, text] of [['/metrics', served], ['queuectl metrics', cli]] as const) {
      const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
      assert.equal(r.status, 0, `promtool check metrics on ${what}:\n${r.stdout}${r.stderr}`);
      assert.equal(`${r.stdout}${r.stderr}`.trim(), '', `promtool has no complaint about ${what}`);
    }
  });
});

describe('queuectl metrics, as a person types it', () => {
  test('--root before, after or as --root=DIR; piped into head; an extra argument or unknown option is exit 2', async (t) => {
    const q = await makeQueue(t);
    const { runCli, CLI } = await import('./helpers.js');
    const outputs: string[] = [];
    for (const args of [['--root', q.root, 'metrics'], ['metrics', '--root', q.root], [`--root=${q.root}`, 'metrics'], ['metrics', `--root=${q.root}`]]) {
      const r = await runCli(args);
      assert.equal(r.code, 0, explain(r));
      assert.equal(r.stderr, '');
      assert.ok(r.stdout.endsWith(' 0\n') && !r.stdout.endsWith('\n\n'), 'one newline at the end');
      outputs.push(r.stdout.replace(/^queuectl_oldest_pending_job_age_seconds .*$/m, ''));
    }
    assert.ok(outputs.every((o) => o === outputs[0]), 'the same text whichever way --root is given');
    assert.match(outputs[0], /^# HELP queuectl_build_info /);

    const head = spawnSync('sh', ['-c', `"${process.execPath}" "${CLI}" metrics --root "${q.root}" | head -1`], { encoding: 'utf8' });
    assert.match(head.stdout, /^# HELP queuectl_build_info /);
    assert.equal(head.stderr, '', 'no EPIPE stack trace');

    for (const [args, message] of [[['metrics', 'extra'], /Unexpected argument "extra": queuectl metrics/], [['metrics', '--bogus'], /Unknown option `--bogus`/]] as const) {
      const r = await runCli([...args], { root: q.root });
      assert.equal(r.code, 2, explain(r));
      assert.match(r.stderr, message);
      assert.equal(r.stdout, '');
    }
  });
});

async function stopAll(workers: WorkerProc[]): Promise<void> {
  for (const w of workers) w.kill('SIGTERM');
  await Promise.all(workers.map((w) => w.waitForExit()));
}

/** Runs an ES module script with tsx in a new node process; resolves to its stdout. */
function runNode(script: string, arg: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, arg], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (err += s));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`node exited ${code}: ${err}`))));
  });
}

/** `queuectl ARGS` (the built CLI); resolves to stdout, failing on a non-zero exit. */
async function runCliText(args: string[]): Promise<string> {
  const { runCli } = await import('./helpers.js');
  const r = await runCli(args);
  assert.equal(r.code, 0, explain(r));
  return r.stdout;
}
