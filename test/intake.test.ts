// Files producers drop into pending/: taken in once, never replaced by recovery, waited for when they are
// still being written in place, and what could not be taken in is listed and can be put back. Real worker
// processes on real temp roots.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { markerPath, pendingName } from '../src/lifecycle.js';
import { openStore } from '../src/store.js';
import { waitFor } from './helpers.js';
import { folder, ledgerLines, makeQueue, readJobFile, startWorker, waitForState } from './worker-helpers.js';

/** Drops a job as a producer should: written elsewhere on the filesystem, renamed into pending/. */
async function drop(root: string, dir: string, name: string, spec: unknown): Promise<void> {
  const tmp = join(dir, `${name}.producer`);
  await fsp.writeFile(tmp, typeof spec === 'string' ? spec : JSON.stringify(spec));
  await fsp.rename(tmp, join(root, 'pending', name));
}

describe('recovery of a dropped file', () => {
  test('a worker killed while taking in pending/a.json does not let recovery replace a newer a.json', async (t) => {
    const q = await makeQueue(t);
    await q.ok(['status']);
    await drop(q.root, q.dir, 'a.json', { command: `echo A >> ${q.ledger}` });
    const w1 = await startWorker(q, { env: { QUEUECTL_FAULT: 'after-claim' } }).catch(() => null);
    if (w1) await w1.waitForExit();
    await waitFor(async () => (await folder(q.root, 'processing')).length === 1, { what: 'the killed worker to leave its claim of a.json' });
    // The name is free again: a producer drops a new job under it (even `mv -n` would succeed).
    await drop(q.root, q.dir, 'a.json', { command: `echo B >> ${q.ledger}` });
    await startWorker(q);
    await waitFor(async () => (await ledgerLines(q)).length === 2, { timeoutMs: 10_000, what: 'both jobs to run' });
    assert.deepEqual((await ledgerLines(q)).sort(), ['A', 'B']);
    assert.deepEqual(await folder(q.root, 'quarantine'), []);
  });
});

/** A record as enqueue writes it (attempts 0, available_at = run_at), for a producer that writes its own. */
function fullRecord(id: string, command: string, extra: Record<string, unknown> = {}) {
  const iso = new Date().toISOString();
  return { id, command, state: 'pending', priority: 0, queue: 'default', attempts: 0, max_retries: 0, run_at: iso, available_at: iso, timeout: null, cwd: null, created_at: iso, updated_at: iso, ...extra };
}

describe('a complete record dropped under its queuectl name', () => {
  test('runs from where it was dropped, once: its id is reserved on the dropped file itself, no copy is made', async (t) => {
    const q = await makeQueue(t);
    const w = await startWorker(q);
    const store = await openStore(q.root);
    const jobs = [
      fullRecord('adopted1', `echo one >> ${q.ledger}`),
      fullRecord('adopted2', `echo two >> ${q.ledger}`, { priority: -5, queue: 'backups' }),
    ];
    const inodes = new Map<string, number>();
    for (const j of jobs) {
      const name = pendingName(j);
      const tmp = join(q.dir, `${j.id}.producer`);
      await fsp.writeFile(tmp, JSON.stringify(j));
      inodes.set(j.id, (await fsp.stat(tmp)).ino);
      await fsp.rename(tmp, join(q.root, 'pending', name));
      const done = await waitForState(q.root, j.id, 'completed');
      assert.equal(done.source, name);
      assert.equal(done.queue, j.queue);
      // intake would have linked a record of its own (another inode) and renamed it into pending/.
      assert.equal((await fsp.stat(markerPath(store, j.id))).ino, inodes.get(j.id), `${j.id}: the marker is the dropped file`);
      await w.waitForOutput(new RegExp(`accepted pending/${name.replace(/[.@]/g, '\\$&')} as ${j.id}\\n[^]*completed ${j.id}`));
    }
    assert.deepEqual((await ledgerLines(q)).sort(), ['one', 'two']);
    assert.equal(w.output().match(/accepted /g)?.length, 2, w.output());
    assert.deepEqual(await folder(q.root, 'quarantine'), []);
    assert.deepEqual(await folder(q.root, 'processing'), []);
  });

  test('one reusing the id of a completed or a dead job is quarantined as "already used"; the finished job is untouched', async (t) => {
    const q = await makeQueue(t);
    await q.ok(['enqueue', '--id', 'done1', '--', `echo first >> ${q.ledger}`]);
    await q.ok(['enqueue', '--id', 'dead1', '--max-retries', '0', '--', `echo failed >> ${q.ledger}; exit 3`]);
    await startWorker(q);
    const before = [await waitForState(q.root, 'done1', 'completed'), await waitForState(q.root, 'dead1', 'dead')];
    for (const id of ['done1', 'dead1']) {
      const j = fullRecord(id, `echo again-${id} >> ${q.ledger}`);
      const tmp = join(q.dir, `${id}.producer`);
      await fsp.writeFile(tmp, JSON.stringify(j));
      await fsp.rename(tmp, join(q.root, 'pending', pendingName(j)));
    }
    await waitFor(async () => (await folder(q.root, 'quarantine')).filter((n) => n.endsWith('.reason')).length === 2, { what: 'both files to be quarantined' });
    for (const r of (await folder(q.root, 'quarantine')).filter((n) => n.endsWith('.reason'))) {
      assert.match(await fsp.readFile(join(q.root, 'quarantine', r), 'utf8'), /id "(done1|dead1)" is already used by another job/);
    }
    assert.deepEqual((await readJobFile(q.root, 'done1')).job, before[0]);
    assert.deepEqual((await readJobFile(q.root, 'dead1')).job, before[1]);
    assert.deepEqual((await ledgerLines(q)).sort(), ['failed', 'first']);
    assert.deepEqual(await folder(q.root, 'pending'), []);
  });

  test('one reusing the id of a job still scheduled, waiting or running is quarantined as "already used"; the live jobs run once, as enqueued', async (t) => {
    const q = await makeQueue(t);
    await q.ok(['enqueue', '--id', 'later1', '--delay', '1h', '--', `echo later1 >> ${q.ledger}`]);
    await q.ok(['enqueue', '--id', 'gate1', '--delay', '1h', '--', 'true']);
    await q.ok(['enqueue', '--id', 'waits1', '--after', 'gate1', '--', `echo waits1 >> ${q.ledger}`]);
    const running = `${q.dir}/running1.go`;
    await q.ok(['enqueue', '--id', 'running1', '--', `echo running1 >> ${q.ledger}; while [ ! -e ${running} ]; do sleep 0.05; done`]);
    const w = await startWorker(q, ['--count', '2']);
    await waitForState(q.root, 'running1', 'processing');
    for (const id of ['later1', 'waits1', 'running1']) {
      // The record enqueue would write for a new job of that id, due now: only the id is not free.
      const j = fullRecord(id, `echo again-${id} >> ${q.ledger}`);
      await drop(q.root, q.dir, pendingName(j), j);
    }
    await waitFor(async () => (await folder(q.root, 'quarantine')).filter((n) => n.endsWith('.reason')).length === 3, { what: 'the three files to be quarantined', timeoutMs: 10_000 });
    for (const r of (await folder(q.root, 'quarantine')).filter((n) => n.endsWith('.reason'))) {
      assert.match(await fsp.readFile(join(q.root, 'quarantine', r), 'utf8'), /id "(later1|waits1|running1)" is already used by another job/);
    }
    await fsp.writeFile(running, '');
    await waitForState(q.root, 'running1', 'completed');
    assert.deepEqual(await ledgerLines(q), ['running1'], w.output());
    assert.equal((await readJobFile(q.root, 'later1')).job.command, `echo later1 >> ${q.ledger}`);
    assert.equal((await readJobFile(q.root, 'waits1')).job.command, `echo waits1 >> ${q.ledger}`);
    assert.equal((await readJobFile(q.root, 'waits1')).state, 'waiting');
  });

  test('one that differs from what intake would make of it (priority, attempts) is taken in as a copy and runs once as that', async (t) => {
    const q = await makeQueue(t);
    await startWorker(q);
    const store = await openStore(q.root);
    // The name says priority 0 but the record -3; the name and record say attempts 2 (intake starts at 0).
    const cases = [
      { name: pendingName(fullRecord('mismatch1', '')), job: fullRecord('mismatch1', `echo m1 >> ${q.ledger}`, { priority: -3 }) },
      { name: pendingName(fullRecord('mismatch2', '', { attempts: 2 })), job: fullRecord('mismatch2', `echo m2 >> ${q.ledger}`, { attempts: 2 }) },
    ];
    for (const c of cases) {
      const tmp = join(q.dir, `${c.job.id}.producer`);
      await fsp.writeFile(tmp, JSON.stringify(c.job));
      const ino = (await fsp.stat(tmp)).ino;
      await fsp.rename(tmp, join(q.root, 'pending', c.name));
      const done = await waitForState(q.root, c.job.id, 'completed');
      assert.notEqual((await fsp.stat(markerPath(store, c.job.id))).ino, ino, `${c.job.id}: taken in, not run from the dropped file`);
      assert.equal(done.attempts, 1);
      assert.equal(done.priority, c.job.priority);
    }
    assert.deepEqual((await ledgerLines(q)).sort(), ['m1', 'm2']);
    assert.deepEqual(await folder(q.root, 'quarantine'), []);
  });
});

/** A producer that writes `text` in place at `path`: its first 10 bytes, then the rest 400 ms later (another process). */
async function writeInTwoParts(path: string, text: string): Promise<void> {
  const producer = spawn(process.execPath, ['-e', `
    const fs = require('fs');
    const fd = fs.openSync(${JSON.stringify(path)}, 'w');
    fs.writeSync(fd, ${JSON.stringify(text.slice(0, 10))});
    setTimeout(() => { fs.writeSync(fd, ${JSON.stringify(text.slice(10))}); fs.closeSync(fd); }, 400);
  `]);
  await new Promise((r) => producer.on('close', r));
}

describe('producers that write in place', () => {
  test('a file written into pending/ in two parts, 400 ms apart, is waited for and taken in, not quarantined', async (t) => {
    const q = await makeQueue(t);
    await startWorker(q);
    await writeInTwoParts(join(q.root, 'pending', 'slow.json'), JSON.stringify({ command: `echo slow >> ${q.ledger}` }));
    const job = await waitForState(q.root, 'slow', 'completed');
    assert.equal(job.source, 'slow.json');
    assert.deepEqual(await ledgerLines(q), ['slow']);
    assert.deepEqual(await folder(q.root, 'quarantine'), []);
  });

  test('a record written in place under its queuectl name, in two parts 400 ms apart, is waited for and runs; so does a plain spec under such a name', async (t) => {
    const q = await makeQueue(t);
    const w = await startWorker(q);
    // The whole record, written in place: the worker claims it half-written (a queuectl name is claimed at
    // once, not first taken in) and must wait for it as for any dropped file, not quarantine its first half.
    const j = fullRecord('inplace1', `echo full >> ${q.ledger}`);
    await writeInTwoParts(join(q.root, 'pending', pendingName(j)), JSON.stringify(j));
    const done = await waitForState(q.root, 'inplace1', 'completed');
    assert.equal(done.source, pendingName(j));
    // Under a queuectl-style name but not a record (no id, no attempts): checked like any dropped file.
    const plain = pendingName(fullRecord('plain1', ''));
    await drop(q.root, q.dir, plain, { id: 'plain1', command: `echo plain >> ${q.ledger}` });
    await waitForState(q.root, 'plain1', 'completed');
    assert.deepEqual((await ledgerLines(q)).sort(), ['full', 'plain']);
    assert.deepEqual(await folder(q.root, 'quarantine'), [], w.output());
  });

  test('50 jobs written in place with the shell (`printf ... > pending/x.json`) all run', async (t) => {
    const q = await makeQueue(t);
    await startWorker(q);
    const script = `for i in $(seq 1 50); do printf '{"command":"echo %s >> ${q.ledger}"}' "$i" > ${q.root}/pending/inplace-$i.json; done`;
    await new Promise((r) => spawn('sh', ['-c', script]).on('close', r));
    await waitFor(async () => (await ledgerLines(q)).length === 50, { timeoutMs: 20_000, what: '50 in-place jobs to run' });
    assert.deepEqual(await folder(q.root, 'quarantine'), []);
  });

  test('a file that stays invalid is quarantined with a reason that says how to write a job, and can be released once fixed', async (t) => {
    const q = await makeQueue(t);
    await startWorker(q);
    const path = join(q.root, 'pending', 'broken.json');
    // Written in place and left incomplete (the producer died half-way).
    await fsp.writeFile(path, '{"command": "echo fixed >> ');
    await waitFor(async () => (await folder(q.root, 'quarantine')).length === 2, { timeoutMs: 10_000, what: 'broken.json to be quarantined' });
    const list = JSON.parse(await q.ok(['quarantine', 'list', '--json'])) as { name: string; original_name: string; reason: string }[];
    assert.equal(list.length, 1);
    assert.equal(list[0].original_name, 'broken.json');
    assert.match(list[0].reason, /not valid JSON/);
    assert.match(list[0].reason, /still being written.*rename it into pending\//);
    // The person fixes it in quarantine/ and releases it: back to pending/ under its name, checked again.
    await fsp.writeFile(join(q.root, 'quarantine', list[0].name), JSON.stringify({ command: `echo fixed >> ${q.ledger}` }));
    const out = await q.ok(['quarantine', 'release', list[0].name]);
    assert.match(out, /Released .* as pending\/broken\.json/);
    await waitForState(q.root, 'broken', 'completed');
    assert.deepEqual(await ledgerLines(q), ['fixed']);
    assert.deepEqual(await folder(q.root, 'quarantine'), []);
  });

  test('quarantine release never replaces a file of the same name in pending/', async (t) => {
    const q = await makeQueue(t);
    await q.ok(['status']);
    await fsp.writeFile(join(q.root, 'quarantine', 'x.json.1700000000000'), '{"command":"echo released"}');
    await fsp.writeFile(join(q.root, 'quarantine', 'x.json.1700000000000.reason'), 'not valid JSON\n');
    await drop(q.root, q.dir, 'x.json', { command: 'echo newer' });
    const out = await q.ok(['quarantine', 'release', 'x.json.1700000000000']);
    assert.match(out, /as pending\/x\.released-\d+\.json/);
    assert.equal(JSON.parse(await fsp.readFile(join(q.root, 'pending', 'x.json'), 'utf8')).command, 'echo newer');
    const r = await q.cli(['quarantine', 'release', 'nothing-like-it']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /No file "nothing-like-it" in quarantine\//);
  });
});

describe('whatever enqueue acknowledges can be run', () => {
  test('a system field with a wrong type is set afresh, not stored to be quarantined later', async (t) => {
    const q = await makeQueue(t);
    await q.ok(['enqueue', '{"id":"x","command":"true","history":"no","attempts":7}']);
    await startWorker(q);
    const job = await waitForState(q.root, 'x', 'completed');
    assert.deepEqual(job.history!.map((h) => h.reason), ['completed']);
    assert.equal(job.attempts, 1);
    assert.deepEqual(await folder(q.root, 'quarantine'), []);
  });

  test('a job too large to be stored and run is refused at enqueue (exit 2), and a dropped one is quarantined saying so', async (t) => {
    const q = await makeQueue(t);
    const big = JSON.stringify({ id: 'big', command: 'true', blob: 'x'.repeat(5 * 1024 * 1024) });
    const r = await q.cli(['enqueue', '-'], { input: big });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /the job is 5\.0MB as stored; a new job may be at most 1\.0MB/);
    assert.deepEqual(await folder(q.root, 'pending'), []);
    // Compact JSON of just under 4MB grows when stored pretty-printed: a worker must say why it cannot take it.
    const items = Array.from({ length: 190_000 }, (_, i) => i % 10);
    await drop(q.root, q.dir, 'grows.json', JSON.stringify({ command: 'true', items }));
    await startWorker(q);
    await waitFor(async () => (await folder(q.root, 'quarantine')).length === 2, { what: 'grows.json to be quarantined' });
    const [reason] = (await folder(q.root, 'quarantine')).filter((n) => n.endsWith('.reason'));
    assert.match(await fsp.readFile(join(q.root, 'quarantine', reason), 'utf8'), /as stored; a new job may be at most 1\.0MB/);
    await assert.rejects(readJobFile(q.root, 'grows'), /exactly one file/);
  });
});
