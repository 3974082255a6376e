// Cases 12-14: organizing work under a kill -9 storm and frozen workers.
//   12 queue-limit   a queue limited to 2, three worker processes killed at random: never more than 2 of
//                    its jobs run at once (each run writes its start and a tick every 20 ms; a run cut by a
//                    kill ends at its last tick), and every job completes.
//   13 dependents    trees of jobs with `after`, under the same storm: no job starts before every job it
//                    names has completed (the end of its completed run), and all complete.
//   14 schedule      a schedule every second, three worker processes, one frozen (SIGSTOP) past
//                    stale-after and woken: no slot is enqueued (run) twice, and no slot is skipped while
//                    workers ran.

import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import {
  type Ctx, emptyFigures, enqueueMany, type Figures, makeQueue, scanStore, sleep, spawnWorker, startWorker, stopWorker, waitFor,
  type WorkerProc,
} from './lib.js';

/** A job that writes start, a tick every 20ms while it runs, and end, to `timeline`. */
function timedCommand(timeline: string, ticks: number): string {
  const now = '$(date +%s%3N)';
  return `echo "start $QUEUECTL_JOB_ID ${now}" >> ${timeline}; for i in $(seq ${ticks}); do sleep 0.02; echo "tick $QUEUECTL_JOB_ID ${now}" >> ${timeline}; done; echo "end $QUEUECTL_JOB_ID ${now}" >> ${timeline}`;
}

interface Run {
  id: string;
  start: number;
  /** The end line's time, or the last tick + 20ms for a run cut short. */
  end: number;
  completed: boolean;
}

/** Runs from a timeline: each start opens a run of its id, ticks move its end, end closes it. */
async function readRuns(timeline: string): Promise<Run[]> {
  const text = await fsp.readFile(timeline, 'utf8').catch(() => '');
  const open = new Map<string, Run>();
  const runs: Run[] = [];
  for (const line of text.split('\n')) {
    const [kind, id, t] = line.split(' ');
    const at = Number(t);
    if (!id || !Number.isFinite(at)) continue;
    if (kind === 'start') {
      const r = { id, start: at, end: at + 20, completed: false };
      open.set(id, r);
      runs.push(r);
    } else {
      const r = open.get(id);
      if (!r) continue;
      r.end = kind === 'end' ? at : at + 20;
      if (kind === 'end') {
        r.completed = true;
        open.delete(id);
      }
    }
  }
  return runs;
}

/** Most runs at once. */
function maxOverlap(runs: Run[]): number {
  const events = runs.flatMap((r) => [{ t: r.start, d: 1 }, { t: r.end, d: -1 }]).sort((a, b) => a.t - b.t || a.d - b.d);
  let now = 0;
  let max = 0;
  for (const e of events) max = Math.max(max, (now += e.d));
  return max;
}

/** Three worker processes, one killed at random every [lo, hi] ms and restarted, until `done()`. */
async function storm(ctx: Ctx, q: { root: string; dir: string }, f: Figures, done: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const life: { proc: WorkerProc; spawned: number; readyAt?: number }[] = [];
  const spawn = () => {
    const proc = spawnWorker(ctx, q, { count: 3, quiet: true });
    const entry: (typeof life)[number] = { proc, spawned: Date.now() };
    proc.ready.then(() => (entry.readyAt = Date.now()), () => {});
    life.push(entry);
    return proc;
  };
  const procs: WorkerProc[] = [0, 1, 2].map(spawn);
  let over = false;
  const killer = (async () => {
    while (!over) {
      await sleep(300 + ctx.rng() * 400);
      if (over) break;
      const i = Math.floor(ctx.rng() * procs.length);
      // Only a worker that got going is killed: on a loaded machine a start takes seconds, and killing
      // workers faster than they start tests nothing (found on CI: 172 spawned, 4 ever ready).
      await procs[i].ready.catch(() => {});
      if (over) break;
      procs[i].kill('SIGKILL');
      f.kills++;
      procs[i] = spawn();
    }
  })();
  try {
    await waitFor(done, { timeoutMs, intervalMs: 200, what: 'every job to complete under the storm' }).catch(async (err: Error) => {
      // What is left where (a stuck job shows its folder and name), and whether the workers got going.
      const ready = life.filter((l) => l.readyAt !== undefined);
      const toReady = ready.map((l) => l.readyAt! - l.spawned).sort((a, b) => a - b);
      err.message += `\n${f.kills} kills; ${life.length} workers spawned, ${ready.length} ready (median ${toReady[toReady.length >> 1] ?? '-'} ms to ready)`;
      err.message += `\nfiles outside completed/:\n${(await filesOutsideCompleted(q.root)).slice(0, 80).join('\n')}`;
      err.message += `\nlive workers' output:\n${procs.map((p) => p.output().slice(-600)).join('\n--\n')}`;
      throw Object.assign(err, { figures: f });
    });
  } finally {
    over = true;
    await killer;
    await Promise.all(procs.map((p) => p.ready.catch(() => {})));
    await Promise.all(procs.map((p) => stopWorker(p).catch(() => p.kill('SIGKILL'))));
  }
}

/** Every entry under the root except completed/ and logs/, as root-relative paths. */
async function filesOutsideCompleted(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    for (const e of await fsp.readdir(join(root, rel), { withFileTypes: true }).catch(() => [])) {
      const p = rel ? `${rel}/${e.name}` : e.name;
      if (p === 'completed' || p === 'logs' || p === 'ids' || p === 'workers') continue;
      if (e.isDirectory()) await walk(p);
      else out.push(p);
    }
  };
  await walk('');
  return out.sort();
}

async function completedIds(root: string): Promise<Set<string>> {
  const scan = await scanStore(root);
  return new Set([...scan.byId].filter(([, files]) => files.length === 1 && files[0].state === 'completed').map(([id]) => id));
}

export async function caseQueueLimit(ctx: Ctx): Promise<Figures> {
  const f = emptyFigures('12 queue-limit');
  const t0 = Date.now();
  const q = await makeQueue(ctx, { 'max-retries': 30, 'stale-after': '1500ms', 'heartbeat-interval': '100ms' });
  const timeline = join(q.dir, 'timeline');
  const limit = 2;
  await q.ok(['queue', 'limit', 'lim', String(limit)]);
  const n = ctx.pick(300, 40);
  const ids = Array.from({ length: n }, (_, i) => `lim${String(i).padStart(4, '0')}`);
  await enqueueMany(q, ids.map((id) => ({ id, queue: 'lim', command: timedCommand(timeline, 4 + Math.floor(ctx.rng() * 6)) })));
  f.jobs = n;
  await storm(ctx, q, f, async () => (await completedIds(q.root)).size === n, ctx.pick(300_000, 90_000));
  const runs = await readRuns(timeline);
  const max = maxOverlap(runs);
  const done = await completedIds(q.root);
  f.lost = ids.filter((id) => !done.has(id)).length;
  f.extra = runs.length - n;
  f.timeMs = Date.now() - t0;
  f.notes.push(`${runs.length} runs (${runs.filter((r) => !r.completed).length} cut by a kill), at most ${max} of queue "lim" at once (limit ${limit})`);
  const left = await fsp.readdir(join(q.root, 'queues', 'lim.running')).catch(() => [] as string[]);
  const problems: string[] = [];
  if (max > limit) problems.push(`the limit of ${limit} was exceeded: ${max} runs at once`);
  if (left.length) problems.push(`${left.length} admissions left in queues/lim.running/ after every job completed`);
  if (f.lost) problems.push(`${f.lost} jobs did not complete`);
  if (problems.length) throw Object.assign(new Error(problems.join('\n')), { figures: f });
  return f;
}

export async function caseDependents(ctx: Ctx): Promise<Figures> {
  const f = emptyFigures('13 dependents');
  const t0 = Date.now();
  const q = await makeQueue(ctx, { 'max-retries': 30, 'stale-after': '1500ms', 'heartbeat-interval': '100ms' });
  const timeline = join(q.dir, 'timeline');
  const roots = ctx.pick(40, 6);
  const specs: Record<string, unknown>[] = [];
  const after = new Map<string, string[]>();
  for (let r = 0; r < roots; r++) {
    const root = `r${r}`;
    specs.push({ id: root, command: timedCommand(timeline, 3) });
    for (let c = 0; c < 4; c++) {
      const child = `r${r}c${c}`;
      specs.push({ id: child, after: [root], command: timedCommand(timeline, 2) });
      after.set(child, [root]);
      for (let g = 0; g < 2; g++) {
        const grand = `r${r}c${c}g${g}`;
        // Waits for its parent and for another tree's root: dependencies across trees too.
        const deps = [child, `r${(r + 1) % roots}`];
        specs.push({ id: grand, after: deps, command: timedCommand(timeline, 1) });
        after.set(grand, deps);
      }
    }
  }
  // Roots of later trees are named by earlier grandchildren: enqueue every root first, then the rest.
  await enqueueMany(q, [...specs.filter((s) => !(s as { after?: string[] }).after), ...specs.filter((s) => (s as { after?: string[] }).after)]);
  f.jobs = specs.length;
  await storm(ctx, q, f, async () => (await completedIds(q.root)).size === specs.length, ctx.pick(300_000, 90_000));
  const runs = await readRuns(timeline);
  const completedEnd = new Map<string, number>();
  const firstStart = new Map<string, number>();
  for (const r of runs) {
    if (r.completed) completedEnd.set(r.id, Math.max(completedEnd.get(r.id) ?? 0, r.end));
    firstStart.set(r.id, Math.min(firstStart.get(r.id) ?? Infinity, r.start));
  }
  const early: string[] = [];
  for (const [id, deps] of after) {
    for (const d of deps) {
      const end = completedEnd.get(d);
      if (end === undefined || (firstStart.get(id) ?? Infinity) < end) early.push(`${id} started ${firstStart.get(id)} before ${d} completed (${end})`);
    }
  }
  const done = await completedIds(q.root);
  f.lost = specs.filter((s) => !done.has(s.id as string)).length;
  f.extra = runs.length - specs.length;
  f.duplicated = early.length;
  f.timeMs = Date.now() - t0;
  f.notes.push(`${specs.length} jobs in ${roots} trees (${after.size} with dependencies), ${runs.length} runs; ${early.length} started before a dependency completed`);
  const links = await fsp.readdir(join(q.root, 'deps'));
  const problems: string[] = [];
  if (early.length) problems.push(`dependents started early:\n${early.slice(0, 5).join('\n')}`);
  if (f.lost) problems.push(`${f.lost} jobs did not complete`);
  if (links.length) problems.push(`deps/ still holds ${links.length} dependency folders`);
  if (problems.length) throw Object.assign(new Error(problems.join('\n')), { figures: f });
  return f;
}

export async function caseScheduleSlots(ctx: Ctx): Promise<Figures> {
  const f = emptyFigures('14 schedule');
  const t0 = Date.now();
  const q = await makeQueue(ctx, { 'stale-after': '1500ms', 'heartbeat-interval': '100ms' });
  await q.ok(['schedule', 'add', 'tick', '--cron', '* * * * * *', '--tz', 'UTC', '--', `echo "$QUEUECTL_JOB_ID" >> ${q.ledger}`]);
  const workers = await Promise.all([0, 1, 2].map(() => startWorker(ctx, q, { quiet: true })));
  const runFor = ctx.pick(20_000, 7_000);
  await sleep(1_500);
  // One worker frozen past stale-after (its scheduler tick with it), then woken.
  workers[0].kill('SIGSTOP');
  f.kills++;
  await sleep(2_500);
  workers[0].kill('SIGCONT');
  await sleep(runFor - 4_000);
  await q.ok(['schedule', 'pause', 'tick']);
  await sleep(1_500);
  await Promise.all(workers.map((w) => stopWorker(w)));
  const lines = (await fsp.readFile(q.ledger, 'utf8').catch(() => '')).split('\n').filter(Boolean);
  const counts = new Map<string, number>();
  for (const id of lines) counts.set(id, (counts.get(id) ?? 0) + 1);
  const twice = [...counts].filter(([, c]) => c > 1).map(([id]) => id);
  const slots = [...counts.keys()].map((id) => Date.parse(id.replace(/^tick-(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z$/, '$1-$2-$3T$4:$5:$6Z'))).sort((a, b) => a - b);
  const gaps = slots.slice(1).filter((s, i) => s - slots[i] > 1_000).length;
  f.jobs = counts.size;
  f.duplicated = twice.length;
  f.timeMs = Date.now() - t0;
  f.notes.push(`${counts.size} slots run over ${((slots.at(-1)! - slots[0]) / 1000).toFixed(0)}s with 3 workers (one frozen 2.5s), ${twice.length} twice, ${gaps} skipped`);
  const problems: string[] = [];
  if (twice.length) problems.push(`slots run twice: ${twice.slice(0, 5).join(' ')}`);
  if (gaps) problems.push(`${gaps} slots skipped while workers ran`);
  if (counts.size < 3) problems.push(`only ${counts.size} slots ran`);

  // One worker alone, frozen three times for 1.3 s (below stale-after): each time its next tick comes
  // more than a second late, and every slot it passed must still run (a late tick used to run only the
  // latest, as if the slots had been missed while no worker ran).
  const solo = await makeQueue(ctx, { 'stale-after': '3s', 'heartbeat-interval': '100ms' });
  await solo.ok(['schedule', 'add', 'solo', '--cron', '* * * * * *', '--tz', 'UTC', '--', `echo "$QUEUECTL_JOB_ID" >> ${solo.ledger}`]);
  const one = await startWorker(ctx, solo, { quiet: true });
  await sleep(1_500);
  for (let i = 0; i < 3; i++) {
    one.kill('SIGSTOP');
    f.kills++;
    await sleep(1_300);
    one.kill('SIGCONT');
    await sleep(1_500);
  }
  await solo.ok(['schedule', 'pause', 'solo']);
  await sleep(1_200);
  await stopWorker(one);
  const soloIds = (await fsp.readFile(solo.ledger, 'utf8').catch(() => '')).split('\n').filter(Boolean);
  const soloSlots = [...new Set(soloIds)].map((id) => Date.parse(id.replace(/^solo-(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z$/, '$1-$2-$3T$4:$5:$6Z'))).sort((a, b) => a - b);
  const soloGaps = soloSlots.slice(1).filter((t, i) => t - soloSlots[i] > 1_000).length;
  f.jobs += soloSlots.length;
  f.duplicated += soloIds.length - soloSlots.length;
  f.timeMs = Date.now() - t0;
  f.notes.push(`one worker frozen 3 x 1.3s: ${soloSlots.length} slots over ${((soloSlots.at(-1)! - soloSlots[0]) / 1000).toFixed(0)}s, ${soloGaps} skipped`);
  if (soloIds.length !== soloSlots.length) problems.push(`one worker: ${soloIds.length - soloSlots.length} slots run twice`);
  if (soloGaps) problems.push(`one worker frozen 1.3s at a time: ${soloGaps} slots skipped (${soloIds.join(' ')})`);
  if (soloSlots.length < 5) problems.push(`one worker: only ${soloSlots.length} slots ran`);
  if (problems.length) throw Object.assign(new Error(problems.join('\n')), { figures: f });
  return f;
}
