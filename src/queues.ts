// Named queues: their settings, stored as small files in queues/ so that `ls` shows them, nothing is
// read-modify-written (no lock needed) and any host sharing the root sees them:
//   queues/<name>.paused    present: the queue starts nothing new (what runs finishes)
//   queues/<name>.limit     an integer N > 0: at most N jobs of the queue run at once in the whole root
//   queues/<name>.running/  one empty file per run admitted under the limit (lifecycle.ts admitRun)
// Workers re-read the settings at every heartbeat. A queue exists as soon as a job names it; settings
// may be made before any job does.

import * as fs from 'node:fs';
import { join } from 'node:path';
import { InputError, isErrno } from './errors.js';
import { DEFAULT_QUEUE, QUEUE_PATTERN } from './job.js';
import { parseClaimName, parseWaitingName } from './lifecycle.js';
import { type PendingTally, tallyPending } from './pending-count.js';
import { listJsonNames, type Store, writeFileDurable } from './store.js';

export interface QueueSettings {
  paused: Set<string>;
  /** Queue -> limit (only queues with one). */
  limits: Map<string, number>;
}

/** Refuses a name that is not a queue name (1-64 of a-z 0-9 _ -). */
export function checkQueueName(name: string): void {
  if (!QUEUE_PATTERN.test(name)) throw new InputError(`Invalid queue name ${JSON.stringify(name)}: queue names are 1-64 characters of a-z 0-9 _ -`);
}

/** The settings of every queue, read now (synchronous: a readdir and one small read per limit). */
export function readQueueSettings(store: Store): QueueSettings {
  const out: QueueSettings = { paused: new Set(), limits: new Map() };
  let names: string[];
  try {
    names = fs.readdirSync(store.queues);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return out;
    throw err;
  }
  for (const n of names) {
    const m = /^([a-z0-9_-]{1,64})\.(paused|limit)$/.exec(n);
    if (!m) continue;
    if (m[2] === 'paused') out.paused.add(m[1]);
    else {
      const limit = Number(fs.readFileSync(join(store.queues, n), 'utf8').trim());
      if (Number.isInteger(limit) && limit > 0) out.limits.set(m[1], limit);
    }
  }
  return out;
}

/** Pauses (true) or resumes (false) a queue. */
export async function setPaused(store: Store, name: string, paused: boolean): Promise<void> {
  checkQueueName(name);
  const path = join(store.queues, `${name}.paused`);
  if (paused) await writeFileDurable(store, path, `paused at ${new Date().toISOString()}\n`);
  else fs.rmSync(path, { force: true });
}

/** Sets a queue's limit (0: none). */
export async function setLimit(store: Store, name: string, limit: number): Promise<void> {
  checkQueueName(name);
  if (!Number.isInteger(limit) || limit < 0 || limit > 100_000) throw new InputError(`Expected the limit to be an integer from 0 (no limit) to 100000, got ${JSON.stringify(limit)}`);
  const path = join(store.queues, `${name}.limit`);
  if (limit === 0) fs.rmSync(path, { force: true });
  else await writeFileDurable(store, path, `${limit}\n`);
}

/** What `queue list` shows for one queue. */
export interface QueueReport {
  name: string;
  pending: number;
  scheduled: number;
  failed: number;
  /** In waiting/ (dependencies not done yet). */
  waiting: number;
  processing: number;
  /** 0: no limit. */
  limit: number;
  paused: boolean;
}

/** Every queue: those jobs name (pending/, processing/, waiting/) and those with settings. From names only. */
export async function listQueues(store: Store, now: number, pendingTally?: PendingTally): Promise<QueueReport[]> {
  const settings = readQueueSettings(store);
  const byName = new Map<string, QueueReport>();
  const get = (name: string) => {
    let r = byName.get(name);
    if (!r) byName.set(name, (r = { name, pending: 0, scheduled: 0, failed: 0, waiting: 0, processing: 0, limit: settings.limits.get(name) ?? 0, paused: settings.paused.has(name) }));
    return r;
  };
  get(DEFAULT_QUEUE);
  for (const name of [...settings.paused, ...settings.limits.keys()]) get(name);
  // Moves in progress (stage names) count under their queue; a dropped file under the default queue.
  const tally = pendingTally ?? (await tallyPending(store, now));
  for (const [name, c] of tally.queues) {
    const r = get(name);
    r.pending += c.pending;
    r.scheduled += c.scheduled;
    r.failed += c.failed;
  }
  for (const n of await listJsonNames(store.waiting)) {
    const w = parseWaitingName(n);
    if (w) get(w.queue).waiting++;
  }
  for (const n of await listJsonNames(store.processing)) {
    const c = parseClaimName(n);
    get(c?.queue ?? DEFAULT_QUEUE).processing++;
  }
  return [...byName.values()].sort((a, b) => (a.name === DEFAULT_QUEUE ? -1 : b.name === DEFAULT_QUEUE ? 1 : a.name.localeCompare(b.name)));
}

/** The folder of a queue's admitted runs. */
export function runningDir(store: Store, queue: string): string {
  return join(store.queues, `${queue}.running`);
}
