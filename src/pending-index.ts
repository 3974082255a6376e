// The worker's in-memory index of pending/, built from file names only (no file is opened to choose).
//
//  - Within a queue, due jobs in order: lowest priority number, then earliest available_at, then name
//    (enqueue order). Between queues, take() goes round: after a job of queue A it looks at the next queue
//    (in name order) that has a due job and that the caller accepts (not paused, not at its limit, one
//    this worker serves), so a backlog in one queue never starves another. Priorities are compared
//    within a queue only.
//  - Jobs not yet due wait in a second heap keyed by available_at and move over when their time comes;
//    a timer wakes the workers at the next one, so a scheduled job never runs early and never waits long.
//  - chokidar watches the folder itself (not each file: one inotify watch whatever the queue size);
//    its raw events name each file that arrives. Events are only a hint: a full rescan every
//    poll-interval guarantees progress when events are lost. In poll mode (shared filesystems, where
//    another host's renames raise no event here) the rescan is the only source.
//  - Entries are removed lazily: a taken name leaves the map at once; stale heap entries are skipped.
//    A name that no longer exists costs one failed rename (ENOENT) in the claim.
//  - Jobs scheduled ahead are held in a bounded window: at most futureCap of them (the earliest, across
//    queues), more only until the next trim. `horizon` is the earliest scheduled job not held; every
//    scheduled job before it is held, none at or after it is. Nothing at or after the horizon can be
//    due before a rescan loads the next window: one is started HORIZON_LEAD_MS before the horizon's time.
//    So 1,000,000 jobs scheduled ahead cost the memory of futureCap entries, not of a million names.
//  - Rescans stream the folder (opendir, in chunks, yielding between them) instead of holding every name
//    at once; only the hidden stage names are kept for recovery.

import { existsSync, promises as fsp } from 'node:fs';
import { basename, join } from 'node:path';
import { isErrno } from './errors.js';
import { Heap } from './heap.js';
import { isPendingName, type PendingName, parsePendingName } from './lifecycle.js';

export interface IndexOptions {
  dir: string;
  /** Full rescan period. */
  pollIntervalMs: number;
  /** true: no file events, rescans only. */
  poll: boolean;
  now: () => number;
  /** Most jobs scheduled ahead held in memory (see the header); default FUTURE_CAP. */
  futureCap?: number;
}

/** What take() hands out: a queuectl-named job, or a hand-dropped file to normalise. */
export type Taken = { kind: 'job'; entry: PendingName } | { kind: 'dropped'; name: string };

const dueLess = (a: PendingName, b: PendingName) =>
  a.priority !== b.priority ? a.priority < b.priority : a.availableAt !== b.availableAt ? a.availableAt < b.availableAt : a.name < b.name;
const timeLess = (a: PendingName, b: PendingName) => a.availableAt < b.availableAt || (a.availableAt === b.availableAt && a.name < b.name);

/** How long a name we took is ignored when an event or a rescan reports it again. */
const RECENT_MS = 2_000;

/** Default size of the window of jobs scheduled ahead. */
export const FUTURE_CAP = 10_000;
/** A rescan for the next window starts this long before the horizon's time (a 1,000,000-file scan takes ~1-2 s). */
const HORIZON_LEAD_MS = 5_000;
/** Names read per synchronous step of a streamed rescan, between yields to the event loop. */
const SCAN_CHUNK = 4_096;

/** Longest delay setTimeout accepts. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** One queue's jobs: those that may run now, and those scheduled ahead. */
interface QueueHeaps {
  due: Heap<PendingName>;
  future: Heap<PendingName>;
}

export class PendingIndex {
  private entries = new Map<string, PendingName>();
  private dropped = new Set<string>();
  private queues = new Map<string, QueueHeaps>();
  /** Queue names in order, for the round; `turn` is where the next take() starts. */
  private order: string[] = [];
  private turn = 0;
  private recent = new Map<string, number>();
  private waiters: (() => void)[] = [];
  private watcher: { close(): Promise<void> } | undefined;
  private rescanTimer: NodeJS.Timeout | undefined;
  private wakeTimer: NodeJS.Timeout | undefined;
  private wakeAt = Infinity;
  private closed = false;
  private scanning: Promise<void> | undefined;
  /** The earliest scheduled job not held (null: all are); see the header. */
  private horizon: PendingName | null = null;
  private horizonTimer: NodeJS.Timeout | undefined;
  /** Scheduled entries pushed since the window was last cut to futureCap (an upper bound of those held). */
  private futureHeld = 0;
  /** Names added by events while a rescan runs: the rescan must not drop them as missing. */
  private addedDuringScan: Set<string> | null = null;
  /** Names in pending/ at the last rescan (sets the rescan period). */
  private listed = 0;
  /** The hidden names (moves in progress) of pending/ at the last rescan: what recovery needs of a listing. */
  lastListing: string[] = [];

  constructor(private opts: IndexOptions) {}

  /** Scans once and starts watching. */
  async start(): Promise<void> {
    await this.rescan();
    await this.startWatcher();
    this.scheduleRescan();
  }

  /** Applies a new poll interval or poll mode (config changed under a running worker). */
  reconfigure(next: Pick<IndexOptions, 'pollIntervalMs' | 'poll'>): void {
    const wasPoll = this.opts.poll;
    this.opts = { ...this.opts, ...next };
    if (this.closed) return;
    clearTimeout(this.rescanTimer);
    this.scheduleRescan();
    if (wasPoll && !next.poll) void this.startWatcher();
    if (!wasPoll && next.poll) {
      const w = this.watcher;
      this.watcher = undefined;
      void w?.close();
    }
  }

  private async startWatcher(): Promise<void> {
    if (!this.opts.poll && !this.watcher) {
      const { watch } = await import('chokidar');
      const watcher = watch(this.opts.dir, {
        depth: 0,
        ignoreInitial: true,
        persistent: true,
        // Ignore every file (chokidar then holds one watch for the folder, and raw events still name
        // arrivals) and the hidden stage folders of moves in progress (never watched: they live microseconds).
        ignored: (path: string, stats?: { isFile(): boolean }) => (!!stats && stats.isFile()) || (path !== this.opts.dir && basename(path).startsWith('.')),
      });
      // chokidar lists a watched folder, lstat-ing every entry, at start and again on every change in it
      // (throttled to about twice a second). With thousands of pending files and a claim per millisecond
      // that is most of a core (measured: 2,000 files, 2,000 claims: 3.4 s of CPU; without it 0.18 s),
      // and at 100,000 files the start-up listing alone peaked at ~230 MB. We only need the raw events,
      // which name each file, and keep our own index: turn the listing off, before it first runs. If a
      // chokidar release renames this internal, the watcher simply keeps its default behaviour.
      const internals = watcher as unknown as { _readdirp?: unknown };
      if (typeof internals._readdirp === 'function') internals._readdirp = () => undefined;
      watcher.on('raw', (_event: string, path: string) => {
        const name = path.slice(path.lastIndexOf('/') + 1);
        if (name) this.add(name);
      });
      watcher.on('error', () => {}); // the rescan covers for a broken watcher
      await new Promise<void>((resolve) => watcher.once('ready', () => resolve()));
      this.watcher = watcher;
      if (this.closed) await watcher.close();
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.rescanTimer);
    clearTimeout(this.wakeTimer);
    clearTimeout(this.horizonTimer);
    await this.watcher?.close();
    this.wakeAll();
  }

  /** Number of names known (due and scheduled, plus dropped files). */
  get size(): number {
    return this.entries.size + this.dropped.size;
  }

  /** Adds a name reported by an event (or recovery). Wakes waiting workers when it is due. */
  add(name: string): void {
    if (!name.endsWith('.json') || name.startsWith('.')) return;
    if (this.entries.has(name) || this.dropped.has(name)) return;
    if (this.wasTaken(name)) return;
    this.addedDuringScan?.add(name);
    const parsed = parsePendingName(name);
    if (!parsed) {
      this.dropped.add(name);
      this.wakeAll();
      return;
    }
    if (parsed.availableAt > this.opts.now()) {
      if (this.horizon && !timeLess(parsed, this.horizon)) return; // beyond the window: a rescan loads it
      if (++this.futureHeld > 2 * this.futureCap) this.trimFuture();
    }
    this.insert(parsed);
  }

  /** A name we took lately, reported again: usually the event of our own claim renaming it away. */
  private wasTaken(name: string): boolean {
    const t = this.recent.get(name);
    if (t === undefined) return false;
    // A file there now is a new one of that name.
    if (this.opts.now() - t < RECENT_MS && !existsSync(join(this.opts.dir, name))) return true;
    this.recent.delete(name);
    return false;
  }

  private get futureCap(): number {
    return this.opts.futureCap ?? FUTURE_CAP;
  }

  private insert(parsed: PendingName): void {
    this.entries.set(parsed.name, parsed);
    const q = this.heapsOf(parsed.queue);
    if (parsed.availableAt <= this.opts.now()) {
      q.due.push(parsed);
      this.wakeAll();
    } else {
      q.future.push(parsed);
      this.armWake(parsed.availableAt);
    }
  }

  /** Cuts the scheduled entries held to the futureCap earliest; the first one let go becomes the horizon. */
  private trimFuture(): void {
    const now = this.opts.now();
    const future = [...this.entries.values()].filter((e) => e.availableAt > now).sort((a, b) => (timeLess(a, b) ? -1 : timeLess(b, a) ? 1 : 0));
    this.futureHeld = Math.min(future.length, this.futureCap);
    if (future.length <= this.futureCap) return;
    for (const e of future.slice(this.futureCap)) this.entries.delete(e.name);
    this.setHorizon(future[this.futureCap]);
    this.rebuildHeaps();
  }

  private setHorizon(h: PendingName | null): void {
    if (h && this.horizon && timeLess(this.horizon, h)) h = this.horizon;
    this.horizon = h;
    clearTimeout(this.horizonTimer);
    if (!h || this.closed) return;
    // Ahead of its time; once past that (the rescan ahead found the same horizon), at its time exactly.
    const now = this.opts.now();
    const lead = h.availableAt - HORIZON_LEAD_MS - now;
    this.horizonTimer = setTimeout(() => {
      this.rescan().catch(() => {});
    }, Math.min(MAX_TIMER_MS, lead > 0 ? lead : Math.max(0, h.availableAt - now) + 1));
    this.horizonTimer.unref?.();
  }

  private heapsOf(queue: string): QueueHeaps {
    let q = this.queues.get(queue);
    if (!q) {
      q = { due: new Heap<PendingName>(dueLess), future: new Heap<PendingName>(timeLess) };
      this.queues.set(queue, q);
      this.order = [...this.queues.keys()].sort();
    }
    return q;
  }

  /** Queues that have a job that may run now (for the caller's limits and pauses). */
  dueQueues(): string[] {
    const now = this.opts.now();
    return this.order.filter((name) => {
      const q = this.queues.get(name)!;
      return q.due.size > 0 || (q.future.size > 0 && q.future.peek()!.availableAt <= now);
    });
  }

  /**
   * Hands out the best job that may run now (hand-dropped files first), removing it from the index, from
   * the next queue in the round that `accept` accepts (all of them by default).
   */
  take(accept: (queue: string) => boolean = () => true): Taken | null {
    const now = this.opts.now();
    for (const name of this.dropped) {
      this.dropped.delete(name);
      this.remember(name, now);
      return { kind: 'dropped', name };
    }
    let nextAt = Infinity;
    for (let i = 0; i < this.order.length; i++) {
      const k = (this.turn + i) % this.order.length;
      const name = this.order[k];
      const q = this.queues.get(name)!;
      while (q.future.size && q.future.peek()!.availableAt <= now) q.due.push(q.future.pop()!);
      if (q.future.size) nextAt = Math.min(nextAt, q.future.peek()!.availableAt);
      if (!q.due.size || !accept(name)) continue;
      for (let e = q.due.pop(); e; e = q.due.pop()) {
        if (this.entries.get(e.name) !== e) continue; // taken already, or gone at the last rescan
        this.entries.delete(e.name);
        this.remember(e.name, now);
        this.turn = (k + 1) % this.order.length;
        return { kind: 'job', entry: e };
      }
    }
    if (nextAt < Infinity) this.armWake(nextAt);
    return null;
  }

  /** Resolves when there may be work: a new due file, a scheduled job's time, a rescan, or close(). */
  waitForWork(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Wakes every waiting worker (stop requests use this too). */
  wakeAll(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const fn of w) fn();
  }

  /** Reads the folder and reconciles the index with it. */
  rescan(): Promise<void> {
    this.scanning ??= this.doRescan().finally(() => {
      this.scanning = undefined;
    });
    return this.scanning;
  }

  private async doRescan(): Promise<void> {
    const scan = new WindowScan(this.opts.now(), this.futureCap);
    this.addedDuringScan = new Set();
    try {
      // Never through a link: pending/ swapped for a symlink must not feed the index (store.checkFolders).
      if (!(await fsp.lstat(this.opts.dir)).isDirectory()) return;
      const dir = await fsp.opendir(this.opts.dir, { bufferSize: 1024 });
      try {
        for (;;) {
          let n = 0;
          for (let d = dir.readSync(); d; d = n < SCAN_CHUNK ? dir.readSync() : null) {
            scan.see(d.name, this.entries.get(d.name));
            n++;
          }
          if (n < SCAN_CHUNK) break;
          await new Promise((resolve) => setImmediate(resolve)); // let exits and events through
        }
        scan.complete = true;
      } finally {
        await dir.close().catch(() => {});
      }
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return;
      throw err;
    } finally {
      this.scanned(scan);
    }
  }

  /** Reconciles the index with a finished scan: drops what is gone or beyond the new window, adds the rest. */
  private scanned(scan: WindowScan): void {
    const during = this.addedDuringScan ?? new Set<string>();
    this.addedDuringScan = null;
    if (!scan.complete) return;
    this.lastListing = scan.hidden;
    this.listed = scan.count;
    const keep = new Set<string>(scan.due.map((e) => e.name));
    for (const e of scan.window.view()) keep.add(e.name);
    for (const name of this.entries.keys()) if (!keep.has(name) && !during.has(name)) this.entries.delete(name);
    for (const name of this.dropped) if (!scan.droppedNames.has(name) && !during.has(name)) this.dropped.delete(name);
    const now = this.opts.now();
    for (const [name, t] of this.recent) if (now - t >= RECENT_MS) this.recent.delete(name);
    this.horizon = null;
    this.setHorizon(scan.horizon);
    this.futureHeld = scan.window.size;
    for (const name of scan.droppedNames) if (!this.dropped.has(name) && !this.wasTaken(name)) this.dropped.add(name);
    for (const e of [...scan.due, ...scan.window.view()]) if (!this.entries.has(e.name) && !this.wasTaken(e.name)) this.insert(e);
    // Scheduled names an event added during the scan, at or after the new horizon: not held (the invariant).
    if (this.horizon) for (const name of during) {
      const e = this.entries.get(name);
      if (e && e.availableAt > now && !timeLess(e, this.horizon)) this.entries.delete(name);
    }
    if (scan.droppedNames.size) this.wakeAll();
    // Heaps keep removed entries until popped; rebuild them when mostly stale.
    let held = 0;
    let due = 0;
    for (const q of this.queues.values()) {
      held += q.due.size + q.future.size;
      due += q.due.size;
    }
    if (held > 2 * this.entries.size + 1024) this.rebuildHeaps();
    if (due) this.wakeAll();
  }

  private rebuildHeaps(): void {
    this.queues.clear();
    this.order = [];
    const now = this.opts.now();
    for (const e of this.entries.values()) {
      const q = this.heapsOf(e.queue);
      (e.availableAt <= now ? q.due : q.future).push(e);
    }
  }

  private scheduleRescan(): void {
    if (this.closed) return;
    // With file events, a rescan only covers for lost ones: a big queue is listed less often (every
    // poll-interval per 20,000 files), so listing it does not become the worker's main work. In poll
    // mode the rescan is how jobs are found, every poll-interval.
    const every = this.opts.poll ? this.opts.pollIntervalMs : this.opts.pollIntervalMs * Math.max(1, Math.ceil(Math.max(this.size, this.listed) / 20_000));
    this.rescanTimer = setTimeout(() => {
      this.rescan().catch(() => {}).finally(() => this.scheduleRescan());
    }, every);
    this.rescanTimer.unref?.();
  }

  private remember(name: string, now: number): void {
    this.recent.set(name, now);
  }

  /** Arms one timer for the earliest scheduled job, so workers wake when it becomes due. */
  private armWake(at: number): void {
    if (at >= this.wakeAt) return;
    clearTimeout(this.wakeTimer);
    this.wakeAt = at;
    // setTimeout takes at most 2^31-1 ms (24.8 days); a longer delay fires after 1ms (a busy loop and a
    // TimeoutOverflowWarning each time), so wake up at the cap and re-arm from take().
    this.wakeTimer = setTimeout(() => {
      this.wakeAt = Infinity;
      this.wakeAll();
    }, Math.min(MAX_TIMER_MS, Math.max(0, at - this.opts.now()) + 1));
  }
}

/**
 * One streamed pass over pending/: the due jobs (all held), the futureCap earliest scheduled ones (a
 * bounded max-heap: the latest held is on top and goes when a better one comes), the earliest one that did
 * not fit (the horizon), the dropped files and the hidden names. Entries already held are reused.
 * For queuectl names, timeLess is the order of the names as strings (fixed-width available_at first, then
 * the name), so a name after the window's latest is let go without being parsed: a scan of 1,000,000
 * names scheduled ahead allocates little more than the names themselves.
 */
class WindowScan {
  due: PendingName[] = [];
  window = new Heap<PendingName>((a, b) => timeLess(b, a));
  /** The earliest name let go (compared as strings, see above). */
  private horizonName: string | null = null;
  droppedNames = new Set<string>();
  hidden: string[] = [];
  count = 0;
  complete = false;

  constructor(private readonly now: number, private readonly cap: number) {}

  see(name: string, held: PendingName | undefined): void {
    this.count++;
    if (name.startsWith('.')) {
      this.hidden.push(name);
      return;
    }
    if (!name.endsWith('.json')) return;
    if (!held && this.window.size >= this.cap && name > this.window.peek()!.name && isPendingName(name)) {
      this.letGo(name); // scheduled after all the window holds (hence not due either)
      return;
    }
    const e = held ?? parsePendingName(name);
    if (!e) {
      this.droppedNames.add(name);
      return;
    }
    if (e.availableAt <= this.now) {
      this.due.push(e);
      return;
    }
    this.window.push(e);
    if (this.window.size > this.cap) this.letGo(this.window.pop()!.name);
  }

  private letGo(name: string): void {
    if (this.horizonName === null || name < this.horizonName) this.horizonName = name;
  }

  /** The earliest scheduled job not held, or null when the window holds them all. */
  get horizon(): PendingName | null {
    return this.horizonName === null ? null : parsePendingName(this.horizonName);
  }
}
