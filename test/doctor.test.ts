// `queuectl doctor [--fix]`: each broken state is built on disk for real (real files; real worker processes
// killed with real signals, or killed at a named step by QUEUECTL_FAULT, where liveness matters), then
// doctor must name it, say what repairs it, and --fix must repair what is safe and leave the rest alone.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { hostIdentity, hostKey, processStart } from '../src/identity.js';
import { createJob } from '../src/job.js';
import { markerPath, pendingName, stageName } from '../src/lifecycle.js';
import { storePaths } from '../src/store.js';
import { HAVE_SCRIPT, rootPlacements, runInPty, runWithClosedStdout } from './cli-helpers.js';
import { explain, makeTempRoot, runCli, waitFor } from './helpers.js';
import { enqueue, folder, ledgerLines, makeQueue, pidsWithCommand, readJobFile, startWorker, waitForState, type Queue } from './worker-helpers.js';

interface Finding {
  code: string;
  severity: 'error' | 'warning' | 'info';
  path: string;
  message: string;
  repair: string | null;
  fixable: boolean;
}
interface Report {
  root: string;
  healthy: boolean;
  fixed: Finding[];
  findings: Finding[];
}

type Ctx = Parameters<typeof makeQueue>[0];

async function doctor(root: string, ...args: string[]): Promise<{ code: number | null; report: Report }> {
  const r = await runCli(['doctor', '--json', ...args], { root, timeoutMs: 60_000 });
  assert.ok(r.code === 0 || r.code === 1, explain(r));
  return { code: r.code, report: JSON.parse(r.stdout) as Report };
}

/** The findings of one code (and, when given, about one path). */
const of = (report: Report, code: string, path?: string) => report.findings.filter((f) => f.code === code && (path === undefined || f.path === path));

/** A process tag (identity.ts) of a real process of this host that has exited. */
async function deadProcessTag(): Promise<{ tag: string; pid: number; start: number }> {
  const child = spawn('sleep', ['30'], { stdio: 'ignore' });
  const pid = child.pid!;
  const start = await waitFor(() => processStart(pid), { what: 'the process to start' });
  const gone = new Promise((r) => child.on('exit', r));
  child.kill('SIGKILL');
  await gone;
  return { tag: `${hostKey()}.${pid}.${start.toString(36)}`, pid, start };
}

/** A live process of this host (killed when the test ends). */
async function liveProcess(t: Ctx): Promise<{ pid: number; start: number }> {
  const child = spawn('sleep', ['300'], { stdio: 'ignore' });
  t.after(async () => {
    child.kill('SIGKILL');
  });
  const pid = child.pid!;
  return { pid, start: await waitFor(() => processStart(pid), { what: 'the process to start' }) };
}

/** Writes a heartbeat file as a worker does, with its mtime set to `mtime`. */
async function heartbeat(q: Queue, id: string, info: Record<string, unknown>, mtime: number): Promise<string> {
  const path = join(q.root, 'workers', `${id}.json`);
  await fsp.writeFile(path, `${JSON.stringify({ id, started_at: new Date().toISOString(), root: q.root, ...info })}\n`, { mode: 0o600 });
  await fsp.utimes(path, new Date(mtime), new Date(mtime));
  return path;
}

describe('doctor: the root and its format', () => {
  test('a sound root has no problems; a root that is missing, has no format file or another version is an error; nothing is created', async (t) => {
    const q = await makeQueue(t);
    await q.ok(['status']);
    const sound = await doctor(q.root);
    assert.deepEqual(sound, { code: 0, report: { root: q.root, healthy: true, fixed: [], findings: [] } });

    const missing = join(q.dir, 'nothing');
    const r = await doctor(missing, '--fix');
    assert.equal(r.code, 1);
    assert.deepEqual(r.report.findings.map((f) => [f.code, f.severity]), [['root', 'error']]);
    assert.match(r.report.findings[0].message, /there is no queue at .*nothing: the folder does not exist/);
    assert.equal(existsSync(missing), false, 'doctor, even with --fix, does not create a root');

    const bare = join(q.dir, 'bare');
    await fsp.mkdir(bare, { mode: 0o700 });
    assert.match(of((await doctor(bare)).report, 'format')[0].message, /is not a queue root: it has no format file/);
    assert.deepEqual(await fsp.readdir(bare), [], 'nothing written into a folder that is not a root');

    await fsp.writeFile(join(q.root, 'format'), 'queuectl-queue 3\n');
    const other = await doctor(q.root, '--fix');
    assert.equal(other.code, 1);
    assert.deepEqual(other.report.findings.map((f) => [f.code, f.severity, f.fixable]), [['format', 'error', false]]);
    assert.match(other.report.findings[0].message, /another format \("queuectl-queue 3"\); this queuectl reads "queuectl-queue 2" and refuses any other/);
    assert.equal(await fsp.readFile(join(q.root, 'format'), 'utf8'), 'queuectl-queue 3\n');
  });

  test('a config.json queuectl cannot use is an error', async (t) => {
    const q = await makeQueue(t);
    await q.ok(['status']);
    await fsp.writeFile(join(q.root, 'config.json'), '{"stale-after": "soon"}');
    const { report } = await doctor(q.root);
    assert.match(of(report, 'config')[0].message, /config\.json cannot be used: .*stale-after/);
  });
});

describe('doctor: owners, modes and folders', () => {
  test('loose modes are said, by how much they open; --fix makes folders 0700 and files 0600', async (t) => {
    const q = await makeQueue(t);
    await q.ok(['enqueue', '--id', 'd1', '--max-retries', '0', '--', 'exit 1']);
    await startWorker(q);
    await waitForState(q.root, 'd1', 'dead');
    await fsp.chmod(q.root, 0o750);
    await fsp.chmod(join(q.root, 'workers'), 0o777);
    await fsp.chmod(join(q.root, 'dead', 'd1.json'), 0o644);
    const { code, report } = await doctor(q.root);
    assert.equal(code, 1);
    const modes = of(report, 'mode').map((f) => [f.path.slice(q.root.length), f.severity, f.fixable]);
    assert.deepEqual(modes.sort(), [['', 'warning', true], ['/dead/d1.json', 'info', true], ['/workers', 'error', true]]);
    assert.match(of(report, 'mode', join(q.root, 'workers'))[0].message, /^workers\/ has mode 777: others can change it/);
    const fixed = await doctor(q.root, '--fix');
    assert.equal(fixed.code, 0, JSON.stringify(fixed.report));
    assert.equal(fixed.report.fixed.length, 3);
    for (const [p, mode] of [[q.root, 0o700], [join(q.root, 'workers'), 0o700], [join(q.root, 'dead', 'd1.json'), 0o600]] as const) {
      assert.equal((await fsp.stat(p)).mode & 0o777, mode, p);
    }
  });

  test('entries owned by another user (a command run with sudo) are an error with the chown that repairs them; --fix leaves owners alone', { skip: process.getuid?.() !== 0 && 'needs root to chown' }, async (t) => {
    const q = await makeQueue(t);
    await q.ok(['enqueue', '--id', 'a', '--', 'true']);
    await q.ok(['enqueue', '--id', 'b', '--', 'true']);
    for (const name of await folder(q.root, 'pending')) await fsp.chown(join(q.root, 'pending', name), 12345, 12345);
    const { report } = await doctor(q.root, '--fix');
    const owners = of(report, 'owner');
    assert.equal(owners.length, 1, 'one finding for the folder');
    assert.match(owners[0].message, /^2 entries in pending\/ are owned by uid 12345, not by the root's owner \(uid 0\)/);
    assert.equal(owners[0].repair, `chown -R 0 ${join(q.root, 'pending')}`);
    assert.equal(owners[0].fixable, false);
    for (const name of await folder(q.root, 'pending')) assert.equal((await fsp.stat(join(q.root, 'pending', name))).uid, 12345);
    // The root itself owned by someone else: queuectl refuses it.
    await fsp.chown(q.root, 12345, 12345);
    assert.match(of((await doctor(q.root)).report, 'owner', q.root)[0].message, /the root is owned by uid 12345, not by you \(uid 0\): queuectl refuses to use it/);
  });

  test('a missing folder is made by --fix; a symlink, a file in a folder\'s place and a folder on another filesystem are said, and left', async (t) => {
    const q = await makeQueue(t);
    await q.ok(['status']);
    await fsp.rmdir(join(q.root, 'dead'));
    await fsp.rename(join(q.root, 'quarantine'), join(q.dir, 'elsewhere'));
    await fsp.symlink(join(q.dir, 'elsewhere'), join(q.root, 'quarantine'));
    await fsp.rm(join(q.root, 'logs'), { recursive: true });
    await fsp.writeFile(join(q.root, 'logs'), '');
    await fsp.symlink(join(q.dir, 'elsewhere'), join(q.root, 'completed', '2026010100'));
    const { report } = await doctor(q.root);
    const folders = of(report, 'folder').map((f) => [f.path.slice(q.root.length + 1), f.fixable]);
    assert.deepEqual(folders, [['dead', true], ['logs', false], ['quarantine', false], ['completed/2026010100', false]]);
    assert.match(of(report, 'folder', join(q.root, 'quarantine'))[0].message, /quarantine\/ is a symlink \(to .*elsewhere\): every folder of a root must be a real folder inside it/);
    // The CLI refuses this root; doctor says why and how to repair it.
    assert.equal((await q.cli(['status'])).code, 1);
    const fixed = await doctor(q.root, '--fix');
    assert.deepEqual(fixed.report.fixed.map((f) => f.path), [join(q.root, 'dead')]);
    assert.equal((await fsp.stat(join(q.root, 'dead'))).mode & 0o777, 0o700);
    assert.equal((await fsp.lstat(join(q.root, 'quarantine'))).isSymbolicLink(), true, 'the symlink is left for a person');
  });

  test('a folder of the root on another filesystem (a mount) is an error', async (t) => {
    const q = await makeQueue(t);
    await q.ok(['status']);
    // A private mount namespace: the tmpfs is seen by this doctor only.
    const probe = spawnSync('unshare', ['--mount', 'sh', '-c', 'mount -t tmpfs none "$1"', 'sh', join(q.root, 'logs')], { encoding: 'utf8' });
    if (probe.status !== 0) return t.skip(`cannot mount in a private mount namespace: ${probe.stderr.trim()}`);
    const r = spawnSync('unshare', ['--mount', 'sh', '-c', 'mount -t tmpfs none "$1" && exec "$2" "$3" --root "$4" doctor --json', 'sh', join(q.root, 'logs'), process.execPath, join(process.cwd(), 'dist', 'cli', 'index.js'), q.root], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
    assert.equal(r.status, 1, r.stderr);
    const report = JSON.parse(r.stdout) as Report;
    assert.match(of(report, 'filesystem', join(q.root, 'logs'))[0].message, /logs\/ is on another filesystem than the root \(a mount point\): rename\(2\) cannot move jobs across/);
  });
});

describe('doctor: what dead processes left', () => {
  test('a worker killed with kill -9 mid-job: its claim and heartbeat are said; --fix recovers the job as a worker would, and kills what it left', async (t) => {
    const q = await makeQueue(t);
    const marker = `${100 + Math.floor(Math.random() * 800)}.${Math.floor(Math.random() * 1e6)}`;
    const id = await enqueue(q, `sleep ${marker}`, ['--id', 'lost', '--max-retries', '2']);
    const w = await startWorker(q);
    await waitForState(q.root, id, 'processing');
    await waitFor(async () => (await pidsWithCommand(`sleep ${marker}`)).length > 0, { what: 'the job to run' });
    w.kill('SIGKILL');
    await w.waitForExit();
    const { code, report } = await doctor(q.root);
    assert.equal(code, 1);
    const claim = of(report, 'claim')[0];
    assert.match(claim.message, new RegExp(`^job lost is held by worker ${w.ids[0]}, which is dead \\(its process is gone\\): recovery counts the lost run \\(worker-lost\\)`));
    assert.match(claim.repair!, /^queuectl doctor --fix/);
    assert.match(of(report, 'heartbeat')[0].message, new RegExp(`worker ${w.ids[0]} \\(pid ${w.innerPid} on .*\\) is dead: its process is gone`));
    assert.equal(of(report, 'heartbeat')[0].severity, 'info');
    const fixed = await doctor(q.root, '--fix');
    assert.equal(fixed.code, 0, JSON.stringify(fixed.report.findings));
    assert.deepEqual(fixed.report.fixed.map((f) => f.code), ['claim']);
    const { state, job } = await readJobFile(q.root, id);
    assert.equal(state, 'pending');
    assert.deepEqual(job.history!.map((h) => h.reason), ['worker-lost']);
    assert.deepEqual(await pidsWithCommand(`sleep ${marker}`), [], 'the command the dead worker left running was killed');
  });

  test('a worker killed between writing the final record and the move: the intent is said, and --fix finishes the move (no rerun)', async (t) => {
    const q = await makeQueue(t);
    await enqueue(q, `echo ran >> ${q.ledger}`, ['--id', 'intent']);
    const w = await startWorker(q, { env: { QUEUECTL_FAULT: 'complete-before-fence' } }).catch(() => null);
    if (w) await w.waitForExit();
    await waitFor(async () => (await fsp.readdir(join(q.root, 'processing'))).some((n) => n.endsWith('.final')), { what: 'the intent beside the claim' });
    const { report } = await doctor(q.root);
    assert.match(of(report, 'intent')[0].message, /^the final record of job intent was written but its worker w\w+ died before the move \(its process is gone\): recovery finishes the move with it \(the job does not run again\)/);
    await doctor(q.root, '--fix');
    assert.equal((await readJobFile(q.root, 'intent')).state, 'completed');
    assert.deepEqual(await ledgerLines(q), ['ran'], 'it ran once');
    assert.deepEqual(await fsp.readdir(join(q.root, 'processing')), [], 'neither the claim nor its intent is left');
  });

  test('enqueues killed after their commit (published by --fix) and before it (released by --fix)', async (t) => {
    const q = await makeQueue(t);
    await q.ok(['status']);
    const committed = await q.cli(['enqueue', '-'], { input: ['c1', 'c2', 'c3'].map((id) => JSON.stringify({ id, command: 'true' })).join('\n'), env: { QUEUECTL_FAULT: 'enqueue-after-commit' } });
    assert.equal(committed.signal, 'SIGKILL', explain(committed));
    const uncommitted = await q.cli(['enqueue', '-'], { input: ['u1', 'u2', 'u3', 'u4'].map((id) => JSON.stringify({ id, command: 'true' })).join('\n'), env: { QUEUECTL_FAULT: 'enqueue-reserving' } });
    assert.equal(uncommitted.signal, 'SIGKILL', explain(uncommitted));
    const { report } = await doctor(q.root);
    const enqueues = of(report, 'enqueue').map((f) => f.message).sort();
    assert.equal(enqueues.length, 2, JSON.stringify(report.findings));
    assert.match(enqueues[0], /^a committed batch of 3 jobs \(c1, c2, c3\) waits in tmp\/: it was acknowledged, but its enqueue died before every job was in pending\//);
    assert.match(enqueues[1], /^an enqueue of 4 jobs \(u1, u2, u3, \.\.\.\) died before its commit: nothing of it was acknowledged, and its ids stay reserved until recovery releases them/);
    assert.deepEqual(of(report, 'id'), [], 'reservations of an enqueue are not orphans');
    const fixed = await doctor(q.root, '--fix');
    assert.equal(fixed.code, 0, JSON.stringify(fixed.report.findings));
    for (const id of ['c1', 'c2', 'c3']) assert.equal((await readJobFile(q.root, id)).state, 'pending');
    assert.deepEqual(await folder(q.root, 'tmp'), []);
    // The reservations are gone: the same ids can be enqueued.
    await q.ok(['enqueue', '-'], { input: ['u1', 'u2', 'u3', 'u4'].map((id) => JSON.stringify({ id, command: 'true' })).join('\n') });
  });

  test('a stage of a dead process, an orphaned id marker and a tmp/ file of a dead process: said, and repaired by --fix', async (t) => {
    const q = await makeQueue(t);
    await q.ok(['status']);
    const store = storePaths(q.root);
    const dead = await deadProcessTag();
    // A job moving back to pending/ when its mover died: hidden from workers.
    const job = createJob({ id: 'staged', command: 'true' }, 'job', Date.now(), { maxRetries: 3, cwd: null }, () => 'staged');
    const name = pendingName(job);
    const stageDir = join(q.root, 'pending', stageName('stage', dead.tag, name));
    await fsp.mkdir(stageDir, { mode: 0o700 });
    await fsp.writeFile(join(stageDir, 'job'), JSON.stringify(job), { mode: 0o600 });
    await fsp.link(join(stageDir, 'job'), markerPath(store, 'staged'));
    // An id reserved with no job and no writer left.
    await fsp.writeFile(markerPath(store, 'orphan'), '{}', { mode: 0o600 });
    // A temporary file of that dead process.
    const leftover = join(q.root, 'tmp', `write~${dead.tag}~0`);
    await fsp.writeFile(leftover, 'half', { mode: 0o600 });

    const { report } = await doctor(q.root);
    assert.match(of(report, 'stage')[0].message, new RegExp(`^job staged on its way back to pending/, left by ${dead.tag.replace(/\./g, '\\.')}, which is dead: hidden from workers until recovery publishes it`));
    assert.match(of(report, 'id')[0].message, /^the id "orphan" is reserved \(ids\/\w\w\/orphan\) but no job and no writer holds it/);
    assert.match(of(report, 'tmp')[0].message, new RegExp(`was left by a process of this host that is gone \\(pid ${dead.pid}\\)`));
    assert.deepEqual(report.findings.map((f) => f.fixable), report.findings.map(() => true));

    const fixed = await doctor(q.root, '--fix');
    assert.deepEqual(fixed.report.fixed.map((f) => f.code).sort(), ['id', 'stage', 'tmp']);
    assert.deepEqual(fixed.report.findings, []);
    assert.deepEqual(await folder(q.root, 'pending'), [name], 'the stage is published');
    assert.equal(existsSync(leftover), false);
    assert.equal(existsSync(markerPath(store, 'orphan')), false);
    await q.ok(['enqueue', '--id', 'orphan', '--', 'true']);
  });

  test('a heartbeat gone stale on another host holding a claim: the claim is recovered by --fix; the heartbeat is only noted', async (t) => {
    const q = await makeQueue(t);
    await q.ok(['enqueue', '--id', 'far', '--', 'true']);
    const [name] = await folder(q.root, 'pending');
    const claim = `${name.slice(0, -5)}~w00000000aa~0.json`;
    await fsp.rename(join(q.root, 'pending', name), join(q.root, 'processing', claim));
    await heartbeat(q, 'w00000000aa', { pid: 4242, pid_start: 1, host: 'far-away', boot_id: 'another-boot', pid_ns: 1 }, Date.now() - 3_600_000 * 2);
    const { report } = await doctor(q.root);
    assert.match(of(report, 'heartbeat')[0].message, /^worker w00000000aa \(pid 4242 on far-away\) is dead: no heartbeat for \d+(\.\d)?s \(stale-after 0\.6s\)/);
    assert.match(of(report, 'claim')[0].message, /^job far is held by worker w00000000aa, which is dead \(no heartbeat for/);
    await doctor(q.root, '--fix');
    const { state, job } = await readJobFile(q.root, 'far');
    assert.equal(state, 'pending');
    assert.deepEqual(job.history!.map((h) => [h.worker, h.reason, h.host]), [['w00000000aa', 'worker-lost', 'far-away']]);
  });
});

describe('doctor: what a person must look at', () => {
  test('quarantined files, names no worker takes and files in processing/ nobody owns: said with what to run; --fix leaves them', async (t) => {
    const q = await makeQueue(t);
    await q.ok(['status']);
    await fsp.writeFile(join(q.root, 'quarantine', 'bad.json.1764614400000'), '{"command": ');
    await fsp.writeFile(join(q.root, 'quarantine', 'bad.json.1764614400000.reason'), 'not valid JSON: Unexpected end of JSON input\n');
    await fsp.writeFile(join(q.root, 'pending', 'job.json.tmp'), '{"command": "true"}');
    await fsp.writeFile(join(q.root, 'pending', '.hidden.json'), '{"command": "true"}');
    await fsp.writeFile(join(q.root, 'processing', 'stray.json'), '{"command": "true"}');
    const before = await doctor(q.root);
    const after = await doctor(q.root, '--fix');
    assert.equal(after.code, 1);
    assert.deepEqual(after.report.fixed, []);
    assert.deepEqual(after.report.findings, before.report.findings);
    const quarantined = of(after.report, 'quarantine')[0];
    assert.match(quarantined.message, /^pending\/bad\.json was not a job and waits in quarantine\/ \(since 2025-12-01T18:40:00\.000Z\): not valid JSON: Unexpected end of JSON input$/);
    assert.match(quarantined.repair!, /then: queuectl quarantine release bad\.json\.1764614400000/);
    assert.deepEqual(of(after.report, 'name').map((f) => f.path.slice(q.root.length + 1)).sort(), ['pending/.hidden.json', 'pending/job.json.tmp', 'processing/stray.json']);
    assert.match(of(after.report, 'name', join(q.root, 'pending', 'job.json.tmp'))[0].message, /is never taken: a worker takes only names that end in \.json and do not start with "\."/);
  });

  test('a live worker and its running job are left alone by --fix; a live worker\'s heartbeat in this host\'s future is a clock skew', async (t) => {
    const q = await makeQueue(t);
    const w = await startWorker(q);
    await enqueue(q, `sleep 1.5; echo done >> ${q.ledger}`, ['--id', 'running']);
    await waitForState(q.root, 'running', 'processing');
    const live = await liveProcess(t);
    const me = hostIdentity();
    await heartbeat(q, 'w00000000bb', { pid: live.pid, pid_start: live.start, host: me.host, boot_id: me.boot_id, pid_ns: me.pid_ns }, Date.now() + 3_600_000);
    const { report } = await doctor(q.root, '--fix');
    assert.deepEqual(report.fixed, []);
    assert.deepEqual(report.findings.map((f) => [f.code, f.severity]), [['clock', 'warning']], JSON.stringify(report.findings));
    assert.match(report.findings[0].message, /^the heartbeat of worker w00000000bb \(pid \d+ on .*\) was touched (59|60)min in this host's future: the clock its mtimes come from and this host's disagree/);
    const job = await waitForState(q.root, 'running', 'completed');
    assert.deepEqual(job.history!.map((h) => [h.worker, h.reason]), [[w.ids[0], 'completed']]);
    assert.deepEqual(await ledgerLines(q), ['done']);
  });
});

describe('doctor as a person types it', () => {
  test('the text says each finding, what repairs it, and a summary; --root anywhere; exit 0 healthy, 1 not', async (t) => {
    const q = await makeQueue(t);
    await q.ok(['status']);
    const healthy = await q.cli(['doctor']);
    assert.equal(healthy.code, 0, explain(healthy));
    assert.equal(healthy.stdout, `${q.root}: no problems\n`);
    await fsp.writeFile(join(q.root, 'pending', 'notes.txt'), 'x');
    await fsp.rmdir(join(q.root, 'dead'));
    for (const args of rootPlacements(['doctor'], q.root)) {
      const r = await runCli(args, { cwd: q.dir });
      assert.equal(r.code, 1, `${args.join(' ')}: ${explain(r)}`);
      assert.equal(r.stdout, [
        'error    dead/ is missing: queuectl refuses the root',
        `         repair: queuectl doctor --fix   (or: mkdir -m 700 ${join(q.root, 'dead')})`,
        'warning  pending/notes.txt is never taken: a worker takes only names that end in .json and do not start with "."',
        `         repair: mv ${join(q.root, 'pending', 'notes.txt')} ${join(q.root, 'pending', 'notes.txt.json')}   (after checking it with queuectl validate)`,
        `${q.root}: 1 error, 1 warning; queuectl doctor --fix repairs 1 of them`,
        '',
      ].join('\n'));
    }
    const fixed = await q.cli(['doctor', '--fix']);
    assert.equal(fixed.code, 1);
    assert.match(fixed.stdout, /^fixed    dead\/ is missing: queuectl refuses the root\n/);
    assert.match(fixed.stdout, new RegExp(`Repaired 1\\. ${q.root}: 1 warning\\n$`));
    assert.equal((await q.cli(['doctor', '--bogus'])).code, 2);
    assert.equal((await q.cli(['doctor', 'extra'])).code, 2);
  });

  test('colour on a terminal only, and never with NO_COLOR', { skip: !HAVE_SCRIPT && 'util-linux script is not installed' }, async (t) => {
    const { root } = await makeTempRoot(t);
    await runCli(['status'], { root });
    await fsp.rmdir(join(root, 'dead'));
    const tty = await runInPty(['--root', root, 'doctor']);
    assert.equal(tty.code, 1, explain(tty));
    assert.match(tty.stdout, /\x1b\[31merror {3}\x1b\[39m dead\/ is missing/);
    const plain = await runInPty(['--root', root, 'doctor'], { env: { NO_COLOR: '1' } });
    assert.doesNotMatch(plain.stdout, /\x1b\[/);
    const piped = await runCli(['doctor'], { root, env: { NO_COLOR: undefined } });
    assert.doesNotMatch(piped.stdout, /\x1b\[/);
    const forced = await runCli(['doctor'], { root, env: { NO_COLOR: undefined, FORCE_COLOR: '1' } });
    assert.match(forced.stdout, /\x1b\[31merror/);
  });

  test('into a pipe whose reader has gone (| head), the exit status is still the answer', async (t) => {
    const { root } = await makeTempRoot(t);
    await runCli(['status'], { root });
    const sound = await runWithClosedStdout(['doctor', '--root', root]);
    assert.equal(sound.code, 0);
    await fsp.rmdir(join(root, 'dead'));
    const broken = await runWithClosedStdout(['doctor', '--root', root]);
    assert.equal(broken.code, 1, broken.stderr);
  });
});
