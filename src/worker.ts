// The worker pool: N workers in one process sharing one index of pending/. Each worker loops
// take -> claim (rename) -> run -> complete | requeue | bury, and owns a heartbeat file.
// Timers in the process: heartbeats, recovery of dead workers' jobs, stop and cancel requests, stats,
// retention of old completed jobs and sweeping of old tmp/ files.
//
// Invariants:
//  - A claimed job MUST leave processing/ however its command ends (success, failure, timeout, spawn
//    error, our own stop): every path below ends in complete, requeue or bury, or finds itself fenced.
//  - Stop is graceful by default: claim nothing new, finish what runs. Force kills running commands,
//    and their jobs go back to pending/ without using an attempt.
//  - Nothing here reads process.argv/env or prints: events go to onEvent.

import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { promises as fsp } from 'node:fs';
import { hostname } from 'node:os';
import { basename, join } from 'node:path';
import { type BackoffPolicy, decideAfterFailure } from './backoff.js';
import { bury, claimFile, complete, type FaultHook, quarantine, RecordWriteError, requeue, rewriteFinished } from './claim.js';
import type { Config } from './config.js';
import { InputError, isErrno } from './errors.js';
import { createHeartbeat, type Heartbeat } from './heartbeat.js';
import { type Attempt, createJob, idFromFileName, type Job, newJobId, type PendingName, parsePendingName, parseStoredJob, pendingName, storedJobProblem } from './job.js';
import { PendingIndex } from './pending-index.js';
import { type HeartbeatMemory, reapStale } from './reaper.js';
import { purgeCompleted } from './retention.js';
import { loadRunner, runCommand, type RunResult } from './runner.js';
import { StatsRecorder } from './stats.js';
import { formatDuration } from './units.js';
import { idMarkerPath, jobData, locateJob, logPath, reserveId, type Store, writeTmp } from './store.js';

export type WorkerEvent =
  | { type: 'ready'; workers: string[]; pid: number }
  | { type: 'claimed'; worker: string; id: string; attempt: number; maxRuns: number; command: string }
  | { type: 'completed'; worker: string; id: string; attempt: number; durationMs: number }
  | { type: 'failed'; worker: string; id: string; attempt: number; summary: string; retryInMs: number }
  | { type: 'dead'; worker: string; id: string; attempt: number; summary: string }
  | { type: 'interrupted'; worker: string; id: string }
  | { type: 'cancelled'; worker: string; id: string }
  | { type: 'fenced'; worker: string; id: string }
  | { type: 'recovered'; worker: string; id: string; from: string; to: 'pending' | 'dead' | 'completed'; killed: number }
  | { type: 'normalized'; worker: string; name: string; id: string }
  | { type: 'quarantined'; worker: string; name: string; reason: string }
  | { type: 'stopping'; mode: StopMode }
  | { type: 'error'; worker?: string; message: string };

export type StopMode = 'graceful' | 'force';

export interface PoolOptions {
  store: Store;
  config: Config;
  count: number;
  onEvent: (event: WorkerEvent) => void;
  /** Fault injection (torture suite): called at named steps; see claim.ts FaultHook. */
  fault?: FaultHook;
  /**
   * The environment every job starts from (then its own env and the QUEUECTL_ variables), instead of
   * this process's: the CLI passes the one it was started with, before it set anything for itself.
   */
  env?: Record<string, string>;
}

export interface WorkerPool {
  /** Worker ids (one heartbeat file each). */
  ids: string[];
  /** Resolves when every worker has stopped and the heartbeats are gone. */
  done: Promise<void>;
  stop(mode: StopMode): void;
}

interface Running {
  claimPath: string;
  id: string;
  abort: AbortController;
  cancelled: boolean;
}

interface Slot {
  id: string;
  seq: number;
  heartbeat: Heartbeat;
  running?: Running;
}

const HOST = hostname();

/** Longest name of a dropped file that can be claimed: its claim name adds ~<worker>~<seq> (NAME_MAX is 255). */
const MAX_DROPPED_NAME = 200;

/** Worker ids: "w" + 10 base-36 characters, lowercase so claim names parse. */
function newWorkerId(): string {
  return `w${BigInt(`0x${randomBytes(7).toString('hex')}`).toString(36).padStart(10, '0').slice(-10)}`;
}

/** Starts `count` workers on the store. Returns once they are claiming. */
export async function startWorkerPool(opts: PoolOptions): Promise<WorkerPool> {
  const { store, config } = opts;
  if (config.heartbeatIntervalMs * 2 > config.staleAfterMs) {
    throw new InputError(`stale-after (${formatDuration(config.staleAfterMs)}) must be at least twice heartbeat-interval (${formatDuration(config.heartbeatIntervalMs)}), or live workers would look dead`);
  }
  const fault: FaultHook = opts.fault ?? (() => {});
  const emit = (e: WorkerEvent) => {
    try {
      opts.onEvent(e);
    } catch {
      // a broken printer must not stop the queue
    }
  };
  const policy: BackoffPolicy = { base: config.backoffBase, maxMs: config.backoffMaxMs, jitter: config.backoffJitter };
  const slots: Slot[] = [];
  for (let i = 0; i < Math.max(1, opts.count); i++) {
    const id = newWorkerId();
    slots.push({ id, seq: 0, heartbeat: await createHeartbeat(store, id) });
  }
  const self = new Set(slots.map((s) => s.id));
  const stats = new StatsRecorder(store, slots[0].id);
  const clock = Date.now;
  const index = new PendingIndex({ dir: store.pending, pollIntervalMs: config.pollIntervalMs, poll: config.poll, now: clock });
  let reference = await slots[0].heartbeat.beat();
  let stopping: StopMode | null = null;

  // ---- recovery, first at start so a restarted worker picks up what a crash left ----
  let reaping: Promise<void> | undefined;
  let indexReady = false;
  const memory: HeartbeatMemory = new Map();
  const reap = () => (reaping ??= reapStale({ store, staleAfterMs: config.staleAfterMs, policy, reference, self, owner: slots[0].id, now: clock(), memory, stageNames: indexReady ? index.stageNames : undefined })
    .then((events) => {
      for (const e of events) {
        if (e.type === 'recovered') emit({ ...e, worker: slots[0].id });
        else if (e.type === 'quarantined') emit({ ...e, worker: slots[0].id });
        else index.add(e.name);
      }
    })
    .catch((err) => emit({ type: 'error', message: `recovery: ${(err as Error).message}` }))
    .finally(() => {
      reaping = undefined;
    }));
  await loadRunner();
  await reap();
  await index.start();
  indexReady = true;

  // ---- timers ----
  const timers = new Set<NodeJS.Timeout>();
  /** Runs fn every ms (jittered ±25% if asked), never twice at once. */
  const every = (ms: number, fn: () => Promise<unknown> | void, jitter = false) => {
    const tick = () => {
      const next = jitter ? ms * (0.75 + Math.random() * 0.5) : ms;
      const t = setTimeout(async () => {
        timers.delete(t);
        try {
          await fn();
        } catch (err) {
          emit({ type: 'error', message: (err as Error).message });
        }
        if (!done) tick();
      }, next);
      timers.add(t);
    };
    tick();
  };
  let done = false;
  every(config.heartbeatIntervalMs, async () => {
    const beats = await Promise.all(slots.map((s) => s.heartbeat.beat().catch(() => 0)));
    reference = Math.max(reference, ...beats);
    await checkRequests();
  });
  every(Math.max(50, config.staleAfterMs / 2), reap, true);
  every(2_000, () => stats.flush(Date.now()));
  if (config.retentionMs > 0) every(60_000, () => purgeCompleted(store, Date.now() - config.retentionMs), true);
  every(600_000, () => sweepTmp(store, Date.now()), true);

  /** Stop and cancel requests arrive as files in workers/: <worker>.stop holds the mode, <worker>.cancel the claim. */
  async function checkRequests(): Promise<void> {
    const names = await fsp.readdir(store.workers).catch(() => [] as string[]);
    for (const slot of slots) {
      if (names.includes(`${slot.id}.stop`)) {
        const path = join(store.workers, `${slot.id}.stop`);
        const mode = (await fsp.readFile(path, 'utf8').catch(() => '')).trim() === 'force' ? 'force' : 'graceful';
        await fsp.unlink(path).catch(() => {});
        stop(mode);
      }
      if (names.includes(`${slot.id}.cancel`)) {
        const path = join(store.workers, `${slot.id}.cancel`);
        const claim = (await fsp.readFile(path, 'utf8').catch(() => '')).trim();
        await fsp.unlink(path).catch(() => {});
        if (slot.running && basename(slot.running.claimPath) === claim) {
          slot.running.cancelled = true;
          slot.running.abort.abort();
        }
      }
    }
  }

  function stop(mode: StopMode): void {
    if (stopping === 'force' || stopping === mode) return;
    stopping = mode;
    emit({ type: 'stopping', mode });
    if (mode === 'force') for (const s of slots) s.running?.abort.abort();
    index.wakeAll();
    void index.close();
  }

  // ---- the worker loop ----
  async function loop(slot: Slot): Promise<void> {
    while (!stopping) {
      const taken = index.take();
      if (!taken) {
        await index.waitForWork();
        continue;
      }
      const name = taken.kind === 'job' ? taken.entry.name : taken.name;
      if (taken.kind === 'dropped' && name.length > MAX_DROPPED_NAME) {
        // Its claim name (name + ~worker~seq) would pass NAME_MAX: move it aside straight from pending/.
        await toQuarantine(slot, join(store.pending, name), name, `file name too long (${name.length} characters; at most ${MAX_DROPPED_NAME})`);
        continue;
      }
      let claimPath: string | null;
      try {
        claimPath = claimFile(store, name, slot.id, slot.seq++);
      } catch (err) {
        emit({ type: 'error', worker: slot.id, message: `claim ${name}: ${(err as Error).message}` });
        continue;
      }
      if (!claimPath) continue;
      fault('after-claim');
      try {
        if (taken.kind === 'dropped') await normalizeDropped(slot, claimPath, name);
        else await runClaim(slot, claimPath, taken.entry);
      } catch (err) {
        // A live worker's claim is never recovered by others, so it MUST NOT stay in processing/: a file
        // we could not take in goes to quarantine/, a job we could not start goes back to pending/.
        const message = (err as Error).message;
        emit({ type: 'error', worker: slot.id, message: `${name}: ${message}` });
        if (taken.kind === 'dropped') await toQuarantine(slot, claimPath, name, message).catch(() => {});
        else await fsp.rename(claimPath, join(store.pending, name)).catch(() => {});
      } finally {
        slot.running = undefined;
      }
    }
  }

  /** Reads a claimed file, or moves it to quarantine/ when it is not a readable job. */
  async function readClaim(slot: Slot, claimPath: string, originalName: string): Promise<string | null> {
    // Synchronous like the claim (see claim.ts): a few microseconds for a small local file.
    let st: fs.Stats;
    try {
      st = fs.lstatSync(claimPath);
    } catch {
      // Gone already: recovery took it while this worker was paused after the claim.
      emit({ type: 'fenced', worker: slot.id, id: parsePendingName(originalName)?.id ?? originalName });
      return null;
    }
    if (!st.isFile()) {
      await toQuarantine(slot, claimPath, originalName, `not a regular file (${st.isSymbolicLink() ? 'a symlink' : st.isDirectory() ? 'a folder' : 'special'}); only plain JSON files are jobs`);
      return null;
    }
    if (st.size > 4 * 1024 * 1024) {
      await toQuarantine(slot, claimPath, originalName, `${st.size} bytes is too large for a job file (limit 4MB)`);
      return null;
    }
    try {
      return fs.readFileSync(claimPath, 'utf8');
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return null;
      throw err;
    }
  }

  async function toQuarantine(slot: Slot, from: string, name: string, reason: string): Promise<void> {
    if (await quarantine(store, from, name, reason, Date.now())) emit({ type: 'quarantined', worker: slot.id, name, reason });
  }

  /**
   * A file dropped into pending/ under its own name: validate it, give it an id and defaults, and put it
   * back under a queuectl name (so its priority and run_at count). The id is reserved before the move;
   * after a crash in between, the file comes back from processing/ and the marker's `source` (this
   * file's name) shows the id was reserved for it.
   */
  async function normalizeDropped(slot: Slot, claimPath: string, name: string): Promise<void> {
    const text = await readClaim(slot, claimPath, name);
    if (text === null) return;
    let spec: unknown;
    try {
      spec = JSON.parse(text);
    } catch (err) {
      return toQuarantine(slot, claimPath, name, `not valid JSON: ${(err as Error).message}`);
    }
    const now = clock();
    // Without an id in the JSON, the file name is the id (so `ls` and `show` agree); if that is taken or
    // not a valid id, a generated one.
    const explicitId = !!spec && typeof spec === 'object' && (spec as { id?: unknown }).id != null;
    const fromName = explicitId ? null : idFromFileName(name);
    let job: Job;
    try {
      job = createJob(spec, `pending/${name}`, now, { maxRetries: config.maxRetries, cwd: null }, () => fromName ?? newJobId(now));
    } catch (err) {
      return toQuarantine(slot, claimPath, name, (err as Error).message);
    }
    job.source = name;
    let tmp = await writeTmp(store, `intake.${job.id}`, jobData(job));
    try {
      let reserved = await reserveId(store, job.id, tmp);
      if (!reserved && !explicitId && job.id === fromName && !(await isOurs(job.id, name))) {
        await fsp.unlink(tmp).catch(() => {});
        job.id = newJobId(now);
        tmp = await writeTmp(store, `intake.${job.id}`, jobData(job));
        reserved = await reserveId(store, job.id, tmp);
      }
      // (The file itself is what requeue moves, so after a crash there is never a second copy of it.)
      if (!reserved && !(await isOurs(job.id, name))) {
        return toQuarantine(slot, claimPath, name, `id "${job.id}" is already used by another job; ids are unique across all states`);
      }
      // The claim takes the full record first (its fence: it must still be ours), so that a crash from
      // here on leaves a record with an id wherever the file is (a stage is always a whole record).
      if (!fs.existsSync(claimPath)) {
        emit({ type: 'fenced', worker: slot.id, id: job.id });
        return;
      }
      fs.renameSync(tmp, claimPath);
      if (await requeue(store, claimPath, job, slot.id)) {
        emit({ type: 'normalized', worker: slot.id, name, id: job.id });
        index.add(pendingName(job));
      }
    } finally {
      await fsp.unlink(tmp).catch(() => {});
    }
  }

  /** The id's marker was made by us for this very file, before a crash, and no job holds it yet. */
  async function isOurs(id: string, name: string): Promise<boolean> {
    return (await markerSource(id)) === name && !(await locateJob(store, id));
  }

  async function markerSource(id: string): Promise<string | undefined> {
    return fsp.readFile(idMarkerPath(store, id), 'utf8').then((t) => (JSON.parse(t) as Job).source, () => undefined);
  }

  async function runClaim(slot: Slot, claimPath: string, entry: PendingName): Promise<void> {
    const text = await readClaim(slot, claimPath, entry.name);
    if (text === null) return;
    let job: Job;
    try {
      job = parseStoredJob(text, `pending/${entry.name}`, 'processing');
      if (job.id !== entry.id) throw new Error(`the file name says id "${entry.id}" but the record says "${job.id}"`);
      const problem = storedJobProblem(job);
      if (problem) throw new Error(problem);
    } catch (err) {
      return toQuarantine(slot, claimPath, entry.name, (err as Error).message);
    }
    // Every job queuectl wrote has its id reserved in ids/. A file another program dropped under a
    // queuectl-style name has not: take it in like any dropped file (reserve its id, or quarantine it).
    if (!fs.existsSync(idMarkerPath(store, job.id))) return normalizeDropped(slot, claimPath, entry.name);
    const run = (job.history?.length ?? 0) + 1;
    job.attempts += 1;
    const abort = new AbortController();
    slot.running = { claimPath, id: job.id, abort, cancelled: false };
    if (stopping === 'force') abort.abort();
    emit({ type: 'claimed', worker: slot.id, id: job.id, attempt: job.attempts, maxRuns: job.max_retries + 1, command: job.command });

    const log = logPath(store, job.id, run);
    // A worker paused between the claim and here may have lost the job to recovery: do not start a
    // command we no longer own. From this check to the spawn nothing yields (execa is loaded at start),
    // so the window left is the few microseconds up to the fork.
    if (!fs.existsSync(claimPath)) {
      emit({ type: 'fenced', worker: slot.id, id: job.id });
      return;
    }
    const result = await runCommand({
      command: job.command,
      cwd: job.cwd,
      env: {
        ...(opts.env ?? {}),
        ...(job.env ?? {}),
        QUEUECTL_JOB_ID: job.id,
        QUEUECTL_ATTEMPT: String(job.attempts),
        QUEUECTL_CLAIM: basename(claimPath),
        QUEUECTL_ROOT: store.root,
      },
      extendEnv: opts.env === undefined,
      timeoutMs: job.timeout ? job.timeout * 1000 : config.timeoutMs,
      killGraceMs: config.killGraceMs,
      logPath: log,
      outputLimitBytes: config.outputLimitBytes,
      abort: abort.signal,
      onSpawn: () => fault('after-spawn'),
    });
    fault('after-exit');
    await finishOrRetry(slot, claimPath, job, run, result);
  }

  /**
   * finish(), again and again with a growing pause while it fails (a full disk): the command has run, and
   * its job must not be left in processing/ (no one recovers a live worker's claim) nor run again.
   */
  async function finishOrRetry(slot: Slot, claimPath: string, job: Job, run: number, result: RunResult): Promise<void> {
    let pause = 200;
    let pending: RecordWriteError | null = null;
    for (;;) {
      try {
        if (pending) rewriteFinished(store, pending.dest, pending.job);
        else await finish(slot, claimPath, job, run, result);
        return;
      } catch (err) {
        if (err instanceof RecordWriteError) pending = err;
        emit({ type: 'error', worker: slot.id, message: `cannot record the result of ${job.id} (${(err as Error).message}); trying again in ${formatDuration(pause)}` });
        if (stopping === 'force' || done) return; // our claim goes back through recovery once we are gone
        await new Promise((r) => setTimeout(r, pause));
        pause = Math.min(pause * 2, 10_000);
      }
    }
  }

  /** Moves the job out of processing/ according to how its command ended. */
  async function finish(slot: Slot, claimPath: string, job: Job, run: number, result: RunResult): Promise<void> {
    const now = clock();
    const iso = new Date(now).toISOString();
    const cancelled = slot.running?.cancelled ?? false;
    const kind = result.outcome.kind;
    const reason = cancelled ? 'cancelled'
      : kind === 'aborted' ? 'interrupted'
      : kind === 'exited' ? (result.exitCode === 0 ? 'completed' : 'failed')
      : kind === 'timedOut' ? 'timeout'
      : kind === 'spawnFailed' ? 'spawn-error'
      : 'killed';
    const attempt: Attempt = {
      attempt: run, worker: slot.id, host: HOST, pid: process.pid,
      started_at: new Date(result.startedAt).toISOString(), ended_at: new Date(result.endedAt).toISOString(),
      duration_ms: result.durationMs, exit_code: result.exitCode, signal: result.signal, reason,
      ...(reason === 'completed' ? {} : { error: result.summary }),
    };
    job.history = [...(job.history ?? []), attempt];
    job.exit_code = result.exitCode;
    job.signal = result.signal;
    job.output_tail = result.tail;
    job.updated_at = iso;
    job.last_error = reason === 'completed' ? null : result.summary;

    let moved: boolean;
    if (reason === 'completed') {
      job.state = 'completed';
      job.finished_at = iso;
      moved = complete(store, claimPath, job, now, fault);
      if (moved) {
        stats.record('completed', result.durationMs, now);
        emit({ type: 'completed', worker: slot.id, id: job.id, attempt: job.attempts, durationMs: result.durationMs });
      }
    } else if (reason === 'interrupted') {
      // Our own stop, not the job's fault: back to pending now, without using an attempt.
      job.attempts -= 1;
      job.state = 'pending';
      job.available_at = iso;
      moved = await requeue(store, claimPath, job, slot.id, fault);
      if (moved) emit({ type: 'interrupted', worker: slot.id, id: job.id });
    } else if (reason === 'cancelled') {
      job.state = 'dead';
      job.finished_at = iso;
      job.last_error = 'cancelled';
      moved = bury(store, claimPath, job, fault);
      if (moved) emit({ type: 'cancelled', worker: slot.id, id: job.id });
    } else {
      const next = decideAfterFailure(job.attempts, job.max_retries, now, policy);
      if (next.to === 'dead') {
        job.state = 'dead';
        job.finished_at = iso;
        moved = bury(store, claimPath, job, fault);
        if (moved) {
          stats.record('dead', result.durationMs, now);
          emit({ type: 'dead', worker: slot.id, id: job.id, attempt: job.attempts, summary: result.summary });
        }
      } else {
        job.state = 'pending';
        job.available_at = new Date(next.availableAt).toISOString();
        moved = await requeue(store, claimPath, job, slot.id, fault);
        if (moved) {
          stats.record('failed', result.durationMs, now);
          emit({ type: 'failed', worker: slot.id, id: job.id, attempt: job.attempts, summary: result.summary, retryInMs: next.delayMs });
          index.add(pendingName(job));
        }
      }
    }
    if (!moved) emit({ type: 'fenced', worker: slot.id, id: job.id });
  }

  emit({ type: 'ready', workers: slots.map((s) => s.id), pid: process.pid });
  const loops = Promise.all(slots.map((s) => loop(s)));
  const finished = loops.then(async () => {
    done = true;
    for (const t of timers) clearTimeout(t);
    await index.close();
    await reaping;
    await stats.flush(Date.now()).catch(() => {});
    await Promise.all(slots.map((s) => s.heartbeat.remove()));
  });
  return { ids: slots.map((s) => s.id), done: finished, stop };
}

/** Removes files left in tmp/ for over an hour (a writer that crashed mid-write; never visible as jobs). */
async function sweepTmp(store: Store, now: number): Promise<void> {
  for (const name of await fsp.readdir(store.tmp).catch(() => [] as string[])) {
    const path = join(store.tmp, name);
    const st = await fsp.stat(path).catch(() => null);
    if (st && now - st.mtimeMs > 3_600_000) await fsp.unlink(path).catch(() => {});
  }
}
