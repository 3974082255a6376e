// Recovery: finds claims whose worker is dead and puts the jobs back (or in dead/ when their retries
// are used up), publishes staged files left by a crash, and tidies heartbeat files.
//
// A worker is dead when its heartbeat file is older than stale-after, measured against the reaper's
// own heartbeat mtime (both set by the filesystem's clock), or when it ran on this host and its pid
// is gone. Its job counts a failed attempt with reason "worker-lost", so a job that keeps killing its
// worker ends in dead/ instead of looping. Before the job goes back, processes it left on this host
// are killed. The fence (one rename of the claim) makes the reaper and a paused worker that wakes up
// exclusive: whichever renames first owns the job.

import { promises as fsp } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { bury, claimOfIntent, parseStageName, quarantine, requeue, resolveIntent } from './claim.js';
import { decideAfterFailure, type BackoffPolicy } from './backoff.js';
import { isErrno } from './errors.js';
import { readWorkers, type WorkerStatus } from './heartbeat.js';
import { type Job, parseStoredJob, pendingName } from './job.js';
import { killJobProcesses, pidAlive } from './leftovers.js';
import { listJsonNames, parseClaimName, type Store } from './store.js';

/**
 * What a reaper remembers between passes: per worker id, the last heartbeat mtime it saw and when (on
 * this process's monotonic clock) it saw it change. A worker whose mtime has not changed for stale-after
 * is dead, whatever the clocks say: a file server clock stepped back (mtimes "in the future") does not
 * hold recovery up.
 */
export type HeartbeatMemory = Map<string, { mtime: number; changedAt: number }>;

export interface ReapOptions {
  store: Store;
  staleAfterMs: number;
  policy: BackoffPolicy;
  /** mtime of a heartbeat this process just touched: "now" on the filesystem's clock. */
  reference: number;
  /** Workers of this process: never stale to ourselves. */
  self: ReadonlySet<string>;
  /** Owner tag for stage files this reaper makes. */
  owner: string;
  now: number;
  /** Kept by the caller across passes (see HeartbeatMemory); without it, only mtime age counts. */
  memory?: HeartbeatMemory;
  /** Stage files in pending/ as a recent listing saw them (a worker's index has them); else pending/ is listed. */
  stageNames?: string[];
}

export type ReapEvent =
  | { type: 'recovered'; id: string; from: string; to: 'pending' | 'dead' | 'completed'; killed: number }
  | { type: 'quarantined'; name: string; reason: string }
  | { type: 'published'; name: string };

const HOST = hostname();


/** Judges one worker id: alive (heartbeat fresh, process there) or dead. */
export function makeStaleCheck(workers: WorkerStatus[], opts: Pick<ReapOptions, 'reference' | 'staleAfterMs' | 'self' | 'memory'>): (id: string) => boolean {
  const byId = new Map(workers.map((w) => [w.id, w]));
  const memory = opts.memory;
  const mono = performance.now();
  if (memory) {
    for (const w of workers) {
      const seen = memory.get(w.id);
      if (!seen || seen.mtime !== w.heartbeat_at) memory.set(w.id, { mtime: w.heartbeat_at, changedAt: mono });
    }
    for (const id of memory.keys()) if (!byId.has(id)) memory.delete(id);
  }
  return (id) => {
    if (opts.self.has(id)) return false;
    const w = byId.get(id);
    // Admin commands (dlq retry, cancel) stage under "adm<pid>" and have no heartbeat: alive while their process is.
    if (!w) return !(id.startsWith('adm') && pidAlive(Number(id.slice(3))));
    if (w.host === HOST && !pidAlive(w.pid)) return true;
    if (opts.reference - w.heartbeat_at > opts.staleAfterMs) return true;
    const seen = memory?.get(id);
    return !!seen && mono - seen.changedAt > opts.staleAfterMs;
  };
}

/**
 * Counts a run lost with its worker: one more attempt, a "worker-lost" entry in the history, then back to
 * pending/ at once (the worker died, not the command) or to dead/ when the retries are used up. `path`
 * is moved with the usual fence. Returns where the job went, or null if another process was first.
 */
async function recoverLost(opts: ReapOptions, path: string, job: Job, worker: string, host: string, since: number): Promise<'pending' | 'dead' | null> {
  const iso = new Date(opts.now).toISOString();
  job.attempts += 1;
  const error = `worker ${worker} stopped (its process is gone, or no heartbeat for over ${opts.staleAfterMs / 1000}s)`;
  job.history = [...(job.history ?? []), {
    attempt: (job.history?.length ?? 0) + 1, worker, host, pid: 0,
    started_at: new Date(Math.min(since, opts.now)).toISOString(), ended_at: iso, duration_ms: 0,
    exit_code: null, signal: null, reason: 'worker-lost', error,
  }];
  job.last_error = error;
  job.exit_code = null;
  job.signal = null;
  job.updated_at = iso;
  const next = decideAfterFailure(job.attempts, job.max_retries, opts.now, opts.policy);
  if (next.to === 'dead') {
    job.state = 'dead';
    job.finished_at = iso;
    return bury(opts.store, path, job) ? 'dead' : null;
  }
  job.state = 'pending';
  job.available_at = iso;
  return (await requeue(opts.store, path, job, opts.owner)) ? 'pending' : null;
}

/** One pass of recovery. Safe to run in many workers at once: every move is a fenced rename. */
export async function reapStale(opts: ReapOptions): Promise<ReapEvent[]> {
  const { store } = opts;
  const events: ReapEvent[] = [];
  const workers = await readWorkers(store, opts.reference, opts.staleAfterMs);
  const isStale = makeStaleCheck(workers, opts);
  const hostOf = new Map(workers.map((w) => [w.id, w.host]));

  // Intents first: a dead worker that had written its job's final record gets its move finished.
  for (const file of await fsp.readdir(store.processing).catch(() => [] as string[])) {
    const claimFile = claimOfIntent(file);
    const claim = claimFile ? parseClaimName(claimFile) : null;
    if (!claimFile || !claim || !isStale(claim.worker)) continue;
    const r = await resolveIntent(store, join(store.processing, claimFile));
    if (r && r.did !== 'dropped') events.push({ type: 'recovered', id: r.job.id, from: claim.worker, to: r.job.state === 'completed' ? 'completed' : 'dead', killed: 0 });
  }

  for (const name of await listJsonNames(store.processing)) {
    const claim = parseClaimName(name);
    if (!claim || !isStale(claim.worker)) continue;
    const path = join(store.processing, name);
    const host = hostOf.get(claim.worker);
    const killed = host === undefined || host === HOST ? await killJobProcesses(name) : 0;
    let text: string;
    let mtime: number;
    try {
      text = await fsp.readFile(path, 'utf8');
      mtime = (await fsp.stat(path)).mtimeMs;
    } catch (err) {
      if (isErrno(err, 'ENOENT')) continue; // another reaper was first
      throw err;
    }
    if (claim.id === null) {
      // A hand-dropped file its worker had not yet normalised: put it back as it was.
      await fsp.rename(path, join(store.pending, claim.pendingName)).catch(() => {});
      continue;
    }
    let job: Job;
    try {
      job = parseStoredJob(text, path, 'processing');
    } catch (err) {
      const reason = (err as Error).message;
      if (await quarantine(store, path, claim.pendingName, reason, opts.now)) events.push({ type: 'quarantined', name: claim.pendingName, reason });
      continue;
    }
    const to = await recoverLost(opts, path, job, claim.worker, host ?? 'unknown', mtime);
    if (to) events.push({ type: 'recovered', id: job.id, from: claim.worker, to, killed });
  }

  // Staged files whose owner died between the fence and the publish.
  let pendingNames: string[] = opts.stageNames ?? [];
  if (!opts.stageNames) {
    try {
      pendingNames = await fsp.readdir(store.pending);
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) throw err;
    }
  }
  for (const file of pendingNames) {
    const stage = parseStageName(file);
    if (!stage || !isStale(stage.owner)) continue;
    const path = join(store.pending, file);
    const st = await fsp.stat(path).catch(() => null);
    if (!st || opts.reference - st.mtimeMs <= opts.staleAfterMs) continue;
    let job: Job;
    try {
      job = parseStoredJob(await fsp.readFile(path, 'utf8'), path, 'pending');
    } catch (err) {
      if (isErrno(err, 'ENOENT')) continue;
      const reason = (err as Error).message;
      if (await quarantine(store, path, stage.name, reason, opts.now)) events.push({ type: 'quarantined', name: stage.name, reason });
      continue;
    }
    if (pendingName(job) !== stage.name) {
      // Its owner died after the fence but before writing the new record: the stage still holds the
      // record from before the run. Account for that run as a lost one, as for a stale claim.
      const to = await recoverLost(opts, path, job, stage.owner, 'unknown', st.mtimeMs);
      if (to) events.push({ type: 'recovered', id: job.id, from: stage.owner, to, killed: 0 });
      continue;
    }
    try {
      await fsp.rename(path, join(store.pending, stage.name));
      events.push({ type: 'published', name: stage.name });
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) throw err;
    }
  }

  // Counter files of worker processes that stopped writing them a day ago (see stats.ts).
  for (const name of await fsp.readdir(store.workers).catch(() => [] as string[])) {
    if (!name.endsWith('.stats')) continue;
    const st = await fsp.stat(join(store.workers, name)).catch(() => null);
    if (st && opts.reference - st.mtimeMs > 86_400_000) await fsp.unlink(join(store.workers, name)).catch(() => {});
  }

  // Heartbeat files of workers long gone (an hour) that hold nothing.
  for (const w of workers) {
    if (!opts.self.has(w.id) && opts.reference - w.heartbeat_at > Math.max(3_600_000, opts.staleAfterMs * 10)) {
      await fsp.unlink(join(store.workers, `${w.id}.json`)).catch(() => {});
    }
  }
  return events;
}
