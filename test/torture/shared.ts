// Case 10: two "hosts" on one shared filesystem. The same backing folder is mounted twice with bindfs (FUSE),
// and the workers of each mount run in their own UTS namespace (`unshare -u`) with their own hostname, so
// each host sees the other's workers as remote: no pid checks, staleness by heartbeat mtimes only. File
// events from the other mount never arrive (FUSE does not forward them), so workers poll (`--poll`).
// Every job must run once (extra runs only where the killed host was running them), and when one host's
// workers are all killed with SIGKILL, the other host recovers their jobs.
// Root only (mount, unshare); skipped with the reason otherwise.

import { execFileSync } from 'node:child_process';
import { existsSync, promises as fsp } from 'node:fs';
import { join } from 'node:path';
import {
  applyVerdict, assertVerdict, checkLedger, type Ctx, emptyFigures, enqueueMany, errorLines, type Figures, FAST_CONFIG,
  finishedCount, ledgerCommand, queueAt, readRecord, scanStore, sleep, spawnWorker, startWorker, stopWorker, waitFor,
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

/** Why this machine cannot run the case, or null. */
export function sharedUnavailable(): string | null {
  if (process.getuid?.() !== 0) return 'needs root (bindfs mounts and unshare -u)';
  if (!which('bindfs')) return 'bindfs is not installed (apt-get install bindfs)';
  if (!existsSync('/dev/fuse')) return 'no /dev/fuse (FUSE unavailable in this container)';
  if (!which('unshare')) return 'unshare is not installed (util-linux)';
  return null;
}

export async function caseShared(ctx: Ctx): Promise<Figures> {
  const f = emptyFigures('10 shared-fs');
  const why = sharedUnavailable();
  if (why) return { ...f, skipped: why };
  const t0 = Date.now();
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
    ctx.onCleanup(async () => {
      try {
        execFileSync('fusermount', ['-u', m], { stdio: 'ignore' });
      } catch {
        execFileSync('umount', ['-l', m], { stdio: 'ignore' });
      }
    });
  }
  // stale-after: FUSE caches attributes (mtimes) for up to 1s by default, like NFS's attribute cache; a
  // heartbeat seen through the other mount may be that old, so stale-after must be well above it.
  const staleAfter = Number(process.env.TORTURE_SHARED_STALE_MS ?? ctx.pick(3_000, 1_000));
  await fsp.mkdir(join(back, 'q'), { mode: 0o700 });
  await fsp.writeFile(join(back, 'q', 'config.json'), JSON.stringify({ ...FAST_CONFIG, 'stale-after': `${staleAfter}ms`, 'heartbeat-interval': '200ms', 'max-retries': 10 }), { mode: 0o600 });
  const ledger = join(dir, 'ledger');
  const [qa, qb] = mounts.map((m) => queueAt(m, join(m, 'q'), ledger));
  const problems: string[] = [];

  // 1. Events from the other mount never arrive: a worker WITHOUT --poll on host B still takes jobs enqueued
  //    through host A's mount, by its rescan (poll-interval 200ms).
  const eventWorker = await startWorker(ctx, qb, { host: 'hostB' });
  const lat: number[] = [];
  for (let i = 0; i < 5; i++) {
    await qa.ok(['enqueue', '--id', `cross${i}`, '--', ledgerCommand(qa)]);
    const job = await waitForState(qa.root, `cross${i}`, 'completed', 5_000).catch(() => null);
    if (!job) problems.push(`cross${i}: enqueued on host A, not run by host B's (event-mode) worker within 5s`);
    else lat.push(Date.parse(job.history![0].started_at) - Date.parse(job.created_at));
  }
  await stopWorker(eventWorker);
  f.notes.push(`enqueued on A, picked up on B without --poll (events never arrive): ${lat.join(', ')}ms`);

  // 2. The load: N jobs, 2 worker processes per host (--poll), host A killed part-way.
  const n = ctx.pick(3_000, 100);
  const ids = Array.from({ length: n }, (_, i) => `sh${String(i).padStart(4, '0')}`);
  await enqueueMany(qa, ids.slice(0, n / 2).map((id) => ({ id, command: ledgerCommand(qa, `sleep 0.0${Math.floor(ctx.rng() * 6)}; `) })));
  await enqueueMany(qb, ids.slice(n / 2).map((id) => ({ id, command: ledgerCommand(qb, `sleep 0.0${Math.floor(ctx.rng() * 6)}; `) })));
  const start = Date.now();
  const hostA: WorkerProc[] = [0, 1].map(() => spawnWorker(ctx, qa, { host: 'hostA', poll: true, count: 2, quiet: true }));
  const hostB: WorkerProc[] = [0, 1].map(() => spawnWorker(ctx, qb, { host: 'hostB', poll: true, count: 2, quiet: true }));
  await Promise.all([...hostA, ...hostB].map((w) => w.ready));
  await waitFor(async () => (await finishedCount(back + '/q')) >= n * 0.3 + 5, { timeoutMs: 60_000, intervalMs: 100, what: '30% of the jobs to finish' });
  // Kill host A: every worker process of it, at once.
  const heldByA = (await scanStore(join(back, 'q'))).processing.length;
  for (const w of hostA) w.kill('SIGKILL');
  f.kills = hostA.length;
  const killedAt = Date.now();
  f.notes.push(`host A killed with ${heldByA} jobs in processing/ (both hosts' claims)`);
  await waitFor(async () => (await finishedCount(back + '/q')) >= n + 5, { timeoutMs: ctx.pick(120_000, 60_000), intervalMs: 200, what: `all ${n} jobs to finish on host B` })
    .catch((err: Error) => problems.push(err.message.slice(0, 300)));
  f.timeMs = Date.now() - start;
  await sleep(500);
  await Promise.all(hostB.map((w) => stopWorker(w)));

  const v = await checkLedger(join(back, 'q'), ledger, [...Array.from({ length: 5 }, (_, i) => `cross${i}`), ...ids]);
  applyVerdict(f, v);
  f.jobs = n + 5;
  // Who ran what, and who recovered host A's jobs.
  let byA = 0;
  let byB = 0;
  let recoveredFromA = 0;
  let recoveryMs = 0;
  const final = await scanStore(join(back, 'q'));
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
  f.notes.push(`completed on host A ${byA}, on host B ${byB}; ${recoveredFromA} jobs of host A recovered by host B (worker-lost), the last ${recoveryMs}ms after the kill (stale-after ${staleAfter}ms)`);
  if (byA === 0 || byB === 0) problems.push('one host ran nothing: the two mounts did not share the work');
  if (recoveredFromA === 0 && heldByA > 0) problems.push('no job of the killed host was recovered as worker-lost');
  const errs = [...hostA, ...hostB].flatMap(errorLines);
  if (errs.length) f.notes.push(`${errs.length} worker error lines, e.g. ${errs[0]}`);
  try {
    assertVerdict(v, '10 shared-fs', { allowUnaccounted: true });
  } catch (err) {
    problems.push((err as Error).message);
  }
  if (v.unaccounted.length) ctx.bug('F6', `${v.unaccounted.length} jobs ran more often than their history says: ${v.details.filter((d) => d.includes(' ran ')).slice(0, 3).join('; ')}`, problems);
  if (problems.length) throw Object.assign(new Error(problems.join('\n')), { figures: f });
  return f;
}
