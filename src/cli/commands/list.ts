// `queuectl list` and `queuectl show`.

import { InputError, JobNotFoundError } from '../../errors.js';
import { displayState, LIST_STATES, type ListState, redactEnv } from '../../inspect.js';
import type { Job } from '../../job.js';
import { formatDuration } from '../../units.js';
import { type Context, flag, intOption, str } from '../context.js';
import { colorState, count, loadCellWidths, pc, pcErr, printJson, relative, table } from '../format.js';
import { queueOf } from '../queue.js';
import type { Input } from '../spec.js';

/**
 * A job as --json prints it: `state` is the state people see (a job waiting for a retry is `failed`, one
 * waiting for its run_at is `scheduled`), env values hidden unless asked for. Job times are ISO-8601 already.
 */
export function jobJson(job: Job, now: number, showEnv = false): Omit<Job, 'state'> & { state: ListState } {
  return { ...(showEnv ? job : redactEnv(job)), state: displayState(job, now) };
}

export async function listCommand(ctx: Context, input: Input): Promise<void> {
  const state = str(input, 'state');
  if (state !== undefined && state !== 'all' && !(LIST_STATES as readonly string[]).includes(state)) {
    throw new InputError(`Expected --state to be one of ${LIST_STATES.join(', ')}, all; got ${JSON.stringify(state)}`);
  }
  const limit = intOption(str(input, 'limit'), '--limit', 0) ?? 50;
  const queue = await queueOf(ctx);
  const page = await queue.list({ state: (state ?? 'all') as ListState | 'all', limit: limit === 0 ? Infinity : limit });
  const now = Date.now();
  const jobs = page.jobs;
  if (flag(input, 'json')) printJson(ctx.out, jobs.map((j) => jobJson(j, now)));
  else if (jobs.length === 0) ctx.out(pc.dim(`No ${state && state !== 'all' ? `${state} ` : ''}jobs.`));
  else {
    await loadCellWidths(jobs.flatMap((j) => [j.id, j.command]));
    printTable(ctx, jobs, now);
  }
  // On stderr, so that `list | wc -l` and `list --json | jq` see only jobs.
  if (page.next_cursor !== null) {
    const { counts } = await queue.status();
    const total = state && state !== 'all' ? counts[state as ListState] : LIST_STATES.reduce((sum, s) => sum + counts[s], 0);
    ctx.err(pcErr.dim(`${count(jobs.length)} of ${count(Math.max(total, jobs.length + 1))}${state && state !== 'all' ? ` ${state}` : ''} jobs; --limit 0 for all`));
  }
}

/** WHEN: for a waiting job when it may run (ready, in 5m), for a finished one when it finished. */
function printTable(ctx: Context, jobs: Job[], now: number): void {
  const rows = jobs.map((j) => {
    const when = j.state === 'pending'
      ? (Date.parse(j.available_at) <= now ? 'ready' : relative(Date.parse(j.available_at), now))
      : j.finished_at ? relative(Date.parse(j.finished_at), now) : '-';
    return [j.id, colorState(displayState(j, now)), j.queue ?? 'default', `${j.attempts}/${j.max_retries + 1}`, String(j.priority), when, j.command];
  });
  for (const line of table(['ID', 'STATE', 'QUEUE', 'RUNS', 'PRIO', 'WHEN', 'COMMAND'], rows, ctx.columns)) ctx.out(line);
}

export async function showCommand(ctx: Context, input: Input): Promise<void> {
  const jobId = input.args[0];
  const found = await (await queueOf(ctx)).get(jobId);
  if (!found) throw new JobNotFoundError(jobId);
  const now = Date.now();
  if (flag(input, 'json')) return printJson(ctx.out, jobJson(found, now, flag(input, 'env')));
  await loadCellWidths((found.history ?? []).flatMap((a) => [a.worker, a.error ?? '']));
  const job = flag(input, 'env') ? found : redactEnv(found);
  const line = (k: string, v: unknown) => ctx.out(`${pc.bold(k.padEnd(12))} ${v}`);
  line('id', job.id);
  line('state', colorState(displayState(job, now)));
  line('queue', job.queue ?? 'default');
  if (job.after?.length) line('after', job.after.join(' '));
  line('command', job.command);
  line('runs', `${job.attempts} of at most ${job.max_retries + 1}`);
  line('priority', job.priority);
  if (job.state === 'pending') line('next run', `${job.available_at} (${relative(Date.parse(job.available_at), now)})`);
  line('run_at', job.run_at);
  line('timeout', job.timeout ? `${job.timeout}s` : 'config default');
  line('cwd', job.cwd ?? '(worker\'s)');
  if (job.env) line('env', Object.entries(job.env).map(([k, v]) => `${k}=${v}`).join(' '));
  line('created', job.created_at);
  line('updated', job.updated_at);
  if (job.finished_at) line('finished', job.finished_at);
  if (job.last_error) line('last error', pc.red(job.last_error));
  if (job.exit_code !== undefined && job.exit_code !== null) line('exit code', job.exit_code);
  if (job.history?.length) {
    ctx.out('');
    ctx.out(pc.bold('Attempts'));
    for (const l of table(
      ['#', 'WORKER', 'STARTED', 'TOOK', 'RESULT', 'REASON'],
      job.history.map((a) => [
        String(a.attempt), a.worker, a.started_at, formatDuration(a.duration_ms),
        a.signal ? `signal ${a.signal}` : a.exit_code === null ? '-' : `exit ${a.exit_code}`,
        a.error ? `${a.reason}: ${a.error}` : a.reason,
      ]),
      ctx.columns,
    )) ctx.out(l);
  }
  if (job.output_tail) {
    ctx.out('');
    ctx.out(pc.bold('Output (tail)'));
    ctx.out(job.output_tail.trimEnd());
  }
}
