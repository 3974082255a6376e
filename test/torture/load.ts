// Cases 1, 2 and 5: many jobs, many worker processes, optionally killed with SIGKILL at random, and the
// ledger checker at the end. One driver, three settings:
//   1 ledger  - N jobs, 4 processes, a kill now and then: every id once, except where a kill landed mid-run;
//   2 storm   - 4 processes, one SIGKILLed at random every ~300 ms and restarted, over the whole run;
//   5 racing  - 16 processes, no kill: every id exactly once.

import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import {
  applyVerdict, assertVerdict, checkLedger, type Ctx, emptyFigures, enqueueMany, errorLines, type Figures,
  finishedCount, jobProcesses, ledgerCommand, makeQueue, scanStore, sleep, spawnWorker, stopWorker, waitFor, type WorkerProc,
} from './lib.js';

interface LoadSpec {
  name: string;
  jobs: number;
  procs: number;
  /** Workers per process (--count). */
  count: number;
  /** Kill one process at random every [min, max] ms, and restart it; null: never. */
  killEvery: [number, number] | null;
  /** Shell run before the ledger line (e.g. a short random sleep, so kills land mid-run). */
  before?: (i: number) => string;
  /** No kill, so no extra run allowed. */
  strict: boolean;
  config?: Record<string, string | number | boolean>;
  timeoutMs: number;
}

async function runLoad(ctx: Ctx, spec: LoadSpec): Promise<Figures> {
  const f = emptyFigures(spec.name);
  const q = await makeQueue(ctx, { 'max-retries': 50, ...spec.config });
  const ids = Array.from({ length: spec.jobs }, (_, i) => `${spec.name.split(' ')[0]}j${String(i).padStart(5, '0')}`);
  const t0 = Date.now();
  await enqueueMany(q, ids.map((id, i) => ({ id, command: ledgerCommand(q, spec.before?.(i) ?? '') })));
  ctx.log(`${spec.name}: enqueued ${ids.length} in ${Date.now() - t0}ms`);
  f.jobs = ids.length;

  const start = Date.now();
  const procs: WorkerProc[] = [];
  for (let i = 0; i < spec.procs; i++) procs.push(spawnWorker(ctx, q, { count: spec.count, quiet: true }));
  const allOutput: WorkerProc[] = [...procs];

  let finished = false;
  const killed = { first: 0, helper: 0, set: 0 };
  const killer = (async () => {
    if (!spec.killEvery) return;
    const [lo, hi] = spec.killEvery;
    while (!finished) {
      await sleep(lo + ctx.rng() * (hi - lo));
      if (finished) break;
      const i = Math.floor(ctx.rng() * procs.length);
      // Only a worker that got going is killed (a start takes seconds on a loaded machine).
      await procs[i].ready.catch(() => {});
      if (finished) break;
      // `--count 2` is two processes (the first and its helper): a kill takes the first process, a
      // helper, or the whole set (an OOM kill, a crash), a third of the time each, so that a helper dies
      // mid-run as often as the first process does. A set that lost only its helper stops on its own.
      const helpers = procs[i].helpers();
      const r = ctx.rng();
      if (helpers.length && r < 1 / 3) {
        killPid(helpers[Math.floor(ctx.rng() * helpers.length)]);
        killed.helper++;
      } else {
        if (helpers.length && r < 2 / 3) {
          for (const h of helpers) killPid(h);
          killed.set++;
        } else killed.first++;
        procs[i].kill('SIGKILL');
      }
      f.kills++;
      procs[i] = spawnWorker(ctx, q, { count: spec.count, quiet: true });
      allOutput.push(procs[i]);
    }
  })();

  let lastLog = 0;
  try {
    await waitFor(async () => {
      const done = await finishedCount(q.root);
      if (Date.now() - lastLog > 5_000) {
        lastLog = Date.now();
        ctx.log(`${spec.name}: ${done}/${ids.length} finished, ${f.kills} kills, ${((Date.now() - start) / 1000).toFixed(0)}s`);
      }
      return done >= ids.length;
    }, { timeoutMs: spec.timeoutMs, intervalMs: 200, what: `${ids.length} jobs to finish (${spec.name})` });
  } finally {
    finished = true;
    await killer;
  }
  f.timeMs = Date.now() - start;

  // Let any claim of a killed worker be judged stale, then nothing may be left in processing/.
  await Promise.all(procs.map((p) => p.ready.catch(() => {})));
  await sleep(1_000);
  const scan = await scanStore(q.root);
  if (scan.processing.length || scan.stages.length) {
    f.stuck += scan.processing.length + scan.stages.length;
    f.notes.push(`left after stale-after: processing/ ${scan.processing.slice(0, 5).join(' ')} stages ${scan.stages.slice(0, 5).join(' ')}`);
  }
  await Promise.all(procs.map((p) => stopWorker(p)));
  const orphans = await jobProcesses(q.root);
  if (orphans.length) f.notes.push(`${orphans.length} orphan job processes: ${orphans.map((p) => `${p.pid} ${p.cmdline}`).slice(0, 3).join('; ')}`);

  const v = await checkLedger(q.root, q.ledger, ids, { strict: spec.strict });
  applyVerdict(f, v);
  if (f.kills) f.notes.push(`kills: ${killed.first} of a first process alone, ${killed.helper} of a helper alone, ${killed.set} of a whole set`);
  const errors = allOutput.flatMap(errorLines);
  if (errors.length) f.notes.push(`${errors.length} worker error lines, e.g. ${errors[0]}`);
  const tmpLeft = (await fsp.readdir(join(q.root, 'tmp'))).length;
  if (tmpLeft) f.notes.push(`${tmpLeft} files left in tmp/ (swept after an hour)`);
  ctx.log(`${spec.name}: ${v.ok} ok, ${v.workerLost} worker-lost attempts, ${v.extra} extra runs`);

  const problems: string[] = [];
  try {
    assertVerdict(v, spec.name, { allowUnaccounted: true });
  } catch (err) {
    problems.push((err as Error).message);
  }
  if (v.unaccounted.length) {
    ctx.bug('F6', `${spec.name}: ${v.unaccounted.length} jobs ran more often than 1 + their worker-lost attempts: ${v.details.filter((d) => d.includes(' ran ')).slice(0, 5).join('; ')}`, problems);
  }
  if (orphans.length) problems.push(`${spec.name}: ${orphans.length} orphan job processes left after the workers stopped`);
  if (scan.processing.length || scan.stages.length) problems.push(`${spec.name}: left in processing/ after stale-after: ${[...scan.processing, ...scan.stages].slice(0, 5).join(' ')}`);
  if (v.dead.length) problems.push(`${spec.name}: ${v.dead.length} jobs dead: ${v.details.filter((d) => d.includes('DEAD')).slice(0, 3).join('; ')}`);
  if (spec.strict && v.workerLost) problems.push(`${spec.name}: ${v.workerLost} worker-lost attempts with no kill`);
  if (problems.length) throw Object.assign(new Error(problems.join('\n')), { figures: f });
  return f;
}

/** SIGKILL to a pid that may be gone already. */
function killPid(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // gone
  }
}

/** Case 1: the ledger. */
export function caseLedger(ctx: Ctx): Promise<Figures> {
  return runLoad(ctx, {
    name: '1 ledger',
    jobs: ctx.pick(5_000, 200),
    procs: 4,
    count: 2,
    killEvery: ctx.pick<[number, number]>([800, 1_600], [400, 800]),
    strict: false,
    timeoutMs: ctx.pick(400_000, 40_000),
  });
}

/** Case 2: kill -9 storm. */
export function caseStorm(ctx: Ctx): Promise<Figures> {
  return runLoad(ctx, {
    name: '2 storm',
    jobs: ctx.pick(4_000, 150),
    procs: 4,
    count: 2,
    killEvery: [200, 400],
    // 0-150 ms of work before the ledger line, so many kills land mid-run.
    before: () => `sleep 0.${String(Math.floor(ctx.rng() * 150)).padStart(3, '0')}; `,
    strict: false,
    timeoutMs: ctx.pick(300_000, 60_000),
  });
}

/** Case 5: racing workers. */
export function caseRacing(ctx: Ctx): Promise<Figures> {
  return runLoad(ctx, {
    name: '5 racing',
    jobs: ctx.pick(10_000, 300),
    procs: ctx.pick(16, 8),
    count: 1,
    killEvery: null,
    strict: true,
    // 16 processes rescanning a 10,000-file pending/ every 200 ms is most of the CPU: rescan every second.
    config: { 'poll-interval': '1s', 'stale-after': '5s', 'heartbeat-interval': '200ms' },
    timeoutMs: ctx.pick(400_000, 60_000),
  });
}
