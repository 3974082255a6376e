// Removing finished jobs: retention of completed/ (whole hour shards, by workers in the background)
// and `purge` / `dlq purge` (by age). A removed job's id marker and logs go with it, so the id may be
// used again.

import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { isErrno } from './errors.js';
import { releaseIdSync } from './lifecycle.js';
import { listCompletedShards, listJsonNames, logPath, type Store } from './store.js';
import { settleLimit } from './parallel.js';

/** Shard name (YYYYMMDDHH) -> the epoch ms its hour ends. */
function shardEnd(shard: string): number {
  const iso = `${shard.slice(0, 4)}-${shard.slice(4, 6)}-${shard.slice(6, 8)}T${shard.slice(8, 10)}:00:00Z`;
  return Date.parse(iso) + 3_600_000;
}

/** Removes a finished job's id marker and every log of it. */
async function releaseJob(store: Store, id: string): Promise<void> {
  releaseIdSync(store, id);
  for (let run = 1; ; run++) {
    try {
      await fsp.unlink(logPath(store, id, run));
    } catch (err) {
      if (isErrno(err, 'ENOENT')) break;
      throw err;
    }
  }
}

/**
 * Removes completed jobs that finished before `cutoff`. Whole hours whose end is before the cutoff go
 * folder by folder; in the hour that straddles it, files are judged by their mtime (the finish time).
 * Returns the number removed.
 */
export async function purgeCompleted(store: Store, cutoff: number): Promise<number> {
  let removed = 0;
  for (const shard of await listCompletedShards(store)) {
    const end = shardEnd(shard);
    if (end - 3_600_000 > cutoff) continue; // the whole hour is newer
    const dir = join(store.completed, shard);
    const names = await listJsonNames(dir);
    const whole = end <= cutoff;
    const results = await settleLimit(names, 32, async (name) => {
      const path = join(dir, name);
      if (!whole) {
        const st = await fsp.stat(path).catch(() => null);
        if (!st || st.mtimeMs >= cutoff) return false;
      }
      await fsp.unlink(path);
      await releaseJob(store, name.slice(0, -'.json'.length));
      return true;
    });
    removed += results.filter((r) => r.status === 'fulfilled' && r.value).length;
    if (whole) {
      await fsp.rm(dir, { recursive: true, force: true });
      await fsp.unlink(join(store.completed, `${shard}.count`)).catch(() => {});
    }
  }
  return removed;
}

/** Removes dead jobs whose last change is before `cutoff` (all of them for Infinity). Returns the number removed. */
export async function purgeDead(store: Store, cutoff: number): Promise<number> {
  const names = await listJsonNames(store.dead);
  const results = await settleLimit(names, 32, async (name) => {
    const path = join(store.dead, name);
    const st = await fsp.stat(path);
    if (st.mtimeMs >= cutoff) return false;
    await fsp.unlink(path);
    await releaseJob(store, name.slice(0, -'.json'.length));
    return true;
  });
  return results.filter((r) => r.status === 'fulfilled' && r.value).length;
}
