// Organizing work (issue 12) with real worker processes on real temp roots: named queues with limits and
// pauses, workers restricted to queues, taking turns between queues; dependencies (waiting, released,
// dependency-failed, retry); recurring schedules (each slot once with several workers, at most one
// catch-up); enqueue --if-absent.

import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { dueSlots } from '../src/schedules.js';
import { waitFor } from './helpers.js';
import { completedCount, enqueue, folder, ledgerLines, makeQueue, readJobFile, startWorker, waitForState } from './worker-helpers.js';

/** A job that writes "start <id> <ms>" and "end <id> <ms>" around a sleep. */
const timed = (ledger: string, id: string, sleep = '0.3') => `echo "start ${id} $(date +%s%3N)" >> ${ledger}; sleep ${sleep}; echo "end ${id} $(date +%s%3N)" >> ${ledger}`;

/** Most jobs of `prefix` running at once, from a ledger of timed() lines. */
function maxOverlap(lines: string[], prefix: string): number {
  const events = lines.map((l) => l.split(' ')).filter(([, id]) => id.startsWith(prefix)).map(([kind, , t]) => ({ t: Number(t), d: kind === 'start' ? 1 : -1 }));
  events.sort((a, b) => a.t - b.t || a.d - b.d);
  let now = 0;
  let max = 0;
  for (const e of events) max = Math.max(max, (now += e.d));
  return max;
}

describe('named queues', () => {
  test('a queue limit holds across worker processes: at most N of its jobs at once, other queues unaffected', async (t) => {
    // stale-after 3s, not the 600ms of FAST_CONFIG: four processes starting at once on a loaded 2-core CI
    // machine have missed 600ms of heartbeats, and a live worker judged dead has its run taken over while
    // it still runs (the fence discards its result; the limit counts the new run only). That is recovery's
    // case, tested in recovery.test.ts; this test is about admission.
    const q = await makeQueue(t, { 'stale-after': '3s' });
    await q.ok(['queue', 'limit', 'backups', '2']);
    for (let i = 0; i < 8; i++) await enqueue(q, timed(q.ledger, `b${i}`), ['--queue', 'backups', '--id', `b${i}`]);
    for (let i = 0; i < 4; i++) await enqueue(q, timed(q.ledger, `d${i}`, '0.2'), ['--id', `d${i}`]);
    await Promise.all([startWorker(q, ['--count', '3']), startWorker(q, ['--count', '3'])]);
    await waitFor(async () => (await completedCount(q.root)) === 12, { timeoutMs: 20_000, what: 'all 12 jobs to complete' });
    const lines = await ledgerLines(q);
    assert.equal(maxOverlap(lines, 'b'), 2, 'backups ran at most 2 at once (and used both)');
    assert.ok(maxOverlap(lines, 'd') >= 2, 'the default queue was not held back by the limit of another');
    await waitFor(async () => (await fsp.readdir(join(q.root, 'queues', 'backups.running'))).length === 0, { what: 'every admission to end' });
  });

  test('a paused queue starts nothing new, what runs finishes; resume starts it again; status and queue list say so', async (t) => {
    const q = await makeQueue(t);
    const w = await startWorker(q, ['--count', '2']);
    const first = await enqueue(q, `sleep 0.5; echo first >> ${q.ledger}`, ['--queue', 'reports']);
    await w.waitForOutput(new RegExp(`processing ${first}`));
    await q.ok(['queue', 'pause', 'reports']);
    await w.waitForOutput(/queues: paused reports/); // at the worker's next heartbeat (50ms here)
    const second = await enqueue(q, `echo second >> ${q.ledger}`, ['--queue', 'reports']);
    await waitForState(q.root, first, 'completed');
    // A job of another queue enqueued after it runs: the workers had second in view and passed it over.
    const other = await enqueue(q, 'true', ['--queue', 'other']);
    await waitForState(q.root, other, 'completed');
    assert.equal((await readJobFile(q.root, second)).state, 'pending');
    const list = JSON.parse(await q.ok(['queue', 'list', '--json'])) as { name: string; paused: boolean; pending: number }[];
    assert.deepEqual(list.find((x) => x.name === 'reports'), { ...list.find((x) => x.name === 'reports'), paused: true, pending: 1 });
    await q.ok(['queue', 'resume', 'reports']);
    await waitForState(q.root, second, 'completed');
    assert.deepEqual(await ledgerLines(q), ['first', 'second']);
  });

  test('worker start --queue takes only those queues; between queues a worker takes turns (no starvation)', async (t) => {
    const q = await makeQueue(t);
    for (let i = 0; i < 20; i++) await q.ok(['enqueue', JSON.stringify({ id: `big${i}`, command: `echo big${i} >> ${q.ledger}`, queue: 'big' })]);
    for (let i = 0; i < 3; i++) await q.ok(['enqueue', JSON.stringify({ id: `small${i}`, command: `echo small${i} >> ${q.ledger}`, queue: 'small' })]);
    await q.ok(['enqueue', JSON.stringify({ id: 'other', command: `echo other >> ${q.ledger}`, queue: 'other' })]);
    const w = await startWorker(q, ['--queue', 'big', '--queue', 'small']);
    await waitFor(async () => (await ledgerLines(q)).length === 23, { timeoutMs: 15_000, what: 'the 23 jobs of big and small to run' });
    const lines = await ledgerLines(q);
    // Turns: the 3 small jobs run among the first 6, not after the 20 big ones.
    assert.ok(lines.slice(0, 6).filter((l) => l.startsWith('small')).length === 3, lines.join(' '));
    assert.equal((await readJobFile(q.root, 'other')).state, 'pending', 'a queue the worker does not serve is left alone');
    void w;
  });

  test('bad queue names are refused at enqueue and worker start, with what is expected', async (t) => {
    const q = await makeQueue(t);
    const r = await q.cli(['enqueue', '--queue', 'Bad Name', '--', 'true']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /field "queue" must be 1-64 characters of a-z 0-9 _ -/);
    const w = await q.cli(['worker', 'start', '--queue', 'UPPER']);
    assert.equal(w.code, 2);
    assert.match(w.stderr, /Expected --queue to be a queue name/);
    const l = await q.cli(['queue', 'limit', 'x', '-1']);
    assert.equal(l.code, 2);
  });
});

describe('dependencies', () => {
  test('a job waits until every job it names has completed, then runs; 200 waiting on one start together', async (t) => {
    const q = await makeQueue(t);
    await enqueue(q, `sleep 0.4; echo root >> ${q.ledger}`, ['--id', 'root']);
    const ndjson = Array.from({ length: 200 }, (_, i) => JSON.stringify({ id: `leaf${i}`, command: `echo leaf${i} >> ${q.ledger}`, after: ['root'] })).join('\n');
    await q.ok(['enqueue', '-'], { input: ndjson });
    await enqueue(q, `echo last >> ${q.ledger}`, ['--id', 'last', '--after', 'leaf0', '--after', 'leaf199']);
    assert.equal((await folder(q.root, 'waiting')).length, 201);
    const status = JSON.parse(await q.ok(['status', '--json'])) as { counts: { waiting: number } };
    assert.equal(status.counts.waiting, 201);
    await startWorker(q, ['--count', '4']);
    await waitFor(async () => (await completedCount(q.root)) === 202, { timeoutMs: 30_000, what: 'all 202 jobs to complete' });
    const lines = await ledgerLines(q);
    assert.equal(lines[0], 'root', 'nothing ran before its dependency');
    // last waits for leaf0 and leaf199 only: the other leaves may still run when it does (two processes).
    assert.ok(lines.indexOf('last') > lines.indexOf('leaf0') && lines.indexOf('last') > lines.indexOf('leaf199'), `last ran after leaf0 and leaf199: ${lines.join(' ')}`);
    assert.equal(new Set(lines).size, 202, 'each job ran once');
    assert.deepEqual(await fsp.readdir(join(q.root, 'deps')), [], 'no link is left');
  });

  test('a kill between a release and its links, and a waiting job left with no link: recovery runs both and empties deps/', async (t) => {
    const q = await makeQueue(t);
    // 1. The worker that completes `a` releases `b` and SIGKILLs itself before it drops b's link.
    await enqueue(q, `echo a >> ${q.ledger}`, ['--id', 'a']);
    await enqueue(q, `echo b >> ${q.ledger}`, ['--id', 'b', '--after', 'a']);
    const killed = await startWorker(q, { env: { QUEUECTL_FAULT: 'settle-after-release' } }).catch(() => null);
    if (killed) assert.equal((await killed.waitForExit()).signal, 'SIGKILL', killed.output());
    assert.deepEqual(await fsp.readdir(join(q.root, 'deps', 'a')), ['b'], 'the kill left b\'s link behind');
    // 2. What a settler that dropped the last link before the move left (before this fix: forever).
    await enqueue(q, `echo c >> ${q.ledger}`, ['--id', 'c']);
    await enqueue(q, `echo d >> ${q.ledger}`, ['--id', 'd', '--after', 'c']);
    await fsp.rm(join(q.root, 'deps', 'c'), { recursive: true });
    await startWorker(q);
    await waitFor(async () => (await completedCount(q.root)) === 4, { timeoutMs: 15_000, what: 'a, b, c and d to complete' });
    const lines = await ledgerLines(q);
    assert.ok(lines.indexOf('a') < lines.indexOf('b') && lines.indexOf('c') < lines.indexOf('d'), lines.join(' '));
    await waitFor(async () => (await fsp.readdir(join(q.root, 'deps'))).length === 0, { timeoutMs: 5_000, what: 'deps/ to be emptied by a recovery pass' });
  });

  test('an unknown dependency is refused (exit 2); one later in the batch is refused too (no cycles)', async (t) => {
    const q = await makeQueue(t);
    const r = await q.cli(['enqueue', '--after', 'nope', '--', 'true']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /field "after" names "nope", which is not a job/);
    const b = await q.cli(['enqueue', '-'], { input: '{"id":"x","command":"true","after":["y"]}\n{"id":"y","command":"true"}' });
    assert.equal(b.code, 2);
    assert.match(b.stderr, /names "y", which is later in this batch/);
    const ok = await q.cli(['enqueue', '-'], { input: '{"id":"y","command":"true"}\n{"id":"x","command":"true","after":["y"]}' });
    assert.equal(ok.code, 0, ok.stderr);
  });

  test('a dependency that ends dead sends its dependents (and theirs) to dead with dependency-failed; dlq retry refuses a dependent of a dead job, and retries dependencies first', async (t) => {
    const q = await makeQueue(t);
    await enqueue(q, `[ -e ${q.dir}/ok ] || exit 3`, ['--id', 'flaky', '--max-retries', '0']);
    await enqueue(q, `echo child >> ${q.ledger}`, ['--id', 'child', '--after', 'flaky']);
    await enqueue(q, `echo grandchild >> ${q.ledger}`, ['--id', 'grandchild', '--after', 'child']);
    await startWorker(q);
    const child = await waitForState(q.root, 'child', 'dead');
    assert.equal(child.failed_dependency, 'flaky');
    assert.match(child.last_error!, /dependency-failed: job "flaky" ended dead/);
    const grand = await waitForState(q.root, 'grandchild', 'dead');
    assert.equal(grand.failed_dependency, 'child');
    const shown = await q.ok(['show', 'grandchild']);
    assert.match(shown, /^queue\s+default$/m);
    assert.match(shown, /^after\s+child$/m);
    // Retrying the dependent while its dependency is still dead is refused and changes nothing.
    const refused = await q.cli(['dlq', 'retry', 'grandchild']);
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /Job "grandchild" waits for "child", which is dead: retry it first or together \(queuectl dlq retry flaky child grandchild\)/);
    assert.equal((await readJobFile(q.root, 'grandchild')).state, 'dead');
    // Named dependents first: the command retries the dependencies first. They wait, then run in order.
    await fsp.writeFile(join(q.dir, 'ok'), '');
    const out = await q.ok(['dlq', 'retry', 'grandchild', 'child', 'flaky']);
    assert.deepEqual(out.trim().split('\n'), ['Retrying flaky', 'Retrying child', 'Retrying grandchild', 'Retried 3 jobs']);
    const done = await waitForState(q.root, 'grandchild', 'completed');
    assert.deepEqual(await ledgerLines(q), ['child', 'grandchild']);
    assert.deepEqual(done.history!.map((h) => h.reason), ['completed'], 'it ran once, after child');
  });

  test('cancel of a waiting job sends it and its dependents to dead; a job enqueued after it is dead at once, with a warning', async (t) => {
    const q = await makeQueue(t);
    await enqueue(q, 'true', ['--id', 'later', '--delay', '1h']);
    await enqueue(q, 'true', ['--id', 'w1', '--after', 'later']);
    await enqueue(q, 'true', ['--id', 'w2', '--after', 'w1']);
    assert.match(await q.ok(['cancel', 'w1']), /Cancelled w1/);
    assert.equal((await readJobFile(q.root, 'w1')).state, 'dead');
    assert.equal((await readJobFile(q.root, 'w2')).state, 'dead');
    assert.equal((await readJobFile(q.root, 'w2')).job.last_error, 'dependency-failed: job "w1" ended dead');
    // A job enqueued after a dead one is accepted (as if the dependency had died a moment later) and said.
    const late = await q.cli(['enqueue', '--id', 'w3', '--after', 'w1', '--', 'true']);
    assert.equal(late.code, 0, late.stderr);
    assert.match(late.stdout, /^Enqueued w3$/m);
    assert.match(late.stderr, /warning: w3 went to dead\/ at once: a job it waits for is dead/);
    assert.equal((await readJobFile(q.root, 'w3')).job.failed_dependency, 'w1');
  });
});

describe('recurring schedules', () => {
  test('each slot is enqueued once with three worker processes; list shows the next runs; remove stops it', async (t) => {
    const q = await makeQueue(t);
    const added = await q.ok(['schedule', 'add', 'tick', '--cron', '* * * * * *', '--tz', 'UTC', '--', `echo $QUEUECTL_JOB_ID >> ${q.ledger}`]);
    assert.match(added, /Added schedule tick \(\* \* \* \* \* \*, UTC\); next run \d{4}-/);
    const list = JSON.parse(await q.ok(['schedule', 'list', '--json'])) as { name: string; next: string[] }[];
    assert.equal(list[0].next.length, 3);
    await Promise.all([startWorker(q), startWorker(q), startWorker(q)]);
    await waitFor(async () => (await ledgerLines(q)).length >= 4, { timeoutMs: 15_000, what: 'four slots to run' });
    await q.ok(['schedule', 'remove', 'tick']);
    // Another schedule's slots show the workers' ticks going on after the removal: two of them, with
    // a slot of tick each time (a tick enqueued as it was removed may still run, once).
    await q.ok(['schedule', 'add', 'probe', '--cron', '* * * * * *', '--tz', 'UTC', '--', `echo $QUEUECTL_JOB_ID >> ${q.ledger}`]);
    const ticks = (ls: string[]) => ls.filter((l) => l.startsWith('tick-'));
    const atRemoval = ticks(await ledgerLines(q)).length;
    await waitFor(async () => (await ledgerLines(q)).filter((l) => l.startsWith('probe-')).length >= 2, { timeoutMs: 10_000, what: 'two slots of the probe schedule' });
    const lines = await ledgerLines(q);
    assert.equal(new Set(lines).size, lines.length, `no slot ran twice: ${lines.join(' ')}`);
    for (const l of lines) assert.match(l, /^(tick|probe)-\d{8}T\d{6}Z$/);
    assert.ok(ticks(lines).length <= atRemoval + 1, `a removed schedule enqueues nothing: ${lines.join(' ')}`);
  });

  test('slots missed while no worker ran: at most one catch-up run; a paused schedule skips its slots', async (t) => {
    const q = await makeQueue(t);
    await q.ok(['schedule', 'add', 'often', '--cron', '* * * * * *', '--tz', 'UTC', '--', `echo $QUEUECTL_JOB_ID >> ${q.ledger}`]);
    await new Promise((r) => setTimeout(r, 3_200)); // three slots pass with no worker
    const startedAt = Date.now();
    await startWorker(q);
    await waitFor(async () => (await ledgerLines(q)).length >= 1, { what: 'the catch-up run' });
    await q.ok(['schedule', 'pause', 'often']);
    const atPause = (await ledgerLines(q)).length;
    // Two slots of another schedule run meanwhile: the worker's ticks go on while often is paused.
    await q.ok(['schedule', 'add', 'probe', '--cron', '* * * * * *', '--tz', 'UTC', '--', `echo $QUEUECTL_JOB_ID >> ${join(q.dir, 'probe')}`]);
    await waitFor(async () => (await fsp.readFile(join(q.dir, 'probe'), 'utf8').catch(() => '')).trim().split('\n').filter(Boolean).length >= 2, { timeoutMs: 10_000, what: 'two slots of the probe schedule' });
    assert.ok((await ledgerLines(q)).length <= atPause + 1, 'a paused schedule enqueues nothing new (one enqueued as it paused may run)');
    const ids = await ledgerLines(q);
    const slotOf = (id: string) => Date.parse(id.replace(/^often-(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z$/, '$1-$2-$3T$4:$5:$6Z'));
    const missed = ids.map(slotOf).filter((slot) => slot < startedAt);
    assert.ok(missed.length <= 1, `at most one catch-up run for the three slots missed before any worker ran: ${ids.join(' ')}`);
  });

  test('the catch-up rule: of the slots missed since the last one enqueued, only the latest runs; slots that came while a worker ticked all run', () => {
    const at = (iso: string) => Date.parse(iso);
    const t0 = at('2026-03-01T10:00:00Z');
    const s = { name: 'x', cron: '0 * * * *', tz: 'UTC', job: {}, created_at: new Date(t0).toISOString(), paused: false };
    assert.deepEqual(dueSlots(s, null, t0 + 30 * 60_000), [], 'no slot has come yet');
    assert.deepEqual(dueSlots(s, null, at('2026-03-01T15:10:00Z')), [at('2026-03-01T15:00:00Z')], 'five missed: the latest only');
    assert.deepEqual(dueSlots(s, at('2026-03-01T15:00:00Z'), at('2026-03-01T15:59:59Z')), [], 'enqueued: nothing more until the next');
    assert.deepEqual(dueSlots(s, at('2026-03-01T15:00:00Z'), at('2026-03-01T16:00:00Z')), [at('2026-03-01T16:00:00Z')]);
    assert.deepEqual(dueSlots({ ...s, created_at: '2026-03-01T15:30:00Z' }, null, at('2026-03-01T15:40:00Z')), [], 'slots before the schedule was added never run');
    assert.deepEqual(dueSlots({ ...s, paused: true }, null, at('2026-03-01T15:10:00Z')), [], 'paused');
    assert.deepEqual(dueSlots({ ...s, resumed_at: '2026-03-01T15:05:00Z' }, null, at('2026-03-01T15:10:00Z')), [], 'slots skipped while paused are not made up');
    const berlin = { ...s, cron: '0 2 * * *', tz: 'Europe/Berlin', created_at: '2026-03-01T00:00:00Z' };
    assert.deepEqual(dueSlots(berlin, null, at('2026-03-02T03:00:00Z')).map((t) => new Date(t).toISOString()), ['2026-03-02T01:00:00.000Z'], '02:00 in Berlin is 01:00 UTC in winter');

    // A slot a second and a tick that runs late (1.03 s after the previous one): both slots it passed run.
    const sec = { ...s, cron: '* * * * * *' };
    const prev = at('2026-03-01T12:00:47.980Z');
    assert.deepEqual(dueSlots(sec, at('2026-03-01T12:00:47Z'), prev + 1_030, prev), [at('2026-03-01T12:00:48Z'), at('2026-03-01T12:00:49Z')]);
    // A worker frozen for a minute is not "ticking": of its gap, the latest slot only.
    assert.deepEqual(dueSlots(sec, at('2026-03-01T12:00:47Z'), prev + 60_000, prev), [at('2026-03-01T12:01:47Z')]);
    // Missed before this worker started ticking, then live: the catch-up, then each slot since.
    assert.deepEqual(dueSlots(sec, at('2026-03-01T12:00:40Z'), prev + 1_030, prev), [at('2026-03-01T12:00:47Z'), at('2026-03-01T12:00:48Z'), at('2026-03-01T12:00:49Z')]);
  });

  test('bad schedules are refused: cron (and its field count), time zone (and an empty one), one-job flags (--id, --delay, --run-at, --if-absent, --after), an existing name; nothing is written', async (t) => {
    const q = await makeQueue(t);
    for (const [args, re] of [
      [['--cron', '61 * * * *'], /Invalid cron expression "61 \* \* \* \*": Invalid value for minute: 61/],
      [['--cron', '* * * * *', '--tz', 'Mars/Olympus'], /Invalid time zone "Mars\/Olympus"/],
      // A schedule names its own jobs and times them by its cron: the one-job flags are not its options.
      [['--cron', '* * * * *', '--id', 'x'], /Unknown option `--id` for queuectl schedule add/],
      [['--cron', '* * * * *', '--delay', '5s'], /Unknown option `--delay`/],
      [['--cron', '* * * * *', '--run-at=2027-01-01'], /Unknown option `--run-at`/],
      [['--cron', '* * * * *', '--if-absent'], /Unknown option `--if-absent`/],
      [['--cron', '* * * * *', '--after', 'x'], /Unknown option `--after`/],
      [['--cron', '*/2 * * * * * *'], /Invalid cron expression "\*\/2 \* \* \* \* \* \*": 7 fields; expected 5 \(minute hour day month weekday\) or 6 \(seconds first\)/],
      [['--cron', '* * * * *', '--tz', ''], /Invalid time zone "": expected an IANA name/],
    ] as const) {
      const r = await q.cli(['schedule', 'add', 'bad', ...args, '--', 'true']);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, re);
    }
    assert.deepEqual(await fsp.readdir(join(q.root, 'schedules')), [], 'a refused schedule leaves nothing');
    await q.ok(['schedule', 'add', 'dup', '--cron', '0 0 * * *', '--', 'true']);
    const again = await q.cli(['schedule', 'add', 'dup', '--cron', '0 0 * * *', '--', 'true']);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /Schedule "dup" exists already/);
  });
  test('a schedule whose job no longer passes enqueue\'s checks says so in schedule list (STATE error, the reason), until it is fixed', async (t) => {
    const q = await makeQueue(t);
    // Written by hand (or by an older tool): a priority out of range.
    const file = join(q.root, 'schedules', 'broken.json');
    const record = { name: 'broken', cron: '* * * * * *', tz: 'UTC', job: { command: `echo $QUEUECTL_JOB_ID >> ${q.ledger}`, priority: 5000 }, created_at: new Date().toISOString(), paused: false };
    const w = await startWorker(q);
    await fsp.writeFile(file, JSON.stringify(record));
    await w.waitForOutput(/error schedule broken \(id "broken-\d{8}T\d{6}Z"\): field "priority"/);
    const list = await q.cli(['schedule', 'list']);
    assert.match(list.stdout, /^broken .* error /m);
    assert.match(list.stderr, /broken: cannot enqueue its slots \(since \d{4}-.*\): schedule broken \(id "broken-\d{8}T\d{6}Z"\): field "priority"/);
    const json = JSON.parse(await q.ok(['schedule', 'list', '--json'])) as { error: { message: string } | null }[];
    assert.match(json[0].error!.message, /field "priority"/);
    await fsp.writeFile(`${file}.tmp`, JSON.stringify({ ...record, job: { ...record.job, priority: 5 } }));
    await fsp.rename(`${file}.tmp`, file);
    await waitFor(async () => (await ledgerLines(q)).length >= 1, { what: 'a slot of the fixed schedule to run' });
    const fixed = JSON.parse(await q.ok(['schedule', 'list', '--json'])) as { error: unknown }[];
    assert.equal(fixed[0].error, null);
  });
});

describe('enqueue --if-absent', () => {
  test('an id in use is not an error: "Exists ID", exit 0, nothing enqueued twice; the rest of a batch is enqueued', async (t) => {
    const q = await makeQueue(t);
    await q.ok(['enqueue', '--id', 'nightly-2026-12-01', '--', 'true']);
    const again = await q.ok(['enqueue', '--id', 'nightly-2026-12-01', '--if-absent', '--', 'true']);
    assert.match(again, /^Exists nightly-2026-12-01$/m);
    const batch = await q.ok(['enqueue', '-', '--if-absent'], { input: '{"id":"nightly-2026-12-01","command":"true"}\n{"id":"new1","command":"true"}' });
    assert.match(batch, /Enqueued new1/);
    assert.match(batch, /Exists nightly-2026-12-01/);
    assert.equal((await folder(q.root, 'pending')).length, 2);
    const plain = await q.cli(['enqueue', '--id', 'new1', '--', 'true']);
    assert.equal(plain.code, 2, 'without --if-absent it is an error');
  });
});

describe('a command refused for one of its arguments changes nothing', () => {
  test('cancel, dlq retry, schedule remove|pause, queue pause check every argument first; cancel names the dependents it took down', async (t) => {
    const q = await makeQueue(t);
    await enqueue(q, 'true', ['--id', 'y', '--delay', '1h']);
    const c = await q.cli(['cancel', 'y', 'nope']);
    assert.equal(c.code, 2);
    assert.match(c.stderr, /No job with id "nope" in any state \(pending, waiting, processing, completed, dead\)/);
    assert.equal((await readJobFile(q.root, 'y')).state, 'pending', 'y was not cancelled');

    await enqueue(q, 'true', ['--id', 'x1', '--delay', '1h']);
    await enqueue(q, 'true', ['--id', 'x2', '--after', 'x1']);
    await enqueue(q, 'true', ['--id', 'x3', '--after', 'x2']);
    // Named after a job that takes it down, x3 is not an error: it went with x1.
    const out = await q.ok(['cancel', 'x1', 'x3']);
    assert.deepEqual(out.trim().split('\n'), ['Cancelled x1', '  and 2 jobs waiting for it (now dead, dependency-failed): x2 x3']);
    const again = await q.cli(['cancel', 'x1']);
    assert.match(again.stderr, /Job "x1" is already dead; only jobs that have not finished \(pending, scheduled, failed, waiting or running\) can be cancelled/);

    // The hint names the whole chain; the refused retry moves nothing, even of the ids it could move.
    const r = await q.cli(['dlq', 'retry', 'x2', 'x3']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /Job "x2" waits for "x1", which is dead: retry it first or together \(queuectl dlq retry x1 x2 x3\)/);
    for (const id of ['x1', 'x2', 'x3']) assert.equal((await readJobFile(q.root, id)).state, 'dead', `${id} stays dead`);
    const y2 = await q.cli(['dlq', 'retry', 'x1', 'y']);
    assert.match(y2.stderr, /Job "y" is pending, not dead/);
    assert.equal((await readJobFile(q.root, 'x1')).state, 'dead', 'x1 was not retried either');

    await q.ok(['schedule', 'add', 's1', '--cron', '0 0 * * *', '--', 'true']);
    await q.ok(['schedule', 'add', 's2', '--cron', '0 0 * * *', '--', 'true']);
    for (const words of [['remove', 's1', 'nope', 's2'], ['pause', 's2', 'nope']]) {
      const s = await q.cli(['schedule', ...words]);
      assert.equal(s.code, 2);
      assert.match(s.stderr, /No schedule "nope"; nothing was changed/);
    }
    const list = JSON.parse(await q.ok(['schedule', 'list', '--json'])) as { name: string; paused: boolean }[];
    assert.deepEqual(list.map((s) => [s.name, s.paused]), [['s1', false], ['s2', false]]);

    const p = await q.cli(['queue', 'pause', 'qa', 'Not-A-Queue']);
    assert.equal(p.code, 2);
    assert.match(p.stderr, /Invalid queue name "Not-A-Queue"/);
    assert.deepEqual((await fsp.readdir(join(q.root, 'queues'))).filter((n) => n.endsWith('.paused')), []);
    assert.match(await q.ok(['queue', 'resume', 'qa']), /^Queue qa: was not paused$/m);
    assert.match((await q.cli(['queue', 'limit', 'qa', ' 2'])).stderr, /Expected the limit to be an integer from 0 to 100000, got " 2"/);
  });
});
