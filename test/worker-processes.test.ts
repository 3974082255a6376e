// `worker start --count N --processes P` through the REAL compiled CLI: the first process and the helpers
// it starts are real processes, stopped by real signals (to the first process, to a helper, to the whole
// process group as a terminal's Ctrl+C is) and killed with kill -9. Which process ran a job is read off
// the job itself ($PPID of its shell is the worker process that spawned it), not from the code under test.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { CLI, explain, waitFor } from './helpers.js';
import { enqueue, ledgerLines, makeQueue, parentOf, processGone, type Queue, readJobFile, startWorker, waitForState } from './worker-helpers.js';

/** A job that writes "<its worker's pid> <QUEUECTL_WORKER_HELPER or unset>" and waits for q.dir/go. */
const gatedJob = (q: Queue) => `echo "$PPID \${QUEUECTL_WORKER_HELPER-unset}" >> ${q.ledger}; while [ ! -e ${join(q.dir, 'go')} ]; do sleep 0.02; done`;

/** Pids of the processes whose heartbeats are in the root, by `status --json`. */
async function workerPids(q: Queue): Promise<number[]> {
  const s = JSON.parse(await q.ok(['status', '--json'])) as { workers: { pid: number; alive: boolean }[] };
  return [...new Set(s.workers.filter((w) => w.alive).map((w) => w.pid))].sort((a, b) => a - b);
}

/** `worker start` on the root as a plain child (startWorker waits for a text ready line). */
function spawnWorker(q: Queue, args: string[], opts: { detached?: boolean } = {}) {
  const child = spawn(process.execPath, [CLI, 'worker', 'start', '--root', q.root, ...args], { cwd: q.dir, detached: opts.detached ?? false, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1', QUEUECTL_ROOT: q.root } });
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (out += d));
  const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
  return { child, out: () => out, exited };
}

/** `--count 2 --processes 2` with a gated job running in each process. */
async function twoRunning(t: Parameters<typeof makeQueue>[0]) {
  const q = await makeQueue(t);
  const w = await startWorker(q, ['--count', '2', '--processes', '2']);
  const helper = (await workerPids(q)).find((p) => p !== w.pid)!;
  const a = await enqueue(q, gatedJob(q));
  const b = await enqueue(q, gatedJob(q));
  await waitFor(async () => (await ledgerLines(q)).length === 2, { timeoutMs: 10_000, what: 'both jobs running' });
  return { q, w, helper, a, b };
}

describe('worker start --processes', () => {
  test('--count 4 --processes 2: one ready line for 4 workers, jobs run in both processes, one stop ends both', async (t) => {
    const q = await makeQueue(t);
    const w = await startWorker(q, ['--count', '4', '--processes', '2']);
    assert.equal(w.ids.length, 4, w.output());
    assert.equal(w.output().match(/ ready /g)?.length, 1, w.output());
    const pids = await workerPids(q);
    assert.equal(pids.length, 2, `two worker processes: ${pids}`);
    const helper = pids.find((p) => p !== w.pid)!;
    assert.ok(pids.includes(w.pid), `${pids} include the first process ${w.pid}`);
    assert.equal(await parentOf(helper), w.pid, 'the helper is a child of the first process');

    // Four gated jobs for four workers: each process runs exactly its two, at once.
    const ids = [];
    for (let i = 0; i < 4; i++) ids.push(await enqueue(q, gatedJob(q)));
    const lines = await waitFor(async () => ((await ledgerLines(q)).length === 4 ? ledgerLines(q) : null), { timeoutMs: 10_000, what: 'four jobs running' });
    assert.deepEqual(lines.sort(), [`${w.pid} unset`, `${w.pid} unset`, `${helper} unset`, `${helper} unset`].sort(), 'two jobs in each process; jobs never see QUEUECTL_WORKER_HELPER');
    await fsp.writeFile(join(q.dir, 'go'), '');
    for (const id of ids) await waitForState(q.root, id, 'completed');
    // The helper's events are printed by the first process.
    for (const id of ids) await w.waitForOutput(new RegExp(`completed ${id} in `));

    w.kill('SIGTERM');
    assert.deepEqual(await w.waitForExit(), { code: 0, signal: null }, w.output());
    await waitFor(() => processGone(helper), { timeoutMs: 5_000, what: `the helper ${helper} to exit` });
    assert.deepEqual(await fsp.readdir(join(q.root, 'workers')).then((n) => n.filter((x) => x.endsWith('.json'))), [], 'no heartbeat left');
  });

  test('--json: the ready event names the helpers', async (t) => {
    const q = await makeQueue(t);
    const w = spawnWorker(q, ['--json', '--count=3', '--processes=3']);
    const line = await waitFor(() => w.out().split('\n').find((l) => l.includes('"ready"')), { timeoutMs: 10_000, what: `the ready event: ${w.out()}` });
    const ready = JSON.parse(line) as { workers: string[]; pid: number; helpers: number[] };
    assert.equal(ready.workers.length, 3);
    assert.equal(ready.pid, w.child.pid);
    assert.deepEqual([...ready.helpers].sort((a, b) => a - b), (await workerPids(q)).filter((p) => p !== w.child.pid));
    w.child.kill('SIGTERM');
    assert.equal(await w.exited, 0, w.out());
  });

  test('kill -9 of the first process: the helper finishes its running job and exits; nothing runs unowned', async (t) => {
    const { q, w, helper, a, b } = await twoRunning(t);
    w.kill('SIGKILL');
    await waitFor(() => processGone(w.pid), { timeoutMs: 5_000, what: 'the first process to die' });
    await fsp.writeFile(join(q.dir, 'go'), '');
    await waitFor(() => processGone(helper), { timeoutMs: 10_000, what: `the helper ${helper} to exit after its leader was killed` });
    // (The helper held the first process's stderr: the output closes only now.)
    await w.waitForExit();
    // The helper's job completed. The leader's is in processing/ under a dead worker, or already back in
    // pending/ if the helper's own recovery pass came first (a worker-lost attempt): never lost.
    const jobs = [await readJobFile(q.root, a), await readJobFile(q.root, b)];
    assert.equal(jobs.filter((j) => j.state === 'completed').length, 1, JSON.stringify(jobs.map((j) => j.state)));
    const other = jobs.find((j) => j.state !== 'completed')!;
    if (other.state === 'pending') assert.equal(other.job.history?.at(-1)?.reason, 'worker-lost');
    else assert.equal(other.state, 'processing');
  });

  test('kill -9 of a helper: the error names it, the others stop gracefully, exit 1; its job runs again', async (t) => {
    const { q, w, helper, a, b } = await twoRunning(t);
    process.kill(helper, 'SIGKILL');
    await w.waitForOutput(new RegExp(`error worker process pid ${helper} \\(workers \\S+\\) was killed by SIGKILL; stopping the others`));
    await w.waitForOutput(/stopping: finishing running jobs/);
    await fsp.writeFile(join(q.dir, 'go'), '');
    assert.deepEqual(await w.waitForExit(), { code: 1, signal: null }, w.output());
    // The next worker recovers the helper's job from its dead worker and runs it again.
    const next = await startWorker(q, ['--processes', '1']);
    await waitForState(q.root, a, 'completed');
    await waitForState(q.root, b, 'completed');
    next.kill('SIGTERM');
    await next.waitForExit();
  });

  test('Ctrl+C to the process group is a graceful stop in every process; a second one kills the jobs', async (t) => {
    const q = await makeQueue(t);
    // Its own process group, as a shell's foreground job: a signal to -pgid reaches the helper too.
    const { child, out: output, exited } = spawnWorker(q, ['--count', '2', '--processes', '2'], { detached: true });
    await waitFor(() => / ready /.test(output()), { timeoutMs: 10_000, what: `the ready line: ${output()}` });
    const a = await enqueue(q, gatedJob(q));
    const b = await enqueue(q, gatedJob(q));
    await waitFor(async () => (await ledgerLines(q)).length === 2, { timeoutMs: 10_000, what: 'both jobs running' });
    process.kill(-child.pid!, 'SIGINT');
    await waitFor(() => /stopping: finishing running jobs/.test(output()), { timeoutMs: 5_000, what: `the graceful stop: ${output()}` });
    // Not forced by the leader's message on top of the helper's own SIGINT: both jobs still run.
    assert.doesNotMatch(output(), /stopping now|interrupted/);
    assert.deepEqual([(await readJobFile(q.root, a)).state, (await readJobFile(q.root, b)).state], ['processing', 'processing']);
    process.kill(-child.pid!, 'SIGINT');
    assert.equal(await exited, 0, output());
    for (const id of [a, b]) {
      const { state, job } = await readJobFile(q.root, id);
      assert.equal(state, 'pending', `${id} back to pending after the second Ctrl+C: ${output()}`);
      assert.equal(job.attempts, 0);
    }
  });

  test('a helper stopped by its own pid stops the set gracefully, exit 0; `worker stop` signals every process', async (t) => {
    const q = await makeQueue(t);
    const w = await startWorker(q, ['--count', '2', '--processes', '2']);
    const helper = (await workerPids(q)).find((p) => p !== w.pid)!;
    process.kill(helper, 'SIGTERM');
    assert.deepEqual(await w.waitForExit(), { code: 0, signal: null }, w.output());
    assert.doesNotMatch(w.output(), /error/);

    const v = await startWorker(q, ['--count', '2', '--processes', '2']);
    const pids = await workerPids(q);
    const r = await q.cli(['worker', 'stop']);
    assert.equal(r.code, 0, explain(r));
    assert.match(r.stdout, new RegExp(`Asked 2 worker processes \\(pid (${pids[0]}, ${pids[1]}|${pids[1]}, ${pids[0]})\\) to stop`));
    assert.equal((await v.waitForExit()).code, 0, v.output());
  });

  test('in another PID namespace (unshare --pid): both processes run jobs, `worker stop` from outside stops both', { skip: process.getuid?.() === 0 ? false : 'needs root (unshare)' }, async (t) => {
    const q = await makeQueue(t);
    const w = await startWorker(q, { args: ['--count', '2', '--processes', '2'], wrap: ['unshare', '--pid', '--fork', '--mount-proc'] });
    assert.equal(w.ids.length, 2, w.output());
    const a = await enqueue(q, gatedJob(q));
    const b = await enqueue(q, gatedJob(q));
    // $PPID inside the namespace: the first process is its pid 1, the helper another pid of it.
    const lines = await waitFor(async () => ((await ledgerLines(q)).length === 2 ? ledgerLines(q) : null), { timeoutMs: 10_000, what: 'both jobs running' });
    assert.equal(new Set(lines).size, 2, `one job in each process: ${lines}`);
    await fsp.writeFile(join(q.dir, 'go'), '');
    for (const id of [a, b]) await waitForState(q.root, id, 'completed');
    const r = await q.cli(['worker', 'stop']);
    assert.equal(r.code, 0, explain(r));
    assert.deepEqual(await w.waitForExit(), { code: 0, signal: null }, w.output());
  });

  test('--processes: 1..N, default one per core; anything else is refused, nothing started', async (t) => {
    const q = await makeQueue(t);
    for (const [args, re] of [
      [['--count', '2', '--processes', '3'], /Expected --processes to be an integer from 1 to 2, got "3"/],
      [['--processes=0'], /Expected --processes to be an integer from 1 to 1, got "0"/],
      [['--processes', 'two', '--count', '4'], /Expected --processes to be an integer from 1 to 4, got "two"/],
    ] as const) {
      const r = await q.cli(['worker', 'start', ...args]);
      assert.equal(r.code, 2, explain(r));
      assert.match(r.stderr, re);
    }
    assert.deepEqual(await fsp.readdir(join(q.root, 'workers')).catch(() => []), []);
    const w = await startWorker(q, ['--count', '4']);
    assert.equal((await workerPids(q)).length, Math.min(4, availableParallelism()));
    w.kill('SIGTERM');
    assert.equal((await w.waitForExit()).code, 0, w.output());
  });
});
