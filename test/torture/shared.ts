// Cases 10 and 11: two "hosts" on one shared filesystem. The same backing folder is mounted twice, with
// bindfs (FUSE, no attribute cache, no network: case 10) or with sshfs from an sshd on 127.0.0.1 (a real
// network filesystem, with its attribute cache: case 11), and the workers of each mount run in their own
// UTS and PID namespaces (`unshare -u --pid`), so each host sees the other's workers as remote: no pid
// checks, staleness by heartbeat mtimes only. File events from the other mount never arrive (FUSE does not
// forward them), so workers poll (`--poll`).
//
// Every job must run once (extra runs only where the killed host was running them); when one host crashes
// (its whole PID namespace killed), the other recovers its jobs within stale-after plus the attribute-cache
// time; and commands run at the same moment in both namespaces with the same pids (enqueue -, cancel,
// dlq retry, worker start) all succeed, with nothing lost (names unique across hosts).
// Root only (mount, unshare); skipped with the reason otherwise.

import { execFileSync, spawn } from 'node:child_process';
import { existsSync, promises as fsp } from 'node:fs';
import { join } from 'node:path';
import {
  applyVerdict, assertVerdict, checkLedger, CLI, type Ctx, emptyFigures, enqueueMany, errorLines, type Figures, FAST_CONFIG,
  ledgerCommand, queueAt, type Queue, readRecord, scanStore, sleep, spawnWorker, startWorker, stopWorker, waitFor,
  waitForState, type WorkerProc,
} from './lib.js';

function which(bin: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function unavailable(tool: string, pkg: string): string | null {
  if (process.getuid?.() !== 0) return `needs root (${tool} mounts and unshare)`;
  if (!which(tool)) return `${tool} is not installed (apt-get install ${pkg})`;
  if (!existsSync('/dev/fuse')) return 'no /dev/fuse (FUSE unavailable in this container)';
  if (!which('unshare')) return 'unshare is not installed (util-linux)';
  return null;
}

/** Why this machine cannot run case 10, or null. */
export function sharedUnavailable(): string | null {
  return unavailable('bindfs', 'bindfs');
}

/** Why this machine cannot run case 11, or null. */
export function sshfsUnavailable(): string | null {
  return unavailable('sshfs', 'sshfs openssh-server') ?? (existsSync('/usr/sbin/sshd') ? null : 'sshd is not installed (apt-get install openssh-server)');
}

function unmountLater(ctx: Ctx, m: string): void {
  ctx.onCleanup(async () => {
    try {
      execFileSync('fusermount', ['-u', m], { stdio: 'ignore' });
    } catch {
      execFileSync('umount', ['-l', m], { stdio: 'ignore' });
    }
  });
}

export async function caseShared(ctx: Ctx): Promise<Figures> {
  const f = emptyFigures('10 shared-fs');
  const why = sharedUnavailable();
  if (why) return { ...f, skipped: why };
  const dir = await ctx.tempDir('shared');
  const back = join(dir, 'back');
  const mounts = [join(dir, 'hostA'), join(dir, 'hostB')];
  await fsp.mkdir(back, { mode: 0o700 });
  for (const m of mounts) {
    await fsp.mkdir(m, { mode: 0o700 });
    try {
      execFileSync('bindfs', [back, m], { stdio: 'pipe' });
    } catch (err) {
      return { ...f, skipped: `bindfs mount failed: ${(err as Error).message.split('\n')[0]}` };
    }
    unmountLater(ctx, m);
  }
  // FUSE caches attributes for up to 1s by default, like NFS's attribute cache: stale-after well above it.
  const staleAfter = Number(process.env.TORTURE_SHARED_STALE_MS ?? ctx.pick(3_000, 1_500));
  return sharedBody(ctx, f, { dir, back, mounts, staleAfter, cacheMs: 1_000 });
}

/**
 * sshfs options the queue needs (README "Shared filesystems"): OpenSSH's posix-rename and hardlink
 * extensions give rename(2) and link(2) their POSIX meaning (sshfs uses them by default when the server
 * offers them, nothing to set); sshfs's own stat cache (dir_cache, 20s by default) is off, so another
 * host's heartbeats are seen within FUSE's attribute timeout (`cacheSec`) instead of 20s.
 */
export function sshfsOptions(identity: string, cacheSec: number): string {
  return [
    `IdentityFile=${identity}`, 'StrictHostKeyChecking=no', 'UserKnownHostsFile=/dev/null', 'BatchMode=yes',
    `attr_timeout=${cacheSec}`, `entry_timeout=${cacheSec}`, `negative_timeout=${cacheSec}`, 'dir_cache=no', 'reconnect', 'ServerAliveInterval=5',
  ].join(',');
}

export async function caseSharedSsh(ctx: Ctx): Promise<Figures> {
  const f = emptyFigures('11 shared-sshfs');
  const why = sshfsUnavailable();
  if (why) return { ...f, skipped: why };
  const dir = await ctx.tempDir('sshfs');
  const back = join(dir, 'back');
  await fsp.mkdir(back, { mode: 0o700 });
  // An sshd of the test's own on 127.0.0.1, with its own keys; root logs in by key only.
  for (const k of ['hostkey', 'id']) execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-f', join(dir, k), '-N', '']);
  await fsp.copyFile(join(dir, 'id.pub'), join(dir, 'authorized_keys'));
  const port = 22_000 + Math.floor(ctx.rng() * 2_000);
  await fsp.writeFile(join(dir, 'sshd_config'), [
    `Port ${port}`, 'ListenAddress 127.0.0.1', `HostKey ${join(dir, 'hostkey')}`, `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
    'PermitRootLogin prohibit-password', 'PasswordAuthentication no', 'KbdInteractiveAuthentication no', 'UsePAM no', 'StrictModes no',
    `PidFile ${join(dir, 'sshd.pid')}`, 'Subsystem sftp internal-sftp', '',
  ].join('\n'));
  await fsp.mkdir('/run/sshd', { recursive: true, mode: 0o755 });
  const sshd = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', join(dir, 'sshd_config')], { stdio: ['ignore', 'ignore', 'pipe'] });
  ctx.onCleanup(async () => {
    sshd.kill('SIGTERM');
  });
  let sshdLog = '';
  sshd.stderr.on('data', (d) => (sshdLog += d));
  await waitFor(() => /Server listening/.test(sshdLog) || sshd.exitCode !== null, { timeoutMs: 10_000, what: 'sshd to listen' });
  if (sshd.exitCode !== null) return { ...f, skipped: `sshd did not start: ${sshdLog.slice(0, 200)}` };
  const cacheSec = 1;
  const mounts = [join(dir, 'hostA'), join(dir, 'hostB')];
  for (const m of mounts) {
    await fsp.mkdir(m, { mode: 0o700 });
    try {
      execFileSync('sshfs', ['-p', String(port), `root@127.0.0.1:${back}`, m, '-o', sshfsOptions(join(dir, 'id'), cacheSec)], { stdio: 'pipe' });
    } catch (err) {
      return { ...f, skipped: `sshfs mount failed: ${(err as Error).message.split('\n')[0]}` };
    }
    unmountLater(ctx, m);
  }
  f.notes.push(`sshfs -o ${sshfsOptions('<key>', cacheSec)} (sshd on 127.0.0.1:${port})`);
  const staleAfter = Number(process.env.TORTURE_SHARED_STALE_MS ?? ctx.pick(4_000, 2_500));
  return sharedBody(ctx, f, { dir, back, mounts, staleAfter, cacheMs: cacheSec * 1000 });
}

interface Setup {
  dir: string;
  back: string;
  mounts: string[];
  staleAfter: number;
  /** The mount's attribute-cache time: how late one host may see the other's heartbeat. */
  cacheMs: number;
}

async function sharedBody(ctx: Ctx, f: Figures, s: Setup): Promise<Figures> {
  const t0 = Date.now();
  await fsp.mkdir(join(s.back, 'q'), { mode: 0o700 });
  await fsp.writeFile(join(s.back, 'q', 'config.json'), JSON.stringify({ ...FAST_CONFIG, 'stale-after': `${s.staleAfter}ms`, 'heartbeat-interval': '200ms', 'max-retries': 10 }), { mode: 0o600 });
  const ledger = join(s.dir, 'ledger');
  const [qa, qb] = s.mounts.map((m) => queueAt(m, join(m, 'q'), ledger));
  const problems: string[] = [];
  const host = (name: string, extra: { poll?: boolean; count?: number; quiet?: boolean } = {}) => ({ host: name, pidns: true, ...extra });

  // 1. Events from the other mount never arrive: a worker WITHOUT --poll on host B still takes jobs enqueued
  //    through host A's mount, by its rescan (poll-interval 200ms).
  const eventWorker = await startWorker(ctx, qb, host('hostB'));
  const lat: number[] = [];
  for (let i = 0; i < 5; i++) {
    await qa.ok(['enqueue', '--id', `cross${i}`, '--', ledgerCommand(qa)]);
    const job = await waitForState(qa.root, `cross${i}`, 'completed', 8_000).catch(() => null);
    if (!job) problems.push(`cross${i}: enqueued on host A, not run by host B's (event-mode) worker within 8s`);
    else lat.push(Date.parse(job.history![0].started_at) - Date.parse(job.created_at));
  }
  await stopWorker(eventWorker);
  f.notes.push(`enqueued on A, picked up on B without --poll (events never arrive): ${lat.join(', ')}ms`);

  // 2. The same pids in both hosts, commands at the same moment.
  await samePids(ctx, f, s, qa, problems);

  // 3. The load: N jobs, 2 worker processes per host (--poll), host A crashed part-way.
  const n = ctx.pick(3_000, 100);
  const ids = Array.from({ length: n }, (_, i) => `sh${String(i).padStart(4, '0')}`);
  await enqueueMany(qa, ids.slice(0, n / 2).map((id) => ({ id, command: ledgerCommand(qa, `sleep 0.0${Math.floor(ctx.rng() * 6)}; `) })));
  await enqueueMany(qb, ids.slice(n / 2).map((id) => ({ id, command: ledgerCommand(qb, `sleep 0.0${Math.floor(ctx.rng() * 6)}; `) })));
  const start = Date.now();
  const hostA: WorkerProc[] = [0, 1].map(() => spawnWorker(ctx, qa, host('hostA', { poll: true, count: 2, quiet: true })));
  const hostB: WorkerProc[] = [0, 1].map(() => spawnWorker(ctx, qb, host('hostB', { poll: true, count: 2, quiet: true })));
  await Promise.all([...hostA, ...hostB].map((w) => w.ready));
  const q = join(s.back, 'q');
  const finished = async () => {
    const sc = await scanStore(q);
    return ids.filter((id) => ['completed', 'dead'].includes(sc.byId.get(id)?.[0]?.state ?? '')).length;
  };
  await waitFor(async () => (await finished()) >= n * 0.3, { timeoutMs: 60_000, intervalMs: 100, what: '30% of the jobs to finish' });
  // Crash host A: its PID namespaces, with every process in them, at once.
  const heldByA = (await scanStore(q)).processing.length;
  for (const w of hostA) w.kill('SIGKILL');
  f.kills = hostA.length;
  const killedAt = Date.now();
  f.notes.push(`host A crashed with ${heldByA} jobs in processing/ (both hosts' claims)`);
  await waitFor(async () => (await finished()) >= n, { timeoutMs: ctx.pick(120_000, 60_000), intervalMs: 200, what: `all ${n} jobs to finish on host B` })
    .catch(async (err: Error) => {
      const sc = await scanStore(q);
      problems.push(`${err.message.slice(0, 200)}; finished ${await finished()} of ${n}, pending ${sc.duePending.length} due, processing ${sc.processing.length}`);
    });
  f.timeMs = Date.now() - start;
  await sleep(500);
  await Promise.all(hostB.map((w) => stopWorker(w)));

  const v = await checkLedger(q, ledger, [...Array.from({ length: 5 }, (_, i) => `cross${i}`), ...ids]);
  applyVerdict(f, v);
  f.jobs += n + 5;
  await whoRanWhat(f, q, ids, killedAt, s, heldByA, problems);
  const errs = [...hostA, ...hostB].flatMap(errorLines);
  if (errs.length) f.notes.push(`${errs.length} worker error lines, e.g. ${errs[0]}`);
  try {
    assertVerdict(v, f.case, { allowUnaccounted: true });
  } catch (err) {
    problems.push((err as Error).message);
  }
  if (v.unaccounted.length) ctx.bug('F6', `${v.unaccounted.length} jobs ran more often than their history says: ${v.details.filter((d) => d.includes(' ran ')).slice(0, 3).join('; ')}`, problems);
  f.timeMs = Date.now() - t0;
  if (problems.length) throw Object.assign(new Error(problems.join('\n')), { figures: f });
  return f;
}

/** Who ran what, and how soon host B recovered the crashed host A's jobs (within stale-after + cache). */
async function whoRanWhat(f: Figures, q: string, ids: string[], killedAt: number, s: Setup, heldByA: number, problems: string[]): Promise<void> {
  let byA = 0;
  let byB = 0;
  let recoveredFromA = 0;
  let recoveryMs = 0;
  const final = await scanStore(q);
  for (const id of ids) {
    const file = final.byId.get(id)?.[0];
    if (!file) continue;
    const job = await readRecord(file.path);
    for (const h of job.history ?? []) {
      if (h.reason === 'worker-lost' && h.host === 'hostA') {
        recoveredFromA++;
        recoveryMs = Math.max(recoveryMs, Date.parse(h.ended_at) - killedAt);
      }
      if (h.reason === 'completed' && h.host === 'hostA') byA++;
      if (h.reason === 'completed' && h.host === 'hostB') byB++;
    }
  }
  // Recovery passes run every stale-after/2 (jittered by 25%): the bound is stale-after + cache + a pass.
  const bound = s.staleAfter + s.cacheMs + s.staleAfter * 0.65 + 1_000;
  f.notes.push(`completed on host A ${byA}, on host B ${byB}; ${recoveredFromA} jobs of host A recovered by host B (worker-lost), the last ${recoveryMs}ms after the crash (stale-after ${s.staleAfter}ms, attribute cache ${s.cacheMs}ms, bound ${Math.round(bound)}ms)`);
  if (byA === 0 || byB === 0) problems.push('one host ran nothing: the two mounts did not share the work');
  if (recoveredFromA === 0 && heldByA > 0) problems.push('no job of the crashed host was recovered as worker-lost');
  if (recoveryMs > bound) problems.push(`host A's jobs were recovered ${recoveryMs}ms after the crash, later than stale-after + cache + one pass (${Math.round(bound)}ms)`);
}

/**
 * Both hosts, in PID namespaces whose pids are made equal before every command (ns_last_pid), run at the
 * same moment: worker start, enqueue - (a batch), cancel and dlq retry, several rounds. Every command must
 * succeed and every job be where it should: no name made by one host may collide with the other's.
 */
async function samePids(ctx: Ctx, f: Figures, s: Setup, qa: Queue, problems: string[]): Promise<void> {
  const rounds = ctx.pick(20, 4);
  const per = 20;
  const script = (hostName: string, root: string) => [
    `hostname ${hostName}`, 'fail=0', `n=${process.execPath}`, `q=${CLI}`,
    `for i in $(seq 1 ${rounds}); do`,
    `  seq 1 ${per} | sed "s/.*/{\\"id\\":\\"${hostName}-$i-&\\",\\"command\\":\\"true\\",\\"delay\\":\\"1h\\"}/" > ${s.dir}/${hostName}.in`,
    `  echo 300 > /proc/sys/kernel/ns_last_pid; $n $q worker start --root ${root} --poll --quiet > ${s.dir}/${hostName}-w.log 2>&1 & W=$!`,
    `  echo 500 > /proc/sys/kernel/ns_last_pid; $n $q enqueue - --root ${root} < ${s.dir}/${hostName}.in > /dev/null || fail=$((fail+1))`,
    `  echo 600 > /proc/sys/kernel/ns_last_pid; $n $q cancel ${hostName}-$i-1 --root ${root} > /dev/null || fail=$((fail+1))`,
    `  echo 700 > /proc/sys/kernel/ns_last_pid; $n $q dlq retry ${hostName}-$i-1 --root ${root} > /dev/null || fail=$((fail+1))`,
    `  until grep -q ready ${s.dir}/${hostName}-w.log || ! kill -0 $W 2>/dev/null; do sleep 0.02; done`,
    `  kill -0 $W 2>/dev/null || { fail=$((fail+1)); cat ${s.dir}/${hostName}-w.log; }`,
    '  kill -TERM $W 2>/dev/null; wait $W || fail=$((fail+1))',
    'done', 'echo "failures: $fail"',
  ].join('\n');
  const run = (hostName: string, root: string) => new Promise<string>((resolve) => {
    const c = spawn('unshare', ['-u', '--pid', '--fork', '--mount-proc', 'sh', '-c', script(hostName, root)], { env: { ...process.env, NO_COLOR: '1', QUEUECTL_ROOT: root } });
    let text = '';
    c.stdout.on('data', (d) => (text += d));
    c.stderr.on('data', (d) => (text += d));
    c.on('close', () => resolve(text));
  });
  const outs = await Promise.all([run('nsA', join(s.mounts[0], 'q')), run('nsB', join(s.mounts[1], 'q'))]);
  for (const [i, out] of outs.entries()) {
    if (!/failures: 0$/m.test(out)) problems.push(`same pids, host ${i ? 'B' : 'A'}: ${out.trim().split('\n').slice(-6).join(' | ')}`);
  }
  let misplaced = 0;
  const scan = await scanStore(qa.root);
  for (const h of ['nsA', 'nsB']) {
    for (let i = 1; i <= rounds; i++) {
      for (let k = 1; k <= per; k++) {
        const files = scan.byId.get(`${h}-${i}-${k}`) ?? [];
        const ok = files.length === 1 && (files[0].state === 'pending' || (k === 1 && files[0].state === 'completed'));
        if (!ok) misplaced++;
      }
    }
  }
  f.jobs += 2 * rounds * per;
  f.notes.push(`same pids in both hosts: ${2 * rounds} rounds of worker start, enqueue - (${per} jobs), cancel, dlq retry at once; ${misplaced} jobs out of place`);
  if (misplaced) problems.push(`same pids: ${misplaced} jobs lost, doubled or in the wrong state`);
  // Clear them, so the load below starts from an empty queue.
  await qa.ok(['cancel', ...[...scan.byId.keys()].filter((id) => id.startsWith('ns') && scan.byId.get(id)![0].state === 'pending')]).catch(() => '');
  await qa.ok(['purge', '--state', 'dead']).catch(() => '');
}
