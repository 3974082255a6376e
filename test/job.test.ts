// The job model, pure: validation of job specs, defaults, pending/ file names and ids. No disk, no clock.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { InputError } from '../src/errors.js';
import {
  COMMAND_MAX_BYTES,
  createJob,
  ID_PATTERN,
  type Job,
  newJobId,
} from '../src/job.js';
import { isDue, parsePendingName, pendingName } from '../src/lifecycle.js';
import { RECORD_CASES, SPEC_GROUPS, workerProblem } from './fixtures/jobs.js';

const NOW = Date.parse('2026-03-01T12:00:00.000Z');
const DEFAULTS = { maxRetries: 3, cwd: '/srv/app' };
const fixedId = () => 'generated-id';
const make = (spec: unknown, label = 'job 1') => createJob(spec, label, NOW, DEFAULTS, fixedId);

/** A short view of a spec for assertion messages (some are 1MB). */
const preview = (spec: unknown) => (JSON.stringify(spec) ?? String(spec)).slice(0, 120);

/** Asserts createJob refuses `spec` with an InputError whose message contains every fragment. */
function refuses(spec: unknown, ...fragments: (string | RegExp)[]): void {
  assert.throws(() => make(spec, 'line 3'), (err: unknown) => {
    assert.ok(err instanceof InputError, `expected an InputError, got ${String(err)}`);
    assert.match(err.message, /^line 3\b/, 'the message names the job');
    for (const f of fragments) {
      if (typeof f === 'string') assert.ok(err.message.includes(f), `message ${JSON.stringify(err.message)} should contain ${JSON.stringify(f)}`);
      else assert.match(err.message, f);
    }
    return true;
  });
}

describe('createJob over the corpus of good and bad specs (test/fixtures/jobs.ts, also run through the schema)', () => {
  for (const group of SPEC_GROUPS) {
    test(group.title, () => {
      for (const c of group.cases) {
        if (c.refused) refuses(c.spec, ...c.refused);
        else assert.doesNotThrow(() => make(c.spec), `createJob accepts ${preview(c.spec)}`);
      }
    });
  }

  test('COMMAND_MAX_BYTES is Linux\'s MAX_ARG_STRLEN (131072) less its terminating NUL', () => {
    assert.equal(COMMAND_MAX_BYTES, 131_071);
    assert.equal(make({ command: 'a'.repeat(131_071) }).command.length, 131_071);
  });

  test('an error after a valid id names the job by its id too', () => {
    refuses({ id: 'nightly', command: 'true', priority: 'high' }, 'line 3 (id "nightly")', 'field "priority"');
  });
});

describe('recordProblem and parseStoredJob over the corpus of stored records: what a worker checks before it runs one', () => {
  for (const c of RECORD_CASES) {
    test(c.title, () => {
      const problem = workerProblem(c.record);
      if (c.problem) assert.ok(problem?.includes(c.problem), `expected a problem with ${JSON.stringify(c.problem)}, got ${JSON.stringify(problem)}`);
      else assert.equal(problem, null);
    });
  }
});

describe('createJob fills in defaults and keeps what it does not know', () => {
  test('a spec with only a command gets every default', () => {
    const job = make({ command: 'echo hi' });
    const iso = new Date(NOW).toISOString();
    assert.deepEqual(job, {
      id: 'generated-id',
      command: 'echo hi',
      state: 'pending',
      priority: 0,
      queue: 'default',
      attempts: 0,
      max_retries: 3,
      run_at: iso,
      available_at: iso,
      timeout: null,
      cwd: '/srv/app',
      created_at: iso,
      updated_at: iso,
    } satisfies Job);
    assert.ok(!('env' in job), 'no env key when none was given');
  });

  test('a default cwd of null means the worker\'s own', () => {
    assert.equal(createJob({ command: 'true' }, 'job', NOW, { maxRetries: 0, cwd: null }, fixedId).cwd, null);
  });

  test('delay, run_at and timeout are turned into times and seconds', () => {
    assert.equal(make({ command: 'true', delay: '30s' }).run_at, new Date(NOW + 30_000).toISOString());
    assert.equal(make({ command: 'true', delay: 90 }).available_at, new Date(NOW + 90_000).toISOString());
    assert.equal(make({ command: 'true', delay: '1h30m' }).run_at, new Date(NOW + 5_400_000).toISOString());
    assert.equal(make({ command: 'true', run_at: '2026-03-02T08:00:00+01:00' }).run_at, '2026-03-02T07:00:00.000Z');
    assert.equal(make({ command: 'true', run_at: '2026-03-02' }).available_at, '2026-03-02T00:00:00.000Z');
    assert.equal(make({ command: 'true', timeout: '10s' }).timeout, 10);
    assert.equal(make({ command: 'true', timeout: '2m' }).timeout, 120);
    assert.equal(make({ command: 'true', timeout: 2.5 }).timeout, 2.5);
  });

  test('given fields win over defaults and an explicit id is used as is', () => {
    const job = make({ id: 'job1', command: 'true', priority: -5, max_retries: 0, cwd: '/tmp', env: { TOKEN: 's3cret' } });
    assert.equal(job.id, 'job1');
    assert.equal(job.priority, -5);
    assert.equal(job.max_retries, 0);
    assert.equal(job.cwd, '/tmp');
    assert.deepEqual(job.env, { TOKEN: 's3cret' });
  });

  test('unknown fields are kept; fields the system owns are re-derived', () => {
    const job = make({
      command: 'true',
      tags: ['nightly', 'db'],
      owner: { team: 'ops' },
      note: null,
      state: 'dead',
      created_at: '1999-01-01T00:00:00Z',
      updated_at: 'garbage',
      available_at: '1999-01-01T00:00:00Z',
      finished_at: '1999-01-01T00:00:00Z',
    });
    assert.deepEqual(job.tags, ['nightly', 'db']);
    assert.deepEqual(job.owner, { team: 'ops' });
    assert.equal(job.note, null);
    assert.equal(job.state, 'pending');
    assert.equal(job.created_at, new Date(NOW).toISOString());
    assert.equal(job.updated_at, new Date(NOW).toISOString());
    assert.equal(job.available_at, new Date(NOW).toISOString());
    assert.ok(!('finished_at' in job));
    assert.ok(!('delay' in job), 'delay is turned into run_at, not stored');
  });

  test('createJob does not modify the spec it was given', () => {
    const spec = { command: 'true', delay: '5s', extra: 1 };
    const copy = structuredClone(spec);
    make(spec);
    assert.deepEqual(spec, copy);
  });
});

describe('no input is silently reinterpreted', () => {
  test('a date alone is local midnight, and a time without an offset is local time', () => {
    const local = new Date(2026, 4, 17, 0, 0, 0).getTime();
    assert.equal(Date.parse(make({ command: 'true', run_at: '2026-05-17' }).run_at), local);
    assert.equal(Date.parse(make({ command: 'true', run_at: '2026-05-17T09:30' }).run_at), new Date(2026, 4, 17, 9, 30).getTime());
    assert.equal(make({ command: 'true', run_at: '2026-05-17T09:30:00+02:00' }).run_at, '2026-05-17T07:30:00.000Z');
  });

  test('durations are kept to the millisecond: the smallest timeout is 1ms', () => {
    assert.equal(make({ command: 'true', timeout: 0.001 }).timeout, 0.001);
    assert.equal(make({ command: 'true', timeout: 0.0005 }).timeout, 0.001, 'rounded to 1ms (the schema cannot say so: code only)');
    assert.equal(make({ command: 'true', timeout: '1500ms' }).timeout, 1.5);
  });

  test('fields queuectl owns are set afresh: attempts, history and the rest of a copied record', () => {
    const job = make({ command: 'true', attempts: 5, history: 'no', exit_code: 3, last_error: 'x', state: 'dead', finished_at: 'never', source: 'x.json' });
    assert.equal(job.attempts, 0);
    assert.equal(job.history, undefined);
    assert.equal(job.exit_code, undefined);
    assert.equal(job.last_error, undefined);
    assert.equal(job.state, 'pending');
    assert.equal(job.finished_at, undefined);
    assert.equal(job.source, undefined);
  });
});

describe('pending/ file names', () => {
  const base = { available_at: '2026-03-01T12:00:00.000Z', priority: 0, attempts: 0, id: 'job1' };

  test('pendingName and parsePendingName round-trip every field', () => {
    for (const job of [
      base,
      { ...base, priority: -999, attempts: 7, id: 'a.b_c-d' },
      { ...base, priority: 999, attempts: 0, id: 'x'.repeat(128) },
      { ...base, available_at: '1970-01-01T00:00:00.000Z', id: '0mih8x2k3000-a1b2c3f0' },
      { ...base, queue: 'backups_2-x', id: 'q1' },
      { ...base, queue: 'default', id: 'q2' },
    ] as { available_at: string; priority: number; attempts: number; id: string; queue?: string }[]) {
      const name = pendingName(job);
      assert.deepEqual(parsePendingName(name), {
        name,
        availableAt: Date.parse(job.available_at),
        priority: job.priority,
        attempts: job.attempts,
        queue: job.queue ?? 'default',
        id: job.id,
      });
    }
  });

  test('names are fixed width: 13-digit time, 4-digit priority, 3-digit attempts; a queue other than default before the id', () => {
    assert.equal(pendingName(base), '1772366400000-1000-000-job1.json');
    assert.equal(pendingName({ ...base, queue: 'backups' }), '1772366400000-1000-000-backups@job1.json');
    assert.equal(pendingName({ ...base, available_at: '1970-01-01T00:00:00.001Z', priority: -999, attempts: 3 }), '0000000000001-0001-003-job1.json');
    assert.equal(pendingName({ ...base, priority: 999, attempts: 12 }), '1772366400000-1999-012-job1.json');
    // Attempts past 999 are capped in the name (the file keeps the real count).
    assert.equal(parsePendingName(pendingName({ ...base, attempts: 5000 }))!.attempts, 999);
  });

  test('a sorted listing is the schedule: earliest available_at first, then lowest priority', () => {
    const jobs = [
      { ...base, id: 'late-urgent', available_at: '2026-03-01T12:00:01.000Z', priority: -999 },
      { ...base, id: 'early-low', available_at: '2026-03-01T11:59:59.000Z', priority: 999 },
      { ...base, id: 'now-normal', priority: 0 },
      { ...base, id: 'now-urgent', priority: -5 },
      { ...base, id: 'now-low', priority: 5 },
      { ...base, id: 'epoch', available_at: '1970-01-01T00:00:00.000Z', priority: 999 },
      { ...base, id: 'far', available_at: '2099-12-31T23:59:59.999Z', priority: -999 },
    ];
    const sorted = jobs.map(pendingName).sort().map((n) => parsePendingName(n)!.id);
    assert.deepEqual(sorted, ['epoch', 'early-low', 'now-urgent', 'now-normal', 'now-low', 'late-urgent', 'far']);
  });

  test('names not made by pendingName parse as null (hand-dropped files)', () => {
    for (const name of ['anything.json', 'job1.json', '1772366400000-1000-000-.json', '1772366400000-1000-000-../x.json',
      '177236640000-1000-000-job1.json', '1772366400000-1000-000-job1.json.tmp', '1772366400000-1000-000-job1']) {
      assert.equal(parsePendingName(name), null, name);
    }
  });

  test('isDue compares available_at with now', () => {
    assert.equal(isDue({ availableAt: NOW }, NOW), true);
    assert.equal(isDue({ availableAt: NOW + 1 }, NOW), false);
  });
});

describe('newJobId', () => {
  test('ids are unique, valid job ids of fixed width, even many in one millisecond', () => {
    const now = Date.now();
    // More than the 36^3 per-millisecond sequence, to cross its rollover.
    const ids = Array.from({ length: 50_000 }, () => newJobId(now));
    assert.equal(new Set(ids).size, ids.length);
    for (const id of [ids[0], ids[46_655], ids[46_656], ids[49_999]]) {
      assert.match(id, ID_PATTERN);
      assert.equal(id.length, ids[0].length);
    }
    assert.ok(ids.every((id) => ID_PATTERN.test(id)));
  });

  test('ids sort in the order they were made, across milliseconds and when the clock steps back', () => {
    const start = Date.now() + 60_000; // after anything the previous test made
    const ids = [
      newJobId(start),
      newJobId(start),
      newJobId(start + 1),
      newJobId(start + 1000),
      newJobId(start + 500), // clock stepped back: still after the previous id
      newJobId(start + 86_400_000),
    ];
    assert.deepEqual([...ids].sort(), ids);
    assert.equal(new Set(ids).size, ids.length);
  });

  test('the id starts with the time, so ids made later sort later', () => {
    const a = newJobId(Date.parse('2027-01-01T00:00:00Z'));
    const b = newJobId(Date.parse('2030-01-01T00:00:00Z'));
    assert.ok(a < b);
    assert.equal(parseInt(b.slice(0, 9), 36), Date.parse('2030-01-01T00:00:00Z'));
  });
});
