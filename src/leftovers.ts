// Finds processes a dead worker left running on this host. Every job runs with QUEUECTL_CLAIM=<claim
// file name> in its environment, inherited by its children; /proc/<pid>/environ shows it. This costs
// nothing while jobs run and is only read when a worker is found dead.

import { promises as fsp } from 'node:fs';

/** Pids on this host whose environment holds QUEUECTL_CLAIM=<claim>. */
export async function findJobProcesses(claim: string): Promise<number[]> {
  const needle = Buffer.from(`\0QUEUECTL_CLAIM=${claim}\0`);
  let entries: string[];
  try {
    entries = await fsp.readdir('/proc');
  } catch {
    return []; // no /proc (not Linux): nothing we can find
  }
  const found: number[] = [];
  await Promise.all(entries.filter((e) => /^\d+$/.test(e)).map(async (pid) => {
    try {
      const env = await fsp.readFile(`/proc/${pid}/environ`);
      const padded = Buffer.concat([Buffer.from([0]), env, Buffer.from([0])]);
      if (padded.includes(needle)) found.push(Number(pid));
    } catch {
      // gone, or not ours to read
    }
  }));
  return found;
}

/** SIGKILLs the processes of a dead worker's job and their process groups. Returns how many were found. */
export async function killJobProcesses(claim: string): Promise<number> {
  const pids = await findJobProcesses(claim);
  for (const pid of pids) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // not a group leader
    }
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  return pids.length;
}

/** True when a process with this pid exists on this host (EPERM: it exists but is not ours). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
