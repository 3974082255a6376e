// A worker process keeps V8's heap near what it holds: the young generation at the size it has when the
// workers start, and the old generation growing by ~10% (at least V8's minimum step, 8 MB) past what the
// last full collection kept, instead of V8's default of up to 4x.
//
// Why: memory a worker does not need is memory a machine running many of them does not have, and every
// fork() of a job copies the page tables of the worker's resident memory (bench/profile.mjs spawn-cost:
// the spawn() call takes ~1.3 ms at 50 MB of RSS, ~4 ms at 108 MB, in a script). A worker holds ~10 MB
// of live objects, but its per-job garbage (execa's streams and promises, the records) makes V8 grow:
//  - the semi-spaces of the young generation double (up to 16 MB each on 64-bit) whenever more than their
//    capacity has survived since the last growth: peak RSS ~95 MB instead of ~117-121 MB when kept;
//  - the old generation's limit is set from the live size times a growing factor V8 picks by its speed
//    (a worker's ~10 MB grew to ~37 MB before each full collection, `--trace-gc`): ~78 MB instead of ~95.
// `--max-semi-space-size` would cap the first, but only on node's own command line, and the bin's shebang
// cannot carry a flag portably (BusyBox's env has no -S). The two factors are read at each growth and at
// each full collection, so setting them at run time works: --semi-space-growth-factor=1 and
// --heap-growing-percent=10. A full collection of ~10 MB takes ~3 ms and now comes every ~8 MB of
// promoted garbage (~170 jobs) instead of every ~28 MB: GC ~0.23 -> ~0.27 ms a job, and throughput the same
// within its noise (BENCHMARKS.md); the 80 MB worker's spawn() was not measurably cheaper than the 95 MB one.
//
// Invariants: only the worker command calls this (the library's startWorkerPool never changes the V8 flags
// of a process that embeds it); a size the user chose (--max-semi-space-size, --semi-space-growth-factor,
// --heap-growing-percent, on node's command line or in NODE_OPTIONS where node allows it) is left alone, and
// `--detach` passes it on to the background process; the young factor is never 0 (V8 crashes on it).

import { setFlagsFromString } from 'node:v8';

// Matched against one flag each: process.execArgv holds a `-e` script too, which may name them.
const USER_SET_YOUNG = /^--(max[-_]semi[-_]space[-_]size|semi[-_]space[-_]growth[-_]factor)(=|$)/;
const USER_SET_OLD = /^--heap[-_]growing[-_]percent(=|$)/;

/** The heap-size flags among node's own (process.execArgv; node takes them only as --flag=value). */
export function heapSizeFlags(execArgv: readonly string[]): string[] {
  return execArgv.filter((a) => USER_SET_YOUNG.test(a) || USER_SET_OLD.test(a));
}

/** Sets what the user did not; returns which of the two generations it set. */
export function keepHeapSmall(execArgv: readonly string[], nodeOptions: string | undefined): { young: boolean; old: boolean } {
  const flags = [...execArgv, ...(nodeOptions ?? '').split(/\s+/)];
  const userSet = (re: RegExp) => flags.some((a) => re.test(a));
  const young = !userSet(USER_SET_YOUNG);
  const old = !userSet(USER_SET_OLD);
  if (young) setFlagsFromString('--semi-space-growth-factor=1');
  if (old) setFlagsFromString('--heap-growing-percent=10');
  return { young, old };
}
