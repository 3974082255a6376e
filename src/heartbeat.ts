// Worker heartbeats: one touch-file per worker in workers/. The file's content says who the worker is
// (written once, at start); its mtime says when it last proved alive. A touch is a one-byte pwrite,
// so the mtime comes from the filesystem's clock (the file server's, on a shared filesystem), and
// staleness is judged by comparing two mtimes, never against the local clock.

import { promises as fsp } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { isErrno } from './errors.js';
import { FILE_MODE, listJsonNames, type Store, writeFileDurable } from './store.js';

/** What a heartbeat file holds. */
export interface WorkerInfo {
  id: string;
  pid: number;
  host: string;
  started_at: string;
  /** The root this worker serves (for people reading the file). */
  root: string;
  /** Set by `worker stop`: the worker should finish its job and exit. */
  stop?: boolean;
}

export interface WorkerStatus extends WorkerInfo {
  /** mtime of the heartbeat file (epoch ms). */
  heartbeat_at: number;
  alive: boolean;
}

export function heartbeatPath(store: Store, workerId: string): string {
  return join(store.workers, `${workerId}.json`);
}

export interface Heartbeat {
  info: WorkerInfo;
  /** Touches the file now; resolves to its new mtime. */
  beat(): Promise<number>;
  /** Removes the file (clean exit). */
  remove(): Promise<void>;
}

/** Writes a worker's heartbeat file and keeps it open for cheap touches. */
export async function createHeartbeat(store: Store, workerId: string): Promise<Heartbeat> {
  const info: WorkerInfo = { id: workerId, pid: process.pid, host: hostname(), started_at: new Date().toISOString(), root: store.root };
  const path = heartbeatPath(store, workerId);
  await writeFileDurable(store, path, `${JSON.stringify(info)}\n`);
  const fh = await fsp.open(path, 'r+', FILE_MODE);
  const first = Buffer.from('{');
  return {
    info,
    async beat() {
      // pwrite of the byte already there: the content stays, the filesystem sets the mtime.
      await fh.write(first, 0, 1, 0);
      return (await fh.stat()).mtimeMs;
    },
    async remove() {
      await fh.close().catch(() => {});
      await fsp.unlink(path).catch(() => {});
    },
  };
}

/**
 * Every heartbeat file with its age. `reference` is the mtime of a file just touched on the same
 * filesystem (a live worker's own heartbeat), or the local clock when there is none.
 */
export async function readWorkers(store: Store, reference: number, staleAfterMs: number): Promise<WorkerStatus[]> {
  const out: WorkerStatus[] = [];
  for (const name of await listJsonNames(store.workers)) {
    const path = join(store.workers, name);
    try {
      const [text, st] = await Promise.all([fsp.readFile(path, 'utf8'), fsp.stat(path)]);
      const info = JSON.parse(text) as WorkerInfo;
      out.push({ ...info, heartbeat_at: st.mtimeMs, alive: reference - st.mtimeMs <= staleAfterMs });
    } catch (err) {
      if (isErrno(err, 'ENOENT')) continue; // exited while we looked
      // A half-readable heartbeat is a worker that is starting; skip it this time.
    }
  }
  return out.sort((a, b) => a.started_at.localeCompare(b.started_at) || a.id.localeCompare(b.id));
}
