// Enqueue and the read-side commands through the REAL compiled CLI on real temp roots:
// every accepted form, every refusal (exit 2, nothing written), the id race, permissions and output.

import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { explain, listTree, makeTempRoot, pendingFiles, readJson, REPO, runCli, snapshotQueue } from './helpers.js';

const FOLDERS = ['tmp', 'pending', 'processing', 'completed', 'dead', 'workers', 'logs', 'ids', 'quarantine'];

/** Runs the CLI and asserts it exited 0, returning stdout. */
async function ok(args: string[], opts: Parameters<typeof runCli>[1]): Promise<string> {
  const r = await runCli(args, opts);
  assert.equal(r.code, 0, explain(r));
  return r.stdout;
}

/** The stored job with `id` in pending/ (the file name ends in -<id>.json). */
async function pendingJob(root: string, id: string): Promise<Record<string, unknown>> {
  const name = (await pendingFiles(root)).find((n) => n.endsWith(`-${id}.json`));
  assert.ok(name, `no file for ${id} in pending/: ${(await pendingFiles(root)).join(', ')}`);
  return readJson(join(root, 'pending', name));
}

const mode = async (path: string) => (await fsp.stat(path)).mode & 0o777;

describe('enqueue accepts a job in every documented form', () => {
  test('a JSON argument prints "Enqueued <id>" and a 0600 file appears in pending/, in 0700 folders', async (t) => {
    const { root } = await makeTempRoot(t);
    const r = await runCli(['enqueue', '{"id":"job1","command":"echo hi"}'], { root });
    assert.equal(r.code, 0, explain(r));
    assert.equal(r.stdout, 'Enqueued job1\n');
    assert.equal(r.stderr, '');

    const files = await pendingFiles(root);
    assert.equal(files.length, 1);
    assert.match(files[0], /^\d{13}-1000-000-job1\.json$/);
    assert.equal(await mode(join(root, 'pending', files[0])), 0o600);
    assert.equal(await mode(root), 0o700);
    for (const f of FOLDERS) assert.equal(await mode(join(root, f)), 0o700, `${f}/ should be 0700`);
    const [shard] = await fsp.readdir(join(root, 'ids'));
    assert.equal(await mode(join(root, 'ids', shard)), 0o700, 'ids/<shard>/ should be 0700');

    const job = await pendingJob(root, 'job1');
    assert.equal(job.command, 'echo hi');
    assert.equal(job.state, 'pending');
    assert.equal(job.attempts, 0);
    assert.equal(job.priority, 0);
    assert.equal(job.max_retries, 3, 'the config default');
    assert.deepEqual(await listTree(join(root, 'tmp')), [], 'nothing left in tmp/');
  });

  test('the flag form stores the words after -- as one shell-quoted command with every flag applied', async (t) => {
    const { root } = await makeTempRoot(t);
    const before = Date.now();
    const out = await ok(['enqueue', '--id', 'x', '--priority', '-5', '--delay', '30s', '--timeout', '10s', '--max-retries', '2', '--', 'echo', 'a b'], { root });
    const after = Date.now();
    assert.equal(out, 'Enqueued x\n');
    const job = await pendingJob(root, 'x');
    assert.equal(job.command, "echo 'a b'");
    assert.equal(job.priority, -5);
    assert.equal(job.timeout, 10);
    assert.equal(job.max_retries, 2);
    const runAt = Date.parse(job.run_at as string);
    assert.ok(runAt >= before + 30_000 && runAt <= after + 30_000, `run_at ${job.run_at} should be 30s after enqueue`);
    assert.equal(job.available_at, job.run_at);
    assert.match((await pendingFiles(root))[0], /^\d{13}-0995-000-x\.json$/);
  });

  test('the flag form keeps a single word as the command and quotes quotes', async (t) => {
    const { root } = await makeTempRoot(t);
    await ok(['enqueue', '--id', 'one', '--', 'echo $HOME && ls'], { root });
    await ok(['enqueue', '--id', 'two', '--', 'printf', '%s\n', "it's"], { root });
    assert.equal((await pendingJob(root, 'one')).command, 'echo $HOME && ls');
    assert.equal((await pendingJob(root, 'two')).command, "printf '%s\n' 'it'\\''s'");
  });

  test('enqueue - reads one object, a JSON array or NDJSON from stdin', async (t) => {
    const { root } = await makeTempRoot(t);
    assert.equal(await ok(['enqueue', '-'], { root, input: '{"id":"single","command":"true"}\n' }), 'Enqueued single\n');
    assert.equal(await ok(['enqueue', '-'], { root, input: '[{"id":"arr1","command":"true"},{"id":"arr2","command":"true"}]' }), 'Enqueued 2 jobs\n');
    const ndjson = '{"id":"nd1","command":"true"}\n\n{"id":"nd2","command":"true"}\n{"id":"nd3","command":"true","priority":3}\n';
    assert.equal(await ok(['enqueue', '-'], { root, input: ndjson }), 'Enqueued 3 jobs\n');
    const ids = (await pendingFiles(root)).map((n) => n.replace(/^\d{13}-\d{4}-\d{3}-/, '').replace(/\.json$/, '')).sort();
    assert.deepEqual(ids, ['arr1', 'arr2', 'nd1', 'nd2', 'nd3', 'single']);
    assert.equal((await pendingJob(root, 'nd3')).priority, 3);
  });

  test('--file reads jobs from a file, and --json prints the ids as a JSON array', async (t) => {
    const { dir, root } = await makeTempRoot(t);
    const file = join(dir, 'jobs.ndjson');
    await fsp.writeFile(file, '{"id":"f1","command":"true"}\n{"command":"true"}\n');
    const out = await ok(['enqueue', '--file', file, '--json'], { root });
    const ids = JSON.parse(out) as string[];
    assert.equal(ids.length, 2);
    assert.equal(ids[0], 'f1');
    assert.match(ids[1], /^[0-9a-z]{12}-[0-9a-f]{8}$/, 'a generated, time-sortable id');
    assert.equal((await pendingFiles(root)).length, 2);
    await pendingJob(root, ids[1]);

    assert.deepEqual(JSON.parse(await ok(['enqueue', '--json', '{"id":"j1","command":"true"}'], { root })), ['j1']);
  });
});

describe('enqueue refuses bad input with exit 2, says what is wrong where, and writes nothing', () => {
  /** Cases: args, stdin, and fragments the error must contain. */
  const cases: { name: string; args: string[]; input?: string; expect: (string | RegExp)[] }[] = [
    { name: 'empty command', args: ['enqueue', '{"command":""}'], expect: ['job', 'field "command"', 'must not be empty'] },
    { name: 'missing command', args: ['enqueue', '{"id":"nocmd"}'], expect: ['job (id "nocmd")', 'field "command"', 'non-empty string'] },
    { name: 'non-string command', args: ['enqueue', '{"command":42}'], expect: ['field "command"', '42 (number)'] },
    { name: 'not an object', args: ['enqueue', '"echo hi"'], expect: ['job', 'expected a JSON object'] },
    { name: 'malformed JSON', args: ['enqueue', '{"command":'], expect: ['argument', 'malformed JSON'] },
    { name: 'empty array', args: ['enqueue', '[]'], expect: ['empty array', 'at least one job'] },
    { name: 'bad id', args: ['enqueue', '{"id":"../x","command":"true"}'], expect: ['field "id"', '"../x"'] },
    { name: 'priority high', args: ['enqueue', '{"id":"p","command":"true","priority":"high"}'], expect: ['job (id "p")', 'field "priority"', 'integer from -999 to 999', '"high"'] },
    { name: 'priority 1.5', args: ['enqueue', '{"command":"true","priority":1.5}'], expect: ['field "priority"', '1.5'] },
    { name: 'max_retries -1', args: ['enqueue', '{"command":"true","max_retries":-1}'], expect: ['field "max_retries"', 'integer from 0 to 100', '-1'] },
    { name: 'bad run_at', args: ['enqueue', '{"command":"true","run_at":"tomorrow"}'], expect: ['field "run_at"', 'ISO-8601', '"tomorrow"'] },
    { name: 'flag --priority high', args: ['enqueue', '--priority', 'high', '--', 'true'], expect: ['--priority', 'integer from -999 to 999', '"high"'] },
    { name: 'flag --priority 5000', args: ['enqueue', '--priority', '5000', '--', 'true'], expect: ['--priority', '"5000"'] },
    { name: 'flag --max-retries -1', args: ['enqueue', '--max-retries', '-1', '--', 'true'], expect: ['--max-retries', 'integer from 0 to 100', '"-1"'] },
    { name: 'flag --max-retries abc', args: ['enqueue', '--max-retries', 'abc', '--', 'true'], expect: ['--max-retries', '"abc"'] },
    { name: 'flag --delay soon', args: ['enqueue', '--delay', 'soon', '--', 'true'], expect: ['field "delay"', 'duration', '"soon"'] },
    { name: 'flag --timeout 0', args: ['enqueue', '--timeout', '0', '--', 'true'], expect: ['field "timeout"', 'at least 1ms'] },
    { name: 'flag --timeout abc', args: ['enqueue', '--timeout', 'abc', '--', 'true'], expect: ['field "timeout"', '"abc"'] },
    { name: 'flag --run-at garbage', args: ['enqueue', '--run-at', 'garbage', '--', 'true'], expect: ['field "run_at"', 'ISO-8601'] },
    { name: 'flag --id a/b', args: ['enqueue', '--id', 'a/b', '--', 'true'], expect: ['field "id"', '"a/b"'] },
    { name: 'flag --env without =', args: ['enqueue', '--env', 'TOKEN', '--', 'true'], expect: ['--env', 'NAME=VALUE', '"TOKEN"'] },
    { name: 'job flags with a JSON job', args: ['enqueue', '--priority', '3', '{"command":"true"}'], expect: ['--priority', 'flag form only'] },
    { name: 'two sources', args: ['enqueue', '{"command":"true"}', '--', 'true'], expect: ['one way'] },
    { name: 'nothing to enqueue', args: ['enqueue'], expect: ['Nothing to enqueue'] },
    { name: 'empty stdin', args: ['enqueue', '-'], input: '', expect: ['stdin is empty'] },
    { name: 'missing --file', args: ['enqueue', '--file', '/nonexistent/jobs.json'], expect: ['Cannot read --file /nonexistent/jobs.json', 'ENOENT'] },
    {
      name: 'line 3 of 5 bad (all or nothing)',
      args: ['enqueue', '-'],
      input: ['{"id":"l1","command":"true"}', '{"id":"l2","command":"true"}', '{"id":"l3","command":"true","priority":"high"}', '{"id":"l4","command":"true"}', '{"id":"l5","command":"true"}'].join('\n'),
      expect: ['line 3 of stdin (id "l3")', 'field "priority"', 'integer from -999 to 999', '"high"'],
    },
    {
      name: 'malformed NDJSON line',
      args: ['enqueue', '-'],
      input: '{"command":"true"}\n{"command":"true"}\n{"command":\n',
      expect: ['line 3 of stdin', 'malformed JSON'],
    },
    {
      name: 'job 2 of an array bad',
      args: ['enqueue', '-'],
      input: '[{"command":"true"},{"command":"true","timeout":"fast"}]',
      expect: ['job 2 of stdin', 'field "timeout"', '"fast"'],
    },
    {
      name: 'duplicate id within a batch',
      args: ['enqueue', '-'],
      input: '{"id":"dup","command":"true"}\n{"id":"other","command":"true"}\n{"id":"dup","command":"false"}\n',
      expect: ['line 3 of stdin', 'duplicate id "dup"', 'line 1 of stdin'],
    },
    {
      name: 'duplicate of an existing id (second of a batch)',
      args: ['enqueue', '-'],
      input: '[{"id":"fresh","command":"true"},{"id":"existing","command":"true"},{"id":"fresh2","command":"true"}]',
      expect: ['job 2 of stdin', 'id "existing" is already used by a job (pending)', 'unique across all states'],
    },
    { name: 'duplicate of an existing id', args: ['enqueue', '--id', 'existing', '--', 'true'], expect: ['id "existing" is already used by a job (pending)'] },
  ];

  test('every bad input exits 2 with a precise message and leaves pending/, tmp/ and ids/ unchanged', async (t) => {
    const { root } = await makeTempRoot(t);
    await ok(['enqueue', '{"id":"existing","command":"echo first"}'], { root });
    const before = await snapshotQueue(root);
    for (const c of cases) {
      const r = await runCli(c.args, { root, input: c.input });
      assert.equal(r.code, 2, `${c.name}: ${explain(r)}`);
      assert.equal(r.stdout, '', `${c.name}: nothing on stdout`);
      assert.match(r.stderr, /^error: /, `${c.name}: ${explain(r)}`);
      assert.equal(r.stderr.trimEnd().split('\n').length, 1, `${c.name}: one line, no stack trace: ${r.stderr}`);
      for (const f of c.expect) {
        if (typeof f === 'string') assert.ok(r.stderr.includes(f), `${c.name}: stderr should contain ${JSON.stringify(f)}: ${r.stderr}`);
        else assert.match(r.stderr, f, c.name);
      }
      assert.deepEqual(await snapshotQueue(root), before, `${c.name}: the queue must be unchanged`);
    }
    assert.equal((await pendingJob(root, 'existing')).command, 'echo first', 'the existing job is untouched');
    // The ids of refused batches are free: the good jobs of the refused NDJSON batch can be enqueued now.
    await ok(['enqueue', '-'], { root, input: '{"id":"l1","command":"true"}\n{"id":"fresh","command":"true"}\n' });
  });
});

describe('ids are unique across racing processes', () => {
  test('8 processes enqueueing the same id at once: exactly one wins, seven exit 2, one file in pending/', async (t) => {
    const { root } = await makeTempRoot(t);
    await ok(['status'], { root }); // create the root first, so the race is on the id and not on mkdir
    const runs = Array.from({ length: 8 }, (_, i) => runCli(['enqueue', `{"id":"same","command":"echo ${i}"}`], { root }));
    const results = await Promise.all(runs);
    const winners = results.filter((r) => r.code === 0);
    const losers = results.filter((r) => r.code === 2);
    assert.equal(winners.length, 1, results.map(explain).join('\n'));
    assert.equal(losers.length, 7, results.map(explain).join('\n'));
    assert.equal(winners[0].stdout, 'Enqueued same\n');
    for (const l of losers) assert.match(l.stderr, /id "same" is already used by a job/);

    const files = await pendingFiles(root);
    assert.equal(files.length, 1, files.join(', '));
    const winner = results.indexOf(winners[0]);
    assert.equal((await pendingJob(root, 'same')).command, `echo ${winner}`, 'the stored job is the winner\'s');
    assert.deepEqual(await listTree(join(root, 'tmp')), [], 'the losers removed their tmp files');
    assert.deepEqual((await listTree(join(root, 'ids'))).filter((p) => !p.endsWith('/')).map((p) => p.split('/')[1]), ['same']);
  });
});

describe('reading the queue: status, list, show', () => {
  test('a hand-dropped pending/anything.json with only a command is counted by status and shown by list', async (t) => {
    const { root } = await makeTempRoot(t);
    await ok(['status'], { root });
    await fsp.writeFile(join(root, 'pending', 'anything.json'), '{"command":"echo hi"}\n');
    const status = JSON.parse(await ok(['status', '--json'], { root }));
    assert.equal(status.counts.pending, 1);
    const list = await ok(['list'], { root });
    assert.match(list, /echo hi/, list);
    assert.match(list, /^anything\s+pending\s+default\s+0\/4\s+0\s+ready\s+echo hi$/m, 'shown with the id a worker will give it: its file name');
    const listed = JSON.parse(await ok(['list', '--json', '--state', 'pending'], { root })) as Record<string, unknown>[];
    assert.equal(listed.length, 1);
    assert.equal(listed[0].command, 'echo hi');
    assert.equal(listed[0].state, 'pending');
    assert.equal(listed[0].source, 'anything.json');
    assert.deepEqual(await pendingFiles(root), ['anything.json'], 'reading does not touch the file');
  });

  test('status --json has counts for every state and a workers array', async (t) => {
    const { root } = await makeTempRoot(t);
    await ok(['enqueue', '-'], { root, input: '{"command":"true"}\n{"command":"true"}\n{"command":"true","delay":"1h"}\n' });
    const status = JSON.parse(await ok(['status', '--json'], { root }));
    assert.deepEqual(Object.keys(status.counts).sort(), ['completed', 'dead', 'failed', 'pending', 'processing', 'quarantined', 'scheduled', 'waiting']);
    for (const v of Object.values(status.counts)) assert.equal(typeof v, 'number');
    assert.equal(status.counts.pending, 2);
    assert.equal(status.counts.scheduled, 1);
    assert.equal(status.counts.processing, 0);
    assert.equal(status.counts.completed, 0);
    assert.equal(status.counts.dead, 0);
    assert.equal(status.counts.failed, 0);
    assert.ok(Array.isArray(status.workers));
    assert.deepEqual(status.workers, []);
    const human = await ok(['status'], { root });
    assert.match(human, /pending 2/);
    assert.match(human, /scheduled 1/);
  });

  test('list --state scheduled shows a delayed job, and --state pending does not', async (t) => {
    const { root } = await makeTempRoot(t);
    await ok(['enqueue', '--id', 'later', '--delay', '10m', '--', 'echo later'], { root });
    await ok(['enqueue', '--id', 'now', '--', 'echo now'], { root });
    const scheduled = await ok(['list', '--state', 'scheduled'], { root });
    assert.match(scheduled, /^later\s+scheduled\s+default\s+0\/4\s+0\s+in (?:10m|9m\d+s)\s+echo later$/m, scheduled);
    assert.doesNotMatch(scheduled, /^now\b/m);
    const pending = await ok(['list', '--state', 'pending'], { root });
    assert.match(pending, /^now\s+pending/m);
    assert.doesNotMatch(pending, /later/);
    const all = JSON.parse(await ok(['list', '--json'], { root })) as { id: string }[];
    assert.deepEqual(all.map((j) => j.id), ['now', 'later']);
    assert.equal(await ok(['list', '--state', 'dead'], { root }), 'No dead jobs.\n');
    const bad = await runCli(['list', '--state', 'bogus'], { root });
    assert.equal(bad.code, 2, explain(bad));
    assert.match(bad.stderr, /--state.*pending, scheduled, failed.*"bogus"/);
  });

  test('show ID --json prints the stored job; an unknown id exits 2', async (t) => {
    const { root } = await makeTempRoot(t);
    await ok(['enqueue', '{"id":"job1","command":"echo hi","priority":4,"tags":["a"]}'], { root });
    const job = JSON.parse(await ok(['show', 'job1', '--json'], { root }));
    assert.deepEqual(job, await pendingJob(root, 'job1'));
    assert.equal(job.command, 'echo hi');
    assert.deepEqual(job.tags, ['a']);
    const human = await ok(['show', 'job1'], { root });
    assert.match(human, /^id\s+job1$/m);
    assert.match(human, /^state\s+pending$/m);
    assert.match(human, /^command\s+echo hi$/m);
    const missing = await runCli(['show', 'nope'], { root });
    assert.equal(missing.code, 2, explain(missing));
    assert.match(missing.stderr, /No job with id "nope"/);
  });

  test('an id that looks like a number is kept as typed', async (t) => {
    const { root } = await makeTempRoot(t);
    await ok(['enqueue', '--id', '007', '--', 'true'], { root });
    assert.equal(JSON.parse(await ok(['show', '007', '--json'], { root })).id, '007');
  });

  test('env values are hidden by show and list unless show --env is given', async (t) => {
    const { root } = await makeTempRoot(t);
    await ok(['enqueue', '--id', 'secret', '--env', 'TOKEN=s3cr3t-value', '--env', 'MODE=x=y', '--', 'echo', '$TOKEN'], { root });
    assert.deepEqual((await pendingJob(root, 'secret')).env, { TOKEN: 's3cr3t-value', MODE: 'x=y' });
    for (const args of [['show', 'secret'], ['show', 'secret', '--json'], ['list'], ['list', '--json']]) {
      const out = await ok(args, { root });
      assert.doesNotMatch(out, /s3cr3t/, `${args.join(' ')} must not print env values`);
    }
    assert.match(await ok(['show', 'secret'], { root }), /TOKEN=\*\*\*/);
    assert.deepEqual(JSON.parse(await ok(['show', 'secret', '--json'], { root })).env, { TOKEN: '***', MODE: '***' });
    assert.match(await ok(['show', 'secret', '--env'], { root }), /TOKEN=s3cr3t-value/);
    assert.deepEqual(JSON.parse(await ok(['show', 'secret', '--json', '--env'], { root })).env, { TOKEN: 's3cr3t-value', MODE: 'x=y' });
  });
});

describe('the queue root', () => {
  test('--root wins over QUEUECTL_ROOT, which wins over ./.queuectl in the current folder', async (t) => {
    const { dir } = await makeTempRoot(t);
    await ok(['enqueue', '--id', 'in-default', '--', 'true'], { cwd: dir });
    await ok(['enqueue', '--id', 'in-env', '--', 'true'], { cwd: dir, env: { QUEUECTL_ROOT: join(dir, 'envq') } });
    await ok(['enqueue', '--id', 'in-flag', '--', 'true'], { root: join(dir, 'flagq'), cwd: dir, env: { QUEUECTL_ROOT: join(dir, 'envq') } });
    await ok(['enqueue', '--id', 'in-relative', '--', 'true'], { root: 'relq', cwd: dir });
    assert.ok((await pendingFiles(join(dir, '.queuectl')))[0].endsWith('-in-default.json'));
    assert.ok((await pendingFiles(join(dir, 'envq')))[0].endsWith('-in-env.json'));
    assert.ok((await pendingFiles(join(dir, 'flagq')))[0].endsWith('-in-flag.json'));
    assert.ok((await pendingFiles(join(dir, 'relq')))[0].endsWith('-in-relative.json'));
    assert.equal((await pendingFiles(join(dir, '.queuectl'))).length, 1);
    assert.equal((await pendingFiles(join(dir, 'envq'))).length, 1);
    const status = JSON.parse(await ok(['status', '--json'], { cwd: dir, env: { QUEUECTL_ROOT: join(dir, 'envq') } }));
    assert.equal(status.root, join(dir, 'envq'));
  });

  test('a new root is created with its parents, 0700 folders and a 0600 format marker', async (t) => {
    const { dir } = await makeTempRoot(t);
    const root = join(dir, 'a', 'b', 'queue');
    await ok(['status'], { root });
    assert.equal(await mode(root), 0o700);
    for (const f of FOLDERS) assert.equal(await mode(join(root, f)), 0o700, f);
    assert.equal(await mode(join(root, 'format')), 0o600);
  });

  test('an empty folder made by the user is taken as the root and tightened to 0700', async (t) => {
    const { root } = await makeTempRoot(t);
    await fsp.mkdir(root);
    await fsp.chmod(root, 0o777);
    await ok(['status'], { root });
    assert.equal(await mode(root), 0o700);
  });

  test('an existing root writable by others or its group is refused with exit 1 and a chmod hint', async (t) => {
    const { root } = await makeTempRoot(t);
    await ok(['enqueue', '--id', 'a', '--', 'true'], { root });
    for (const [m, who] of [[0o777, 'others'], [0o770, 'its group']] as const) {
      await fsp.chmod(root, m);
      for (const args of [['status'], ['enqueue', '--', 'true'], ['list']]) {
        const r = await runCli(args, { root });
        assert.equal(r.code, 1, `${args[0]} with mode ${m.toString(8)}: ${explain(r)}`);
        assert.ok(r.stderr.includes(`writable by ${who}`), r.stderr);
        assert.ok(r.stderr.includes(`chmod 700 ${root}`), r.stderr);
      }
    }
    assert.equal((await pendingFiles(root)).length, 1, 'nothing was enqueued into the unsafe root');
    await fsp.chmod(root, 0o700);
    await ok(['status'], { root });
  });

  test('a root that is a file is refused with a message naming it', async (t) => {
    const { dir } = await makeTempRoot(t);
    const file = join(dir, 'file');
    await fsp.writeFile(file, 'x');
    const r = await runCli(['status'], { root: file });
    assert.equal(r.code, 1, explain(r));
    assert.ok(r.stderr.includes(file), r.stderr);
  });
});

describe('the command line', () => {
  test('output without a TTY or with NO_COLOR has no ANSI escapes', async (t) => {
    const { root } = await makeTempRoot(t);
    const envs = [
      { NO_COLOR: '1', FORCE_COLOR: '1', TERM: 'xterm-256color' }, // NO_COLOR wins over FORCE_COLOR
      { NO_COLOR: undefined, CI: undefined, TERM: 'xterm-256color' }, // not a TTY: no colour
    ];
    await ok(['enqueue', '--id', 'c1', '--env', 'A=b', '--', 'true'], { root });
    await ok(['enqueue', '--id', 'c2', '--delay', '1h', '--', 'true'], { root });
    for (const env of envs) {
      for (const args of [['status'], ['list'], ['show', 'c1'], ['config', 'list'], ['show', 'missing'], ['enqueue', '{}'], ['--help']]) {
        const r = await runCli(args, { root, env });
        assert.ok(r.stdout.length + r.stderr.length > 0, `${args.join(' ')} printed something`);
        assert.doesNotMatch(r.stdout + r.stderr, /\x1b\[/, `${args.join(' ')} with ${JSON.stringify(env)}: ${explain(r)}`);
      }
    }
  });

  test('--help on every command exits 0 and shows an example', async (t) => {
    const { root } = await makeTempRoot(t);
    const top = await runCli(['--help'], { root });
    assert.equal(top.code, 0, explain(top));
    // The top-level help lists every command under "Commands:", a group with its actions (worker start|stop).
    const section = /Commands:\n((?: {2}\S.*\n)+)/.exec(top.stdout);
    assert.ok(section, top.stdout);
    const commands = section[1].split('\n').filter(Boolean).flatMap((l) => {
      const [word, actions] = l.trim().split(/\s+/);
      return /^[a-z]+(\|[a-z]+)+$/.test(actions ?? '') ? actions.split('|').map((a) => [word, a]) : [[word]];
    });
    for (const c of ['enqueue', 'status', 'list', 'show', 'config']) assert.ok(commands.some((w) => w[0] === c), `${c} in --help: ${top.stdout}`);
    for (const c of commands) {
      const r = await runCli([...c, '--help'], { root });
      assert.equal(r.code, 0, `${c.join(' ')} --help: ${explain(r)}`);
      assert.match(r.stdout, /Examples:\n\s*queuectl \S+/, `${c.join(' ')} --help shows an example: ${r.stdout}`);
    }
  });

  test('an unknown command or option exits 2 and names it', async (t) => {
    const { root } = await makeTempRoot(t);
    const cmd = await runCli(['frobnicate'], { root });
    assert.equal(cmd.code, 2, explain(cmd));
    assert.match(cmd.stderr, /Unknown command "frobnicate"/);
    for (const args of [['status', '--bogus'], ['list', '--nope', '1'], ['enqueue', '--frob', '--', 'true']]) {
      const r = await runCli(args, { root });
      assert.equal(r.code, 2, `${args.join(' ')}: ${explain(r)}`);
      assert.match(r.stderr, /Unknown option `--(bogus|nope|frob)`/);
    }
    assert.deepEqual(await pendingFiles(root), [], 'nothing enqueued by a refused command');
  });

  test('--version prints the version alone, the one in package.json', async (t) => {
    const { root } = await makeTempRoot(t);
    const { version } = await readJson<{ version: string }>(join(REPO, 'package.json'));
    for (const args of [['--version'], ['-v'], ['status', '--version']]) {
      const r = await runCli(args, { root });
      assert.equal(r.code, 0, explain(r));
      assert.equal(r.stdout, `${version}\n`, args.join(' '));
    }
  });
});
