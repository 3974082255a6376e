// `queuectl dlq ...`, `cancel`, `wait`, `logs`, `purge`: job control through admin.ts.

import { createReadStream, promises as fsp } from 'node:fs';
import pc from 'picocolors';
import { cancelJob, deadIds, retryDead, waitForJobs } from '../../admin.js';
import { loadConfig } from '../../config.js';
import { InputError, isErrno, JobNotFoundError } from '../../errors.js';
import { getJob, listJobsPage } from '../../inspect.js';
import { purgeCompleted, purgeDead } from '../../retention.js';
import { logPath } from '../../store.js';
import { formatDuration, parseDurationMs } from '../../units.js';
import { type Context, intOption, rawOption } from '../context.js';
import { colorState, printJson, relative, table } from '../format.js';

export const DLQ_ACTIONS = ['list', 'retry', 'purge'] as const;

export async function dlqCommand(ctx: Context, action: string, ids: string[], flags: { all?: boolean; json?: boolean; olderThan?: unknown; limit?: unknown }): Promise<number> {
  const store = await ctx.store();
  switch (action) {
    case 'list': {
      const limit = intOption(flags.limit, '--limit', 1) ?? 100;
      const { jobs } = await listJobsPage(store, { state: 'dead', limit, now: Date.now() });
      if (flags.json) {
        printJson(ctx.out, jobs.map((j) => ({ ...j, env: j.env ? Object.fromEntries(Object.keys(j.env).map((k) => [k, '***'])) : undefined })));
        return 0;
      }
      if (jobs.length === 0) {
        ctx.out(pc.dim('The dead letter queue is empty.'));
        return 0;
      }
      const now = Date.now();
      for (const line of table(['ID', 'RUNS', 'DIED', 'LAST ERROR', 'COMMAND'], jobs.map((j) => [
        j.id, String(j.attempts), j.finished_at ? relative(Date.parse(j.finished_at), now) : '-', pc.red(j.last_error ?? '-'), j.command,
      ]))) ctx.out(line);
      return 0;
    }
    case 'retry': {
      if (flags.all && ids.length) throw new InputError('Give job ids or --all, not both');
      const targets = flags.all ? await deadIds(store) : ids;
      if (targets.length === 0) {
        if (!flags.all) throw new InputError('Expected job ids or --all: queuectl dlq retry ID... | --all');
        ctx.out(pc.dim('The dead letter queue is empty.'));
        return 0;
      }
      let failed = 0;
      for (const id of targets) {
        try {
          await retryDead(store, id, Date.now());
          if (!flags.json) ctx.out(`Retrying ${id}`);
        } catch (err) {
          if (!flags.all) throw err;
          failed++;
          ctx.err(`${id}: ${(err as Error).message}`);
        }
      }
      if (flags.json) printJson(ctx.out, targets);
      else if (targets.length > 1) ctx.out(`Moved ${targets.length - failed} job${targets.length - failed === 1 ? '' : 's'} back to pending`);
      return failed ? 1 : 0;
    }
    case 'purge': {
      const older = rawOption(ctx.argv, '--older-than');
      const cutoff = older === undefined ? Infinity : Date.now() - parseDurationMs(older, '--older-than');
      const n = await purgeDead(store, cutoff);
      ctx.out(`Removed ${n} dead job${n === 1 ? '' : 's'}`);
      return 0;
    }
    default:
      throw new InputError(`Unknown dlq action "${action}"; expected one of ${DLQ_ACTIONS.join(', ')}`);
  }
}

export async function cancelCommand(ctx: Context, ids: string[]): Promise<number> {
  if (ids.length === 0) throw new InputError('Expected at least one job id: queuectl cancel ID...');
  const store = await ctx.store();
  const config = await loadConfig(store);
  for (const id of ids) {
    const r = await cancelJob(store, id, { now: Date.now(), staleAfterMs: config.staleAfterMs, timeoutMs: config.killGraceMs + config.heartbeatIntervalMs * 3 + 10_000 });
    ctx.out(`Cancelled ${id}${r.was === 'processing' ? ' (was running; killed)' : ''}`);
  }
  return 0;
}

export async function waitCommand(ctx: Context, ids: string[], flags: { all?: boolean; json?: boolean }): Promise<number> {
  if (flags.all && ids.length) throw new InputError('Give job ids or --all, not both');
  if (!flags.all && ids.length === 0) throw new InputError('Expected job ids or --all: queuectl wait ID... | --all');
  const raw = rawOption(ctx.argv, '--timeout');
  const timeoutMs = raw === undefined ? 0 : parseDurationMs(raw, '--timeout');
  const store = await ctx.store();
  const result = await waitForJobs(store, flags.all ? 'all' : ids, { timeoutMs });
  if (flags.json) printJson(ctx.out, result);
  if (result.timedOut) {
    ctx.err(`Timed out after ${formatDuration(timeoutMs)}`);
    return 1;
  }
  if (!flags.json && result.dead.length) ctx.err(`${colorState('dead')}: ${result.dead.join(', ')}`);
  return result.dead.length ? 1 : 0;
}

export async function logsCommand(ctx: Context, id: string, flags: { follow?: boolean; attempt?: unknown }): Promise<number> {
  const store = await ctx.store();
  const job = await getJob(store, id);
  if (!job) throw new JobNotFoundError(id);
  const runs = job.history?.length ?? 0;
  const running = job.state === 'processing' ? runs + 1 : runs;
  const run = intOption(rawOption(ctx.argv, '--attempt') ?? flags.attempt, '--attempt', 1) ?? running;
  if (run === 0) {
    ctx.err(`Job "${id}" has not run yet`);
    return 1;
  }
  if (run > running) throw new InputError(`Job "${id}" has ${running} run${running === 1 ? '' : 's'}; --attempt must be from 1 to ${running}`);
  const path = logPath(store, id, run);
  let offset = 0;
  const copy = async (): Promise<void> => {
    const st = await fsp.stat(path).catch(() => null);
    if (!st || st.size <= offset) return;
    await new Promise<void>((resolve, reject) => {
      const s = createReadStream(path, { start: offset, end: st.size - 1 });
      s.on('data', (c) => process.stdout.write(c));
      s.on('end', () => resolve());
      s.on('error', reject);
    });
    offset = st.size;
  };
  // A run that printed nothing has no log file: print its outcome line from the job's history.
  const outcomeOf = (j: typeof job) => {
    const a = j?.history?.find((h) => h.attempt === run);
    if (!a) return null;
    return a.reason === 'completed' || a.reason === 'failed' ? `[exited with status ${a.exit_code}]` : `[${a.error ?? a.reason}]`;
  };
  const hasLog = await fsp.access(path).then(() => true, (err) => {
    if (!isErrno(err, 'ENOENT')) throw err;
    return false;
  });
  if (!hasLog && !flags.follow) {
    const outcome = outcomeOf(job);
    if (outcome) {
      ctx.out(outcome);
      return 0;
    }
    ctx.err(`No log for run ${run} of "${id}" (removed, or the run never started)`);
    return 1;
  }
  await copy();
  if (!flags.follow) return 0;
  // Follow until the run's log is finished: its last line is the outcome, written when the run ends.
  for (;;) {
    const current = await getJob(store, id);
    const ended = !current || current.state !== 'processing' || (current.history?.length ?? 0) >= run;
    await copy();
    if (ended) {
      if (offset === 0 && current) {
        const outcome = outcomeOf(current);
        if (outcome) ctx.out(outcome);
      }
      return 0;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

export async function purgeCommand(ctx: Context, flags: { state?: string }): Promise<number> {
  const state = rawOption(ctx.argv, '--state') ?? flags.state ?? 'completed';
  if (state !== 'completed' && state !== 'dead') throw new InputError(`Expected --state to be completed or dead, got ${JSON.stringify(state)}`);
  const older = rawOption(ctx.argv, '--older-than');
  const store = await ctx.store();
  const cutoff = older === undefined ? (state === 'completed' ? Date.now() + 3_600_000 * 2 : Infinity) : Date.now() - parseDurationMs(older, '--older-than');
  const n = state === 'completed' ? await purgeCompleted(store, cutoff) : await purgeDead(store, cutoff);
  ctx.out(`Removed ${n} ${state} job${n === 1 ? '' : 's'}`);
  return 0;
}
