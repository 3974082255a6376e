// The JSON Schemas of schema/ against the code: ajv (a kept validator) runs both schemas over THE corpus
// of test/fixtures/jobs.ts, which test/job.test.ts runs through createJob and recordProblem, and every
// disagreement fails. Where JSON Schema cannot express a rule the case is tagged codeOnly: then the two
// MUST disagree (the limit is real, and the schema's description must name it), and only the code is
// asserted. Records queuectl itself writes, after every kind of run, must fit the stored-job schema.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import { CONFIG_KEYS } from '../src/config.js';
import { COMMAND_MAX_BYTES, createJob, ID_PATTERN, type Job, MAX_DURATION_MS, MAX_RETRIES_MAX, PRIORITY_MAX, PRIORITY_MIN } from '../src/job.js';
import { afterLostRun, afterRun, cancelledJob, retriedJob } from '../src/outcome.js';
import type { RunResult } from '../src/runner.js';
import { FORMAT_MARKER } from '../src/store.js';
import { CODE_ONLY_RULES, RECORD_CASES, SPEC_GROUPS, workerProblem } from './fixtures/jobs.js';
import { REPO } from './helpers.js';

type Schema = Record<string, any>;
const load = (name: string): Schema => JSON.parse(readFileSync(join(REPO, 'schema', name), 'utf8'));
const specSchema = load('job-spec.schema.json');
const recordSchema = load('job-record.schema.json');

// Strict mode: an unknown keyword or a misplaced one is an error, so a typo cannot pass as "allowed".
const ajv = new Ajv2020({ strict: true, allErrors: true });
ajv.addKeyword({ keyword: 'x-queuectl-format', schemaType: 'string' });
ajv.addKeyword({ keyword: 'x-checked-by-worker', schemaType: 'array' });
const validateSpec: ValidateFunction = ajv.compile(specSchema);
const validateRecord: ValidateFunction = ajv.compile(recordSchema);

const NOW = Date.parse('2026-03-01T12:00:00.000Z');
const DEFAULTS = { maxRetries: 3, cwd: null };
const codeVerdict = (spec: unknown): string | null => {
  try {
    createJob(spec, 'job', NOW, DEFAULTS, () => 'generated');
    return null;
  } catch (err) {
    return (err as Error).message;
  }
};
const show = (v: unknown) => (JSON.stringify(v) ?? String(v)).slice(0, 140);
const errorsOf = (errors: ErrorObject[] | null | undefined) => (errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message}`).join('; ');

/** Where each code-only rule is named in a schema's description. */
const DESCRIBED: Record<string, RegExp> = {
  [CODE_ONLY_RULES.commandBytes]: /`command`.* at most 131071 BYTES/,
  [CODE_ONLY_RULES.envBytes]: /each env entry NAME=VALUE/,
  [CODE_ONLY_RULES.newJobSize]: /at most 1MB/,
  [CODE_ONLY_RULES.calendarDate]: /real calendar date/,
  [CODE_ONLY_RULES.runAtLimit]: /no later than 2286-11-20T17:46:39\.999Z/,
  [CODE_ONLY_RULES.durationRange]: /duration string is at most 36500 days, a timeout at least 1ms/,
  [CODE_ONLY_RULES.rounding]: /rounded to whole milliseconds/,
  [CODE_ONLY_RULES.dateParse]: /times JavaScript's Date\.parse reads/,
  [CODE_ONLY_RULES.afterSelf]: /`after` must not name the job itself/,
};

describe('the schemas', () => {
  test('both compile under ajv in strict mode and carry the queue format version of the code', () => {
    const version = /^queuectl-queue (\d+)$/.exec(FORMAT_MARKER.trim())?.[1];
    assert.ok(version, FORMAT_MARKER);
    for (const s of [specSchema, recordSchema]) {
      assert.equal(s['x-queuectl-format'], FORMAT_MARKER.trim());
      assert.match(s.$id, new RegExp(`^urn:queuectl:queue-format:${version}:`));
      assert.match(s.title, new RegExp(`\\(queue format ${version}\\)$`));
    }
  });

  test('their bounds are the code\'s constants', () => {
    for (const s of [specSchema, recordSchema]) {
      const p = s.properties;
      const id = p.id.pattern ?? p.id.anyOf.find((a: Schema) => a.type === 'string').pattern;
      assert.equal(id, ID_PATTERN.source);
      assert.equal(p.command.maxLength, COMMAND_MAX_BYTES);
      const priority = p.priority.anyOf?.find((a: Schema) => a.type === 'integer') ?? p.priority;
      assert.deepEqual([priority.minimum, priority.maximum], [PRIORITY_MIN, PRIORITY_MAX]);
      const retries = p.max_retries.anyOf?.find((a: Schema) => a.type === 'integer') ?? p.max_retries;
      assert.deepEqual([retries.minimum, retries.maximum], [0, MAX_RETRIES_MAX]);
      assert.equal(p.env.additionalProperties.maxLength, COMMAND_MAX_BYTES - 2, 'the shortest entry is A=VALUE');
    }
    const p = specSchema.properties;
    assert.equal(p.max_retries.default, CONFIG_KEYS['max-retries'].default);
    assert.equal(p.priority.default, 0);
    for (const f of ['timeout', 'delay']) assert.equal(p[f].anyOf.find((a: Schema) => a.type === 'number').maximum, MAX_DURATION_MS / 1000, f);
  });

  test('the fields the spec schema marks as owned by queuectl are set afresh by createJob', () => {
    const owned = Object.entries(specSchema.properties as Record<string, Schema>).filter(([, v]) => v.$ref === '#/$defs/ignored').map(([k]) => k);
    assert.ok(owned.length >= 10);
    for (const field of owned) {
      const job = createJob({ command: 'true', [field]: 'given by a producer' }, 'job', NOW, DEFAULTS, () => 'g');
      assert.notEqual(job[field], 'given by a producer', field);
    }
  });

  test('the schemas\' own examples are jobs the code accepts', () => {
    for (const example of specSchema.examples) {
      assert.ok(validateSpec(example), errorsOf(validateSpec.errors));
      assert.equal(codeVerdict(example), null);
    }
  });

  test('every rule the schemas leave to the code is named in their descriptions', () => {
    for (const group of SPEC_GROUPS) for (const c of group.cases) if (c.codeOnly) assert.match(specSchema.description, DESCRIBED[c.codeOnly], c.codeOnly);
    for (const c of RECORD_CASES) if (c.codeOnly) assert.match(recordSchema.description, DESCRIBED[c.codeOnly], c.codeOnly);
    // Not a validity rule, but what a producer must know: what a time without an offset means.
    assert.match(specSchema.properties.run_at.description, /without an offset it is local time, and a date alone is local midnight/);
  });
});

describe('job-spec.schema.json and createJob agree on every spec of the corpus', () => {
  for (const group of SPEC_GROUPS) {
    test(group.title, () => {
      for (const c of group.cases) {
        // The schema judges what a file can hold: the spec as JSON (undefined is no JSON at all).
        const text = JSON.stringify(c.spec);
        if (text === undefined) continue;
        const schemaOk = validateSpec(JSON.parse(text));
        const code = codeVerdict(c.spec);
        assert.equal(code === null, !c.refused, `the corpus says ${c.refused ? 'refused' : 'accepted'}: ${show(c.spec)}: ${code}`);
        if (c.codeOnly) {
          assert.notEqual(schemaOk, code === null, `tagged codeOnly (${c.codeOnly}) but the schema agrees with the code: ${show(c.spec)}`);
        } else {
          assert.equal(schemaOk, code === null, `${show(c.spec)}: the code says ${code ?? 'valid'}; the schema says ${schemaOk ? 'valid' : errorsOf(validateSpec.errors)}`);
        }
      }
    });
  }

  test('every job createJob makes of an accepted spec is a valid stored job', () => {
    for (const group of SPEC_GROUPS) {
      for (const c of group.cases) {
        if (c.refused) continue;
        const job = JSON.parse(JSON.stringify(createJob(c.spec, 'job', NOW, DEFAULTS, () => 'generated')));
        assert.ok(validateRecord(job), `${show(c.spec)}: ${errorsOf(validateRecord.errors)}`);
      }
    }
  });
});

describe('job-record.schema.json and what a worker checks agree on every record of the corpus', () => {
  const checked = new Set<string>(recordSchema['x-checked-by-worker']);
  /** The top-level field an ajv error is about. */
  const fieldOf = (e: ErrorObject) => (e.keyword === 'required' ? (e.params as { missingProperty: string }).missingProperty : e.instancePath.split('/')[1] ?? '');

  for (const c of RECORD_CASES) {
    test(c.title, () => {
      const schemaOk = validateRecord(c.record);
      const code = workerProblem(c.record);
      assert.equal(code === null, !c.problem, `the corpus says ${c.problem ? 'refused' : 'runs'}: ${code}`);
      if (c.codeOnly) {
        assert.notEqual(schemaOk, code === null, `tagged codeOnly (${c.codeOnly}) but the schema agrees with the code`);
      } else if (c.schemaOnly) {
        assert.equal(code, null, 'a worker runs it');
        assert.equal(schemaOk, false, 'the schema refuses it');
        for (const e of validateRecord.errors ?? []) {
          assert.ok(!checked.has(fieldOf(e)) || c.field === 'history/items', `${e.instancePath} ${e.message}: a field a worker checks`);
        }
      } else {
        assert.equal(schemaOk, code === null, `the worker says ${code ?? 'it runs'}; the schema says ${schemaOk ? 'valid' : errorsOf(validateRecord.errors)}`);
      }
    });
  }

  test('x-checked-by-worker lists exactly the fields whose bad values the corpus shows a worker refusing', () => {
    const refusedFields = new Set(RECORD_CASES.filter((c) => c.problem && c.field).map((c) => c.field!));
    assert.deepEqual([...refusedFields].sort(), [...checked].sort());
    const schemaOnlyFields = RECORD_CASES.filter((c) => c.schemaOnly).map((c) => c.field!);
    assert.deepEqual(schemaOnlyFields.filter((f) => checked.has(f)), []);
  });
});

describe('records queuectl writes fit the stored-job schema', () => {
  const by = { worker: 'w0123456789', host: 'box', pid: 4242 };
  const policy = { base: 2, maxMs: 3_600_000, jitter: false };
  const result = (outcome: RunResult['outcome'], exitCode: number | null, signal: string | null): RunResult => ({
    outcome, exitCode, signal, startedAt: NOW, endedAt: NOW + 1500, durationMs: 1500, tail: 'some output\n', summary: 'exit status 2',
  });
  const fresh = (): Job => createJob({ command: 'echo hi', env: { A: '1' }, timeout: '10s' }, 'job', NOW, { maxRetries: 1, cwd: '/srv' }, () => 'job1');

  test('after every kind of run, a lost run, a cancel and a retry', () => {
    const records: [string, Job][] = [['new', fresh()]];
    const cases: [string, RunResult, boolean][] = [
      ['completed', result({ kind: 'exited', exitCode: 0 }, 0, null), false],
      ['failed', result({ kind: 'exited', exitCode: 2 }, 2, null), false],
      ['timeout', result({ kind: 'timedOut', signal: 'SIGTERM' }, null, 'SIGTERM'), false],
      ['killed', result({ kind: 'signaled', signal: 'SIGKILL' }, null, 'SIGKILL'), false],
      ['spawn-error', result({ kind: 'spawnFailed', message: 'ENOENT' }, null, null), false],
      ['interrupted', result({ kind: 'aborted', signal: 'SIGTERM' }, null, 'SIGTERM'), false],
      ['cancelled', result({ kind: 'exited', exitCode: 143 }, 143, null), true],
    ];
    for (const [name, r, cancelled] of cases) records.push([name, afterRun(fresh(), r, cancelled, by, NOW + 2000, policy).job]);
    const failedTwice = afterRun(afterRun(fresh(), cases[1][1], false, by, NOW + 2000, policy).job, cases[1][1], false, by, NOW + 9000, policy);
    assert.equal(failedTwice.to, 'dead');
    records.push(['dead after its retries', failedTwice.job]);
    records.push(['worker-lost', afterLostRun(fresh(), { ...by, startedAt: NOW, why: 'its process is gone' }, NOW + 5000, policy).job]);
    records.push(['cancelled while pending', cancelledJob(fresh(), NOW + 1000)]);
    records.push(['retried from dead/', retriedJob(failedTwice.job, NOW + 20_000)]);
    for (const [name, job] of records) {
      const stored = JSON.parse(JSON.stringify(job));
      assert.ok(validateRecord(stored), `${name}: ${errorsOf(validateRecord.errors)}`);
      assert.equal(workerProblem(stored), null, name);
    }
  });
});
