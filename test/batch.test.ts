// "A batch is all or nothing", under what really happens to batches: the enqueue is killed (kill -9) at
// each step, and pending/ cannot take the batch's files (ENOSPC on a real ext4 image). Before the commit
// nothing is acknowledged and every reservation is released; after it, all of the batch becomes visible,
// once, and a retry of the same batch duplicates nothing.

import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { makeTempRoot, runCli, waitFor } from './helpers.js';
import { completedCount, folder, ledgerLines, makeQueue, startWorker } from './worker-helpers.js';

/** NDJSON of n jobs with ids <prefix>00000.., each appending its id to `ledger` when it runs. */
function batch(prefix: string, n: number, ledger: string): string {
  return Array.from({ length: n }, (_, i) => {
    const id = `${prefix}${String(i).padStart(5, '0')}`;
    return JSON.stringify({ id, command: `echo ${id} >> ${ledger}` });
  }).join('\n');
}

/** Every id marker in ids/ (the reservations). */
async function markers(root: string): Promise<string[]> {
  const out: string[] = [];
  for (const shard of await fsp.readdir(join(root, 'ids'))) out.push(...(await fsp.readdir(join(root, 'ids', shard))));
  return out;
}

describe('an enqueue killed with kill -9 in the middle of a batch', () => {
  test('killed while reserving ids: nothing is visible, the next enqueue of the same batch releases the reservations and succeeds', async (t) => {
    const q = await makeQueue(t);
    const input = batch('n', 2_000, q.ledger);
    const killed = await q.cli(['enqueue', '-'], { input, env: { QUEUECTL_FAULT: 'enqueue-reserving' } });
    assert.equal(killed.signal, 'SIGKILL', `${killed.stdout}${killed.stderr}`);
    assert.deepEqual(await folder(q.root, 'pending'), [], 'nothing of an uncommitted batch is visible');
    assert.ok((await markers(q.root)).length >= 1_000, 'half the ids were reserved when it died');
    const show = await q.cli(['show', 'n00000']);
    assert.equal(show.code, 2);
    const again = await q.cli(['enqueue', '-'], { input });
    assert.equal(again.code, 0, again.stderr);
    assert.equal((await folder(q.root, 'pending')).length, 2_000);
    assert.equal((await markers(q.root)).length, 2_000);
  });

  test('killed while reserving ids: a worker\'s recovery releases them, and the error of a clash while it lives says who holds the id', async (t) => {
    const q = await makeQueue(t);
    await q.ok(['status']);
    const input = batch('h', 200, q.ledger);
    // Frozen (SIGSTOP) half-way through its reservations: alive, so its ids are held.
    const frozen = runCli(['--root', q.root, 'enqueue', '-'], { input, env: { QUEUECTL_FAULT: 'enqueue-reserving:stop' } });
    await waitFor(async () => (await markers(q.root)).length >= 100, { what: 'half the reservations' });
    const clash = await q.cli(['enqueue', JSON.stringify({ id: 'h00000', command: 'true' })]);
    assert.equal(clash.code, 2);
    assert.match(clash.stderr, /id "h00000" is already used by an enqueue still in progress \(pid \d+ on this host\)/);
    // Now it dies.
    const pid = Number(/pid (\d+)/.exec(clash.stderr)![1]);
    process.kill(pid, 'SIGKILL');
    await frozen.catch(() => {});
    await startWorker(q);
    await waitFor(async () => (await markers(q.root)).length === 0, { timeoutMs: 10_000, what: 'recovery to release the dead enqueue\'s reservations' });
    assert.deepEqual(await folder(q.root, 'pending'), []);
    assert.deepEqual(await folder(q.root, 'tmp'), []);
  });

  for (const point of ['enqueue-after-commit', 'enqueue-publishing']) {
    test(`killed at ${point}: recovery publishes the rest, every job runs once, a retry of the batch duplicates nothing`, async (t) => {
      const q = await makeQueue(t);
      const input = batch('c', 500, q.ledger);
      const killed = await q.cli(['enqueue', '-'], { input, env: { QUEUECTL_FAULT: point } });
      assert.equal(killed.signal, 'SIGKILL');
      const visible = (await folder(q.root, 'pending')).length;
      assert.ok(point === 'enqueue-after-commit' ? visible === 0 : visible === 250, `${visible} visible at the kill`);
      await startWorker(q);
      await waitFor(async () => (await completedCount(q.root)) === 500, { timeoutMs: 30_000, what: 'all 500 jobs of the committed batch to run' });
      const runs = await ledgerLines(q);
      assert.equal(runs.length, 500);
      assert.equal(new Set(runs).size, 500, 'each once');
      const retry = await q.cli(['enqueue', '-'], { input });
      assert.equal(retry.code, 2);
      assert.match(retry.stderr, /id "c00000" is already used by a job \(completed\)/);
    });
  }
});

describe('pending/ cannot take the batch (ENOSPC on a full ext4)', { skip: process.getuid?.() !== 0 && 'needs root (loop mount)' }, () => {
  test('once one job is visible nothing is taken back: the rest waits for room, is published by a worker, runs once; a retry duplicates nothing', async (t) => {
    const tmp = await makeTempRoot(t);
    const image = join(tmp.dir, 'fs.img');
    const mnt = join(tmp.dir, 'mnt');
    await fsp.mkdir(mnt);
    const ledger = join(tmp.dir, 'ledger');
    const input = batch('b', 200, ledger);
    const outcomes: string[] = [];
    let partial: { root: string; waiting: number; visible: number } | null = null;
    try {
      await fillAndEnqueue();
    } finally {
      spawnSync('umount', ['-l', mnt]); // before the temp folder is removed
    }

    async function fillAndEnqueue(): Promise<void> {
      // A 16MB ext4 filled so that the batch's files fit in tmp/ but pending/ may not grow enough for all of
      // them: scan the free space until a batch stops half-way through its renames.
      for (let free = 200; free <= 260 && !partial; free += 2) {
        spawnSync('umount', [mnt]);
        await fsp.rm(image, { force: true });
        execFileSync('truncate', ['-s', '16M', image]);
        execFileSync('mkfs.ext4', ['-q', '-m', '0', image]);
        execFileSync('mount', ['-o', 'loop', image, mnt]);
        const root = join(mnt, 'q');
        assert.equal((await runCli(['--root', root, 'status'])).code, 0);
        const avail = Number(execFileSync('df', ['-B1024', '--output=avail', mnt], { encoding: 'utf8' }).trim().split('\n')[1]);
        execFileSync('fallocate', ['-l', String((avail - free) * 1024), join(mnt, 'filler')]);
        const r = await runCli(['--root', root, 'enqueue', '-'], { input });
        const visible = (await folder(root, 'pending')).length;
        const m = /warning: (\d+) of these jobs are not in pending\/ yet/.exec(r.stderr);
        if (r.code !== 0) {
          // Refused: nothing of it may be visible or keep an id.
          assert.match(r.stderr, /No space left on device.*nothing was enqueued/);
          assert.equal(visible, 0, `free ${free}: refused but ${visible} visible`);
          assert.deepEqual(await markers(root), [], `free ${free}: refused but ids kept`);
          assert.deepEqual(await folder(root, 'tmp'), [], `free ${free}: refused but tmp/ not cleaned`);
          outcomes.push(`${free}:refused`);
        } else if (m) {
          assert.equal(visible + Number(m[1]), 200, `free ${free}: ${visible} visible + ${m[1]} waiting`);
          partial = { root, waiting: Number(m[1]), visible };
          outcomes.push(`${free}:partial(${visible})`);
        } else {
          assert.equal(visible, 200);
          outcomes.push(`${free}:whole`);
        }
      }
      t.diagnostic(`free KB: outcome; ${outcomes.join(' ')}`);
      assert.ok(partial, `no fill level stopped a batch half-way: ${outcomes.join(' ')}`);
      const { root } = partial;
      // A retry of the same batch while the disk is full, and once there is room again, adds nothing.
      const full = await runCli(['--root', root, 'enqueue', '-'], { input });
      assert.notEqual(full.code, 0, full.stderr);
      await fsp.rm(join(mnt, 'filler'));
      const retry = await runCli(['--root', root, 'enqueue', '-'], { input });
      assert.equal(retry.code, 2, retry.stderr);
      assert.match(retry.stderr, /id "b00000" is already used by a job \(pending\)/);
      // (Its first clash made it finish the dead enqueue's committed batch: all 200 are visible now, once.)
      const names = await folder(root, 'pending');
      assert.equal(names.length, 200);
      assert.equal(new Set(names.map((n) => n.slice(-11))).size, 200, 'one file per id');
      // A worker publishes the rest of the committed batch and every job runs once.
      const q = { root, dir: tmp.dir, ledger, cli: (a: string[]) => runCli(['--root', root, ...a]), ok: async () => '' };
      const w = await startWorker(q as never);
      await waitFor(async () => (await completedCount(root)) === 200, { timeoutMs: 30_000, what: 'all 200 jobs to run' });
      const runs = (await fsp.readFile(ledger, 'utf8')).trim().split('\n');
      assert.equal(runs.length, 200);
      assert.equal(new Set(runs).size, 200);
      w.kill('SIGTERM');
      await w.waitForExit();
    }
  });
});
