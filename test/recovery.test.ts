// Crash recovery and fencing with REAL worker processes and REAL signals: a graceful restart, kill -9 in
// the middle of a job, a job that keeps killing its worker, and a worker paused with SIGSTOP past
// stale-after whose job was taken over (its result must be refused when it wakes with SIGCONT).

import assert from 'node:assert/strict';
import { watch } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { waitFor } from './helpers.js';
import {
  enqueue,
  folder,
  jobFiles,
  ledgerLines,
  makeQueue,
  pidsWithCommand,
  readJobFile,
  startWorker,
  waitForState,
} from './worker-helpers.js';

const marker = () => `${100 + Math.floor(Math.random() * 800)}.${Math.floor(Math.random() * 1e6)}`;

describe('jobs survive worker restarts', () => {
  test('a worker stopped gracefully leaves the rest in pending/; the next worker runs each job once', async (t) => {
    const q = await makeQueue(t);
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) ids.push(await enqueue(q, `sleep 0.4; echo ${i} >> ${q.ledger}`, ['--id', `job${i}`]));
    const a = await startWorker(q);
    await waitFor(async () => (await ledgerLines(q)).length >= 1, { timeoutMs: 5_000, what: 'the first job to finish' });
    a.kill('SIGTERM');
    assert.equal((await a.waitForExit()).code, 0, a.output());

    const done = (await ledgerLines(q)).length;
    assert.ok(done >= 1 && done < 4, `the stop came before the end (${done} done)`);
    assert.deepEqual(await folder(q.root, 'processing'), [], 'nothing left claimed');
    const states = await Promise.all(ids.map(async (id) => (await readJobFile(q.root, id)).state));
    assert.equal(states.filter((s) => s === 'pending').length, 4 - done);

    const b = await startWorker(q);
    for (const id of ids) await waitForState(q.root, id, 'completed');
    assert.deepEqual((await ledgerLines(q)).sort(), ['0', '1', '2', '3'], 'every job ran exactly once');
    for (const id of ids) {
      const { job } = await readJobFile(q.root, id);
      assert.equal(job.attempts, 1);
      assert.equal(job.history!.length, 1);
    }
    b.kill('SIGTERM');
    assert.equal((await b.waitForExit()).code, 0);
  });

  test('a worker killed on this host is recovered by a live one within heartbeats, not at its next recovery pass (stale-after 60s)', async (t) => {
    // With stale-after 60s a recovery pass runs every ~30s; the pid check of a heartbeat tick finds the death.
    const q = await makeQueue(t, { 'stale-after': '60s', 'heartbeat-interval': '100ms' });
    const m = marker();
    const id = await enqueue(q, `if [ "$QUEUECTL_ATTEMPT" = 1 ]; then sleep ${m}; fi; echo run $QUEUECTL_ATTEMPT`, ['--max-retries', '2']);
    const a = await startWorker(q);
    await waitFor(async () => (await pidsWithCommand(`sleep ${m}`)).length > 0, { timeoutMs: 5_000, what: 'the job to run on a' });
    const b = await startWorker(q);
    await b.waitForOutput(/ready/);
    a.kill('SIGKILL');
    await a.waitForExit();
    await b.waitForOutput(new RegExp(`recovered ${id} from dead worker`), 10_000);
    const done = await waitForState(q.root, id, 'completed');
    assert.deepEqual(done.history!.map((h) => h.reason), ['worker-lost', 'completed']);
  });

  test('kill -9 mid-job: a new worker kills the leftover process, recovers the job (worker-lost) and completes it', async (t) => {
    const q = await makeQueue(t);
    const m = marker();
    const id = await enqueue(q, `if [ "$QUEUECTL_ATTEMPT" = 1 ]; then sleep ${m}; fi; echo run $QUEUECTL_ATTEMPT done`, ['--max-retries', '2']);
    const a = await startWorker(q);
    await waitFor(async () => (await pidsWithCommand(`sleep ${m}`)).length > 0, { timeoutMs: 3_000, what: 'the job to run' });
    a.kill('SIGKILL');
    await a.waitForExit();

    // The job is still claimed by the dead worker, and its command (its own process group) still runs.
    const claimed = await jobFiles(q.root, id);
    assert.deepEqual(claimed.map((f) => f.state), ['processing']);
    assert.ok(claimed[0].name.includes(`~${a.ids[0]}~`));
    assert.ok((await pidsWithCommand(`sleep ${m}`)).length > 0, 'the orphaned command is still running');

    const b = await startWorker(q);
    const job = await waitForState(q.root, id, 'completed');
    assert.match(b.output(), new RegExp(`recovered ${id} from dead worker ${a.ids[0]} -> pending \\(killed \\d+ leftover process`));
    assert.deepEqual(job.history!.map((r) => [r.worker, r.reason]), [[a.ids[0], 'worker-lost'], [b.ids[0], 'completed']]);
    assert.match(job.history![0].error!, new RegExp(`worker ${a.ids[0]} stopped`));
    assert.equal(job.attempts, 2, 'the lost run counts as an attempt');
    assert.equal(job.output_tail, 'run 2 done\n');
    assert.deepEqual(await pidsWithCommand(`sleep ${m}`), [], 'the leftover of the first run was killed');
  });

  test('a live worker recovers the job of a worker killed with -9, without a restart', async (t) => {
    const q = await makeQueue(t);
    const m = marker();
    const a = await startWorker(q);
    const id = await enqueue(q, `[ "$QUEUECTL_ATTEMPT" != 1 ] || sleep ${m}; echo ok`);
    await waitFor(async () => (await pidsWithCommand(`sleep ${m}`)).length > 0, { timeoutMs: 3_000, what: 'worker A to run the job' });
    const b = await startWorker(q);
    a.kill('SIGKILL');
    const job = await waitForState(q.root, id, 'completed', 5_000);
    assert.deepEqual(job.history!.map((r) => [r.worker, r.reason]), [[a.ids[0], 'worker-lost'], [b.ids[0], 'completed']]);
    // Recovery is on a jittered timer of about stale-after/2 (600ms here); the pid check makes it quick.
    const recoveredAfter = Date.parse(job.history![1].started_at) - Date.parse(job.history![0].started_at);
    assert.ok(recoveredAfter < 3_000, `recovered ${recoveredAfter}ms after the run started`);
  });

  test('a job that keeps killing its worker ends in dead/ with reason worker-lost instead of looping', async (t) => {
    const q = await makeQueue(t);
    // $PPID of the job's shell is the worker process.
    const id = await enqueue(q, 'kill -9 $PPID; sleep 5', ['--max-retries', '1']);
    const workers: string[] = [];
    for (let i = 0; i < 2; i++) {
      const w = await startWorker(q);
      workers.push(w.ids[0]);
      const exit = await w.waitForExit(5_000);
      assert.equal(exit.signal, 'SIGKILL', `the job killed worker ${i + 1}`);
    }
    const c = await startWorker(q);
    const job = await waitForState(q.root, id, 'dead');
    assert.deepEqual(job.history!.map((r) => [r.worker, r.reason]), [[workers[0], 'worker-lost'], [workers[1], 'worker-lost']]);
    assert.equal(job.attempts, 2);
    assert.match(job.last_error!, /stopped \(its process is gone\)/);
    assert.match(c.output(), new RegExp(`recovered ${id} from dead worker ${workers[1]} -> dead`));
  });

  test('a worker judged dead from its heartbeat shows as stale in status', async (t) => {
    const q = await makeQueue(t);
    const a = await startWorker(q);
    a.kill('SIGSTOP');
    t.after(() => {
      a.kill('SIGCONT');
    });
    const status = await waitFor(async () => {
      const s = JSON.parse((await q.ok(['status', '--json']))) as { workers: { id: string; alive: boolean }[] };
      return s.workers.length === 1 && !s.workers[0].alive ? s : null;
    }, { timeoutMs: 3_000, what: 'the paused worker to show as not alive' });
    assert.equal(status.workers[0].id, a.ids[0]);
    a.kill('SIGCONT');
    await waitFor(async () => {
      const s = JSON.parse((await q.ok(['status', '--json']))) as { workers: { alive: boolean }[] };
      return s.workers[0]?.alive;
    }, { timeoutMs: 3_000, what: 'the resumed worker to be alive again' });
  });
});

describe('fencing: a paused worker whose job was taken over cannot move it', () => {
  test('SIGSTOP past stale-after: B recovers and completes the job; A, resumed, is fenced out', async (t) => {
    const q = await makeQueue(t);
    // Long enough that B (its start-up, stale-after, recovery) kills A's command before it ends on a
    // loaded machine: 1.x s was not, twice, beside CPU hogs.
    const m = marker().replace(/^\d+/, '3');
    const a = await startWorker(q);
    const id = await enqueue(q, `sleep ${m}; echo "$QUEUECTL_CLAIM" >> ${q.ledger}; echo finished`);
    // Pause A only once its command runs (a pause between claim and spawn would let A start it later).
    await waitFor(async () => (await pidsWithCommand(`sleep ${m}`)).length > 0, { timeoutMs: 3_000, what: 'worker A to run the job' });
    a.kill('SIGSTOP');
    t.after(() => {
      a.kill('SIGCONT');
    });
    const b = await startWorker(q);
    const job = await waitForState(q.root, id, 'completed', 15_000);
    await b.waitForOutput(new RegExp(`recovered ${id} from dead worker ${a.ids[0]} -> pending`));
    assert.deepEqual(job.history!.map((r) => [r.worker, r.reason]), [[a.ids[0], 'worker-lost'], [b.ids[0], 'completed']]);
    const lines = await ledgerLines(q);
    assert.equal(lines.length, 1, `A's command was killed as a leftover, so only B's run wrote: ${lines.join(' | ')}`);
    assert.ok(lines[0].includes(`~${b.ids[0]}~`), lines[0]);

    a.kill('SIGCONT');
    await a.waitForOutput(new RegExp(`fenced ${id}: this worker was judged dead`), 5_000);
    // A printed "fenced" after its last attempt to move the job: the record is read after that.
    const after = await readJobFile(q.root, id); // exactly one file across all states
    assert.equal(after.state, 'completed');
    assert.deepEqual(after.job.history, job.history, "B's record is untouched");
    assert.equal((await ledgerLines(q)).length, 1);
    assert.deepEqual(await folder(q.root, 'processing'), []);
    assert.deepEqual(await folder(q.root, 'pending'), []);

    // A is a working worker again and stops cleanly.
    a.kill('SIGTERM');
    assert.equal((await a.waitForExit()).code, 0, a.output());
    assert.doesNotMatch(a.output(), / error /);
  });

  test("a paused worker whose command succeeded meanwhile cannot complete the job B took over", async (t) => {
    const q = await makeQueue(t);
    const m = marker().replace(/^\d+/, '1');
    const a = await startWorker(q);
    // The command drops QUEUECTL_CLAIM from its environment, so recovery cannot find and kill it:
    // A's run goes on while A is paused and exits 0. Both runs write the claim they ran under.
    const id = await enqueue(q, `exec env -u QUEUECTL_CLAIM sh -c 'sleep ${m}; echo "$1" >> ${q.ledger}; echo "ran as $1"' sh "$QUEUECTL_CLAIM"`);
    await waitFor(async () => (await pidsWithCommand(`sleep ${m}`)).length > 0, { timeoutMs: 3_000, what: 'worker A to run the job' });
    a.kill('SIGSTOP');
    t.after(() => {
      a.kill('SIGCONT');
    });
    const b = await startWorker(q);
    const job = await waitForState(q.root, id, 'completed', 8_000);
    const lines = await ledgerLines(q);
    assert.equal(lines.length, 2, 'both runs ended (the at-least-once window)');
    assert.ok(lines[0].includes(`~${a.ids[0]}~`) && lines[1].includes(`~${b.ids[0]}~`), lines.join(' | '));
    assert.deepEqual(job.history!.map((r) => [r.worker, r.reason]), [[a.ids[0], 'worker-lost'], [b.ids[0], 'completed']]);
    assert.ok(job.output_tail!.includes(`~${b.ids[0]}~`), 'the record holds B\'s output');

    a.kill('SIGCONT');
    await a.waitForOutput(new RegExp(`fenced ${id}`), 5_000);
    const after = await readJobFile(q.root, id);
    assert.equal(after.state, 'completed');
    assert.deepEqual(after.job, job, "A's successful run did not overwrite B's record");
    assert.doesNotMatch(a.output(), new RegExp(`completed ${id}`));
  });

  test('a worker paused between its claim and the start of the command does not start it once it was taken over', async (t) => {
    const q = await makeQueue(t);
    // The fault hook stops A (SIGSTOP) right after its claim rename, before it reads the job or spawns.
    const a = await startWorker(q, { env: { QUEUECTL_FAULT: 'after-claim:stop' } });
    t.after(() => {
      a.kill('SIGCONT');
    });
    const id = await enqueue(q, `echo "$QUEUECTL_CLAIM" >> ${q.ledger}`);
    await waitFor(async () => (await jobFiles(q.root, id))[0]?.state === 'processing', { timeoutMs: 3_000, what: 'A to claim the job' });
    assert.deepEqual(await ledgerLines(q), [], 'A was paused before starting the command');

    const b = await startWorker(q);
    const job = await waitForState(q.root, id, 'completed', 5_000);
    assert.deepEqual(job.history!.map((r) => [r.worker, r.reason]), [[a.ids[0], 'worker-lost'], [b.ids[0], 'completed']]);
    assert.equal((await ledgerLines(q)).length, 1);

    a.kill('SIGCONT');
    await a.waitForOutput(new RegExp(`fenced ${id}|error`), 5_000);
    const lines = await ledgerLines(q);
    assert.deepEqual(lines.map((l) => l.split('~')[1]), [b.ids[0]], `only B ran the command; ledger: ${lines.join(' | ')}`);
  });
});

