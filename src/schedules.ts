// Recurring schedules: a cron expression (5 fields, or 6 with seconds first), a time zone and a job
// template, stored as schedules/<name>.json; every worker's scheduler tick (once a second) enqueues the
// slots that have come.
//
//  - Each slot is enqueued exactly once, however many workers and hosts run: its job's id is
//    <name>-<slot time, UTC, YYYYMMDDTHHMMSSZ>, and ids are unique (the id registry; a second enqueue of it
//    finds it taken and does nothing). schedules/<name>.last holds the last slot enqueued, so a slot whose
//    job was already purged by retention is not enqueued again.
//  - Slots missed while no worker ran (or while the schedule was paused) are not all made up for: at most
//    one catch-up run, the latest missed slot. Slots before the schedule was added never run.
//  - Expressions are parsed by croner (no dependencies; seconds and time zones, DST handled), never by hand.

import * as fs from 'node:fs';
import { join } from 'node:path';
import { Cron } from 'croner';
import { enqueueBatch } from './enqueue.js';
import { InputError, isErrno, QueuectlError } from './errors.js';
import { createJob, ID_PATTERN } from './job.js';
import { type Store, writeFileDurable } from './store.js';

/** Names of schedules: they start the ids of their jobs. */
export const SCHEDULE_PATTERN = /^[a-z0-9][a-z0-9_-]{0,63}$/;

/** What schedules/<name>.json holds. */
export interface Schedule {
  name: string;
  /** The cron expression as given. */
  cron: string;
  /** IANA time zone the expression is read in (the one `schedule add` ran in, unless --tz). */
  tz: string;
  /** The job spec each slot enqueues (command, priority, queue, timeout, max_retries, cwd, env, ...). */
  job: Record<string, unknown>;
  created_at: string;
  paused: boolean;
  /** When it was last resumed: slots before it are not caught up. */
  resumed_at?: string;
}

function checkName(name: string): void {
  if (!SCHEDULE_PATTERN.test(name)) throw new InputError(`Invalid schedule name ${JSON.stringify(name)}: 1-64 of a-z 0-9 _ -, starting with a letter or digit`);
}

/** A croner instance for a schedule (paused: it only computes, it never runs anything itself). */
function cronOf(cron: string, tz: string): Cron {
  return new Cron(cron, { timezone: tz, paused: true });
}

/** Checks a cron expression and a time zone, with a message that says what is wrong. */
export function checkCron(cron: string, tz: string): void {
  const fields = cron.trim().split(/\s+/).filter(Boolean).length;
  if (fields !== 5 && fields !== 6) {
    throw new InputError(`Invalid cron expression ${JSON.stringify(cron)}: ${fields} field${fields === 1 ? '' : 's'}; expected 5 (minute hour day month weekday) or 6 (seconds first)`);
  }
  if (tz.trim() === '') throw new InputError(`Invalid time zone ${JSON.stringify(tz)}: expected an IANA name such as UTC, Europe/Berlin or America/New_York`);
  let c: Cron;
  try {
    c = cronOf(cron, tz);
  } catch (err) {
    throw new InputError(`Invalid cron expression ${JSON.stringify(cron)}: ${(err as Error).message.replace(/^CronPattern: /, '').replace(/configuration entry/g, 'field')}`);
  }
  try {
    c.nextRun(new Date());
  } catch {
    throw new InputError(`Invalid time zone ${JSON.stringify(tz)}: expected an IANA name such as UTC, Europe/Berlin or America/New_York`);
  }
}

function schedulePath(store: Store, name: string): string {
  return join(store.schedules, `${name}.json`);
}

/** Adds a schedule. The job template is checked as enqueue would check it; an existing name is refused. */
export async function addSchedule(store: Store, s: Omit<Schedule, 'created_at' | 'paused'>, now: number): Promise<Schedule> {
  checkName(s.name);
  checkCron(s.cron, s.tz);
  const probeId = slotId(s.name, now);
  if (!ID_PATTERN.test(probeId)) throw new InputError(`Schedule name ${JSON.stringify(s.name)} is too long for the ids of its jobs`);
  if ('id' in s.job) throw new InputError('A schedule names its own jobs (<name>-<slot time>): leave --id out');
  // A fixed dependency would hold every slot's job, and once it is purged (retention) no slot could be
  // enqueued at all: a schedule's jobs wait for nothing. Chain work inside the command, or enqueue a
  // job --after the slot's id from the command itself.
  if (Array.isArray(s.job.after) ? s.job.after.length > 0 : s.job.after != null) throw new InputError('A schedule\'s jobs cannot wait for other jobs (after): its slots would all wait for one job, and stop once it is purged');
  createJob({ ...s.job, id: probeId }, `schedule ${s.name}`, now, { maxRetries: 0, cwd: null }, () => probeId);
  if (fs.existsSync(schedulePath(store, s.name))) throw new InputError(`Schedule "${s.name}" exists already; remove it first (queuectl schedule remove ${s.name})`);
  const schedule: Schedule = { ...s, created_at: new Date(now).toISOString(), paused: false };
  await writeFileDurable(store, schedulePath(store, s.name), `${JSON.stringify(schedule, null, 2)}\n`);
  return schedule;
}

export async function removeSchedule(store: Store, name: string): Promise<void> {
  checkName(name);
  const path = schedulePath(store, name);
  if (!fs.existsSync(path)) throw new InputError(`No schedule "${name}"; queuectl schedule list shows them`);
  fs.rmSync(path);
  fs.rmSync(join(store.schedules, `${name}.last`), { force: true });
  fs.rmSync(errorPath(store, name), { force: true });
}

export async function setSchedulePaused(store: Store, name: string, paused: boolean, now: number): Promise<Schedule> {
  const s = readSchedule(store, name);
  if (!s) throw new InputError(`No schedule "${name}"; queuectl schedule list shows them`);
  const next: Schedule = { ...s, paused, ...(paused ? {} : { resumed_at: new Date(now).toISOString() }) };
  await writeFileDurable(store, schedulePath(store, name), `${JSON.stringify(next, null, 2)}\n`);
  return next;
}

export function readSchedule(store: Store, name: string): Schedule | null {
  checkName(name);
  try {
    return JSON.parse(fs.readFileSync(schedulePath(store, name), 'utf8')) as Schedule;
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return null;
    throw new QueuectlError(`${schedulePath(store, name)}: ${(err as Error).message}`);
  }
}

export function listSchedules(store: Store): Schedule[] {
  let names: string[];
  try {
    names = fs.readdirSync(store.schedules);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return [];
    throw err;
  }
  const out: Schedule[] = [];
  for (const n of names.sort()) {
    if (!n.endsWith('.json') || n.startsWith('.')) continue;
    const s = readSchedule(store, n.slice(0, -5));
    if (s) out.push(s);
  }
  return out;
}

/** The id of a slot's job: <name>-YYYYMMDDTHHMMSSZ. */
export function slotId(name: string, slot: number): string {
  return `${name}-${new Date(slot).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z')}`;
}

/** The next `n` slots of a schedule after `from`. */
export function nextSlots(s: Pick<Schedule, 'cron' | 'tz'>, from: number, n: number): number[] {
  return cronOf(s.cron, s.tz).nextRuns(n, new Date(from)).map((d) => d.getTime());
}

/** The last slot enqueued for a schedule (schedules/<name>.last), or null. */
export function lastSlot(store: Store, name: string): number | null {
  try {
    const t = Date.parse(fs.readFileSync(join(store.schedules, `${name}.last`), 'utf8').trim());
    return Number.isFinite(t) ? t : null;
  } catch {
    return null;
  }
}

/** A scheduler whose previous tick is older than this was not ticking (paused, frozen): its gap is "missed". */
export const LIVE_GAP_MS = 10_000;
/** Most slots one tick enqueues for one schedule (a per-second schedule after a slow tick needs two or three). */
const MAX_SLOTS_PER_TICK = 60;

/**
 * The slots a schedule should enqueue now, oldest first: those in (since, now], where since is the last
 * slot enqueued, or when the schedule was added or last resumed (nothing before that is made up for).
 * Slots that came while this scheduler was ticking (after its previous tick, `liveSince`) are each
 * enqueued: a tick that runs late never drops a slot. Of the slots before that (missed while no worker
 * ran, or while this one was frozen), only the latest runs: at most one catch-up.
 */
export function dueSlots(s: Schedule, last: number | null, now: number, liveSince: number | null = null): number[] {
  if (s.paused) return [];
  const since = Math.max(last ?? -Infinity, Date.parse(s.created_at), s.resumed_at ? Date.parse(s.resumed_at) : -Infinity);
  const c = cronOf(s.cron, s.tz);
  const live = liveSince !== null && now - liveSince <= LIVE_GAP_MS ? Math.max(since, liveSince) : now;
  const out: number[] = [];
  // The catch-up: the latest slot in (since, live], if any.
  const missed = c.previousRuns(1, new Date(live + 1))[0];
  if (missed && missed.getTime() > since) out.push(missed.getTime());
  // Every slot in (live, now].
  let at = new Date(live);
  while (out.length < MAX_SLOTS_PER_TICK) {
    const next = c.nextRun(at);
    if (!next || next.getTime() > now) break;
    out.push(next.getTime());
    at = next;
  }
  return out;
}

export interface TickReport {
  /** Jobs enqueued now (their ids). */
  enqueued: string[];
  /** Schedules that could not enqueue, with why. */
  errors: { name: string; message: string }[];
}

/**
 * One scheduler tick: enqueues every schedule's due slots (those no other process enqueued). `liveSince`
 * is the time of this scheduler's previous tick (null on its first): see dueSlots.
 */
export async function runSchedules(store: Store, now: number, defaults: { maxRetries: number }, liveSince: number | null = null): Promise<TickReport> {
  const report: TickReport = { enqueued: [], errors: [] };
  for (const s of listSchedules(store)) {
    try {
      const slots = dueSlots(s, lastSlot(store, s.name), now, liveSince);
      if (slots.length === 0) continue;
      const specs = slots.map((slot) => ({ spec: { ...s.job, id: slotId(s.name, slot), run_at: new Date(slot).toISOString(), schedule: s.name }, label: `schedule ${s.name}` }));
      const r = await enqueueBatch(store, specs, { now, maxRetries: defaults.maxRetries, cwd: null, ifAbsent: true });
      report.enqueued.push(...r.jobs.map((j) => j.id));
      await writeFileDurable(store, join(store.schedules, `${s.name}.last`), `${new Date(slots[slots.length - 1]).toISOString()}\n`);
      fs.rmSync(errorPath(store, s.name), { force: true });
    } catch (err) {
      const message = (err as Error).message;
      report.errors.push({ name: s.name, message });
      // Said where people look (schedule list, the page), not only in the workers' log.
      if (readError(store, s.name)?.message !== message) {
        await writeFileDurable(store, errorPath(store, s.name), `${JSON.stringify({ message, at: new Date(now).toISOString() })}\n`).catch(() => undefined);
      }
    }
  }
  return report;
}

/** schedules/<name>.error: why the last tick could not enqueue a slot (removed at the next success). */
function errorPath(store: Store, name: string): string {
  return join(store.schedules, `${name}.error`);
}

function readError(store: Store, name: string): { message: string; at: string } | null {
  try {
    return JSON.parse(fs.readFileSync(errorPath(store, name), 'utf8')) as { message: string; at: string };
  } catch {
    return null;
  }
}

/** A schedule with its next runs, for `schedule list` and the page. */
export interface ScheduleView extends Schedule {
  next: string[];
  last: string | null;
  /** Why its last tick could not enqueue (the template no longer passes enqueue's checks), or null. */
  error: { message: string; at: string } | null;
}

export function viewSchedule(store: Store, s: Schedule, now: number, n = 3): ScheduleView {
  const last = lastSlot(store, s.name);
  return { ...s, next: s.paused ? [] : nextSlots(s, now, n).map((t) => new Date(t).toISOString()), last: last === null ? null : new Date(last).toISOString(), error: readError(store, s.name) };
}

