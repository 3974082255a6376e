// Processes a job left behind. Every job runs with QUEUECTL_CLAIM=<claim file name> in its environment,
// inherited by all its descendants, also those that left its process group (setsid, double forks):
// /proc/<pid>/environ shows it. When a run ends by any path (exit, timeout, cancel, stop), and when
// recovery finds a dead worker, everything still carrying the claim is killed. A job that wants to leave
// a process running on purpose starts it without the variable (`env -u QUEUECTL_CLAIM setsid cmd &`).
//
// Scanning every process per job would cost a millisecond or more on a busy host, so the scan after a run
// looks only at pids allocated since the job started: a descendant always gets a pid after its ancestor's
// (pids are handed out in increasing order, wrapping at pid_max), and /proc/sys/kernel/ns_last_pid says
// where the counter is now. For a short job that is a handful of pids.

import * as fs from 'node:fs';

/** Most pids probed one by one; a wider range is taken from a listing of /proc instead. */
const PROBE_MAX = 512;

function pidMax(): number {
  try {
    return Number(fs.readFileSync('/proc/sys/kernel/pid_max', 'utf8')) || 4_194_304;
  } catch {
    return 4_194_304;
  }
}

function lastPid(): number | null {
  try {
    const n = Number(fs.readFileSync('/proc/sys/kernel/ns_last_pid', 'utf8'));
    return Number.isInteger(n) && n > 0 ? n : null;
  } catch {
    return null;
  }
}

/** Candidate pids: those allocated from `since` on (with wrap-around), or every process. */
function candidates(since: number | undefined): number[] {
  const last = since === undefined ? null : lastPid();
  if (since !== undefined && last !== null) {
    const max = pidMax();
    const span = last >= since ? last - since + 1 : max - since + last + 1;
    if (span <= PROBE_MAX) {
      const out: number[] = [];
      for (let i = 0, p = since; i < span; i++, p = p + 1 >= max ? 300 : p + 1) out.push(p);
      return out;
    }
  }
  let entries: string[];
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return []; // no /proc (not Linux): nothing we can find
  }
  const all = entries.filter((e) => /^\d+$/.test(e)).map(Number);
  if (since === undefined || last === null) return all;
  return last >= since ? all.filter((p) => p >= since && p <= last) : all.filter((p) => p >= since || p <= last);
}

/**
 * Pids on this host whose environment holds QUEUECTL_CLAIM=<claim>. With `sincePid` (the job's own pid),
 * only processes started after it are looked at.
 */
export function findJobProcesses(claim: string, sincePid?: number): number[] {
  const needle = Buffer.from(`\0QUEUECTL_CLAIM=${claim}\0`);
  const found: number[] = [];
  for (const pid of candidates(sincePid)) {
    if (pid === process.pid) continue;
    let env: Buffer;
    try {
      env = fs.readFileSync(`/proc/${pid}/environ`);
    } catch {
      continue; // gone, never existed, or not ours to read
    }
    if (env.length === 0) continue;
    const padded = Buffer.concat([Buffer.from([0]), env, Buffer.from([0])]);
    if (padded.includes(needle)) found.push(pid);
  }
  return found;
}

/** SIGKILLs the processes carrying a claim, and their process groups. Returns how many were found. */
export function killJobProcesses(claim: string, sincePid?: number): number {
  const pids = findJobProcesses(claim, sincePid);
  for (const pid of pids) {
    for (const target of [-pid, pid]) {
      try {
        process.kill(target, 'SIGKILL');
      } catch {
        // not a group leader, or gone already
      }
    }
  }
  return pids.length;
}
