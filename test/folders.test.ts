// The queue folders as they can be found on a real machine: a state folder replaced by a symlink (to a
// folder outside the root, or on another filesystem), and a FIFO or a symlink where a job file should be.
// Nothing is written outside the root, no reader blocks, and the errors say what is wrong.

import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { listJobsPage } from '../src/listing.js';
import { openStore } from '../src/store.js';
import { listTree, waitFor } from './helpers.js';
import { folder, makeQueue, startWorker } from './worker-helpers.js';

describe('state folders must be real folders of the root', () => {
  for (const name of ['pending', 'dead', 'tmp']) {
    test(`${name}/ replaced by a symlink to a folder outside the root: every command refuses, nothing is written there`, async (t) => {
      const q = await makeQueue(t);
      await q.ok(['enqueue', JSON.stringify({ id: 'p1', command: 'true' })]);
      const outside = join(q.dir, 'outside');
      await fsp.mkdir(outside);
      await fsp.rename(join(q.root, name), join(q.dir, `${name}.real`));
      await fsp.symlink(outside, join(q.root, name));
      for (const args of [['enqueue', '{"command":"true"}'], ['cancel', 'p1'], ['status'], ['worker', 'start']]) {
        const r = await q.cli(args, { timeoutMs: 10_000 });
        assert.equal(r.code, 1, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
        assert.match(r.stderr, new RegExp(`${name} is a symlink; every folder of a queue root must be a real folder`), args.join(' '));
      }
      assert.deepEqual(await listTree(outside), [], 'nothing was written through the link');
    });
  }

  test('a state folder on another filesystem is refused at start with a clear error, not EXDEV at every rescan', { skip: process.getuid?.() !== 0 && 'needs root (mount)' }, async (t) => {
    const q = await makeQueue(t);
    await q.ok(['status']);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', join(q.root, 'pending')]);
    let r;
    try {
      r = await q.cli(['worker', 'start'], { timeoutMs: 10_000 });
    } finally {
      spawnSync('umount', ['-l', join(q.root, 'pending')]); // before the root is removed
    }
    assert.equal(r.code, 1);
    assert.match(r.stderr, /pending is on another filesystem than .*rename\(2\) can move jobs/);
    assert.doesNotMatch(r.stderr, /EXDEV/);
  });

  test('a running worker that finds pending/ swapped for a symlink stops claiming and says why', async (t) => {
    const q = await makeQueue(t);
    const w = await startWorker(q);
    const outside = join(q.dir, 'outside');
    await fsp.mkdir(outside);
    await fsp.rename(join(q.root, 'pending'), join(q.dir, 'pending.real'));
    await fsp.symlink(outside, join(q.root, 'pending'));
    await fsp.writeFile(join(outside, 'evil.json'), JSON.stringify({ command: `touch ${q.dir}/ran` }));
    await w.waitForOutput(/error .*pending is a symlink/, 10_000);
    await new Promise((r) => setTimeout(r, 600)); // a rescan interval and more: it must not run the job
    await assert.rejects(fsp.access(join(q.dir, 'ran')));
  });
});

describe('special files where job files should be', () => {
  test('a FIFO in pending/ does not hang list, the page or a worker; the worker quarantines it', async (t) => {
    const q = await makeQueue(t);
    await q.ok(['enqueue', JSON.stringify({ id: 'normal', command: 'true', delay: '1h' })]);
    execFileSync('mkfifo', [join(q.root, 'pending', 'fifo.json')]);
    const list = await q.cli(['list', '--state', 'pending', '--json'], { timeoutMs: 5_000 });
    assert.equal(list.code, 0, list.stderr);
    const st = await q.cli(['status', '--json'], { timeoutMs: 5_000 });
    assert.equal(st.code, 0, st.stderr);
    // The page lists through the same engine, in this process: a blocking read would hang the test.
    const page = await listJobsPage(await openStore(q.root), { state: 'all', limit: 50, now: Date.now() });
    assert.deepEqual(page.jobs.map((j) => j.id), ['normal']);
    const w = await startWorker(q);
    await waitFor(async () => (await folder(q.root, 'quarantine')).some((n) => n.startsWith('fifo.json.') && n.endsWith('.reason')), { what: 'the FIFO to be quarantined' });
    const reason = (await folder(q.root, 'quarantine')).find((n) => n.endsWith('.reason'))!;
    assert.match(await fsp.readFile(join(q.root, 'quarantine', reason), 'utf8'), /not a regular file \(a FIFO/);
    assert.match(w.output(), /quarantined fifo\.json/);
  });

  test('a symlink dropped into pending/ is never followed: quarantined as a symlink', async (t) => {
    const q = await makeQueue(t);
    await q.ok(['status']);
    const secret = join(q.dir, 'secret.json');
    await fsp.writeFile(secret, JSON.stringify({ command: `touch ${q.dir}/ran` }));
    await fsp.symlink(secret, join(q.root, 'pending', 'link.json'));
    await startWorker(q);
    await waitFor(async () => (await folder(q.root, 'quarantine')).length === 2, { what: 'the symlink to be quarantined' });
    const reason = (await folder(q.root, 'quarantine')).find((n) => n.endsWith('.reason'))!;
    assert.match(await fsp.readFile(join(q.root, 'quarantine', reason), 'utf8'), /a symlink/);
    await assert.rejects(fsp.access(join(q.dir, 'ran')));
  });
});

describe('format versions', () => {
  test('a root of format 1 (an older queuectl) is upgraded to 2 when opened: its folders are made, its jobs still run', async (t) => {
    const q = await makeQueue(t);
    await q.ok(['enqueue', JSON.stringify({ id: 'old1', command: 'true' })]);
    // Back to what an older queuectl made: no waiting/, deps/, queues/, schedules/; marker 1.
    for (const d of ['waiting', 'deps', 'queues', 'schedules']) await fsp.rm(join(q.root, d), { recursive: true });
    await fsp.writeFile(join(q.root, 'format'), 'queuectl-queue 1\n');
    const doctor = await q.cli(['doctor', '--json']);
    assert.match(doctor.stdout, /of format 1 \(an older queuectl\)/);
    assert.equal((await q.cli(['status'])).code, 0);
    assert.equal(await fsp.readFile(join(q.root, 'format'), 'utf8'), 'queuectl-queue 2\n');
    for (const d of ['waiting', 'deps', 'queues', 'schedules']) assert.ok((await fsp.stat(join(q.root, d))).isDirectory(), d);
    await startWorker(q);
    await waitFor(async () => (await folder(q.root, 'pending')).length === 0 && (await folder(q.root, 'processing')).length === 0, { what: 'the old job to run' });
  });
});
