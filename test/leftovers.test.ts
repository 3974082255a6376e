// Processes a job leaves behind are killed when its run ends, by every path (exit, timeout, cancel, force
// stop), also those that left its process group (setsid); a job that means to leave one running starts it
// without QUEUECTL_CLAIM. Real worker processes; processes found through /proc.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { waitFor } from './helpers.js';
import { enqueue, makeQueue, pidsWithCommand, startWorker, waitForState } from './worker-helpers.js';

/** A unique sleep, to find its processes by command line. */
const marker = (tag: string) => `sleep 300.${process.pid}${tag}`;

describe('a run takes its processes with it', () => {
  test('background children in its group and a setsid one die when the job exits 0', async (t) => {
    const q = await makeQueue(t);
    await startWorker(q);
    const [a, b] = [marker('1'), marker('2')];
    const id = await enqueue(q, `for i in $(seq 1 20); do ${a} & done; setsid nohup ${b} > /dev/null 2>&1 & exit 0`, ['--timeout', '3s']);
    const job = await waitForState(q.root, id, 'completed');
    assert.equal(job.history!.at(-1)!.reason, 'completed');
    // Killed before the job left processing/: nothing may be left the moment it is completed.
    assert.deepEqual(await pidsWithCommand(a), []);
    assert.deepEqual(await pidsWithCommand(b), []);
  });

  test('a setsid child dies with its job on a timeout', async (t) => {
    const q = await makeQueue(t, { 'max-retries': '0' });
    await startWorker(q);
    const m = marker('3');
    const id = await enqueue(q, `setsid ${m} > /dev/null 2>&1 & sleep 100`, ['--timeout', '1s']);
    const job = await waitForState(q.root, id, 'dead');
    assert.equal(job.history!.at(-1)!.reason, 'timeout');
    assert.deepEqual(await pidsWithCommand(m), []);
  });

  test('a setsid child dies with its job on cancel', async (t) => {
    const q = await makeQueue(t);
    await startWorker(q);
    const m = marker('4');
    const id = await enqueue(q, `setsid ${m} > /dev/null 2>&1 & sleep 100`);
    await waitFor(async () => (await pidsWithCommand(m)).length >= 2, { what: 'the job and its setsid child to start' });
    await q.ok(['cancel', id]);
    await waitForState(q.root, id, 'dead');
    assert.deepEqual(await pidsWithCommand(m), []);
  });

  test('a setsid child dies with its job on worker stop --force', async (t) => {
    const q = await makeQueue(t);
    const w = await startWorker(q);
    const m = marker('5');
    const id = await enqueue(q, `setsid ${m} > /dev/null 2>&1 & sleep 100`);
    await waitFor(async () => (await pidsWithCommand(m)).length >= 2, { what: 'the job and its setsid child to start' });
    await q.ok(['worker', 'stop', '--force']);
    await w.waitForExit();
    await waitForState(q.root, id, 'pending');
    assert.deepEqual(await pidsWithCommand(m), []);
  });

  test('a process started without QUEUECTL_CLAIM (the documented way) is left running', async (t) => {
    const q = await makeQueue(t);
    await startWorker(q);
    const m = marker('6');
    t.after(async () => {
      for (const pid of await pidsWithCommand(m)) process.kill(pid, 'SIGKILL');
    });
    const id = await enqueue(q, `env -u QUEUECTL_CLAIM setsid ${m} > /dev/null 2>&1 < /dev/null & exit 0`);
    await waitForState(q.root, id, 'completed');
    assert.equal((await pidsWithCommand(m)).length, 1, 'the daemon it meant to leave runs on (its job, which named it, is gone)');
  });
});
