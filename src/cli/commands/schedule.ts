// `queuectl schedule add|list|remove|pause|resume`: recurring schedules (src/schedules.ts).

import pc from 'picocolors';
import { InputError } from '../../errors.js';
import { addSchedule, listSchedules, readSchedule, removeSchedule, setSchedulePaused, viewSchedule } from '../../schedules.js';
import type { Store } from '../../store.js';
import { type Context, flag, str } from '../context.js';
import { printJson, relative, table } from '../format.js';
import type { Input } from '../spec.js';
import { specFromFlags } from './enqueue.js';

export async function scheduleAdd(ctx: Context, input: Input): Promise<void> {
  const [name] = input.args;
  const cron = str(input, 'cron');
  if (cron === undefined) throw new InputError('Expected --cron EXPR: 5 fields (minute hour day month weekday), or 6 with seconds first');
  const words = input.rest ?? [];
  if (words.length === 0) throw new InputError(`Expected the command after \`--\`: queuectl schedule add ${name} --cron '${cron}' -- COMMAND ARGS...`);
  // The time zone of this command unless --tz: a cron line reads as the local time of whoever wrote it.
  const tz = str(input, 'tz') ?? (Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC');
  const job = specFromFlags(ctx, input, words);
  if (job.cwd === undefined) job.cwd = ctx.cwd;
  const s = await addSchedule(await ctx.store(), { name, cron, tz, job }, Date.now());
  const view = viewSchedule(await ctx.store(), s, Date.now(), 1);
  if (flag(input, 'json')) return printJson(ctx.out, view);
  ctx.out(`Added schedule ${name} (${cron}, ${tz}); next run ${view.next[0] ? `${inZone(view.next[0], tz)} (${view.next[0]})` : 'never'}`);
}

export async function scheduleList(ctx: Context, input: Input): Promise<void> {
  const store = await ctx.store();
  const now = Date.now();
  const views = listSchedules(store).map((s) => viewSchedule(store, s, now));
  if (flag(input, 'json')) return printJson(ctx.out, views);
  if (views.length === 0) {
    ctx.out(pc.dim('No schedules. Add one with: queuectl schedule add NAME --cron EXPR -- COMMAND'));
    return;
  }
  const rows = views.map((v) => [
    v.name, v.cron, v.tz, v.paused ? pc.yellow('paused') : v.error ? pc.red('error') : pc.green('active'),
    v.next[0] ? `${inZone(v.next[0], v.tz)} (${relative(Date.parse(v.next[0]), now)})` : '-', v.last ? inZone(v.last, v.tz) : '-', String(v.job.command ?? ''),
  ]);
  for (const line of table(['NAME', 'CRON', 'ZONE', 'STATE', 'NEXT', 'LAST SLOT', 'COMMAND'], rows, ctx.columns)) ctx.out(line);
  for (const v of views) if (v.error) ctx.err(`${v.name}: ${pc.red(`cannot enqueue its slots (since ${v.error.at}): ${v.error.message}`)}`);
}

/** A time as the wall clock of a zone shows it, with its offset: "2026-12-02 02:00:00 GMT+1". */
function inZone(iso: string, tz: string): string {
  try {
    const parts = Object.fromEntries(new Intl.DateTimeFormat('en-US', {
      timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23', timeZoneName: 'shortOffset',
    }).formatToParts(new Date(iso)).map((p) => [p.type, p.value]));
    return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}:${parts.second} ${parts.timeZoneName}`;
  } catch {
    return iso;
  }
}

/** Every name must be a schedule before anything changes: a refused command changes nothing. */
function checkAllExist(store: Store, names: string[]): void {
  const missing = names.filter((n) => readSchedule(store, n) === null);
  if (missing.length) throw new InputError(`No schedule ${missing.map((n) => `"${n}"`).join(', ')}; nothing was changed (queuectl schedule list shows them)`);
}

export async function scheduleRemove(ctx: Context, input: Input): Promise<void> {
  const store = await ctx.store();
  checkAllExist(store, input.args);
  for (const name of input.args) {
    await removeSchedule(store, name);
    ctx.out(`Removed schedule ${name} (jobs it enqueued stay)`);
  }
}

export async function schedulePause(ctx: Context, input: Input, paused: boolean): Promise<void> {
  const store = await ctx.store();
  checkAllExist(store, input.args);
  for (const name of input.args) {
    await setSchedulePaused(store, name, paused, Date.now());
    ctx.out(paused ? `Paused schedule ${name}` : `Resumed schedule ${name} (slots missed while paused do not run)`);
  }
}
