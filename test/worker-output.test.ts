// What `worker start` prints: one line per event with a local date and offset, NDJSON with --json, the
// stop hint that fits where it runs, a rotated --log (what --detach writes), and a warning as PID 1.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, test } from 'node:test';
import { CLI, explain, waitFor } from './helpers.js';
import { cliEnv, HAVE_SCRIPT, runInPty } from './cli-helpers.js';
import { enqueue, makeQueue, pidsWithCommand, processGone, startWorker, waitForState } from './worker-helpers.js';
import { logPath, type Store } from '../src/store.ts';

/** 2026-01-05T14:03:22.123+05:30 at the start of a line, then a space. */
const STAMP = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d /;

const lines = (text: string) => text.split('\n').filter(Boolean);
const sizeOf = (path: string) => fsp.stat(path).then((s) => s.size, () => -1);

describe('worker event lines', () => {
  test('one line per event, starting with the local time and its offset; a multi-line command is folded', async (t) => {
    const q = await makeQueue(t);
    const w = await startWorker(q, { env: { TZ: 'Asia/Kolkata' } });
    const id = await enqueue(q, 'echo one\necho two');
    await waitForState(q.root, id, 'completed');
    w.kill('SIGTERM');
    assert.equal((await w.waitForExit()).code, 0);
    const out = lines(w.output());
    for (const line of out) assert.match(line, STAMP, line);
    for (const line of out) assert.match(line, /\+05:30 /, `local time of TZ=Asia/Kolkata: ${line}`);
    assert.equal(out.filter((l) => l.includes(`processing ${id} `)).length, 1);
    assert.match(out.find((l) => l.includes(`processing ${id} `))!, /run 1\/4: echo one ⏎ echo two$/);
    assert.match(w.output(), /stopping: finishing running jobs \(SIGTERM again, or queuectl worker stop --force, to kill them\)/, 'no Ctrl+C hint without a terminal');
  });

  test('in a terminal the stop hint says Ctrl+C', { skip: HAVE_SCRIPT ? false : 'util-linux `script` is not installed' }, async (t) => {
    const q = await makeQueue(t);
    const r = runInPty(['worker', 'start', '--root', q.root]);
    await waitFor(async () => (await fsp.readdir(join(q.root, 'workers'))).some((n) => n.endsWith('.json')), { timeoutMs: 10_000, what: 'the worker to start' });
    for (const pid of await pidsWithCommand(`worker start --root ${q.root}`)) {
      const cmd = await fsp.readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
      if (!cmd.startsWith('script')) process.kill(pid, 'SIGINT');
    }
    const done = await r;
    assert.equal(done.code, 0, explain(done));
    assert.match(done.stdout, /stopping: finishing running jobs \(Ctrl\+C again to kill them\)/);
  });

  test('--json prints each event as one JSON object a line: time (ISO-8601 UTC), event, snake_case fields', async (t) => {
    const q = await makeQueue(t);
    const child = spawn(process.execPath, [CLI, 'worker', 'start', '--json', '--root', q.root], { env: cliEnv({ NO_COLOR: '1' }), stdio: ['ignore', 'pipe', 'pipe'] });
    t.after(() => child.kill('SIGKILL'));
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    await waitFor(() => out.includes('"event":"ready"'), { timeoutMs: 10_000, what: `the ready event: ${out}` });
    const id = await enqueue(q, 'printf "a\\nb"');
    await waitForState(q.root, id, 'completed');
    child.kill('SIGTERM');
    assert.equal(await new Promise((r) => child.on('close', r)), 0);
    const events = lines(out).map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(events.map((e) => e.event), ['ready', 'claimed', 'completed', 'stopping']);
    for (const e of events) assert.match(String(e.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    const [ready, claimed, completed] = events;
    assert.equal(ready.pid, child.pid);
    assert.deepEqual([claimed.id, claimed.attempt, claimed.max_runs, claimed.command], [id, 1, 4, 'printf "a\\nb"']);
    assert.equal(typeof completed.duration_ms, 'number');
  });
});

describe('the worker log (--log, --detach)', () => {
  test('--log-max 1KB rotates the log: FILE.1 .. FILE.3 are kept, none over the cap, the newest lines kept', async (t) => {
    const q = await makeQueue(t);
    const log = join(q.dir, 'w.log');
    const child = spawn(process.execPath, [CLI, 'worker', 'start', '--root', q.root, '--log', log, '--log-max', '1KB'], { env: cliEnv({ NO_COLOR: '1' }), stdio: ['ignore', 'pipe', 'pipe'] });
    t.after(() => child.kill('SIGKILL'));
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      await q.ok(['enqueue', '-'], { input: Array.from({ length: 10 }, (_, j) => `{"id":"r${i}-${j}","command":"true"}`).join('\n') });
      for (let j = 0; j < 10; j++) ids.push(`r${i}-${j}`);
    }
    for (const id of ids) await waitForState(q.root, id, 'completed');
    child.kill('SIGTERM');
    assert.equal(await new Promise((r) => child.on('close', r)), 0);
    assert.equal(out, '', 'nothing on stdout');
    const files = [log, `${log}.1`, `${log}.2`, `${log}.3`];
    for (const f of files) {
      const size = await sizeOf(f);
      assert.ok(size > 0 && size <= 1024, `${f}: ${size} bytes`);
    }
    assert.equal(await sizeOf(`${log}.4`), -1, 'only 3 old files are kept');
    // Newest last: the kept files hold a run of consecutive lines ending with the stop.
    const text = (await Promise.all([...files].reverse().map((f) => fsp.readFile(f, 'utf8')))).join('');
    assert.match(text, /stopping: finishing running jobs/);
    assert.match(text, /completed r3-9 in /);
  });

  test('SIGUSR1 reopens the log: after logrotate moved it, new lines go to a new file', async (t) => {
    const q = await makeQueue(t);
    const log = join(q.dir, 'w.log');
    const child = spawn(process.execPath, [CLI, 'worker', 'start', '--root', q.root, '--log', log], { env: cliEnv({ NO_COLOR: '1' }), stdio: 'ignore' });
    t.after(() => child.kill('SIGKILL'));
    await waitFor(async () => (await fsp.readFile(log, 'utf8').catch(() => '')).includes('worker ready'), { timeoutMs: 10_000, what: 'the ready line in the log' });
    const first = await enqueue(q, 'true');
    await waitFor(async () => (await fsp.readFile(log, 'utf8')).includes(`completed ${first}`), { timeoutMs: 10_000, what: 'the first job in the log' });
    await fsp.rename(log, `${log}.moved`);
    child.kill('SIGUSR1');
    // Its first line in the new file says so.
    await waitFor(async () => / log reopened \(SIGUSR1\)\n$/.test(await fsp.readFile(log, 'utf8').catch(() => '')), { timeoutMs: 10_000, what: 'the new log file' });
    const second = await enqueue(q, 'true');
    await waitFor(async () => (await fsp.readFile(log, 'utf8').catch(() => '')).includes(`completed ${second}`), { timeoutMs: 10_000, what: 'the second job in the new log' });
    assert.doesNotMatch(await fsp.readFile(`${log}.moved`, 'utf8'), new RegExp(second), 'the moved file gets no new lines');
    child.kill('SIGTERM');
    assert.equal(await new Promise((r) => child.on('close', r)), 0);
  });

  test('--detach writes to <root>/logs/workers.log with --log-max passed on, and no Ctrl+C hint', async (t) => {
    const q = await makeQueue(t);
    const r = await q.cli(['worker', 'start', '--detach', '--log-max', '1KB']);
    assert.equal(r.code, 0, explain(r));
    const pid = Number(/\(pid (\d+)\)/.exec(r.stdout)![1]);
    await q.ok(['enqueue', '-'], { input: Array.from({ length: 20 }, (_, j) => `{"id":"d${j}","command":"true"}`).join('\n') });
    for (let j = 0; j < 20; j++) await waitForState(q.root, `d${j}`, 'completed');
    await q.ok(['worker', 'stop']);
    await waitFor(() => processGone(pid), { timeoutMs: 5_000, what: 'the background worker to exit' });
    const log = join(q.root, 'logs', 'workers.log');
    assert.ok((await sizeOf(`${log}.1`)) > 0, 'rotated at 1KB');
    const text = await fsp.readFile(log, 'utf8');
    assert.match(text, /stopping: finishing running jobs \(SIGTERM again, or queuectl worker stop --force, to kill them\)/);
    assert.doesNotMatch(text, /Ctrl\+C/);
  });
});

const canUnshare = spawnSync('unshare', ['--pid', '--fork', '--mount-proc', 'true'], { stdio: 'ignore' }).status === 0;

describe('a worker as PID 1 (a container without an init)', () => {
  test('warns that orphans are not reaped and names the fix', { skip: canUnshare ? false : 'unshare --pid needs root and util-linux' }, async (t) => {
    const q = await makeQueue(t);
    const child = spawn('unshare', ['--pid', '--fork', '--mount-proc', '--kill-child', process.execPath, CLI, 'worker', 'start', '--root', q.root], { env: cliEnv({ NO_COLOR: '1' }), stdio: ['ignore', 'pipe', 'pipe'] });
    t.after(() => child.kill('SIGKILL'));
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
    await waitFor(() => /worker ready \(pid 1\)/.test(out), { timeoutMs: 10_000, what: `the worker to start as pid 1: ${out}` });
    assert.match(out, /queuectl is PID 1 .* stay zombies\. Run the container with an init: docker run --init/);
    const id = await enqueue(q, 'true');
    await waitForState(q.root, id, 'completed');
    // Stop it through its pid outside the namespace (not `worker stop`: its heartbeat says pid 1).
    const [pid] = (await pidsWithCommand(`${CLI} worker start --root ${q.root}`)).filter((p) => p !== child.pid);
    process.kill(pid, 'SIGTERM');
    await new Promise((r) => child.on('close', r));
    assert.match(out, /stopping: finishing running jobs/);
  });
});

/** Where a run's log is written (the worker's own layout, src/store.ts). */
const runLog = (root: string, id: string, run: number) => logPath({ logs: join(root, 'logs') } as Store, id, run);

describe('run logs under a damaged logs/', () => {
  test('logs/ emptied under a running worker (rm -rf logs/*): the next run of the same job is still logged', async (t) => {
    const q = await makeQueue(t);
    await startWorker(q);
    const id = await enqueue(q, 'echo "out $QUEUECTL_ATTEMPT"; [ "$QUEUECTL_ATTEMPT" = 2 ] || { sleep 0.3; exit 1; }');
    const first = runLog(q.root, id, 1);
    await waitFor(async () => (await fsp.readFile(first, 'utf8').catch(() => '')).includes('[exited with status 1]'), { what: 'the first run to be logged' });
    // The worker made that shard folder itself, and remembers it as checked.
    for (const n of await fsp.readdir(join(q.root, 'logs'))) await fsp.rm(join(q.root, 'logs', n), { recursive: true, force: true });
    await waitForState(q.root, id, 'completed');
    const second = runLog(q.root, id, 2);
    assert.equal(await fsp.readFile(second, 'utf8'), 'out 2\n[exited with status 0]\n');
    assert.deepEqual((await q.ok(['logs', id])).split('\n')[0], 'out 2');
  });

  test('output that cannot be written is said on the worker\'s output; the run counts as it ended and its end is in output_tail', async (t) => {
    const q = await makeQueue(t);
    const w = await startWorker(q);
    const id = 'nolog1';
    // The job's log folder is a file: the log cannot be made.
    const shard = dirname(runLog(q.root, id, 1));
    await fsp.mkdir(dirname(shard), { recursive: true });
    await fsp.writeFile(shard, 'not a folder\n');
    await q.ok(['enqueue', '--id', id, '--', 'echo kept in the tail']);
    const job = await waitForState(q.root, id, 'completed');
    assert.equal(job.output_tail, 'kept in the tail\n');
    await w.waitForOutput(new RegExp(`error the output of ${id} was not all kept \\(${shard.replace(/[.]/g, '\\.')} is not a folder; [^)]*\\); its end is in the job's output_tail`));
  });
});
