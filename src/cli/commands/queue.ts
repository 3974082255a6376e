// `queuectl queue list|limit|pause|resume`: named queues (src/queues.ts).

import pc from 'picocolors';
import { InputError } from '../../errors.js';
import { checkQueueName, listQueues, setLimit, setPaused } from '../../queues.js';
import type { Context } from '../context.js';
import { flag, intOption } from '../context.js';
import { printJson, table } from '../format.js';
import type { Input } from '../spec.js';

export async function queueList(ctx: Context, input: Input): Promise<void> {
  const queues = await listQueues(await ctx.store(), Date.now());
  if (flag(input, 'json')) return printJson(ctx.out, queues);
  const rows = queues.map((q) => [
    q.name, String(q.pending), String(q.scheduled), String(q.failed), String(q.waiting), String(q.processing),
    q.limit ? String(q.limit) : pc.dim('-'), q.paused ? pc.yellow('paused') : pc.green('running'),
  ]);
  for (const line of table(['QUEUE', 'PENDING', 'SCHEDULED', 'FAILED', 'WAITING', 'RUNNING', 'LIMIT', 'STATE'], rows, ctx.columns)) ctx.out(line);
}

export async function queueLimit(ctx: Context, input: Input): Promise<void> {
  const [name, n] = input.args;
  const limit = intOption(n, 'the limit', 0, 100_000)!;
  await setLimit(await ctx.store(), name, limit);
  ctx.out(limit ? `Queue ${name}: at most ${limit} job${limit === 1 ? '' : 's'} at once` : `Queue ${name}: no limit`);
}

export async function queuePause(ctx: Context, input: Input, paused: boolean): Promise<void> {
  const store = await ctx.store();
  const all = flag(input, 'all');
  if (all && input.args.length) throw new InputError('Give queue names or --all, not both');
  const names = all ? (await listQueues(store, Date.now())).filter((q) => q.paused !== paused).map((q) => q.name) : input.args;
  if (names.length === 0) {
    if (!all) throw new InputError(`Expected a queue name or --all: queuectl queue ${paused ? 'pause' : 'resume'} NAME... | --all`);
    ctx.out(pc.dim(paused ? 'Every queue is paused already.' : 'No queue is paused.'));
    return;
  }
  // Every name is checked before anything changes: a refused command changes nothing.
  for (const name of names) checkQueueName(name);
  const was = new Set((await listQueues(store, Date.now())).filter((q) => q.paused).map((q) => q.name));
  for (const name of names) {
    await setPaused(store, name, paused);
    if (paused) ctx.out(`Queue ${name}: ${was.has(name) ? 'paused already' : 'paused (what runs finishes; nothing new starts)'}`);
    else ctx.out(`Queue ${name}: ${was.has(name) ? 'resumed' : 'was not paused'}`);
  }
}
