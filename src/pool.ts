// The worker pool: N workers (worker.ts) in one process sharing one index of pending/, and everything
// around them: heartbeats, recovery passes, requests (stop, cancel), the live configuration, counters,
// retention, and shutdown.
//
//  - Every heartbeat interval: touch each worker's heartbeat, take stop and cancel requests (lifecycle.ts),
//    and re-read config.json if it changed: running workers apply every setting within about one
//    heartbeat interval (the next job's timeout, kill-grace, output-limit, backoff, max-retries for
//    dropped files, the intervals themselves, poll mode). A config that would make live workers look dead
//    (stale-after below twice heartbeat-interval) is refused and the old one kept.
//  - Recovery runs at start (a restarted worker picks up what a crash left) and every stale-after/2,
//    jittered.
//  - Stop: graceful claims nothing new and lets running jobs finish; force aborts them (they go back to
//    pending without using an attempt). The pool is done when every worker has stopped and the heartbeat
//    files are gone.
//  - Nothing here reads process.argv/env or prints: events go to onEvent, the jobs' environment comes in
//    as `env`.

import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { basename, join, resolve } from 'node:path';
import type { BackoffPolicy } from './backoff.js';
import { type Config, configProblem, loadConfig } from './config.js';
import { InputError } from './errors.js';
import { createHeartbeat, type Heartbeat, type HeartbeatMemory, LocalDeathWatch } from './heartbeat.js';
import { hostIdentity } from './identity.js';
import { type Job, type JobDefaults, parseStoredJob, queueOf, recordProblem } from './job.js';
import {
  adopt, admitRun, bury, claim, claimName, complete, dischargeRun, finishedState, heldByLiveFile, isFirstRecord, parseClaimName, parsePendingName, type FaultHook, intake, markerPath, noFault, pendingName, quarantine, RecordWriteError, requeue,
  rewriteFinished, takeRequestSync, unclaim,
} from './lifecycle.js';
import { killJobProcesses } from './leftovers.js';
import { settleDependentsInSlices } from './dependencies.js';
import { afterRun, type Next, nextRunNumber } from './outcome.js';
import { PendingIndex } from './pending-index.js';
import { type QueueSettings, readQueueSettings } from './queues.js';
import { recover, sweepTmp } from './recovery.js';
import { runSchedules } from './schedules.js';
import { purgeCompleted } from './retention.js';
import { loadRunner, runCommand, type RunResult } from './runner.js';
import { StatsRecorder } from './stats.js';
import { checkFolders, logPath, readJobFileSync, type Store } from './store.js';
import { formatDuration } from './units.js';
import { type Opened, runWorker, type Slot, type StopMode, type WorkerDeps, type WorkerEvent } from './worker.js';

export type { StopMode, WorkerEvent } from './worker.js';

export interface PoolOptions {
  store: Store;
  config: Config;
  count: number;
  /** The environment every job starts from (the one queuectl was started with); QUEUECTL_* are added. */
  env: Record<string, string | undefined>;
  onEvent: (event: WorkerEvent) => void;
  /** Fault injection (torture suite): called at named steps; see lifecycle.ts FaultHook. */
  fault?: FaultHook;
  /** The queues these workers take jobs from (`worker start --queue`); all of them when absent. */
  queues?: readonly string[];
}

export interface WorkerPool {
  /** Worker ids (one heartbeat file each). */
  ids: string[];
  /** Resolves when every worker has stopped and the heartbeats are gone. */
  done: Promise<void>;
  stop(mode: StopMode): void;
}

/** Worker ids: "w" + 10 base-36 characters, lowercase so claim names parse. */
function newWorkerId(): string {
  return `w${BigInt(`0x${randomBytes(7).toString('hex')}`).toString(36).padStart(10, '0').slice(-10)}`;
}

/** Starts `count` workers on the store. Returns once they are claiming. */
export async function startWorkerPool(opts: PoolOptions): Promise<WorkerPool> {
  const problem = configProblem(opts.config);
  if (problem) throw new InputError(problem);
  const pool = new Pool(opts);
  await pool.start();
  return { ids: pool.slots.map((s) => s.id), done: pool.done, stop: (mode) => pool.stop(mode) };
}

interface Beating {
  slot: Slot;
  heartbeat: Heartbeat;
}

class Pool {
  readonly slots: Slot[] = [];
  private readonly beats: Beating[] = [];
  private readonly store: Store;
  private config: Config;
  private readonly fault: FaultHook;
  private readonly host = hostIdentity().host;
  private index!: PendingIndex;
  private stats!: StatsRecorder;
  private self = new Set<string>();
  /** Workers of this host that die between recovery passes: recovered at the next heartbeat, not the next pass. */
  private deaths!: LocalDeathWatch;
  private reference = 0;
  private stopping: StopMode | null = null;
  private finished = false;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly memory: HeartbeatMemory = new Map();
  private reaping: Promise<void> | undefined;
  /** When this pool last ran its scheduler tick (schedules.ts dueSlots: slots after it came while it ticked). */
  private lastScheduleTick: number | null = null;
  private configStamp = '';
  /** Set while the root's folders are not as they must be (a symlink, another filesystem): nothing is claimed. */
  private broken: string | null = null;
  /** Queue pauses and limits, re-read at every heartbeat (queues.ts). */
  private settings: QueueSettings = { paused: new Set(), limits: new Map() };
  /** Queues at their limit, until when (ms): not offered again before, so workers do not spin on them. */
  private readonly full = new Map<string, number>();
  /** Claims admitted under a queue's limit, and the admission to end when they leave. */
  private readonly admitted = new Map<string, { queue: string; claim: string }>();
  private readonly serves: ReadonlySet<string> | null;
  done: Promise<void> = Promise.resolve();
  /** Releases of dependents in progress (settle): shutdown waits for them. */
  private readonly settling = new Set<Promise<void>>();

  constructor(private readonly opts: PoolOptions) {
    this.store = opts.store;
    this.config = opts.config;
    this.fault = opts.fault ?? noFault;
    this.serves = opts.queues?.length ? new Set(opts.queues) : null;
  }

  private emit(e: WorkerEvent): void {
    try {
      this.opts.onEvent(e);
    } catch {
      // a broken printer must not stop the queue
    }
  }

  private get policy(): BackoffPolicy {
    return { base: this.config.backoffBase, maxMs: this.config.backoffMaxMs, jitter: this.config.backoffJitter };
  }

  async start(): Promise<void> {
    for (let i = 0; i < Math.max(1, this.opts.count); i++) {
      const slot: Slot = { id: newWorkerId(), seq: 0 };
      this.slots.push(slot);
      this.beats.push({ slot, heartbeat: await createHeartbeat(this.store, slot.id) });
    }
    this.self = new Set(this.slots.map((s) => s.id));
    this.deaths = new LocalDeathWatch(this.store, this.self);
    this.stats = new StatsRecorder(this.store, this.slots[0].id);
    this.index = new PendingIndex({ dir: this.store.pending, pollIntervalMs: this.config.pollIntervalMs, poll: this.config.poll, now: Date.now });
    this.configStamp = this.stampConfig();
    this.settings = readQueueSettings(this.store);
    this.reference = await this.beats[0].heartbeat.beat();
    await loadRunner();
    await this.reap(false);
    await this.index.start();
    this.startTimers();
    // Every heartbeat fresh before the first claim: the start-up above (the runner's import, the first
    // recovery pass, the first scan of pending/) can take longer than stale-after on a loaded machine,
    // and a worker whose file still had its creation time was judged dead by another process the moment
    // it claimed, its run taken over (and its admission under a queue limit freed) while it ran.
    await this.beatAll();
    this.emit({ type: 'ready', workers: this.slots.map((s) => s.id), pid: process.pid });
    const deps = this.deps();
    const loops = Promise.all(this.slots.map((s) => runWorker(s, deps)));
    this.done = loops.then(() => this.shutdown());
  }

  private async shutdown(): Promise<void> {
    this.finished = true;
    for (const t of this.timers) clearTimeout(t);
    // Dependents being released go on to the end while this worker still has its heartbeat.
    await Promise.all(this.settling);
    await this.index.close();
    await this.reaping;
    await this.stats.flush(Date.now()).catch(() => {});
    await Promise.all(this.beats.map((b) => b.heartbeat.remove()));
  }

  // ---- timers ----

  /** Runs fn every ms() (read anew each time, so config changes apply), jittered ±25% if asked. */
  private every(ms: () => number, fn: () => Promise<unknown> | void, jitter = false): void {
    const tick = () => {
      const next = jitter ? ms() * (0.75 + Math.random() * 0.5) : ms();
      const t = setTimeout(async () => {
        this.timers.delete(t);
        try {
          await fn();
        } catch (err) {
          this.emit({ type: 'error', message: (err as Error).message });
        }
        if (!this.finished) tick();
      }, next);
      this.timers.add(t);
    };
    tick();
  }

  private startTimers(): void {
    this.every(() => this.config.heartbeatIntervalMs, () => this.heartbeatTick());
    this.every(() => Math.max(50, this.config.staleAfterMs / 2), () => this.reap(true), true);
    this.every(() => 2_000, () => this.stats.flush(Date.now()));
    this.every(() => 60_000, () => (this.config.retentionMs > 0 ? purgeCompleted(this.store, Date.now() - this.config.retentionMs) : undefined), true);
    this.every(() => 600_000, () => sweepTmp(this.store, Date.now()), true);
    // Just after each second's start: slots fall on whole seconds, so one tick a second finds each at once.
    this.every(() => 1_000 - (Date.now() % 1_000) + 5, () => this.scheduleTick());
  }

  /** Touches every heartbeat; the newest mtime is "now" on the filesystem's clock. */
  private async beatAll(): Promise<void> {
    const beats = await Promise.all(this.beats.map((b) => b.heartbeat.beat().catch(() => 0)));
    this.reference = Math.max(this.reference, ...beats);
  }

  private async heartbeatTick(): Promise<void> {
    await this.beatAll();
    this.takeRequests();
    this.refreshQueues();
    await this.reloadConfig();
    if (!this.stopping && this.deaths.check()) void this.reap(true);
  }

  /** Re-reads queue pauses and limits; a resumed or raised queue wakes the workers. */
  private refreshQueues(): void {
    let next: QueueSettings;
    try {
      next = readQueueSettings(this.store);
    } catch (err) {
      this.emit({ type: 'error', message: `queue settings: ${(err as Error).message}` });
      return;
    }
    const freed = [...this.settings.paused].some((q) => !next.paused.has(q))
      || [...this.settings.limits].some(([q, n]) => (next.limits.get(q) ?? Infinity) > n);
    const key = (x: QueueSettings) => JSON.stringify([[...x.paused].sort(), [...x.limits].sort()]);
    const changed = key(next) !== key(this.settings);
    this.settings = next;
    if (changed) this.emit({ type: 'queues', paused: [...next.paused].sort(), limits: Object.fromEntries(next.limits) });
    if (freed) this.index.wakeAll();
  }

  /** Whether a worker of this pool may take a job of `queue` now. */
  private accepts(queue: string): boolean {
    if (this.serves && !this.serves.has(queue)) return false;
    if (this.settings.paused.has(queue)) return false;
    const until = this.full.get(queue);
    return until === undefined || until <= Date.now();
  }

  /** A queue found at its limit: not offered for a moment (jittered), then tried again. */
  private markFull(queue: string): void {
    const wait = 100 + Math.random() * 100;
    this.full.set(queue, Date.now() + wait);
    const t = setTimeout(() => {
      this.timers.delete(t);
      this.index.wakeAll();
    }, wait + 1);
    this.timers.add(t);
  }

  /**
   * Claims pending/<name>; a job of a queue with a limit is admitted first (lifecycle.admitRun), and when
   * the queue is full it goes back into the index and the queue rests for a moment.
   */
  private claimFor(slot: Slot, name: string): string | null {
    const p = parsePendingName(name);
    const limit = p ? this.settings.limits.get(p.queue) ?? 0 : 0;
    const seq = slot.seq++;
    if (!p || limit === 0) return claim(this.store, name, slot.id, seq);
    const admission = claimName(name, slot.id, seq);
    if (admitRun(this.store, p.queue, limit, admission) === 'full') {
      this.markFull(p.queue);
      this.index.add(name);
      return null;
    }
    const path = claim(this.store, name, slot.id, seq);
    if (!path) dischargeRun(this.store, p.queue, admission);
    else this.admitted.set(path, { queue: p.queue, claim: admission });
    return path;
  }

  private release(claimPath: string): void {
    const a = this.admitted.get(claimPath);
    if (!a) return;
    this.admitted.delete(claimPath);
    dischargeRun(this.store, a.queue, a.claim);
    if (this.full.delete(a.queue)) this.index.wakeAll();
  }

  /** Stop and cancel requests arrive as files in workers/ (lifecycle.ts: written whole, taken by rename). */
  private takeRequests(): void {
    let names: string[];
    try {
      names = fs.readdirSync(this.store.workers);
    } catch {
      return;
    }
    for (const slot of this.slots) {
      if (names.includes(`${slot.id}.stop`)) {
        const mode = takeRequestSync(this.store, slot.id, 'stop');
        if (mode !== null) this.stop(mode === 'force' ? 'force' : 'graceful');
      }
      if (names.includes(`${slot.id}.cancel`)) {
        const claimName = takeRequestSync(this.store, slot.id, 'cancel');
        const running = slot.running;
        if (running && claimName !== null && basename(running.claimPath) === claimName) {
          running.cancelled = true;
          running.abort.abort();
        }
      }
    }
  }

  // ---- configuration ----

  private stampConfig(): string {
    const st = fs.statSync(this.store.config, { throwIfNoEntry: false });
    return st ? `${st.ino}:${st.size}:${st.mtimeMs}` : 'none';
  }

  /** Re-reads config.json when it changed and applies it; a bad one is reported and the old one kept. */
  private async reloadConfig(): Promise<void> {
    const stamp = this.stampConfig();
    if (stamp === this.configStamp) return;
    this.configStamp = stamp;
    let next: Config;
    try {
      next = await loadConfig(this.store);
    } catch (err) {
      this.emit({ type: 'error', message: `config not applied, keeping the running one: ${(err as Error).message}` });
      return;
    }
    const problem = configProblem(next);
    if (problem) {
      this.emit({ type: 'error', message: `config not applied, keeping the running one: ${problem}` });
      return;
    }
    const changed = (Object.keys(next) as (keyof Config)[]).filter((k) => next[k] !== this.config[k]);
    if (changed.length === 0) return;
    this.config = next;
    this.index.reconfigure({ pollIntervalMs: next.pollIntervalMs, poll: next.poll });
    this.emit({ type: 'config', changed });
  }

  /** Enqueues the slots of recurring schedules that have come (schedules.ts: each exactly once). */
  private async scheduleTick(): Promise<void> {
    if (this.stopping) return;
    const now = Date.now();
    const r = await runSchedules(this.store, now, { maxRetries: this.config.maxRetries }, this.lastScheduleTick);
    this.lastScheduleTick = now;
    const worker = this.slots[0].id;
    for (const id of r.enqueued) this.emit({ type: 'scheduled', worker, schedule: id.slice(0, id.lastIndexOf('-')), id });
    for (const e of r.errors) this.emit({ type: 'error', worker, message: e.message.startsWith(`schedule ${e.name}`) ? e.message : `schedule ${e.name}: ${e.message}` });
  }

  // ---- recovery ----

  private reap(useIndexListing: boolean): Promise<void> {
    this.reaping ??= this.reapOnce(useIndexListing).finally(() => {
      this.reaping = undefined;
    });
    return this.reaping;
  }

  private async reapOnce(useIndexListing: boolean): Promise<void> {
    try {
      try {
        checkFolders(this.store);
        if (this.broken) this.emit({ type: 'error', message: 'the queue root is sound again; claiming resumes' });
        this.broken = null;
      } catch (err) {
        this.broken = (err as Error).message;
        this.emit({ type: 'error', message: `not claiming: ${this.broken}` });
        return;
      }
      const events = await recover({
        store: this.store, staleAfterMs: this.config.staleAfterMs, policy: this.policy, defaults: this.dropDefaults(),
        reference: this.reference, self: this.self, owner: this.slots[0].id, now: Date.now(), memory: this.memory,
        pendingNames: useIndexListing ? this.index.lastListing : undefined,
      });
      const worker = this.slots[0].id;
      for (const e of events) {
        if (e.type === 'recovered' || e.type === 'quarantined' || e.type === 'normalized') this.emit({ ...e, worker });
        if (e.type === 'enqueues' && e.published) this.emit({ type: 'published', worker, count: e.published });
        if (e.type === 'dependents') for (const name of e.released) this.index.add(name);
        if (e.type === 'enqueues' || e.type === 'published' || e.type === 'normalized' || e.type === 'recovered') void this.index.rescan();
      }
    } catch (err) {
      this.emit({ type: 'error', message: `recovery: ${(err as Error).message}` });
    }
  }

  // ---- stop ----

  stop(mode: StopMode): void {
    if (this.stopping === 'force' || this.stopping === mode) return;
    this.stopping = mode;
    for (const b of this.beats) void b.heartbeat.markStopping(); // status and the page: "stopping", not "idle"
    this.emit({ type: 'stopping', mode });
    if (mode === 'force') for (const s of this.slots) s.running?.abort.abort();
    this.index.wakeAll();
    void this.index.close();
  }

  // ---- what the workers use ----

  /** Defaults for the fields a dropped file leaves out: the config as it is now (config set applies). */
  private dropDefaults(): JobDefaults {
    return { maxRetries: this.config.maxRetries, cwd: null };
  }

  private deps(): WorkerDeps {
    const store = this.store;
    return {
      take: () => (this.broken ? null : this.index.take((q) => this.accepts(q))),
      waitForWork: () => this.index.waitForWork(),
      stopping: () => this.stopping,
      claim: (slot, name) => this.claimFor(slot, name),
      open: (claimPath) => openClaim(store, claimPath, this.dropDefaults(), this.fault),
      intake: (slot, claimPath, name) => intake(store, claimPath, name, {
        now: Date.now, defaults: this.dropDefaults(), owner: slot.id, fault: this.fault,
      }).then((r) => {
        if (r.kind === 'taken') this.index.add(r.name);
        return r;
      }),
      quarantine: async (from, name, reason) => (await quarantine(store, from, name, reason, Date.now())) !== null,
      unclaim: (claimPath) => {
        unclaim(store, claimPath);
      },
      release: (claimPath) => this.release(claimPath),
      holds: (claimPath) => fs.existsSync(claimPath),
      run: (slot, job, claimPath, abort) => this.run(job, claimPath, abort).then((result) => {
        // Dropped output is said, not silent: the run itself counts as it ended.
        if (result.outputError) this.emit({ type: 'error', worker: slot.id, message: `the output of ${job.id} was not all kept (${result.outputError}); its end is in the job's output_tail` });
        return result;
      }),
      finish: (slot, claimPath, job, result, cancelled) => this.finishOrRetry(slot, claimPath, job, result, cancelled),
      pendingPath: (name) => join(store.pending, name),
      emit: (e) => this.emit(e),
      fault: (p) => this.fault(p),
    };
  }

  private run(job: Job, claimPath: string, abort: AbortSignal): Promise<RunResult> {
    const claimFile = basename(claimPath);
    const c = this.config;
    return runCommand({
      command: job.command,
      cwd: job.cwd,
      env: {
        ...this.opts.env,
        ...(job.env ?? {}),
        QUEUECTL_JOB_ID: job.id,
        QUEUECTL_ATTEMPT: String(job.attempts + 1),
        QUEUECTL_CLAIM: claimFile,
        QUEUECTL_ROOT: this.store.root,
      },
      timeoutMs: job.timeout ? job.timeout * 1000 : c.timeoutMs,
      killGraceMs: c.killGraceMs,
      logPath: logPath(this.store, job.id, nextRunNumber(job)),
      // Checked by the shell before the command: a worker paused past its last check, whose claim
      // recovery took meanwhile, cannot start the command when it resumes. Absolute: the shell runs in
      // the job's cwd, not this process's.
      guardPath: resolve(claimPath),
      outputLimitBytes: c.outputLimitBytes,
      abort,
      onSpawn: () => this.fault('after-spawn'),
      // The run is over when its shell exits: whatever it left running, in its group or not, goes too.
      onExit: (pid) => {
        killJobProcesses(claimFile, pid);
      },
    });
  }

  /**
   * finish(), again and again with a growing pause while it fails (a full disk): the command has run, and
   * its job must not be left in processing/ (no one recovers a live worker's claim) nor run again.
   */
  private async finishOrRetry(slot: Slot, claimPath: string, job: Job, result: RunResult, cancelled: boolean): Promise<void> {
    let pause = 200;
    let unwritten: RecordWriteError | null = null;
    const next = afterRun(job, result, cancelled, { worker: slot.id, host: this.host, pid: process.pid }, Date.now(), this.policy);
    for (;;) {
      try {
        if (unwritten) rewriteFinished(this.store, unwritten.dest, unwritten.job);
        else await this.move(slot, claimPath, next, result);
        return;
      } catch (err) {
        if (err instanceof RecordWriteError) unwritten = err;
        this.emit({ type: 'error', worker: slot.id, message: `cannot record the result of ${job.id} (${(err as Error).message}); trying again in ${formatDuration(pause)}` });
        if (this.stopping === 'force' || this.finished) return; // our claim goes back through recovery once we are gone
        await new Promise((r) => setTimeout(r, pause));
        pause = Math.min(pause * 2, 10_000);
      }
    }
  }

  /** The move a run's outcome asks for, with its event; a fenced move says so. */
  private async move(slot: Slot, claimPath: string, next: Next, result: RunResult): Promise<void> {
    const { job } = next;
    const worker = slot.id;
    const now = Date.now();
    const reason = job.history?.at(-1)?.reason;
    let moved: boolean;
    if (next.to === 'completed') {
      moved = complete(this.store, claimPath, job, now, this.fault);
      if (moved) {
        this.stats.record('completed', result.durationMs, now);
        this.emit({ type: 'completed', worker, id: job.id, attempt: job.attempts, durationMs: result.durationMs });
      }
    } else if (next.to === 'dead') {
      moved = bury(this.store, claimPath, job, this.fault);
      if (moved && reason === 'cancelled') this.emit({ type: 'cancelled', worker, id: job.id });
      else if (moved) {
        this.stats.record('dead', result.durationMs, now);
        this.emit({ type: 'dead', worker, id: job.id, attempt: job.attempts, summary: result.summary });
      }
    } else {
      moved = await requeue(this.store, claimPath, job, worker, this.fault);
      if (moved && reason === 'interrupted') this.emit({ type: 'interrupted', worker, id: job.id });
      else if (moved) {
        this.stats.record('failed', result.durationMs, now);
        this.emit({ type: 'failed', worker, id: job.id, attempt: job.attempts, summary: result.summary, retryInMs: next.delayMs });
      }
      if (moved) this.index.add(pendingName(job));
    }
    if (!moved) this.emit({ type: 'fenced', worker, id: job.id });
    else if (next.to !== 'pending') this.settle(job.id, next.to, worker);
  }

  /** The jobs waiting for one that just finished: released (completed) or doomed (dead), a slice at a time. */
  private settle(id: string, outcome: 'completed' | 'dead', worker: string): void {
    let released = 0;
    let doomed = 0;
    const settling = settleDependentsInSlices(this.store, id, outcome, { now: Date.now(), owner: worker, fault: this.fault }, (r) => {
      for (const name of r.releasedNames) this.index.add(name);
      released += r.released.length;
      doomed += r.doomed.length;
    }).then(
      () => {
        if (released || doomed) this.emit({ type: 'settled', worker, id, released, doomed });
      },
      // Recovery's sweep of deps/ settles the rest if this fails (a full disk).
      (err: Error) => this.emit({ type: 'error', worker, message: `settling the jobs waiting for ${id}: ${err.message}` }),
    ).finally(() => this.settling.delete(settling));
    this.settling.add(settling);
  }
}

/**
 * Reads a claimed queuectl-named file: the job, or why it cannot run. Runs the same check as createJob
 * (recordProblem), so whatever enqueue accepted is run here.
 */
function openClaim(store: Store, claimPath: string, defaults: JobDefaults, fault: FaultHook): Opened {
  // Synchronous like the claim: a few microseconds for a small local file.
  const read = readJobFileSync(claimPath);
  if (!read.ok && read.gone) return { kind: 'gone' };
  const name = basename(claimPath);
  const claimed = parseClaimName(name);
  const checked = read.ok ? checkClaimedRecord(read.text, name, claimed) : { problem: read.problem };
  // Every job queuectl wrote has its id reserved in ids/. A file another program dropped under a
  // queuectl-style name has not: it runs from here if it is already what intake would make of it (adopt:
  // its id reserved on this very file), else it is taken in like any dropped file, which is also how a
  // file still being written in place is waited for (intake's settle) instead of quarantined half-read.
  // A record whose id or queue is not its name's is quarantined: its name claims what it is not.
  const id = checked.job?.id ?? claimed?.id ?? undefined;
  const marker = id === undefined ? undefined : fs.statSync(markerPath(store, id), { throwIfNoEntry: false });
  if (!checked.job || !read.ok) return marker || !claimed || checked.mismatch ? { kind: 'bad', reason: checked.problem ?? '' } : { kind: 'foreign' };
  const job = checked.job;
  if (marker) {
    // The marker is the job's first record: for a first run, the very file claimed (no more to check). A
    // later record is a job whose id is held by its own record, unless another program's file reuses the
    // id: of a finished job (a finished record holds it), or of a live one. queuectl's own later records
    // have a run in their history or an attempt used (retries, stops, recovery), except the few it writes
    // anew with neither (an intake finished by recovery, a retried dead job that never ran): for those
    // alone, one listing looks for the live job's file. Intake quarantines the reuse ("already used").
    if (isFirstRecord(store, job.id, marker, read)) return { kind: 'job', job };
    if (finishedState(store, job.id) !== null) return { kind: 'foreign' };
    if (job.attempts > 0 || job.history?.length || !heldByLiveFile(store, job.id, claimPath)) return { kind: 'job', job };
    return { kind: 'foreign' };
  }
  if (!claimed) return { kind: 'foreign' };
  // parseStoredJob's object as the spec: createJob ignores the state it set, as it ignores every system field.
  const adopted = adopt(store, claimPath, job, claimed, Date.now(), defaults, fault);
  if (adopted.kind === 'job') return { kind: 'job', job: adopted.job, adopted: claimed.pendingName };
  return adopted.kind === 'gone' ? { kind: 'gone' } : { kind: 'foreign' };
}

/**
 * A claimed file's bytes as a record a worker may run: parsed, its id and queue those of its name, and
 * passing recordProblem, the same check createJob runs, so whatever enqueue accepted is run here.
 */
function checkClaimedRecord(text: string, name: string, claimed: ReturnType<typeof parseClaimName>): { job: Job; problem?: undefined; mismatch?: undefined } | { job?: undefined; problem: string; mismatch?: true } {
  let job: Job;
  try {
    job = parseStoredJob(text, `processing/${name}`, 'processing');
  } catch (err) {
    return { problem: (err as Error).message };
  }
  if (claimed?.id && job.id !== claimed.id) return { problem: `the file name says id "${claimed.id}" but the record says "${job.id}"`, mismatch: true };
  if (claimed?.queue && queueOf(job) !== claimed.queue) return { problem: `the file name says queue "${claimed.queue}" but the record says "${queueOf(job)}"`, mismatch: true };
  const problem = recordProblem(job);
  return problem ? { problem } : { job };
}
