// `queuectl list` and `queuectl show`.

import pc from 'picocolors';
import { loadConfig } from '../../config.js';
import { InputError, JobNotFoundError } from '../../errors.js';
import { displayState, getJob, LIST_STATES, type ListState, listJobsPage, redactEnv } from '../../inspect.js';
import { formatDuration } from '../../units.js';
import { type Context, intOption, rawOption } from '../context.js';
import { colorState, printJson, relative, table } from '../format.js';

export async function listCommand(ctx: Context, flags: { state?: string; limit?: unknown; json?: boolean }): Promise<void> {
  const state = rawOption(ctx.argv, '--state') ?? flags.state;
  if (state !== undefined && state !== 'all' && !(LIST_STATES as readonly string[]).includes(state)) {
    throw new InputError(`Expected --state to be one of ${LIST_STATES.join(', ')}, all; got ${JSON.stringify(state)}`);
  }
  const limit = intOption(flags.limit, '--limit', 1) ?? 50;
  const now = Date.now();
  const store = await ctx.store();
  const { maxRetries } = await loadConfig(store);
  const { jobs } = await listJobsPage(store, { state: (state ?? 'all') as ListState | 'all', limit, now, maxRetries });
  if (flags.json) return printJson(ctx.out, jobs.map(redactEnv));
  if (jobs.length === 0) {
    ctx.out(pc.dim(`No ${state && state !== 'all' ? `${state} ` : ''}jobs.`));
    return;
  }
  const rows = jobs.map((j) => {
    const shown = displayState(j, now);
    const when = j.state === 'pending'
      ? (Date.parse(j.available_at) <= now ? 'ready' : relative(Date.parse(j.available_at), now))
      : j.finished_at ? relative(Date.parse(j.finished_at), now) : '-';
    return [j.id, colorState(shown), `${j.attempts}/${j.max_retries + 1}`, String(j.priority), when, j.command];
  });
  for (const line of table(['ID', 'STATE', 'RUNS', 'PRIO', 'WHEN', 'COMMAND'], rows)) ctx.out(line);
}

export async function showCommand(ctx: Context, id: string | undefined, flags: { json?: boolean; env?: boolean }): Promise<void> {
  if (!id) throw new InputError('Expected a job id: queuectl show ID');
  const jobId = id;
  const found = await getJob(await ctx.store(), jobId);
  if (!found) throw new JobNotFoundError(jobId);
  const job = flags.env ? found : redactEnv(found);
  if (flags.json) return printJson(ctx.out, job);
  const now = Date.now();
  const line = (k: string, v: unknown) => ctx.out(`${pc.bold(k.padEnd(12))} ${v}`);
  line('id', job.id);
  line('state', colorState(displayState(job, now)));
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
    )) ctx.out(l);
  }
  if (job.output_tail) {
    ctx.out('');
    ctx.out(pc.bold('Output (tail)'));
    ctx.out(job.output_tail.trimEnd());
  }
}
