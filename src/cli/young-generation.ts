// A worker process keeps V8's young generation at the size it has when the workers start.
//
// Why: V8 doubles the semi-spaces of the young generation (up to 16 MB each on 64-bit) whenever more than
// their capacity has survived since the last growth. A worker's per-job garbage (execa's streams and
// promises, the records) takes them to the maximum within seconds, and its peak RSS from ~95 to ~117-121 MB
// (bench/run.mjs, "100k pending: worker RSS"). That memory is also what every fork() of a job copies the
// page tables of. `--max-semi-space-size` would cap it, but only on node's own command line, and the
// bin's shebang cannot carry a flag portably (BusyBox's env has no -S). The growth factor, unlike the
// maximum, is read at each growth: set to 1 at run time it keeps the semi-spaces at their start size.
//
// Invariants: only the worker command calls this (the library's startWorkerPool never changes the V8 flags
// of a process that embeds it); a size the user chose (--max-semi-space-size or --semi-space-growth-factor,
// on node's command line or in NODE_OPTIONS) is left alone, and `--detach` passes it on to the background
// process; the factor is never 0 (V8 crashes on it).

import { setFlagsFromString } from 'node:v8';

const USER_SET = /--(max[-_]semi[-_]space[-_]size|semi[-_]space[-_]growth[-_]factor)\b/;

/** The young-generation flags among node's own (process.execArgv; node takes them only as --flag=value). */
export function youngGenerationFlags(execArgv: readonly string[]): string[] {
  return execArgv.filter((a) => USER_SET.test(a));
}

/** Returns whether the factor was set (false: the user sized the young generation). */
export function keepYoungGenerationSmall(execArgv: readonly string[], nodeOptions: string | undefined): boolean {
  if (execArgv.some((a) => USER_SET.test(a)) || USER_SET.test(nodeOptions ?? '')) return false;
  setFlagsFromString('--semi-space-growth-factor=1');
  return true;
}
