// Counters for the page, /metrics and `queuectl metrics`. They never go backwards for the life of the root.
//
//  - Each worker process keeps its counters in memory and rewrites workers/<tag>.stats every few seconds
//    (tmp + rename). Its numbers only grow. A crash loses at most the last few seconds of counts (never
//    published, so nothing goes down); job state itself never depends on these files.
//  - When a process is gone, recovery calls retireStats: under a proper-lockfile lock on
//    workers/retired.totals, each gone process's counts are added to `totals` there, its snapshot is
//    remembered in `folded[tag]`, the file is written (tmp + rename), and only then is the process's own
//    file removed. Nothing is ever deleted for age: a live process's counters stay where they are.
//  - Readers add `totals` and, for every process file, what it holds beyond `folded[tag]` (so a file folded
//    but not yet removed counts once, and a process wrongly judged dead that writes again adds only its new
//    counts). They read the process files first and retired.totals second: a fold between the two reads
//    moves counts from the files into totals, which the second read sees, so a sum never misses them.
//  - Two reapers folding the same file at once: the lock serialises them, and the second one finds the
//    file gone, or folded already (what it holds beyond folded[tag] is zero). A crash between writing
//    retired.totals and removing the file leaves a file that adds zero; the next pass removes it.
//  - folded[tag] is kept for FOLDED_KEEP_MS. A process judged dead that writes its counters again later than
//    that (frozen for a week) would count them twice; one that writes them during the few milliseconds of a
//    fold keeps them (its newer file is put back), though a reader in between may see them missing once.

import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { isErrno, QueuectlError } from './errors.js';
import { type Store, writeFileDurable } from './store.js';

/** Upper bounds (seconds) of the job duration histogram, as Prometheus `le` labels: 10 ms to a day. */
export const DURATION_BUCKETS = [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 1800, 3600, 7200, 14400, 28800, 86400] as const;

/** How a run ended, as the histogram's `outcome` label: completed, failed (a retry follows), dead (no retry left). */
export const OUTCOMES = ['completed', 'failed', 'dead'] as const;
export type Outcome = (typeof OUTCOMES)[number];

/** Version of the stats file format; a file of another version counts its counters but not its histogram. */
const FORMAT = 2;

export interface Histogram {
  /** Cumulative counts: runs that took at most DURATION_BUCKETS[i] seconds, then all runs (+Inf). */
  buckets: number[];
  /** Seconds, summed. */
  sum: number;
  count: number;
}

export interface StatsSnapshot {
  v: number;
  /** Runs that succeeded. */
  completed: number;
  /** Failed runs (each one, including the last of a dead job). */
  failed: number;
  /** Jobs moved to dead/ after their last failed run. */
  dead: number;
  /** Per minute (epoch minute -> counts), the last 60 minutes. */
  minutes: Record<string, { completed: number; failed: number }>;
  /** Run durations by outcome. */
  durations: Record<Outcome, Histogram>;
  updated_at: string;
}

function emptyHistogram(): Histogram {
  return { buckets: new Array(DURATION_BUCKETS.length + 1).fill(0), sum: 0, count: 0 };
}

export function emptySnapshot(): StatsSnapshot {
  return {
    v: FORMAT, completed: 0, failed: 0, dead: 0, minutes: {},
    durations: { completed: emptyHistogram(), failed: emptyHistogram(), dead: emptyHistogram() },
    updated_at: new Date(0).toISOString(),
  };
}

/** In-memory counters of one worker process, flushed to its stats file. */
export class StatsRecorder {
  private snap = emptySnapshot();
  private dirty = false;
  constructor(private readonly store: Store, private readonly tag: string) {}

  /** Records one finished run. */
  record(outcome: Outcome, durationMs: number, now: number): void {
    const s = this.snap;
    if (outcome === 'dead') s.dead++;
    if (outcome === 'completed') s.completed++;
    else s.failed++;
    const minute = String(Math.floor(now / 60_000));
    const m = (s.minutes[minute] ??= { completed: 0, failed: 0 });
    if (outcome === 'completed') m.completed++;
    else m.failed++;
    const h = s.durations[outcome];
    const secs = durationMs / 1000;
    DURATION_BUCKETS.forEach((le, i) => {
      if (secs <= le) h.buckets[i]++;
    });
    h.buckets[DURATION_BUCKETS.length]++;
    h.sum += secs;
    h.count++;
    this.dirty = true;
  }

  /** Writes the file if anything changed; drops minutes older than an hour. */
  async flush(now: number): Promise<void> {
    if (!this.dirty) return;
    this.dirty = false;
    dropOldMinutes(this.snap, now);
    this.snap.updated_at = new Date(now).toISOString();
    await writeFileDurable(this.store, statsPath(this.store, this.tag), JSON.stringify(this.snap));
  }
}

export function statsPath(store: Store, tag: string): string {
  return join(store.workers, `${tag}.stats`);
}

/** The counts of processes that are gone (see the header). Not a `.stats` name: readers skip it there. */
export function retiredPath(store: Store): string {
  return join(store.workers, 'retired.totals');
}

interface Retired {
  v: number;
  totals: StatsSnapshot;
  /** Per process tag: the snapshot already in totals, and when it was folded (epoch ms). */
  folded: Record<string, { at: number; snap: StatsSnapshot }>;
}

/** How long a folded snapshot is remembered (see the header). */
export const FOLDED_KEEP_MS = 7 * 86_400_000;

// ---- arithmetic on snapshots ------------------------------------------------------------------------

const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : 0);

/** A snapshot from file text, or null when it is not one. Files of another format keep their counters only. */
export function parseSnapshot(text: string): StatsSnapshot | null {
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return null;
  }
  if (typeof raw !== 'object' || raw === null) return null;
  const s = emptySnapshot();
  s.completed = num(raw.completed);
  s.failed = num(raw.failed);
  s.dead = num(raw.dead);
  if (typeof raw.minutes === 'object' && raw.minutes !== null) {
    for (const [k, v] of Object.entries(raw.minutes as Record<string, { completed?: unknown; failed?: unknown }>)) {
      if (/^\d+$/.test(k) && v) s.minutes[k] = { completed: num(v.completed), failed: num(v.failed) };
    }
  }
  const durations = raw.durations as Record<string, Partial<Histogram>> | undefined;
  if (raw.v === FORMAT && durations) {
    for (const o of OUTCOMES) {
      const h = durations[o];
      if (!h || !Array.isArray(h.buckets) || h.buckets.length !== DURATION_BUCKETS.length + 1) continue;
      s.durations[o] = { buckets: h.buckets.map(num), sum: num(h.sum), count: num(h.count) };
    }
  }
  if (typeof raw.updated_at === 'string') s.updated_at = raw.updated_at;
  return s;
}

/** What `s` holds beyond `base` (zero where it holds less: a sum never goes down). */
function beyond(s: StatsSnapshot, base: StatsSnapshot | undefined): StatsSnapshot {
  if (!base) return s;
  const d = emptySnapshot();
  const minus = (a: number, b: number) => Math.max(0, a - b);
  d.completed = minus(s.completed, base.completed);
  d.failed = minus(s.failed, base.failed);
  d.dead = minus(s.dead, base.dead);
  for (const [k, v] of Object.entries(s.minutes)) {
    const b = base.minutes[k];
    d.minutes[k] = { completed: minus(v.completed, b?.completed ?? 0), failed: minus(v.failed, b?.failed ?? 0) };
  }
  for (const o of OUTCOMES) {
    const h = s.durations[o];
    const b = base.durations[o];
    d.durations[o] = { buckets: h.buckets.map((v, i) => minus(v, b.buckets[i])), sum: minus(h.sum, b.sum), count: minus(h.count, b.count) };
  }
  d.updated_at = s.updated_at;
  return d;
}

/** Adds `s` into `total`. */
function addInto(total: StatsSnapshot, s: StatsSnapshot): void {
  total.completed += s.completed;
  total.failed += s.failed;
  total.dead += s.dead;
  for (const [k, v] of Object.entries(s.minutes)) {
    const m = (total.minutes[k] ??= { completed: 0, failed: 0 });
    m.completed += v.completed;
    m.failed += v.failed;
  }
  for (const o of OUTCOMES) {
    const t = total.durations[o];
    const h = s.durations[o];
    h.buckets.forEach((v, i) => (t.buckets[i] += v));
    t.sum += h.sum;
    t.count += h.count;
  }
  if (s.updated_at > total.updated_at) total.updated_at = s.updated_at;
}

function dropOldMinutes(s: StatsSnapshot, now: number): void {
  const oldest = Math.floor(now / 60_000) - 60;
  for (const k of Object.keys(s.minutes)) if (Number(k) < oldest) delete s.minutes[k];
}

// ---- files --------------------------------------------------------------------------------------------

/** Tags of the process stats files in workers/. */
async function statsTags(store: Store): Promise<string[]> {
  try {
    return (await fsp.readdir(store.workers)).filter((n) => n.endsWith('.stats') && !n.startsWith('.')).map((n) => n.slice(0, -'.stats'.length));
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return [];
    throw err;
  }
}

/** A process's snapshot, or null when the file is gone (or not a snapshot). */
async function readSnapshotFile(path: string): Promise<StatsSnapshot | null> {
  try {
    return parseSnapshot(await fsp.readFile(path, 'utf8'));
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return null;
    throw err;
  }
}

/** retired.totals; empty when there is none yet. Throws when it exists but cannot be read as one. */
async function readRetired(store: Store): Promise<Retired> {
  let text: string;
  try {
    text = await fsp.readFile(retiredPath(store), 'utf8');
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return { v: FORMAT, totals: emptySnapshot(), folded: {} };
    throw err;
  }
  try {
    const raw = JSON.parse(text) as { totals?: unknown; folded?: Record<string, { at?: unknown; snap?: unknown }> };
    const totals = parseSnapshot(JSON.stringify(raw.totals));
    if (!totals || typeof raw.folded !== 'object' || raw.folded === null) throw new Error('no totals');
    const folded: Retired['folded'] = {};
    for (const [tag, f] of Object.entries(raw.folded)) {
      const snap = parseSnapshot(JSON.stringify(f?.snap));
      if (snap) folded[tag] = { at: num(f.at), snap };
    }
    return { v: FORMAT, totals, folded };
  } catch {
    throw new QueuectlError(`${retiredPath(store)} is not a counters file (it holds the counts of worker processes that are gone); move it aside to start the counters from the live processes`);
  }
}

/**
 * The counters of the root: every retired process plus every live one, each counted once. Never less than
 * an earlier call's (see the header). When retired.totals is unreadable, only the process files count.
 */
export async function readStats(store: Store): Promise<StatsSnapshot> {
  // Process files first, retired.totals second (the order makes a concurrent fold safe).
  const tags = await statsTags(store);
  const snaps = await Promise.all(tags.map(async (tag) => ({ tag, snap: await readSnapshotFile(statsPath(store, tag)).catch(() => null) })));
  const retired = await readRetired(store).catch(() => ({ v: FORMAT, totals: emptySnapshot(), folded: {} }) as Retired);
  const total = retired.totals;
  for (const { tag, snap } of snaps) if (snap) addInto(total, beyond(snap, retired.folded[tag]?.snap));
  return total;
}

export interface RetireOptions {
  /** The filesystem's "now" (a heartbeat just touched): files younger than settleMs on that clock wait. */
  reference?: number;
  /** A file written this recently is left for a later pass: its process may have started after `isGone` was judged. @default 5000 */
  settleMs?: number;
  now?: number;
}

/**
 * Folds the counters of processes that are gone into retired.totals and removes their files. `isGone(tag)`
 * says whether the process of a stats file is gone (recovery's judgement of the worker with that id).
 * Returns how many files were folded. Safe to run in many processes at once (see the header).
 */
export async function retireStats(store: Store, isGone: (tag: string) => boolean, opts: RetireOptions = {}): Promise<number> {
  const now = opts.now ?? Date.now();
  const reference = opts.reference ?? now;
  const settleMs = opts.settleMs ?? 5_000;
  const candidates: string[] = [];
  for (const tag of await statsTags(store)) {
    if (!isGone(tag)) continue;
    const st = await fsp.stat(statsPath(store, tag)).catch(() => null);
    if (st && reference - st.mtimeMs >= settleMs) candidates.push(tag);
  }
  if (candidates.length === 0) return 0;

  const { default: lockfile } = await import('proper-lockfile');
  let release: () => Promise<void>;
  try {
    release = await lockfile.lock(retiredPath(store), {
      realpath: false,
      stale: 10_000,
      retries: { retries: 20, minTimeout: 20, maxTimeout: 200 },
      // The default handler throws from a timer and kills the process; a lost lock here is only a skipped fold.
      onCompromised: () => {},
    });
  } catch (err) {
    if ((err as { code?: string }).code === 'ELOCKED') return 0; // another process is folding; a later pass does the rest
    throw err;
  }
  try {
    const retired = await readRetired(store);
    const folded: { tag: string; text: string }[] = [];
    for (const tag of candidates) {
      const text = await fsp.readFile(statsPath(store, tag), 'utf8').catch((err) => {
        if (isErrno(err, 'ENOENT')) return null; // folded by another process meanwhile
        throw err;
      });
      const snap = text === null ? null : parseSnapshot(text);
      if (!snap) continue; // gone, or not a snapshot (it counts for nothing; left for a person to see)
      addInto(retired.totals, beyond(snap, retired.folded[tag]?.snap));
      retired.folded[tag] = { at: now, snap };
      folded.push({ tag, text: text! });
    }
    dropOldMinutes(retired.totals, now);
    for (const [tag, f] of Object.entries(retired.folded)) {
      if (now - f.at > FOLDED_KEEP_MS) delete retired.folded[tag];
      else dropOldMinutes(f.snap, now);
    }
    await writeFileDurable(store, retiredPath(store), JSON.stringify(retired));
    for (const { tag, text } of folded) await removeFolded(store, tag, text);
    return folded.length;
  } finally {
    await release().catch(() => {});
  }
}

/**
 * Removes a folded process file, unless its process wrote it again since it was read (then the newer file
 * stays: what it holds beyond the folded snapshot still counts). The rename takes the file out of the way
 * of a concurrent write; link() puts a newer one back without replacing an even newer one.
 */
async function removeFolded(store: Store, tag: string, foldedText: string): Promise<void> {
  const path = statsPath(store, tag);
  const aside = join(store.workers, `.${tag}.stats.retiring-${process.pid}`);
  try {
    await fsp.rename(path, aside);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return;
    throw err;
  }
  const now = await fsp.readFile(aside, 'utf8').catch(() => foldedText);
  if (now !== foldedText) await fsp.link(aside, path).catch(() => {}); // EEXIST: an even newer file is there
  await fsp.unlink(aside).catch(() => {});
}
