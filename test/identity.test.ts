// Who is alive, judged where workers really run: another PID namespace with the same hostname (containers
// with network_mode: host, `unshare --pid`), a killed worker that stays a zombie because its parent does not
// reap it, a pid reused by a stranger, and names made by processes that share a pid in two namespaces.
// Real processes and namespaces (unshare, root only: skipped with the reason otherwise).

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, promises as fsp, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { openStore, tmpPath, writeTmpSync } from '../src/store.js';
import { CLI, makeTempRoot, REPO, waitFor } from './helpers.js';
import { enqueue, ledgerLines, makeQueue, pidsWithCommand, readJobFile, startWorker, waitForState } from './worker-helpers.js';

const ROOT_ONLY = process.getuid?.() === 0 ? false : 'needs root (unshare, ns_last_pid)';

/** A pid that no process of this namespace has, above `from` (so a worker there looks "gone" from here). */
function freePid(from = 28_000): number {
  for (let p = from; p < 32_000; p++) if (!existsSync(`/proc/${p}`) && !existsSync(`/proc/${p + 1}`)) return p;
  throw new Error('no free pid found');
}

/**
 * Runs the wrapped command in a new PID (and mount) namespace whose next pid is after `lastPid`. The
 * namespace's init stays (a sleep) when the worker dies, as a container's would, so what the worker left
 * keeps running; it carries QUEUECTL_ROOT so that the test's cleanup finds it.
 */
function inPidNamespace(lastPid: number): string[] {
  return ['unshare', '--pid', '--fork', '--mount-proc', 'sh', '-c', `echo ${lastPid} > /proc/sys/kernel/ns_last_pid && { "$@" & exec sleep 600; }`, 'sh'];
}

/** Host pids of node processes whose command line holds `marker`. */
async function nodePids(marker: string): Promise<number[]> {
  const out: number[] = [];
  for (const e of await fsp.readdir('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const cmd = readFileSync(`/proc/${e}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (cmd.includes(marker) && readlinkSync(`/proc/${e}/exe`) === process.execPath) out.push(Number(e));
    } catch {
      // gone
    }
  }
  return out;
}

function procState(pid: number): string | null {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return s.slice(s.lastIndexOf(')') + 2, s.lastIndexOf(')') + 3);
  } catch {
    return null;
  }
}

describe('liveness across PID namespaces', { skip: ROOT_ONLY }, () => {
  test('a live worker in another PID namespace of the same host name is never judged dead by its pid', async (t) => {
    const q = await makeQueue(t, { 'stale-after': '4s', 'heartbeat-interval': '100ms' });
    const id = await enqueue(q, `echo start >> ${q.ledger}; sleep 2; echo end >> ${q.ledger}`);
    // Its pid (about 28,000) does not exist out here: judged by pid, it would look dead at once.
    const a = await startWorker(q, { wrap: inPidNamespace(freePid()), env: { QUEUECTL_ROOT: q.root } });
    await waitFor(async () => (await ledgerLines(q)).length >= 1, { timeoutMs: 10_000, what: 'the job to start in the namespaced worker' });
    const b = await startWorker(q);
    const job = await waitForState(q.root, id, 'completed', 15_000);
    assert.deepEqual(await ledgerLines(q), ['start', 'end'], 'the job ran once');
    assert.deepEqual(job.history!.map((h) => h.reason), ['completed']);
    assert.equal(job.history![0].worker, a.ids[0]);
    assert.doesNotMatch(b.output(), /recovered/, b.output());
  });

  test('a worker killed in another PID namespace is recovered by heartbeat, and its job\'s processes are killed', async (t) => {
    const q = await makeQueue(t, { 'stale-after': '1500ms', 'heartbeat-interval': '100ms' });
    const marker = `sleep 30.${process.pid}1`;
    const id = await enqueue(q, `echo start >> ${q.ledger}; [ -e ${q.dir}/second ] || { touch ${q.dir}/second; ${marker}; }; echo end >> ${q.ledger}`);
    await startWorker(q, { wrap: inPidNamespace(freePid()), env: { QUEUECTL_ROOT: q.root } });
    await waitFor(async () => (await ledgerLines(q)).length >= 1, { timeoutMs: 10_000, what: 'the first run to start' });
    const claimedAt = Date.now();
    const [nodePid] = await nodePids(`worker start --root ${q.root}`);
    process.kill(nodePid, 'SIGKILL'); // the worker only: its job lives on under the namespace's init
    const b = await startWorker(q);
    const job = await waitForState(q.root, id, 'completed', 15_000);
    assert.deepEqual(await ledgerLines(q), ['start', 'start', 'end']);
    assert.match(b.output(), /recovered .* \(killed \d+ leftover process/, b.output());
    const lost = job.history![0];
    assert.equal(lost.reason, 'worker-lost');
    assert.ok(Math.abs(Date.parse(lost.started_at) - claimedAt) < 2_000, `the lost run starts when it was claimed: ${lost.started_at}`);
    assert.ok(lost.duration_ms >= 1_000, `the lost run lasted until recovery, not 0 ms: ${lost.duration_ms}`);
    assert.deepEqual(await pidsWithCommand(marker), [], 'the first run\'s sleep was killed');
  });
});

describe('a killed worker that is still a zombie is dead', { skip: ROOT_ONLY }, () => {
  test('its job is recovered at once (not after stale-after), its leftover processes killed first, the lost run timed', async (t) => {
    const q = await makeQueue(t, { 'stale-after': '60s', 'heartbeat-interval': '100ms' });
    const id = await enqueue(q, `echo start >> ${q.ledger}; sleep 3; echo end >> ${q.ledger}`);
    // A parent that never reaps its child: the worker stays a zombie after its kill -9.
    const a = await startWorker(q, { wrap: ['perl', '-e', 'my $p = fork // die; if (!$p) { exec @ARGV or die } sleep 600'] });
    await waitFor(async () => (await ledgerLines(q)).length >= 1, { timeoutMs: 10_000, what: 'the first run to start' });
    const startedBy = Date.now();
    process.kill(a.innerPid, 'SIGKILL');
    await waitFor(() => procState(a.innerPid) === 'Z', { timeoutMs: 5_000, what: `worker pid ${a.innerPid} to be a zombie` });
    const b = await startWorker(q);
    // With stale-after 60s only the zombie check can recover it this soon; its first run must not finish.
    const job = await waitForState(q.root, id, 'completed', 12_000);
    assert.equal(procState(a.innerPid), 'Z', 'still a zombie: it was judged dead as a zombie');
    assert.deepEqual(await ledgerLines(q), ['start', 'start', 'end'], 'the first run was killed before its end; the job ran once in full');
    assert.deepEqual(job.history!.map((h) => h.reason), ['worker-lost', 'completed']);
    assert.ok(job.history![0].duration_ms > 0, `the lost run is timed from its claim: ${job.history![0].duration_ms} ms`);
    assert.ok(Date.parse(job.history![0].started_at) <= startedBy, `the lost run starts at its claim: ${job.history![0].started_at}`);
    assert.match(b.output(), /recovered .* -> pending \(killed \d+ leftover/);
  });
});

describe('status and worker stop judge workers as recovery does', () => {
  test('status shows a SIGKILLed worker as dead at once, with the reason', async (t) => {
    const q = await makeQueue(t, { 'stale-after': '60s' });
    const w = await startWorker(q);
    w.kill('SIGKILL');
    await w.waitForExit();
    const status = JSON.parse(await q.ok(['status', '--json'])) as { workers: { id: string; alive: boolean; dead_because: string }[] };
    const me = status.workers.find((x) => x.id === w.ids[0]);
    assert.ok(me, JSON.stringify(status));
    assert.equal(me.alive, false);
    assert.match(me.dead_because, /process is gone/);
  });

  test('worker stop never signals a process that got the pid of a killed worker', { skip: ROOT_ONLY }, async (t) => {
    const q = await makeQueue(t, { 'stale-after': '60s' });
    const node = process.execPath;
    const script = [
      `${node} ${CLI} worker start --root ${q.root} > ${q.dir}/w.log 2>&1 & W=$!`,
      `until ls ${q.root}/workers/*.json >/dev/null 2>&1; do sleep 0.05; done`,
      'kill -9 $W; wait $W',
      'echo $((W - 1)) > /proc/sys/kernel/ns_last_pid',
      'sleep 100 & S=$!',
      '[ "$S" = "$W" ] || echo "pid not reused: $S, $W"',
      `${node} ${CLI} worker stop --root ${q.root} --timeout 3s`,
      'kill -0 $S 2>/dev/null && echo "stranger alive" || echo "stranger killed"',
      'kill $S 2>/dev/null; true',
    ].join('\n');
    const out = await new Promise<string>((resolve) => {
      const c = spawn('unshare', ['--pid', '--fork', '--mount-proc', 'sh', '-c', script], { env: { ...process.env, NO_COLOR: '1' } });
      let text = '';
      c.stdout.on('data', (d) => (text += d));
      c.stderr.on('data', (d) => (text += d));
      c.on('close', () => resolve(text));
    });
    assert.doesNotMatch(out, /pid not reused/, out);
    assert.match(out, /stranger alive/, out);
    assert.match(out, /No live workers/, out);
  });
});

describe('names stay unique across PID namespaces with equal pids', { skip: ROOT_ONLY }, () => {
  test('two processes with the same pid, counter and clock in two namespaces pick different tmp/ names', async () => {
    // The clock is frozen in the probe so that only what identifies the writer can tell the names apart.
    const probe = `Date.now = () => 1e12; const s = await import(${JSON.stringify(join(REPO, 'dist', 'store.js'))}); console.log(s.tmpPath(s.storePaths('/q'), 'write'))`;
    const names: string[] = [];
    for (let i = 0; i < 2; i++) {
      const r = spawnSync('unshare', ['--pid', '--fork', '--mount-proc', 'sh', '-c', `echo 700 > /proc/sys/kernel/ns_last_pid && ${process.execPath} --input-type=module -e "$0"`, probe], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      names.push(r.stdout.trim());
    }
    assert.match(names[0], /\b701\b/, `the probe ran as pid 701: ${names[0]}`);
    assert.match(names[1], /\b701\b/, `the probe ran as pid 701: ${names[1]}`);
    assert.notEqual(names[0], names[1]);
  });

  test('a tmp/ file that cannot be created because its name exists is never removed', async (t) => {
    const { root, cleanup } = await makeTempRoot();
    t.after(cleanup);
    const store = await openStore(root);
    const used = tmpPath(store, 'probe');
    const next = used.replace(/~([0-9a-z]+)$/, (_, n: string) => `~${(parseInt(n, 36) + 1).toString(36)}`);
    await fsp.writeFile(next, 'another writer\'s file');
    assert.throws(() => writeTmpSync(store, 'probe', 'mine'), /exists/);
    assert.equal(await fsp.readFile(next, 'utf8'), 'another writer\'s file');
  });

  test('worker start, enqueue -, cancel and dlq retry at the same moment in two namespaces with the same pids: all succeed, nothing lost', async (t) => {
    const q = await makeQueue(t, { 'stale-after': '3s', 'heartbeat-interval': '100ms' });
    const node = process.execPath;
    const rounds = 8;
    const perBatch = 20;
    const gate = join(q.dir, 'gate');
    await fsp.mkdir(gate);
    // Each round starts with a barrier (both namespaces spin until the test opens it), then every command
    // gets the same pid in both namespaces: ns_last_pid is set before each. A worker's first file (its
    // heartbeat, written through tmp/) then has the same pid, counter and millisecond in both.
    const script = (ns: string) => [
      'set -u', 'fail=0',
      `for i in $(seq 1 ${rounds}); do`,
      `  seq 1 ${perBatch} | sed "s/.*/{\\"id\\":\\"${ns}-$i-&\\",\\"command\\":\\"true\\",\\"delay\\":\\"1h\\"}/" > ${q.dir}/${ns}.in`,
      `  touch ${gate}/ready-${ns}-$i; flock -s ${gate}/lock-$i true`,
      `  echo 300 > /proc/sys/kernel/ns_last_pid; ${node} ${CLI} worker start --root ${q.root} --quiet > ${q.dir}/${ns}-w$i.log 2>&1 & W=$!`,
      `  until grep -q ready ${q.dir}/${ns}-w$i.log || ! kill -0 $W 2>/dev/null; do sleep 0.01; done`,
      `  kill -0 $W 2>/dev/null || { fail=$((fail+1)); cat ${q.dir}/${ns}-w$i.log; }`,
      `  echo 500 > /proc/sys/kernel/ns_last_pid; ${node} ${CLI} enqueue - --root ${q.root} < ${q.dir}/${ns}.in > /dev/null || fail=$((fail+1))`,
      `  echo 600 > /proc/sys/kernel/ns_last_pid; ${node} ${CLI} cancel ${ns}-$i-1 --root ${q.root} > /dev/null || fail=$((fail+1))`,
      `  echo 700 > /proc/sys/kernel/ns_last_pid; ${node} ${CLI} dlq retry ${ns}-$i-1 --root ${q.root} > /dev/null || fail=$((fail+1))`,
      '  kill -TERM $W 2>/dev/null; wait $W || fail=$((fail+1))',
      'done',
      'echo "failures: $fail"',
    ].join('\n');
    const run = (ns: string) => new Promise<string>((resolve) => {
      const c = spawn('unshare', ['--pid', '--fork', '--mount-proc', 'sh', '-c', script(ns)], { env: { ...process.env, NO_COLOR: '1', QUEUECTL_ROOT: q.root } });
      let text = '';
      c.stdout.on('data', (d) => (text += d));
      c.stderr.on('data', (d) => (text += d));
      c.on('close', () => resolve(text));
    });
    // The gate of each round is an exclusive flock held by a child until both namespaces wait on it: its
    // release wakes both at once (a spinning wait would take both cores and spread their starts).
    // (flock's child inherits the locked descriptor: the whole group goes to release it.)
    const holders = Array.from({ length: rounds }, (_, k) => spawn('flock', ['-x', join(gate, `lock-${k + 1}`), 'sleep', '600'], { detached: true, stdio: 'ignore' }));
    const release = (k: number) => {
      try {
        process.kill(-holders[k].pid!, 'SIGKILL');
      } catch {
        // released already
      }
    };
    t.after(() => holders.forEach((_, k) => release(k)));
    await waitFor(() => holders.every((_, k) => existsSync(join(gate, `lock-${k + 1}`))), { what: 'the gates to be locked' });
    const done = Promise.all([run('a'), run('b')]);
    for (let i = 1; i <= rounds; i++) {
      await waitFor(() => existsSync(join(gate, `ready-a-${i}`)) && existsSync(join(gate, `ready-b-${i}`)), { timeoutMs: 20_000, intervalMs: 5, what: `both namespaces at round ${i}` });
      await new Promise((r) => setTimeout(r, 20)); // both are inside flock by now
      release(i - 1);
    }
    const [a, b] = await done;
    assert.match(a, /failures: 0$/m, a);
    assert.match(b, /failures: 0$/m, b);
    for (const ns of ['a', 'b']) {
      for (let i = 1; i <= rounds; i++) {
        for (let k = 1; k <= perBatch; k++) {
          const { state } = await readJobFile(q.root, `${ns}-${i}-${k}`);
          // Job 1 of each batch was cancelled and retried: due now, a worker may have run it.
          assert.ok(state === 'pending' || (k === 1 && state === 'completed'), `${ns}-${i}-${k}: ${state}`);
        }
      }
    }
    const leftovers = (await fsp.readdir(join(q.root, 'tmp'))).concat((await fsp.readdir(join(q.root, 'pending'))).filter((n) => n.startsWith('.')));
    assert.deepEqual(leftovers, [], 'nothing half-done is left');
  });
});
