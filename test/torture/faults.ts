// Case 3: kill at every step. For each fault-injection point (QUEUECTL_FAULT=<point> makes `worker start`
// SIGKILL itself at that step of a move), a worker takes one job and dies there; then a fresh worker must
// finish the job correctly: the right final state, exactly one file for the id across pending/, processing/,
// completed/ and dead/, no leftover process, the runs the guarantee allows, and a sensible record.
//
// Case 4: the zombie. A worker is frozen (SIGSTOP) while it holds a job, past stale-after; another worker
// reclaims and finishes the job; the frozen one is woken (SIGCONT) and its outcome must be refused (fenced)
// with the job's final record unchanged.

import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import {
  check, checkLedger, type Ctx, emptyFigures, type Figures, jobProcesses, ledgerCommand, makeQueue, type Queue, readLedger, readRecord,
  scanStore, sleep, startWorker, type State, stopWorker, waitFor,
} from './lib.js';

export const FAULT_POINTS = [
  'after-claim', 'before-spawn', 'after-spawn', 'after-exit',
  'complete-before-fence', 'complete-after-fence', 'complete-after-write',
  'bury-before-fence', 'bury-after-fence', 'bury-after-write',
  'requeue-before-fence', 'requeue-after-fence', 'requeue-before-publish', 'requeue-after-publish',
  // The intake of a file dropped into pending/ (intake-after-claim is after-claim on a dropped file).
  'intake-after-claim', 'intake-after-reserve', 'intake-after-fence', 'intake-after-write', 'intake-after-publish',
  // A complete record another program dropped under its queuectl name: run from its claim (lifecycle adopt).
  'adopt-after-reserve',
] as const;

type Kind = 'ok' | 'fail-dead' | 'fail-once' | 'dropped' | 'adopted';

function kindOf(point: string): Kind {
  if (point.startsWith('bury-')) return 'fail-dead';
  if (point.startsWith('requeue-')) return 'fail-once';
  if (point.startsWith('intake-')) return 'dropped';
  if (point.startsWith('adopt-')) return 'adopted';
  return 'ok';
}

/**
 * Drops a job into pending/ as a producer does it (written elsewhere, renamed in): 'dropped' a spec under
 * its id as the name; 'adopted' a complete record, attempts 0, under the queuectl name enqueue would give it.
 */
async function dropJob(q: Queue, kind: 'dropped' | 'adopted', id: string, command: string): Promise<void> {
  await q.ok(['status']); // makes the root
  const tmp = join(q.dir, `${id}.producer`);
  const now = Date.now();
  const iso = new Date(now).toISOString();
  const record = { id, command, state: 'pending', priority: 0, queue: 'default', attempts: 0, max_retries: 3, run_at: iso, available_at: iso, timeout: null, cwd: null, created_at: iso, updated_at: iso };
  await fsp.writeFile(tmp, JSON.stringify(kind === 'dropped' ? { command, max_retries: 3 } : record));
  await fsp.rename(tmp, join(q.root, 'pending', kind === 'dropped' ? `${id}.json` : `${String(now).padStart(13, '0')}-1000-000-${id}.json`));
}

/** The QUEUECTL_FAULT value for a point. */
function faultEnv(point: string): string {
  return point === 'intake-after-claim' ? 'after-claim' : point;
}

export interface PointResult {
  point: string;
  /** Problems that break the guarantee: wrong state, two files, lost, too many runs, orphans. */
  errors: string[];
  /** The record does not tell the whole story (a run missing from the history, no finished_at). */
  recordIssues: string[];
  runs: number;
  history: string;
  ms: number;
}

/** One fault point in its own root. */
export async function runFaultPoint(ctx: Ctx, point: string): Promise<PointResult> {
  const t0 = Date.now();
  const q = await makeQueue(ctx, { 'max-retries': 3 });
  const kind = kindOf(point);
  const id = `fault-${point}`;
  const flag = join(q.dir, 'failed-once');
  // ok: 300 ms of work before the ledger line, so a kill after spawn leaves a live orphan to be killed.
  const command = kind === 'ok' || kind === 'dropped' || kind === 'adopted' ? ledgerCommand(q, 'sleep 0.3; ')
    : kind === 'fail-dead' ? `${ledgerCommand(q)}; exit 3`
    : `${ledgerCommand(q)}; [ -e ${flag} ] || { touch ${flag}; exit 3; }`;
  if (kind === 'dropped' || kind === 'adopted') await dropJob(q, kind, id, command);
  else {
    await q.ok(['enqueue', JSON.stringify({ id, command, max_retries: kind === 'fail-dead' ? 0 : 3 })]);
  }
  const r: PointResult = { point, errors: [], recordIssues: [], runs: 0, history: '', ms: 0 };

  const w1 = await startWorker(ctx, q, { env: { QUEUECTL_FAULT: faultEnv(point) } });
  const exit = await Promise.race([w1.exited, sleep(15_000).then(() => null)]);
  if (!exit || exit.signal !== 'SIGKILL') {
    r.errors.push(`the faulty worker did not die by SIGKILL at ${point}: ${JSON.stringify(exit)}; output:\n${w1.output().slice(-1500)}`);
    w1.kill('SIGKILL');
    return r;
  }
  const orphansAfterKill = (await jobProcesses(q.root)).length;

  const want: State = kind === 'fail-dead' ? 'dead' : 'completed';
  const w2 = await startWorker(ctx, q);
  let state: State | undefined;
  try {
    state = await waitFor(async () => {
      const files = (await scanStore(q.root)).byId.get(id) ?? [];
      return files.length === 1 && (files[0].state === 'completed' || files[0].state === 'dead') ? files[0].state : null;
    }, { timeoutMs: 15_000, intervalMs: 25, what: `job ${id} to finish after a kill at ${point}` });
  } catch (err) {
    r.errors.push((err as Error).message.split('\n')[0]);
  }
  // A final record is written right after the move: give it a moment.
  let job = state ? await waitFor(async () => {
    const f = (await scanStore(q.root)).byId.get(id)?.[0];
    const j = f ? await readRecord(f.path) : null;
    return j?.finished_at ? j : null;
  }, { timeoutMs: 2_000, intervalMs: 25, what: 'a final record' }).catch(() => null) : null;
  await sleep(300);
  await stopWorker(w2);

  const scan = await scanStore(q.root);
  const files = scan.byId.get(id) ?? [];
  if (files.length !== 1) r.errors.push(`${files.length} files for the id: ${files.map((f) => `${f.state}/${f.name}`).join(', ')}`);
  if (scan.processing.length || scan.stages.length) r.errors.push(`left in processing/ or staged: ${[...scan.processing, ...scan.stages].join(' ')}`);
  if (state && state !== want) r.errors.push(`final state ${state}, expected ${want}`);
  if (!job && files[0]) {
    job = await readRecord(files[0].path);
    r.recordIssues.push(`the ${files[0].state}/ record is not final (no finished_at; state "${job.state}", attempts ${job.attempts}, history [${(job.history ?? []).map((h) => h.reason).join(',')}]): the last run is missing from it`);
  }
  const orphans = await jobProcesses(q.root);
  if (orphans.length) r.errors.push(`${orphans.length} orphan job processes: ${orphans.map((p) => p.cmdline).join('; ')}`);

  const base = kind === 'fail-once' ? 2 : 1;
  const v = await checkLedger(q.root, q.ledger, [id], { expectRuns: () => base });
  if (v.lost.length || v.duplicated.length || v.stuck.length) r.errors.push(v.details.join('; '));
  r.runs = (await readLedger(q.ledger)).runs.get(id)?.length ?? 0;
  if (job) {
    const h = job.history ?? [];
    r.history = h.map((x) => x.reason).join(',');
    if (job.attempts !== h.length) r.recordIssues.push(`attempts ${job.attempts} but ${h.length} history entries`);
    const lastReason = h.at(-1)?.reason;
    if (kind === 'fail-dead' && !['failed', 'worker-lost'].includes(lastReason ?? '')) r.recordIssues.push(`last history reason ${lastReason}, expected failed or worker-lost`);
    // A repaired record may only know that the run's worker was lost (complete-after-fence): worker-lost is fine.
    if (kind !== 'fail-dead' && !['completed', 'worker-lost'].includes(lastReason ?? '')) r.recordIssues.push(`last history reason ${lastReason}, expected completed (or worker-lost)`);
    // Every run that happened should be in the history (a run cut short by a kill shows as worker-lost).
    const runsInHistory = h.filter((x) => x.reason !== 'worker-lost').length;
    if (runsInHistory + h.filter((x) => x.reason === 'worker-lost').length < r.runs) {
      r.recordIssues.push(`${r.runs} runs in the ledger but the history holds ${h.length} (${r.history})`);
    }
    // The failed first run shows as failed, or as worker-lost when the kill came before its result was recorded.
    if (kind === 'fail-once' && !h.some((x) => x.reason === 'failed' || x.reason === 'worker-lost')) r.recordIssues.push(`the failed first run is missing from the history (${r.history})`);
  }
  if (point === 'after-spawn' && orphansAfterKill === 0) r.recordIssues.push('no orphan was seen after the kill (the job may have ended first)');
  r.ms = Date.now() - t0;
  return r;
}

/** Points where a kill leaves the job with its old record: F6 (test-output/torture-findings.md). */
const F6_POINTS = new Set(['complete-after-fence', 'bury-after-fence', 'requeue-after-fence']);

/** Case 3, all points, a few at a time. A record that does not account for every run fails the case too. */
export async function caseFaults(ctx: Ctx, opts: { points?: readonly string[] } = {}): Promise<Figures> {
  const f = emptyFigures('3 faults');
  // The full run goes through every point three times (timing differs from run to run).
  const points = opts.points ?? Array.from({ length: ctx.pick(3, 1) }, () => FAULT_POINTS).flat();
  const t0 = Date.now();
  const results: PointResult[] = [];
  const queue = [...points];
  await Promise.all(Array.from({ length: 4 }, async () => {
    for (let p = queue.shift(); p; p = queue.shift()) {
      const r = await runFaultPoint(ctx, p);
      ctx.log(`${p}: ${r.errors.length ? 'FAIL' : 'ok'}, runs ${r.runs}, history [${r.history}]${r.recordIssues.length ? `; record: ${r.recordIssues.join('; ')}` : ''} (${r.ms}ms)`);
      results.push(r);
    }
  }));
  f.timeMs = Date.now() - t0;
  f.jobs = points.length;
  f.kills = points.length;
  for (const r of results) {
    const base = kindOf(r.point) === 'fail-once' ? 2 : 1;
    if (r.runs > base) f.extra += r.runs - base;
    if (r.errors.some((e) => e.includes('LOST') || e.includes('never ran') || e.includes('0 files'))) f.lost++;
    if (r.errors.some((e) => /ran \d+ times|STATES|2 files/.test(e))) f.duplicated++;
    if (r.errors.some((e) => e.includes('STUCK') || e.includes('processing/') || e.includes('Timed out'))) f.stuck++;
    if (r.recordIssues.length) f.notes.push(`${r.point}: ${r.recordIssues.join('; ')}`);
  }
  const problems = results.filter((r) => r.errors.length).map((r) => `${r.point}: ${r.errors.join('; ')}`);
  for (const r of results.filter((x) => x.recordIssues.length)) {
    const line = `${r.point}: record incomplete after the kill: ${r.recordIssues.join('; ')}`;
    if (F6_POINTS.has(r.point)) ctx.bug('F6', line, problems);
    else problems.push(line);
  }
  if (problems.length) throw Object.assign(new Error(`fault points failed:\n${problems.join('\n')}`), { figures: f });
  return f;
}

// ---- case 4: the zombie ----------------------------------------------------------------------------------

interface ZombieScenario {
  key: string;
  /** What the job does; the zombie is frozen while it runs. */
  command: (ledger: string) => string;
  maxRetries: number;
  final: State;
}

const ZOMBIES: ZombieScenario[] = [
  // Its command ends while the worker is frozen: the zombie wakes with a success it must not record.
  { key: 'finished-while-frozen', command: (l) => `sleep 0.3; ${l}`, maxRetries: 3, final: 'completed' },
  // Its command is still running when the worker is judged dead: the reaper kills it, the job runs elsewhere.
  { key: 'running-when-reaped', command: (l) => `sleep 1.5; ${l}`, maxRetries: 3, final: 'completed' },
  // Its retries are used up: the reaper buries it; the zombie's own failure must not touch dead/.
  { key: 'dead-by-reaper', command: (l) => `sleep 0.3; ${l}; exit 3`, maxRetries: 0, final: 'dead' },
];

export async function caseZombie(ctx: Ctx): Promise<Figures> {
  const f = emptyFigures('4 zombie');
  const t0 = Date.now();
  const problems: string[] = [];
  // The three scenarios run side by side, each on its own root with its own two workers.
  await Promise.all(ZOMBIES.map(async (z) => {
    const q = await makeQueue(ctx, { 'stale-after': '500ms' });
    const id = `zombie-${z.key}`;
    const zombie = await startWorker(ctx, q);
    await q.ok(['enqueue', JSON.stringify({ id, command: z.command(ledgerCommand(q)), max_retries: z.maxRetries })]);
    await zombie.waitForOutput(new RegExp(`processing ${id} `));
    zombie.kill('SIGSTOP');
    f.kills++;
    const frozenAt = Date.now();
    await sleep(400);
    const rescuer = await startWorker(ctx, q);
    const settled = await waitFor(async () => {
      const files = (await scanStore(q.root)).byId.get(id) ?? [];
      if (files.length !== 1 || files[0].state !== z.final) return null;
      const j = await readRecord(files[0].path);
      return j.finished_at ? { path: files[0].path, text: await fsp.readFile(files[0].path, 'utf8') } : null;
    }, { timeoutMs: 20_000, intervalMs: 25, what: `${id} to be ${z.final} through the rescuer` });
    const frozenFor = Date.now() - frozenAt;
    zombie.kill('SIGCONT');
    let fenced = true;
    await zombie.waitForOutput(new RegExp(`fenced ${id}:`), 10_000).catch(() => {
      fenced = false;
    });
    await sleep(500);
    const files = (await scanStore(q.root)).byId.get(id) ?? [];
    const after = files.length === 1 ? await fsp.readFile(files[0].path, 'utf8') : null;
    await stopWorker(rescuer);
    await stopWorker(zombie);
    const v = await checkLedger(q.root, q.ledger, [id]);
    const runs = (await readLedger(q.ledger)).runs.get(id)?.length ?? 0;
    const job = after ? JSON.parse(after) as { history?: { reason: string }[] } : null;
    ctx.log(`${z.key}: frozen ${frozenFor}ms, fenced ${fenced}, runs ${runs}, history [${job?.history?.map((h) => h.reason).join(',')}]`);
    f.jobs++;
    if (v.lost.length) f.lost++;
    if (v.duplicated.length || files.length > 1) f.duplicated++;
    if (v.stuck.length) f.stuck++;
    f.extra += Math.max(0, runs - 1);
    if (!fenced) problems.push(`${z.key}: the zombie did not report its outcome as fenced; its output:\n${zombie.output().slice(-1500)}`);
    if (files.length !== 1 || files[0].state !== z.final) problems.push(`${z.key}: after SIGCONT the job is in ${files.map((x) => `${x.state}/${x.name}`).join(', ') || 'no state'}, expected ${z.final}`);
    if (after !== settled.text) problems.push(`${z.key}: the final record changed after the zombie woke up`);
    if (v.lost.length || v.duplicated.length || v.stuck.length) problems.push(`${z.key}: ${v.details.join('; ')}`);
  }));

  // Frozen exactly at a step (QUEUECTL_FAULT=<step>:stop: the worker SIGSTOPs itself there), reclaimed, woken.
  await Promise.all(ZOMBIE_STEPS.map(async (z) => {
    const r = await zombieAtStep(ctx, z);
    f.jobs++;
    f.kills++;
    f.extra += r.extra;
    if (r.problems.length) problems.push(...r.problems.map((p) => `${z.point}:stop: ${p}`));
  }));
  f.timeMs = Date.now() - t0;
  if (problems.length) throw Object.assign(new Error(problems.join('\n')), { figures: f });
  check(f.lost === 0 && f.duplicated === 0 && f.stuck === 0, 'zombie: lost, duplicated or stuck');
  return f;
}

interface ZombieStep {
  point: string;
  kind: Kind;
  /** Most runs of the command allowed in the ledger: the zombie's (if it got that far) plus the rescuer's. */
  runs: number;
  final: State;
  /**
   * Frozen after the move's fence: the woken worker finds its next step gone and stops there (it may not
   * say "fenced": the move it was making was finished by recovery).
   */
  afterFence?: boolean;
}

const ZOMBIE_STEPS: ZombieStep[] = [
  // Frozen between the claim and the spawn: once woken it must not start the command at all.
  { point: 'after-claim', kind: 'ok', runs: 1, final: 'completed' },
  // Frozen past the worker's last check of its claim, right before the spawn: the shell's guard finds the
  // claim gone once it is woken, so the command does not start.
  { point: 'before-spawn', kind: 'ok', runs: 1, final: 'completed' },
  { point: 'after-exit', kind: 'ok', runs: 2, final: 'completed' },
  { point: 'complete-before-fence', kind: 'ok', runs: 2, final: 'completed' },
  { point: 'bury-before-fence', kind: 'fail-dead', runs: 1, final: 'dead' },
  { point: 'requeue-before-fence', kind: 'fail-once', runs: 2, final: 'completed' },
  // Frozen after the fence: every later step of the move must fail once recovery has taken it over.
  { point: 'requeue-after-fence', kind: 'fail-once', runs: 2, final: 'completed', afterFence: true },
  { point: 'requeue-before-publish', kind: 'fail-once', runs: 2, final: 'completed', afterFence: true },
  { point: 'complete-after-fence', kind: 'ok', runs: 1, final: 'completed', afterFence: true },
  { point: 'bury-after-fence', kind: 'fail-dead', runs: 1, final: 'dead', afterFence: true },
  // The intake of a dropped file, frozen before and after its fence.
  { point: 'intake-after-reserve', kind: 'dropped', runs: 1, final: 'completed' },
  { point: 'intake-after-fence', kind: 'dropped', runs: 1, final: 'completed', afterFence: true },
  { point: 'intake-after-write', kind: 'dropped', runs: 1, final: 'completed', afterFence: true },
  // Adopted: its id reserved on the claim itself, frozen before the spawn; it must not start it once woken.
  { point: 'adopt-after-reserve', kind: 'adopted', runs: 1, final: 'completed' },
];

async function processState(pid: number): Promise<string | null> {
  const stat = await fsp.readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null);
  return stat ? stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0] : null;
}

async function zombieAtStep(ctx: Ctx, z: ZombieStep): Promise<{ problems: string[]; extra: number }> {
  const problems: string[] = [];
  const q = await makeQueue(ctx, { 'stale-after': '500ms', 'max-retries': 3 });
  const id = `zstep-${z.point}`;
  const flag = join(q.dir, 'failed-once');
  const command = z.kind === 'ok' || z.kind === 'dropped' || z.kind === 'adopted' ? ledgerCommand(q)
    : z.kind === 'fail-dead' ? `${ledgerCommand(q)}; exit 3`
    : `${ledgerCommand(q)}; [ -e ${flag} ] || { touch ${flag}; exit 3; }`;
  if (z.kind === 'dropped' || z.kind === 'adopted') await dropJob(q, z.kind, id, command);
  else {
    await q.ok(['enqueue', JSON.stringify({ id, command, max_retries: z.kind === 'fail-dead' ? 0 : 3 })]);
  }
  const zombie = await startWorker(ctx, q, { env: { QUEUECTL_FAULT: `${z.point}:stop` } });
  await waitFor(async () => (await processState(zombie.pid)) === 'T', { timeoutMs: 10_000, what: `the worker to stop itself at ${z.point}` });
  const rescuer = await startWorker(ctx, q);
  const settled = await waitFor(async () => {
    const files = (await scanStore(q.root)).byId.get(id) ?? [];
    if (files.length !== 1 || files[0].state !== z.final) return null;
    const text = await fsp.readFile(files[0].path, 'utf8');
    return JSON.parse(text).finished_at ? text : null;
  }, { timeoutMs: 15_000, intervalMs: 25, what: `${id} to be ${z.final} through the rescuer` }).catch((err: Error) => {
    problems.push(err.message.split(';')[0]);
    return null;
  });
  zombie.kill('SIGCONT');
  const fenced = z.afterFence ? true : await zombie.waitForOutput(new RegExp(`fenced ${id}`), 10_000).then(() => true, () => false);
  await sleep(z.afterFence ? 1_000 : 400);
  const files = (await scanStore(q.root)).byId.get(id) ?? [];
  const after = files.length === 1 ? await fsp.readFile(files[0].path, 'utf8') : null;
  await stopWorker(rescuer);
  await stopWorker(zombie);
  const runs = (await readLedger(q.ledger)).runs.get(id)?.length ?? 0;
  ctx.log(`zombie at ${z.point}: fenced ${fenced}, runs ${runs}, final ${files.map((x) => x.state).join(',')}`);
  if (!fenced) problems.push(`the woken worker did not say fenced; output:\n${zombie.output().slice(-1200)}`);
  if (files.length !== 1 || files[0].state !== z.final) problems.push(`after SIGCONT: ${files.map((x) => `${x.state}/${x.name}`).join(', ') || 'no file'}, expected ${z.final}`);
  if (settled && after !== settled) problems.push('the final record changed after the zombie woke up');
  // At most z.runs (a recovery that keeps the frozen worker's recorded outcome may spare the re-run), and
  // at least the runs the job needs.
  const need = z.kind === 'fail-once' ? 2 : 1;
  if (runs > z.runs || runs < need) problems.push(`the command ran ${runs} times, expected ${need === z.runs ? z.runs : `${need} to ${z.runs}`}${z.point === 'after-claim' ? ' (a woken worker whose claim is gone must not start it)' : ''}`);
  return { problems, extra: Math.max(0, runs - (z.kind === 'fail-once' ? 2 : 1)) };
}
