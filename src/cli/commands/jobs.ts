// `queuectl dlq list|retry|purge`, `cancel`, `logs`, `purge`: job control through admin.ts.

import { createReadStream, promises as fsp } from 'node:fs';
import { checkCancellable, checkRetryable, deadIds, orderForRetry } from '../../admin.js';
import { InputError, isErrno, JobNotFoundError } from '../../errors.js';
import { purgeCompleted, purgeDead } from '../../retention.js';
import { logPath } from '../../store.js';
import { parseDurationMs } from '../../units.js';
import { type Context, flag, intOption, str } from '../context.js';
import { loadCellWidths, pc, printJson, relative, table } from '../format.js';
import { queueOf } from '../queue.js';
import type { Input } from '../spec.js';
import { jobJson } from './list.js';

export async function dlqListCommand(ctx: Context, input: Input): Promise<void> {
  const limit = intOption(str(input, 'limit'), '--limit', 0) ?? 100;
  const { jobs } = await (await queueOf(ctx)).list({ state: 'dead', limit: limit === 0 ? Infinity : limit });
  const now = Date.now();
  if (flag(input, 'json')) return printJson(ctx.out, jobs.map((j) => jobJson(j, now)));
  if (jobs.length === 0) {
    ctx.out(pc.dim('The dead letter queue is empty.'));
    return;
  }
  await loadCellWidths(jobs.flatMap((j) => [j.id, j.command, j.last_error ?? '']));
  for (const line of table(['ID', 'RUNS', 'DIED', 'LAST ERROR', 'COMMAND'], jobs.map((j) => [
    j.id, String(j.attempts), j.finished_at ? relative(Date.parse(j.finished_at), now) : '-', pc.red(j.last_error ?? '-'), j.command,
  ]), ctx.columns)) ctx.out(line);
}

/**
 * Named ids: the first that cannot be retried stops the command (exit 2 or 1, as its error says).
 * --all: every dead job is tried; one that cannot be moved (retried by someone else meanwhile) is
 * reported on stderr and the exit status is 1.
 */
export async function dlqRetryCommand(ctx: Context, input: Input): Promise<number> {
  const all = flag(input, 'all');
  const ids = input.args;
  if (all && ids.length) throw new InputError('Give job ids or --all, not both');
  if (!all && ids.length === 0) throw new InputError('Expected job ids or --all: queuectl dlq retry ID... | --all');
  const queue = await queueOf(ctx);
  // Dependencies before the jobs that wait for them, so both can be retried in one command.
  const targets = orderForRetry(queue.store, all ? await deadIds(queue.store) : ids);
  if (targets.length === 0) {
    if (flag(input, 'json')) printJson(ctx.out, []);
    else ctx.out(pc.dim('The dead letter queue is empty.'));
    return 0;
  }
  // Named ids: all of them checked before anything moves (a refused command changes nothing).
  if (!all) await checkRetryable(queue.store, targets);
  const retried: string[] = [];
  for (const id of targets) {
    try {
      await queue.retry(id);
      retried.push(id);
      if (!flag(input, 'json')) ctx.out(`Retrying ${id}`);
    } catch (err) {
      if (!all) throw err;
      ctx.err(`${id}: ${(err as Error).message}`);
    }
  }
  if (flag(input, 'json')) printJson(ctx.out, retried);
  else if (targets.length > 1) ctx.out(`Retried ${retried.length} job${retried.length === 1 ? '' : 's'}`);
  return retried.length === targets.length ? 0 : 1;
}

export async function dlqPurgeCommand(ctx: Context, input: Input): Promise<void> {
  const older = str(input, 'older-than');
  const cutoff = older === undefined ? Infinity : Date.now() - parseDurationMs(older, '--older-than');
  const n = await purgeDead(await ctx.store(), cutoff);
  ctx.out(`Removed ${n} dead job${n === 1 ? '' : 's'}`);
}

/** Cancels in the order given; a running job is waited for until its worker has killed it and moved it. */
export async function cancelCommand(ctx: Context, input: Input): Promise<void> {
  const queue = await queueOf(ctx);
  await checkCancellable(queue.store, input.args); // all of them, before anything changes
  const gone = new Set<string>(); // dependents of a job cancelled before them in this command
  for (const id of input.args) {
    if (gone.has(id)) continue;
    const r = await queue.cancel(id);
    for (const d of r.dependents) gone.add(d);
    ctx.out(`Cancelled ${id}${r.was === 'processing' ? ' (was running; killed)' : ''}`);
    if (r.dependents.length) ctx.out(`  and ${r.dependents.length} job${r.dependents.length === 1 ? '' : 's'} waiting for it (now dead, dependency-failed): ${r.dependents.slice(0, 20).join(' ')}${r.dependents.length > 20 ? ' ...' : ''}`);
  }
}

/** Copies the log as bytes (not lines): output that is not UTF-8 comes out as the command wrote it. */
export async function logsCommand(ctx: Context, input: Input): Promise<number> {
  const id = input.args[0];
  const follow = flag(input, 'follow');
  const queue = await queueOf(ctx);
  const store = queue.store;
  const job = await queue.get(id);
  if (!job) throw new JobNotFoundError(id);
  const runs = job.history?.length ?? 0;
  const running = job.state === 'processing' ? runs + 1 : runs;
  const run = intOption(str(input, 'attempt'), '--attempt', 1) ?? running;
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
      s.on('data', (c) => ctx.write(c));
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
  if (!hasLog && !follow) {
    const outcome = outcomeOf(job);
    if (outcome) {
      ctx.out(outcome);
      return 0;
    }
    ctx.err(`No log for run ${run} of "${id}" (removed, or the run never started)`);
    return 1;
  }
  await copy();
  if (!follow) return 0;
  // Follow until the run's log is finished: its last line is the outcome, written when the run ends.
  for (;;) {
    const current = await queue.get(id);
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

export async function purgeCommand(ctx: Context, input: Input): Promise<void> {
  const state = str(input, 'state');
  // No default: a bare `purge` deleting every completed job would be a surprise nobody asked for.
  if (state === undefined) throw new InputError('Expected --state completed or --state dead: queuectl purge --state completed|dead [--older-than DURATION]');
  if (state !== 'completed' && state !== 'dead') throw new InputError(`Expected --state to be completed or dead, got ${JSON.stringify(state)}`);
  const older = str(input, 'older-than');
  const store = await ctx.store();
  const cutoff = older === undefined ? (state === 'completed' ? Date.now() + 3_600_000 * 2 : Infinity) : Date.now() - parseDurationMs(older, '--older-than');
  const n = state === 'completed' ? await purgeCompleted(store, cutoff) : await purgeDead(store, cutoff);
  ctx.out(`Removed ${n} ${state} job${n === 1 ? '' : 's'}`);
}
