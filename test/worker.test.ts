// Workers through the REAL compiled CLI: `worker start` child processes on temp roots with tiny intervals,
// real shell commands, real signals. Every wait is a bounded poll; timings are asserted from the job
// records (started_at, duration_ms), never from how long the test took.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { promises as fsp, watch } from 'node:fs';
import { hostname } from 'node:os';
import { join, relative } from 'node:path';
import { describe, test } from 'node:test';
import { CLI, explain, waitFor } from './helpers.js';
import {
  completedCount,
  enqueue,
  folder,
  jobFiles,
  ledgerLines,
  makeQueue,
  memoryKb,
  parentOf,
  pidsWithCommand,
  processGone,
  readJobFile,
  startWorker,
  waitForState,
} from './worker-helpers.js';

/** A marker unique to this test run, for finding a job's processes by command line. */
const marker = () => `${100 + Math.floor(Math.random() * 800)}.${Math.floor(Math.random() * 1e6)}`;

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Path of the log of run `run` of job `id` (logs/<shard>/<id>.<run>.log). */
async function logFile(root: string, id: string, run: number): Promise<string> {
  for (const shard of await fsp.readdir(join(root, 'logs'))) {
    const path = join(root, 'logs', shard, `${id}.${run}.log`);
    if (await fsp.access(path).then(() => true, () => false)) return path;
  }
  throw new Error(`no log for run ${run} of ${id} under ${root}/logs`);
}

// Mostly waiting (sleep, backoff): these four run side by side.
describe('the seed scenarios', { concurrency: true }, () => {
  test('an echo job completes: one attempt, exit 0, output in the record and the log', async (t) => {
    const q = await makeQueue(t);
    const id = await enqueue(q, 'echo hello from queuectl');
    const w = await startWorker(q);
    const job = await waitForState(q.root, id, 'completed');
    assert.equal(job.attempts, 1);
    assert.equal(job.exit_code, 0);
    assert.equal(job.last_error, null);
    assert.equal(job.output_tail, 'hello from queuectl\n');
    assert.equal(job.history?.length, 1);
    assert.equal(job.history![0].reason, 'completed');
    assert.equal(job.history![0].worker, w.ids[0]);
    assert.equal(job.history![0].pid, w.pid);
    assert.equal(await fsp.readFile(await logFile(q.root, id, 1), 'utf8'), 'hello from queuectl\n[exited with status 0]\n');
    await w.waitForOutput(new RegExp(`completed ${id} in `));
    w.kill('SIGTERM');
    assert.equal((await w.waitForExit()).code, 0, w.output());
    assert.deepEqual(await folder(q.root, 'processing'), []);
    assert.deepEqual((await folder(q.root, 'workers')).filter((n) => n.endsWith('.json')), [], 'the heartbeat file is removed on a clean exit');
  });

  test('a `sleep 2` job completes and its recorded duration is at least 2s', async (t) => {
    const q = await makeQueue(t);
    const id = await enqueue(q, 'sleep 2');
    await startWorker(q);
    const job = await waitForState(q.root, id, 'completed', 8_000);
    const run = job.history![0];
    assert.equal(run.exit_code, 0);
    assert.ok(run.duration_ms >= 2000, `duration_ms ${run.duration_ms} should be >= 2000`);
    assert.ok(run.duration_ms < 4000, `duration_ms ${run.duration_ms} should be about 2000`);
    assert.equal(Date.parse(run.ended_at) - Date.parse(run.started_at), run.duration_ms);
  });

  test('`exit 2` with max_retries 2 and backoff-base 2 runs 3 times, 2s then 4s apart, then is dead', async (t) => {
    const q = await makeQueue(t, { 'backoff-base': '2' });
    const id = await enqueue(q, 'echo try $QUEUECTL_ATTEMPT; exit 2', ['--max-retries', '2']);
    const w = await startWorker(q);
    // First failure: back in pending/ with available_at 2s after the failure, attempts 1.
    await w.waitForOutput(new RegExp(`failed ${id} run 1: exited with status 2; retry in 2s`));
    const waiting = await readJobFile(q.root, id);
    assert.equal(waiting.state, 'pending');
    assert.equal(waiting.job.attempts, 1);
    assert.ok(waiting.path.endsWith(`/${String(Date.parse(waiting.job.available_at)).padStart(13, '0')}-1000-001-${id}.json`), `the retry time and attempts are in the file name: ${waiting.path}`);
    const wait = Date.parse(waiting.job.available_at) - Date.parse(waiting.job.history![0].ended_at);
    // Upper bounds below the next backoff step (4s, 8s): a loaded machine may be late, never early.
    assert.ok(wait >= 2000 && wait < 3000, `available_at should be 2s after the failure, was ${wait}ms`);

    const job = await waitForState(q.root, id, 'dead', 15_000);
    const runs = job.history!;
    assert.equal(runs.length, 3, JSON.stringify(runs));
    assert.equal(job.attempts, 3);
    assert.deepEqual(runs.map((r) => [r.attempt, r.exit_code, r.reason]), [[1, 2, 'failed'], [2, 2, 'failed'], [3, 2, 'failed']]);
    const gap1 = Date.parse(runs[1].started_at) - Date.parse(runs[0].started_at);
    const gap2 = Date.parse(runs[2].started_at) - Date.parse(runs[1].started_at);
    assert.ok(gap1 >= 2000 && gap1 < 4000, `runs 1 and 2 should start 2s apart, were ${gap1}ms`);
    assert.ok(gap2 >= 4000 && gap2 < 8000, `runs 2 and 3 should start 4s apart, were ${gap2}ms`);
    assert.equal(job.last_error, 'exited with status 2');
    assert.equal(job.exit_code, 2);
    assert.equal(job.output_tail, 'try 3\n');
    assert.match(w.output(), new RegExp(`failed ${id} run 2: exited with status 2; retry in 4s`));
    assert.match(w.output(), new RegExp(`dead ${id} after 3 runs: exited with status 2`));
  });

  test('`dlq retry` runs a dead job again: attempts reset, history kept', async (t) => {
    const q = await makeQueue(t);
    const flag = join(q.dir, 'fixed');
    const id = await enqueue(q, `test -e ${flag} || { echo not yet; exit 3; }; echo fixed now`, ['--max-retries', '0']);
    await startWorker(q);
    const dead = await waitForState(q.root, id, 'dead');
    assert.equal(dead.attempts, 1);
    assert.equal(dead.exit_code, 3);

    const listed = JSON.parse(await q.ok(['dlq', 'list', '--json'])) as { id: string; last_error: string }[];
    assert.deepEqual(listed.map((j) => [j.id, j.last_error]), [[id, 'exited with status 3']]);

    await fsp.writeFile(flag, '');
    assert.equal(await q.ok(['dlq', 'retry', id]), `Retrying ${id}\n`);
    const done = await waitForState(q.root, id, 'completed');
    assert.equal(done.attempts, 1, 'attempts start again from 0, so the rerun is attempt 1');
    assert.deepEqual(done.history!.map((r) => [r.attempt, r.reason, r.exit_code]), [[1, 'failed', 3], [2, 'completed', 0]]);
    assert.equal(done.output_tail, 'fixed now\n');
    assert.equal(await fsp.readFile(await logFile(q.root, id, 1), 'utf8'), 'not yet\n[exited with status 3]\n', 'the first run keeps its log');
    assert.equal(await fsp.readFile(await logFile(q.root, id, 2), 'utf8'), 'fixed now\n[exited with status 0]\n');
    assert.deepEqual(await folder(q.root, 'dead'), []);
  });
});

describe('the assignment scenarios', () => {
  test('an unknown command exits 127, is recorded as failed attempts and goes dead; the worker runs on', async (t) => {
    const q = await makeQueue(t);
    const id = await enqueue(q, 'no-such-command-queuectl-test', ['--max-retries', '1']);
    const w = await startWorker(q);
    const job = await waitForState(q.root, id, 'dead');
    assert.deepEqual(job.history!.map((r) => [r.exit_code, r.reason]), [[127, 'failed'], [127, 'failed']]);
    assert.equal(job.last_error, 'exited with status 127');
    assert.match(job.output_tail!, /no-such-command-queuectl-test: .*not found/);
    assert.equal(w.child.exitCode, null, 'the worker is still running');

    const next = await enqueue(q, 'echo still here');
    assert.equal((await waitForState(q.root, next, 'completed')).output_tail, 'still here\n');
  });

  test('a command that cannot start (its cwd is gone) is a failed attempt with reason spawn-error', async (t) => {
    const q = await makeQueue(t);
    const id = await enqueue(q, 'echo never', ['--cwd', join(q.dir, 'no-such-dir'), '--max-retries', '0']);
    const w = await startWorker(q);
    const job = await waitForState(q.root, id, 'dead');
    assert.equal(job.history!.length, 1);
    assert.equal(job.history![0].reason, 'spawn-error');
    assert.equal(job.history![0].exit_code, null);
    assert.match(job.last_error!, /^could not start: /);
    assert.equal(w.child.exitCode, null, 'the worker is still running');
  });

  test('4 worker processes over 500 jobs run every job exactly once', async (t) => {
    // Nothing is recovered here: a generous stale-after keeps a busy machine from judging a live worker dead.
    const q = await makeQueue(t, { 'stale-after': '5s' });
    const workers = await Promise.all([1, 2, 3, 4].map(() => startWorker(q, ['--quiet'])));
    const ids = Array.from({ length: 500 }, (_, i) => `j${String(i).padStart(3, '0')}`);
    const ndjson = ids.map((id) => JSON.stringify({ id, command: `echo ${id} >> ${q.ledger}` })).join('\n');
    assert.equal(await q.ok(['enqueue', '-'], { input: ndjson }), 'Enqueued 500 jobs\n');

    await waitFor(async () => (await completedCount(q.root)) === 500, { timeoutMs: 60_000, intervalMs: 100, what: '500 jobs in completed/' });
    const lines = await ledgerLines(q);
    assert.equal(lines.length, 500, 'one ledger line per job');
    assert.deepEqual([...lines].sort(), ids, 'every id exactly once');
    assert.deepEqual(await folder(q.root, 'pending'), []);
    assert.deepEqual(await folder(q.root, 'processing'), []);
    assert.deepEqual(await folder(q.root, 'dead'), []);

    for (const w of workers) w.kill('SIGTERM');
    for (const w of workers) assert.equal((await w.waitForExit()).code, 0, w.output());
    assert.equal(workers.map((w) => w.output()).join('').includes(' error '), false, 'no worker reported an error');
  });
});

describe('timeouts, stop and force stop', () => {
  test("a timeout kills the job's whole process group: nothing of `sh -c 'sleep & sleep'` is left", async (t) => {
    const q = await makeQueue(t);
    const m = marker();
    const id = await enqueue(q, `sh -c 'sleep ${m} & sleep ${m}'`, ['--timeout', '1s', '--max-retries', '0']);
    await startWorker(q);
    // Both sleeps run before the timeout: there is something to kill.
    await waitFor(async () => (await pidsWithCommand(`sleep ${m}`)).length >= 2, { timeoutMs: 3_000, what: 'both sleeps to run' });
    const job = await waitForState(q.root, id, 'dead', 8_000);
    assert.equal(job.history![0].reason, 'timeout');
    assert.match(job.last_error!, /^timed out after 1s/);
    assert.ok(job.history![0].duration_ms >= 1000 && job.history![0].duration_ms < 3000, `duration ${job.history![0].duration_ms}`);
    assert.deepEqual(await pidsWithCommand(`sleep ${m}`), [], 'no sleep of the job is left running');
  });

  test('SIGTERM during a job: the worker claims nothing new, finishes the job, and exits 0', async (t) => {
    const q = await makeQueue(t);
    const m = marker().replace(/^\d+/, '1');
    const first = await enqueue(q, `sleep ${m}; echo finished`, ['--priority', '-1']);
    const second = await enqueue(q, 'echo second');
    const w = await startWorker(q);
    // Once the command runs (see the todo test below for a SIGTERM that comes earlier).
    await waitFor(async () => (await pidsWithCommand(`sleep ${m}`)).length > 0, { timeoutMs: 3_000, what: 'the job to run' });
    w.kill('SIGTERM');
    await w.waitForOutput(/stopping: finishing running jobs/);
    const exit = await w.waitForExit(5_000);
    assert.equal(exit.code, 0, w.output());
    const job = (await readJobFile(q.root, first)).job;
    assert.equal(job.state, 'completed', 'the running job was finished before the exit');
    assert.equal(job.output_tail, 'finished\n');
    const waiting = await readJobFile(q.root, second);
    assert.equal(waiting.state, 'pending', 'nothing new was claimed after the stop');
    assert.equal(waiting.job.attempts, 0);
  });

  test('a SIGTERM that arrives just as the worker claims its first job is a graceful stop', async (t) => {
    const q = await makeQueue(t);
    const id = await enqueue(q, 'sleep 0.3; echo finished');
    const child = spawn(process.execPath, [CLI, 'worker', 'start', '--root', q.root], { cwd: q.dir, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    // inotify tells us of the claim (a rename into processing/) within microseconds.
    const watcher = watch(join(q.root, 'processing'), () => {
      watcher.close();
      child.kill('SIGTERM');
    });
    const [code, signal] = await new Promise<[number | null, string | null]>((resolve) => child.on('close', (c, s) => resolve([c, s])));
    watcher.close();
    assert.deepEqual({ code, signal }, { code: 0, signal: null }, `the worker should stop gracefully; output:\n${out}`);
    assert.equal((await readJobFile(q.root, id)).state, 'completed', 'the claimed job was finished');
  });

  test('a second SIGINT kills the running job, which goes back to pending without using an attempt', async (t) => {
    const q = await makeQueue(t);
    const m = marker();
    const id = await enqueue(q, `sleep ${m}`);
    const w = await startWorker(q);
    await waitFor(async () => (await pidsWithCommand(`sleep ${m}`)).length > 0, { timeoutMs: 3_000, what: 'the job to run' });
    w.kill('SIGINT');
    await w.waitForOutput(/stopping: finishing running jobs/);
    w.kill('SIGINT');
    const exit = await w.waitForExit(4_000);
    assert.equal(exit.code, 0, w.output());
    assert.match(w.output(), new RegExp(`interrupted ${id}: back to pending`));
    const { state, job } = await readJobFile(q.root, id);
    assert.equal(state, 'pending');
    assert.equal(job.attempts, 0, 'no attempt used');
    assert.equal(job.history?.at(-1)?.reason, 'interrupted');
    assert.ok(Date.parse(job.available_at) <= Date.now(), 'it may run again at once');
    assert.deepEqual(await pidsWithCommand(`sleep ${m}`), []);
  });

  test('`worker stop` stops a worker another process started, after its job, and returns when it has exited', async (t) => {
    const q = await makeQueue(t);
    const m = marker().replace(/^\d+/, '1');
    const id = await enqueue(q, `sleep ${m}; echo done`);
    const w = await startWorker(q);
    await waitFor(async () => (await pidsWithCommand(`sleep ${m}`)).length > 0, { timeoutMs: 3_000, what: 'the job to run' });
    const r = await q.cli(['worker', 'stop']);
    assert.equal(r.code, 0, explain(r));
    assert.match(r.stdout, new RegExp(`Asked 1 worker process \\(pid ${w.pid}\\) to stop after their current job`));
    assert.match(r.stdout, /All workers stopped\.\n$/);
    // When `worker stop` returned, the worker was gone and its job done.
    assert.equal((await readJobFile(q.root, id)).state, 'completed');
    // Removing its heartbeat is the worker's last act before exiting: allow it a moment to end.
    await waitFor(() => processGone(w.pid), { timeoutMs: 1_000, what: 'the worker process to exit' });
    assert.equal((await w.exited).code, 0);
    assert.equal((await q.ok(['worker', 'stop'])).trim(), 'No live workers.');
  });

  test('`worker stop --force` kills running jobs; they go back to pending with no attempt used', async (t) => {
    const q = await makeQueue(t);
    const m = marker();
    const id = await enqueue(q, `sleep ${m}`);
    const w = await startWorker(q);
    await waitFor(async () => (await pidsWithCommand(`sleep ${m}`)).length > 0, { timeoutMs: 3_000, what: 'the job to run' });
    const r = await q.cli(['worker', 'stop', '--force'], { timeoutMs: 5_000 });
    assert.equal(r.code, 0, explain(r));
    assert.equal((await w.exited).code, 0);
    const { state, job } = await readJobFile(q.root, id);
    assert.equal(state, 'pending');
    assert.equal(job.attempts, 0);
    assert.deepEqual(await pidsWithCommand(`sleep ${m}`), []);
  });

  test('`worker start --detach` runs workers in the background until `worker stop`', async (t) => {
    const q = await makeQueue(t);
    const r = await q.cli(['worker', 'start', '--detach', '--count', '2', '--processes', '2']);
    assert.equal(r.code, 0, explain(r));
    const m = /Started 2 workers in 2 processes in the background \(pid (\d+)\); log: (\S+)/.exec(r.stdout);
    assert.ok(m, r.stdout);
    const pid = Number(m[1]);
    assert.equal(m[2], join(q.root, 'logs', 'workers.log'));

    const id = await enqueue(q, 'echo in the background');
    await waitForState(q.root, id, 'completed');
    const status = JSON.parse(await q.ok(['status', '--json'])) as { workers: { pid: number; alive: boolean }[] };
    // One worker in the background process, one in the helper it started; both were up when it returned.
    const pids = status.workers.map((w) => w.pid);
    assert.equal(status.workers.filter((w) => w.alive).length, 2, JSON.stringify(status.workers));
    assert.ok(pids.includes(pid), `${pids} include ${pid}`);
    const helper = pids.find((p) => p !== pid)!;
    assert.equal(await parentOf(helper), pid);

    assert.match(await q.ok(['worker', 'stop']), /All workers stopped/);
    // The heartbeat files go last before the exit: allow the process a moment to end.
    await waitFor(async () => (await processGone(pid)) && (await processGone(helper)), { timeoutMs: 5_000, what: `the background worker (pid ${pid}) and its helper (${helper}) to exit` });
    assert.match(await fsp.readFile(m[2], 'utf8'), new RegExp(`completed ${id} in `));
  });
});

describe('choosing the next job', () => {
  test('one worker runs due jobs by priority, then available_at, then enqueue order; a delayed job never early', async (t) => {
    const q = await makeQueue(t);
    const now = Date.now();
    const at = (msAgo: number) => new Date(now - msAgo).toISOString();
    const cmd = (name: string) => `echo ${name} $(date +%s%3N) >> ${q.ledger}`;
    const add = (spec: Record<string, unknown>) => q.ok(['enqueue', JSON.stringify(spec)]);
    await add({ id: 'p5', command: cmd('p5'), priority: 5 });
    await add({ id: 'zero-late', command: cmd('zero-late'), run_at: at(1_000) });
    await add({ id: 'zero-early', command: cmd('zero-early'), run_at: at(5_000) });
    // Same priority and available_at: generated ids sort by creation, so enqueue order decides.
    const fifoA = (await add({ command: cmd('fifo-a'), run_at: at(3_000) })).trim().split(' ')[1];
    const fifoB = (await add({ command: cmd('fifo-b'), run_at: at(3_000) })).trim().split(' ')[1];
    assert.ok(fifoA < fifoB);
    await add({ id: 'neg', command: cmd('neg'), priority: -5 });
    const delayed = await enqueue(q, cmd('delayed'), ['--id', 'delayed', '--priority', '-10', '--delay', '2s']);

    await startWorker(q);
    const job = await waitForState(q.root, delayed, 'completed', 8_000);
    await waitFor(async () => ((await ledgerLines(q)).length === 7 ? true : null), { timeoutMs: 5_000, what: 'seven ledger lines' });
    const lines = (await ledgerLines(q)).map((l) => l.split(' '));
    // The six due jobs in their exact order. Where the delayed one falls depends on the machine's speed:
    // it has the best priority, so once due it goes next, and on a loaded CI box the worker can start after
    // its run_at (seen once: it ran first). What may never happen is that it starts before run_at.
    assert.deepEqual(lines.map(([name]) => name).filter((n) => n !== 'delayed'), ['neg', 'zero-early', 'fifo-a', 'fifo-b', 'zero-late', 'p5']);
    const runAt = Date.parse(job.run_at);
    const i = lines.findIndex(([name]) => name === 'delayed');
    assert.ok(Date.parse(job.history![0].started_at) >= runAt, `started ${job.history![0].started_at}, run_at ${job.run_at}`);
    assert.ok(Number(lines[i][1]) >= runAt, `the command ran at ${lines[i][1]}, before run_at ${runAt}`);
    // It is woken by its own timer, not by the next rescan (poll-interval 5 s): it starts soon after the
    // later of its run_at and the start of the job before it.
    const free = Math.max(runAt, i > 0 ? Number(lines[i - 1][1]) : 0);
    assert.ok(Number(lines[i][1]) - free < 3_000, `and not long after it: ${Number(lines[i][1]) - free} ms`);
    if (i < 6) t.diagnostic(`the worker reached the due jobs after the delayed one's run_at; it ran as number ${i + 1}`);
  });

  test('garbage files in pending/ are quarantined with a reason while the worker runs valid jobs', async (t) => {
    const q = await makeQueue(t);
    const before = await enqueue(q, 'echo before');
    const pending = join(q.root, 'pending');
    const outside = join(q.dir, 'outside.txt');
    await fsp.writeFile(outside, '{"command":"echo from outside"}');
    await fsp.writeFile(join(pending, 'garbage.json'), 'this is not json');
    await fsp.writeFile(join(pending, 'nocmd.json'), '{"foo": 1}');
    await fsp.mkdir(join(pending, 'folder.json'));
    await fsp.symlink(outside, join(pending, 'link.json'));
    await fsp.writeFile(join(pending, 'hand.json'), '{"command":"echo hi"}');

    const w = await startWorker(q);
    const accepted = await w.waitForOutput(/accepted pending\/hand\.json as (\S+)/);
    const handId = accepted[1];
    await waitForState(q.root, before, 'completed');
    const hand = await waitForState(q.root, handId, 'completed');
    assert.equal(hand.output_tail, 'hi\n');
    assert.equal(hand.source, 'hand.json');

    const expected: Record<string, RegExp> = {
      'garbage.json': /not valid JSON/,
      'nocmd.json': /"command"/,
      'folder.json': /not a regular file \(a folder\)/,
      'link.json': /not a regular file \(a symlink\)/,
    };
    const quarantined = await waitFor(async () => {
      const names = await folder(q.root, 'quarantine');
      return names.length === 8 ? names : null;
    }, { timeoutMs: 5_000, what: 'four files and four reasons in quarantine/' });
    for (const [name, reason] of Object.entries(expected)) {
      const file = quarantined.find((n) => new RegExp(`^${escapeRe(name)}\\.\\d+$`).test(n));
      assert.ok(file, `${name} in quarantine/: ${quarantined.join(', ')}`);
      assert.ok(quarantined.includes(`${file}.reason`), `${file}.reason beside it`);
      assert.match(await fsp.readFile(join(q.root, 'quarantine', `${file}.reason`), 'utf8'), reason);
    }
    assert.equal(await fsp.readFile(join(q.root, 'quarantine', quarantined.find((n) => n.startsWith('garbage.json.') && !n.endsWith('.reason'))!), 'utf8'), 'this is not json', 'kept, not deleted');
    assert.equal(await fsp.readFile(outside, 'utf8'), '{"command":"echo from outside"}', 'the symlink target is untouched');
    assert.ok((await fsp.lstat(join(q.root, 'quarantine', quarantined.find((n) => n.startsWith('link.json.') && !n.endsWith('.reason'))!))).isSymbolicLink());
    assert.deepEqual(await folder(q.root, 'pending'), []);
    assert.deepEqual(await folder(q.root, 'processing'), []);

    // And the worker runs on.
    const after = await enqueue(q, 'echo after');
    await waitForState(q.root, after, 'completed');
    assert.equal(w.child.exitCode, null);
    assert.doesNotMatch(w.output(), / error /);
  });
});

describe('output', () => {
  test('200 MB of output: the worker stays small and the log is capped with a marker and the outcome', async (t) => {
    const q = await makeQueue(t, { 'output-limit': '1MB' });
    const id = await enqueue(q, 'head -c 200000000 /dev/zero; echo the end');
    const w = await startWorker(q);
    const job = await waitForState(q.root, id, 'completed', 30_000);
    const mem = await memoryKb(w.pid);
    assert.ok(mem.hwm < 150 * 1024, `peak RSS of the worker ${Math.round(mem.hwm / 1024)} MB should stay under 150 MB`);

    const log = await fsp.readFile(await logFile(q.root, id, 1));
    const limit = 1024 * 1024;
    assert.ok(log.subarray(0, limit).equals(Buffer.alloc(limit)), 'the first output-limit bytes are the output');
    const rest = log.subarray(limit).toString('utf8');
    assert.equal(rest, `\n[output truncated: over the output-limit of ${limit} bytes]\n[exited with status 0]\n`);
    assert.ok(job.output_tail!.endsWith('the end\n'), 'the tail in the record is the end of the output');
    assert.ok(Buffer.byteLength(job.output_tail!) <= 4096, 'the record keeps a short tail');
  });

  test('`logs ID` prints the latest run with its outcome line; `--attempt N` an earlier one', async (t) => {
    const q = await makeQueue(t);
    const id = await enqueue(q, 'echo run $QUEUECTL_ATTEMPT; echo to stderr >&2; [ $QUEUECTL_ATTEMPT -ge 2 ]', ['--max-retries', '1']);
    await startWorker(q);
    await waitForState(q.root, id, 'completed');

    const latest = await q.ok(['logs', id]);
    assert.match(latest, /^run 2\n/m);
    assert.match(latest, /^to stderr\n/m);
    assert.ok(latest.endsWith('[exited with status 0]\n'), latest);
    const first = await q.ok(['logs', id, '--attempt', '1']);
    assert.match(first, /^run 1\n/m);
    assert.ok(first.endsWith('[exited with status 1]\n'), first);

    // A run that printed nothing has no log file; logs prints its outcome from the history.
    const silent = await enqueue(q, 'true');
    await waitForState(q.root, silent, 'completed');
    assert.equal(await q.ok(['logs', silent]), '[exited with status 0]\n');

    const r = await q.cli(['logs', id, '--attempt', '3']);
    assert.equal(r.code, 2, explain(r));
    assert.match(r.stderr, /has 2 runs; --attempt must be from 1 to 2/);
  });
});

describe('job control: cancel, wait, status', () => {
  test('cancel moves a pending job to dead/ as cancelled', async (t) => {
    const q = await makeQueue(t);
    const id = await enqueue(q, 'echo never', ['--delay', '1h']);
    assert.equal(await q.ok(['cancel', id]), `Cancelled ${id}\n`);
    const { state, job } = await readJobFile(q.root, id);
    assert.equal(state, 'dead');
    assert.equal(job.last_error, 'cancelled');
    assert.equal(job.attempts, 0);
  });

  test('cancel kills a running job, which goes to dead/ within a few seconds', async (t) => {
    const q = await makeQueue(t);
    const m = marker();
    const id = await enqueue(q, `sleep ${m}`);
    const w = await startWorker(q);
    await waitFor(async () => (await pidsWithCommand(`sleep ${m}`)).length > 0, { timeoutMs: 3_000, what: 'the job to run' });
    const r = await q.cli(['cancel', id], { timeoutMs: 5_000 });
    assert.equal(r.code, 0, explain(r));
    assert.equal(r.stdout, `Cancelled ${id} (was running; killed)\n`);
    const job = await waitForState(q.root, id, 'dead', 3_000);
    assert.equal(job.last_error, 'cancelled');
    assert.equal(job.history!.at(-1)!.reason, 'cancelled');
    assert.deepEqual(await pidsWithCommand(`sleep ${m}`), []);
    await w.waitForOutput(new RegExp(`dead ${id} cancelled`));
    assert.equal(w.child.exitCode, null, 'the worker carries on');
  });

  test('cancel of a running job whose worker was killed -9: dead as cancelled, its processes killed, also one that left its group', async (t) => {
    const q = await makeQueue(t, { 'stale-after': '1h' }); // nobody recovers it first
    const m = marker();
    const id = await enqueue(q, `setsid sleep ${m} > /dev/null 2>&1 & sleep ${m}`);
    const w = await startWorker(q);
    await waitFor(async () => (await pidsWithCommand(`sleep ${m}`)).length >= 2, { timeoutMs: 3_000, what: 'the job and its setsid child to run' });
    process.kill(w.pid, 'SIGKILL');
    await w.waitForExit();
    const r = await q.cli(['cancel', id], { timeoutMs: 5_000 });
    assert.equal(r.code, 0, explain(r));
    const { state, job } = await readJobFile(q.root, id);
    assert.equal(state, 'dead');
    assert.equal(job.last_error, 'cancelled');
    assert.deepEqual(await pidsWithCommand(`sleep ${m}`), [], 'the run and what it left outside its group');
  });

  test('wait: exit 0 when completed, 1 when dead, 124 on --timeout, and --all', async (t) => {
    const q = await makeQueue(t);
    const good = await enqueue(q, 'sleep 0.3');
    const bad = await enqueue(q, 'exit 1', ['--max-retries', '0']);

    const early = await q.cli(['wait', good, '--timeout', '300ms']);
    assert.equal(early.code, 124, explain(early));
    assert.match(early.stderr, /Timed out after 300ms/);

    const waits = [q.cli(['wait', good]), q.cli(['wait', bad]), q.cli(['wait', good, bad, '--json']), q.cli(['wait', '--all'])];
    await waitFor(async () => (await processesNaming(q.root, ' wait')) >= 4, { timeoutMs: 5_000, what: 'the four waits to start before there is a worker' });
    await startWorker(q);
    const [wGood, wBad, wBoth, wAll] = await Promise.all(waits);
    assert.equal(wGood.code, 0, explain(wGood));
    assert.equal(wBad.code, 1, explain(wBad));
    assert.match(wBad.stderr, new RegExp(`dead: ${bad}`));
    assert.equal(wBoth.code, 1, explain(wBoth));
    assert.deepEqual(JSON.parse(wBoth.stdout), { completed: [good], dead: [bad], timedOut: false, waiting: [] });
    assert.equal(wAll.code, 1, `a job died while waiting for all: ${explain(wAll)}`);
    assert.equal((await readJobFile(q.root, good)).state, 'completed');

    // Nothing is left to run, but the dead letter queue is not empty: --all does not ignore it.
    const again = await q.cli(['wait', '--all', '--timeout', '2s']);
    assert.equal(again.code, 1, `a job is dead: ${explain(again)}`);
    await q.ok(['dlq', 'purge']);
    const clean = await q.cli(['wait', '--all', '--timeout', '2s']);
    assert.equal(clean.code, 0, `nothing left to wait for: ${explain(clean)}`);
    const missing = await q.cli(['wait', 'no-such-job']);
    assert.equal(missing.code, 2, explain(missing));
  });

  test('status --json shows the worker with pid, host, alive and its current job while it runs', async (t) => {
    const q = await makeQueue(t);
    const m = marker();
    const id = await enqueue(q, `sleep ${m}`);
    const w = await startWorker(q);
    await waitFor(async () => (await pidsWithCommand(`sleep ${m}`)).length > 0, { timeoutMs: 3_000, what: 'the job to run' });
    const status = JSON.parse(await q.ok(['status', '--json'])) as {
      counts: Record<string, number>;
      workers: { id: string; pid: number; host: string; alive: boolean; current_job: string | null; heartbeat_at: string }[];
    };
    assert.equal(status.counts.processing, 1);
    assert.equal(status.workers.length, 1);
    const [worker] = status.workers;
    assert.deepEqual([worker.id, worker.pid, worker.host, worker.alive, worker.current_job], [w.ids[0], w.pid, hostname(), true, id]);
    assert.match(worker.heartbeat_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, 'an ISO-8601 time');
    assert.ok(Date.now() - Date.parse(worker.heartbeat_at) < 1_000, 'a recent heartbeat');

    w.kill('SIGUSR2'); // force: the job goes back, the worker exits and removes its heartbeat
    assert.equal((await w.waitForExit()).code, 0);
    const after = JSON.parse(await q.ok(['status', '--json'])) as { counts: Record<string, number>; workers: unknown[] };
    assert.deepEqual(after.workers, []);
    assert.equal(after.counts.pending, 1);
    assert.equal((await jobFiles(q.root, id)).length, 1);
  });
});

describe('running a job', () => {
  test("the command runs through sh in the job's cwd, with its env additions and QUEUECTL_* variables", async (t) => {
    const q = await makeQueue(t);
    const cwd = join(q.dir, 'work dir');
    await fsp.mkdir(cwd);
    const id = await enqueue(q, 'printf "%s|%s|%s|%s|%s" "$(pwd)" "$GREETING" "$QUEUECTL_JOB_ID" "$QUEUECTL_ATTEMPT" "$QUEUECTL_ROOT"', ['--cwd', cwd, '--env', 'GREETING=hello there']);
    await startWorker(q);
    const job = await waitForState(q.root, id, 'completed');
    assert.equal(job.output_tail, `${cwd}|hello there|${id}|1|${q.root}`);
  });

  test('the cwd defaults to the folder enqueue ran in', async (t) => {
    const q = await makeQueue(t);
    const id = await enqueue(q, 'pwd');
    await startWorker(q);
    assert.equal((await waitForState(q.root, id, 'completed')).output_tail, `${q.dir}\n`);
  });

  test('a relative --root and a job with a cwd of its own: the job runs (the shell checks its claim by an absolute path)', async (t) => {
    const q = await makeQueue(t);
    const id = await enqueue(q, 'pwd', ['--cwd', '/']);
    const w = spawn(process.execPath, [CLI, '--root', relative(q.dir, q.root), 'worker', 'start'], { cwd: q.dir, stdio: 'ignore' });
    t.after(() => { w.kill('SIGKILL'); });
    const job = await waitForState(q.root, id, 'completed');
    assert.equal(job.output_tail, '/\n');
    assert.equal(job.exit_code, 0);
    w.kill('SIGTERM');
    await new Promise((r) => w.once('exit', r));
  });

  test("the config's timeout applies to jobs that set none", async (t) => {
    const q = await makeQueue(t, { timeout: '500ms' });
    const id = await enqueue(q, 'sleep 5', ['--max-retries', '0']);
    await startWorker(q);
    const job = await waitForState(q.root, id, 'dead', 5_000);
    assert.equal(job.history![0].reason, 'timeout');
    assert.equal(job.history![0].signal, 'SIGTERM');
  });

  test('--count 3 runs three jobs at the same time in one process', async (t) => {
    const q = await makeQueue(t);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push(await enqueue(q, 'sleep 0.8', ['--id', `par${i}`]));
    const w = await startWorker(q, ['--count', '3', '--processes', '1']);
    assert.equal(w.ids.length, 3);
    const jobs = await Promise.all(ids.map((id) => waitForState(q.root, id, 'completed', 5_000)));
    const runs = jobs.map((j) => j.history![0]);
    assert.deepEqual(new Set(runs.map((r) => r.worker)), new Set(w.ids), 'each worker ran one');
    const lastStart = Math.max(...runs.map((r) => Date.parse(r.started_at)));
    const firstEnd = Math.min(...runs.map((r) => Date.parse(r.ended_at)));
    assert.ok(lastStart < firstEnd, 'all three ran at once');
  });

  test('an idle worker starts a new job through the file watcher, long before the next rescan', async (t) => {
    const q = await makeQueue(t, { 'poll-interval': '60s' });
    await startWorker(q);
    for (let i = 0; i < 3; i++) {
      const id = await enqueue(q, 'true');
      const job = await waitForState(q.root, id, 'completed', 5_000);
      // created_at is taken before the enqueue writes and fsyncs, so this bounds pick-up latency from above.
      const latency = Date.parse(job.history![0].started_at) - Date.parse(job.created_at);
      assert.ok(latency < 2_000, `picked up ${latency}ms after enqueue (the rescan is 60s away)`);
    }
  });

  test('a file dropped again under a name a worker took a moment ago is picked up at once', async (t) => {
    const q = await makeQueue(t, { 'poll-interval': '60s' });
    const w = await startWorker(q);
    const pending = join(q.root, 'pending');
    const drop = async (text: string) => {
      await fsp.writeFile(join(pending, '.drop.tmp'), text);
      await fsp.rename(join(pending, '.drop.tmp'), join(pending, 'nightly.json'));
    };
    await drop('{"command":"echo first"}');
    await w.waitForOutput(/accepted pending\/nightly\.json as \S+\n(?:.*\n)*.*completed/);
    await drop('{"command":"echo second"}');
    await w.waitForOutput(/accepted pending\/nightly\.json as \S+\n(?:.*\n)*.*accepted pending\/nightly\.json as (\S+)/, 1_500);
  });

  test('`logs --follow` prints a running job\'s output as it comes and returns when the run ends', async (t) => {
    const q = await makeQueue(t);
    const flag = join(q.dir, 'go');
    const id = await enqueue(q, `echo one; while [ ! -e ${flag} ]; do sleep 0.05; done; echo two`);
    await startWorker(q);
    await waitFor(async () => (await jobFiles(q.root, id))[0]?.state === 'processing', { timeoutMs: 3_000, what: 'the job to run' });
    const following = q.cli(['logs', id, '--follow'], { timeoutMs: 10_000 });
    await waitFor(async () => (await processesNaming(q.root, ' logs')) >= 1, { timeoutMs: 5_000, what: '`logs --follow` to start while the job runs' });
    await fsp.writeFile(flag, '');
    const r = await following;
    assert.equal(r.code, 0, explain(r));
    assert.equal(r.stdout, 'one\ntwo\n[exited with status 0]\n');
  });
});

/** How many live processes have both `root` and `word` in their command line (read from /proc). */
async function processesNaming(root: string, word: string): Promise<number> {
  let n = 0;
  for (const pid of await fsp.readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(pid)) continue;
    const cmd = (await fsp.readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).replace(/\0/g, ' ');
    if (cmd.includes(root) && cmd.includes(word)) n++;
  }
  return n;
}
