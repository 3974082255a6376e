// The Node API (src/index.ts), in process: the same validation, durability and all-or-nothing batches as
// the CLI, workers started in the calling process, and the answers of get/list/status/wait/cancel/retry
// read back through the CLI and the files (a job's state is the folder its file is in). Real temp roots,
// real commands. The packed package, used from another project, is test/api-package.test.ts.

import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { InputError, JobNotFoundError, openQueue, type Queue, type WorkerEvent, type WorkerPool } from '../src/index.js';
import { snapshotQueue, waitFor } from './helpers.js';
import { folder, ledgerLines, makeQueue, readJobFile, waitForState } from './worker-helpers.js';

type Ctx = Parameters<typeof makeQueue>[0];

/** A queue of makeQueue (fast config) opened through the API, and its workers stopped when the test ends. */
async function apiQueue(t: Ctx, config: Record<string, string> = {}) {
  const q = await makeQueue(t, config);
  const queue = await openQueue(q.root);
  const pools: WorkerPool[] = [];
  t.after(async () => {
    for (const p of pools) p.stop('force');
    await Promise.all(pools.map((p) => p.done));
  });
  const start = async (count = 1, onEvent?: (e: WorkerEvent) => void) => {
    const pool = await queue.startWorkers({ count, onEvent });
    pools.push(pool);
    return pool;
  };
  return { q, queue, start };
}

describe('openQueue', () => {
  test('creates the root on first use like the CLI, and refuses a root the CLI refuses', async (t) => {
    const { q, queue } = await apiQueue(t);
    assert.equal(queue.root, q.root);
    assert.equal(await fsp.readFile(join(q.root, 'format'), 'utf8'), 'queuectl-queue 2\n');
    await fsp.writeFile(join(q.dir, 'other'), '');
    await fsp.mkdir(join(q.dir, 'wide'), { mode: 0o777 });
    await fsp.chmod(join(q.dir, 'wide'), 0o777);
    await fsp.writeFile(join(q.dir, 'wide', 'format'), 'queuectl-queue 1\n');
    await assert.rejects(openQueue(join(q.dir, 'wide')), /writable by others/);
    await fsp.mkdir(join(q.dir, 'future'), { mode: 0o700 });
    await fsp.writeFile(join(q.dir, 'future', 'format'), 'queuectl-queue 3\n');
    await assert.rejects(openQueue(join(q.dir, 'future')), /another format \("queuectl-queue 3"\); expected "queuectl-queue 2"/);
    await assert.rejects(openQueue(''), TypeError);
  });
});

describe('enqueue', () => {
  test('one job: validated as the CLI validates it, durable when it resolves, defaults from the config', async (t) => {
    const { q, queue } = await apiQueue(t);
    await q.ok(['config', 'set', 'max-retries', '7']);
    const job = await queue.enqueue({ id: 'one', command: 'echo one', priority: -3, timeout: '5s', env: { A: '1' }, x_mine: { keep: true } });
    assert.equal(job.id, 'one');
    assert.equal(job.max_retries, 7, 'config max-retries for a job that does not set it');
    assert.equal(job.cwd, process.cwd(), 'the calling process\'s working directory, as enqueue uses where it runs');
    const onDisk = await readJobFile(q.root, 'one');
    assert.equal(onDisk.state, 'pending');
    assert.deepEqual(onDisk.job, JSON.parse(JSON.stringify(job)));
    assert.deepEqual(onDisk.job.x_mine, { keep: true });
    // The CLI sees it as any job.
    assert.match(await q.ok(['show', 'one']), /echo one/);
    const cwdNull = await openQueue(q.root, { cwd: null });
    assert.equal((await cwdNull.enqueue({ command: 'true' })).cwd, null);
  });

  test('a bad spec is refused with the CLI\'s message (InputError) and writes nothing', async (t) => {
    const { q, queue } = await apiQueue(t);
    await queue.status();
    const before = await snapshotQueue(q.root);
    await assert.rejects(queue.enqueue({ command: 'true', priority: 'high' } as never), (err: unknown) => {
      assert.ok(err instanceof InputError);
      assert.match(err.message, /^job: field "priority" must be an integer from -999 to 999/);
      return true;
    });
    const cli = await q.cli(['enqueue', JSON.stringify({ command: 'true', priority: 'high' })]);
    assert.equal(cli.code, 2);
    assert.match(cli.stderr, /job: field "priority" must be an integer from -999 to 999/);
    assert.deepEqual(await snapshotQueue(q.root), before);
  });

  test('a batch is all or nothing: one bad spec, a duplicate or a taken id enqueues none of it', async (t) => {
    const { q, queue } = await apiQueue(t);
    await queue.enqueue({ id: 'taken', command: 'true' });
    const before = await snapshotQueue(q.root);
    await assert.rejects(queue.enqueue([{ command: 'true' }, { command: '' }]), /^InputError: job 2: field "command" must not be empty/);
    await assert.rejects(queue.enqueue([{ id: 'a', command: 'true' }, { id: 'a', command: 'true' }]), /job 2: duplicate id "a" \(also used by job 1 of this batch\)/);
    await assert.rejects(queue.enqueue([{ id: 'fresh', command: 'true' }, { id: 'taken', command: 'true' }]), /job 2: id "taken" is already used by a job \(pending\)/);
    await assert.rejects(queue.enqueue([]), /Nothing to enqueue/);
    assert.deepEqual(await snapshotQueue(q.root), before);
    const jobs = await queue.enqueue([{ id: 'b1', command: 'true' }, { id: 'b2', command: 'true' }, { id: 'b3', command: 'true' }]);
    assert.deepEqual(jobs.map((j) => j.id), ['b1', 'b2', 'b3']);
    for (const id of ['b1', 'b2', 'b3']) assert.equal((await readJobFile(q.root, id)).state, 'pending');
    assert.deepEqual(await folder(q.root, 'tmp'), [], 'the commit file is gone once the batch is published');
  });
});

describe('workers in process, and the read side', () => {
  test('startWorkers runs jobs in this process; wait, get, list and status answer as the CLI does', async (t) => {
    // The workers share this process with the test: a stale-after that a busy machine cannot break.
    const { q, queue, start } = await apiQueue(t, { 'stale-after': '5s', 'heartbeat-interval': '100ms' });
    const events: WorkerEvent[] = [];
    const pool = await start(2, (e) => events.push(e));
    assert.equal(pool.ids.length, 2);
    const status = await queue.status();
    assert.deepEqual(status.workers.map((w) => w.id).sort(), [...pool.ids].sort());
    assert.ok(status.workers.every((w) => w.alive && w.pid === process.pid));
    const jobs = await queue.enqueue(Array.from({ length: 5 }, (_, i) => ({ id: `j${i}`, command: `echo ${i} >> ${q.ledger}` })));
    const failing = await queue.enqueue({ id: 'fails', command: 'exit 3', max_retries: 0 });
    const r = await queue.wait([...jobs.map((j) => j.id), failing.id], { timeoutMs: 30_000 });
    assert.deepEqual(r, { completed: ['j0', 'j1', 'j2', 'j3', 'j4'], dead: ['fails'], timedOut: false, waiting: [] });
    assert.deepEqual((await ledgerLines(q)).sort(), ['0', '1', '2', '3', '4']);
    const done = await queue.get('j3');
    assert.equal(done?.state, 'completed');
    assert.equal(done?.history?.[0].reason, 'completed');
    assert.equal((await queue.get('fails'))?.exit_code, 3);
    assert.equal(await queue.get('nothing-here'), null);
    await assert.rejects(queue.get('../x'), InputError);
    // list: the one listing engine, the CLI's order and pages.
    const completed = await queue.list({ state: 'completed' });
    assert.deepEqual(completed.jobs.map((j) => j.id).sort(), ['j0', 'j1', 'j2', 'j3', 'j4']);
    const cliOrder = (JSON.parse(await q.ok(['list', '--state', 'completed', '--json'])) as { id: string }[]).map((j) => j.id);
    assert.deepEqual(completed.jobs.map((j) => j.id), cliOrder);
    const first = await queue.list({ state: 'completed', limit: 2 });
    assert.equal(first.jobs.length, 2);
    const second = await queue.list({ state: 'completed', limit: 10, cursor: first.next_cursor! });
    assert.deepEqual([...first.jobs, ...second.jobs].map((j) => j.id), cliOrder);
    assert.deepEqual((await queue.list({ q: 'exit 3' })).jobs.map((j) => j.id), ['fails']);
    assert.deepEqual((await queue.status()).counts, { pending: 0, scheduled: 0, failed: 0, waiting: 0, processing: 0, completed: 5, dead: 1, quarantined: 0 });
    assert.ok(events.some((e) => e.type === 'completed' && e.id === 'j0'));
    assert.ok(events.some((e) => e.type === 'dead' && e.id === 'fails'));
    pool.stop('graceful');
    await pool.done;
    assert.deepEqual(await folder(q.root, 'workers').then((n) => n.filter((x) => x.endsWith('.json'))), [], 'heartbeats removed on stop');
  });

  test('cancel and retry: a scheduled job is cancelled, a running one killed, a dead one retried', async (t) => {
    // The workers share this process with the test: a stale-after that a busy machine cannot break (a
    // late heartbeat makes cancel treat the worker as dead and kill the run itself, racing its start).
    const { q, queue, start } = await apiQueue(t, { 'stale-after': '5s', 'heartbeat-interval': '100ms' });
    await queue.enqueue({ id: 'later', command: `echo later >> ${q.ledger}`, delay: '1h' });
    assert.deepEqual(await queue.cancel('later'), { id: 'later', was: 'pending', dependents: [] });
    assert.equal((await queue.get('later'))?.last_error, 'cancelled');
    await assert.rejects(queue.cancel('later'), /already dead/);
    await assert.rejects(queue.cancel('never-was'), JobNotFoundError);
    await start(1);
    await queue.enqueue({ id: 'long', command: 'sleep 30' });
    await waitForState(q.root, 'long', 'processing');
    assert.deepEqual(await queue.cancel('long'), { id: 'long', was: 'processing', dependents: [] });
    assert.equal((await readJobFile(q.root, 'long')).state, 'dead');
    // retry puts the cancelled job back; it runs and completes.
    const back = await queue.retry('later');
    assert.equal(back.attempts, 0);
    await queue.wait('later', { timeoutMs: 20_000 });
    assert.equal((await queue.get('later'))?.state, 'completed');
    assert.deepEqual(await ledgerLines(q), ['later']);
    await assert.rejects(queue.retry('later'), /is completed, not dead/);
  });

  test('wait resolves with timedOut when the time runs out, and "all" waits for the queue to drain', async (t) => {
    const { q, queue, start } = await apiQueue(t);
    await queue.enqueue({ id: 'slow', command: 'sleep 1' });
    const r = await queue.wait(['slow'], { timeoutMs: 200 });
    assert.deepEqual(r, { completed: [], dead: [], timedOut: true, waiting: ['slow'] });
    await start(1);
    const all = await queue.wait('all', { timeoutMs: 20_000 });
    assert.deepEqual(all.completed, ['slow']);
    await waitFor(async () => (await readJobFile(q.root, 'slow')).state === 'completed', { what: 'slow to be completed' });
  });

  test('startWorkers refuses a count out of range, as worker start --count does', async (t) => {
    const { queue } = await apiQueue(t);
    for (const count of [0, 257, 1.5]) await assert.rejects(queue.startWorkers({ count }), /count to be an integer from 1 to 256/);
  });
});

/** Keeps the type import used (the Queue type is part of the API). */
export type { Queue };
