// Counts of pending/ by state and by queue, from one listing of its names, for `status`, the page and the
// metrics; cached in <root>/pending.count so that a big, quiet pending/ (1,000,000 jobs scheduled ahead)
// is not listed on every call.
//
// Invariants:
//  - The cache is used only when pending/'s mtime (ns) is the one it was made with (any file added,
//    renamed in or out changes it) and no counted job has become due since: `until` is the earliest
//    available_at of the jobs it counted as scheduled. Otherwise pending/ is listed, as before.
//  - It is written only when the folder did not change during the listing (same mtime before and after)
//    and its mtime is at least QUIET_MS old: a change in the same timestamp tick as the listing would
//    not move the mtime, so a folder that just changed is never cached.
//  - A cache that cannot be read, parsed or written is a miss; it is never needed for correctness.

import * as fs from 'node:fs';
import { join } from 'node:path';
import { isErrno } from './errors.js';
import { DEFAULT_QUEUE } from './job.js';
import { parsePendingName, parseStageName } from './lifecycle.js';
import { type Store, writeFileDurable } from './store.js';

export interface StateCounts {
  pending: number;
  scheduled: number;
  failed: number;
}

export interface PendingTally {
  /** Job files (not hidden): a hand-dropped file counts as pending. What `status` counts. */
  counts: StateCounts;
  /** By queue, moves in progress (hidden stage names) included under their queue: what `queue list` counts. */
  queues: Map<string, StateCounts>;
}

const CACHE_FILE = 'pending.count';
const QUIET_MS = 1_000;
const zero = (): StateCounts => ({ pending: 0, scheduled: 0, failed: 0 });

/** Tallies pending/ at `now`, from the cache when it still holds. */
export async function tallyPending(store: Store, now: number): Promise<PendingTally> {
  const cacheFile = join(store.root, CACHE_FILE);
  const before = mtimeNs(store.pending);
  if (before === null) return { counts: zero(), queues: new Map() };
  const cached = readCache(cacheFile, before, now);
  if (cached) return cached;
  const names = fs.readdirSync(store.pending);
  const { tally, until } = tallyNames(names, now);
  const after = mtimeNs(store.pending);
  if (after === before && Date.now() - Number(before / 1_000_000n) >= QUIET_MS) {
    const text = JSON.stringify({ v: 1, mtime: String(before), until: until === Infinity ? null : until, counts: tally.counts, queues: Object.fromEntries(tally.queues) });
    await writeFileDurable(store, cacheFile, `${text}\n`).catch(() => {});
  }
  return tally;
}

/** The tally of a listing, and the earliest available_at among the jobs counted as scheduled. */
export function tallyNames(names: readonly string[], now: number): { tally: PendingTally; until: number } {
  const counts = zero();
  const queues = new Map<string, StateCounts>();
  const queue = (name: string) => {
    let q = queues.get(name);
    if (!q) queues.set(name, (q = zero()));
    return q;
  };
  let until = Infinity;
  for (const n of names) {
    const hidden = n.startsWith('.');
    const p = parsePendingName(hidden ? (parseStageName(n)?.name ?? n) : n);
    if (!p) {
      if (!hidden && n.endsWith('.json')) {
        counts.pending++; // a dropped file, not yet taken in
        queue(DEFAULT_QUEUE).pending++;
      }
      continue;
    }
    const state: keyof StateCounts = p.attempts > 0 ? 'failed' : p.availableAt > now ? 'scheduled' : 'pending';
    if (state === 'scheduled' && p.availableAt < until) until = p.availableAt;
    if (!hidden) counts[state]++;
    queue(p.queue)[state]++;
  }
  return { tally: { counts, queues }, until };
}

function mtimeNs(dir: string): bigint | null {
  try {
    return fs.statSync(dir, { bigint: true }).mtimeNs;
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return null;
    throw err;
  }
}

function readCache(file: string, mtime: bigint, now: number): PendingTally | null {
  try {
    const c = JSON.parse(fs.readFileSync(file, 'utf8')) as { v: number; mtime: string; until: number | null; counts: StateCounts; queues: Record<string, StateCounts> };
    if (c.v !== 1 || c.mtime !== String(mtime) || (c.until !== null && now >= c.until)) return null;
    return { counts: { ...zero(), ...c.counts }, queues: new Map(Object.entries(c.queues)) };
  } catch {
    return null;
  }
}
