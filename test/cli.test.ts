// The command line as a person types it, through the REAL compiled CLI: options in any position, values
// as typed, help, version, a closed stdout, colour in a pipe and in a pseudo-terminal, JSON output,
// tables in terminal cells, and the worker's event lines.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import stringWidth from 'string-width';
import { CLI, explain, makeTempRoot, readJson, REPO, runCli, waitFor } from './helpers.js';
import { cliEnv, HAVE_SCRIPT, okNoRoot, rootPlacements, runInPty, runWithClosedStdout } from './cli-helpers.js';
import { enqueue, makeQueue, startWorker, waitForState, workerProcesses } from './worker-helpers.js';

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const noPty = HAVE_SCRIPT ? false : 'util-linux `script` is not installed (apt-get install bsdutils)';

describe('options go anywhere: every command with --root before, between and after its words, and --root=DIR', () => {
  test('each placement reaches the same root and does the same thing; nothing is made in the current folder', async (t) => {
    const q = await makeQueue(t);
    const elsewhere = join(q.dir, 'elsewhere');
    await fsp.mkdir(elsewhere);
    const w = await startWorker(q);
    const done1 = await enqueue(q, 'echo logged', ['--id', 'done1']);
    await enqueue(q, 'exit 3', ['--id', 'dead1', '--max-retries', '0']);
    await waitForState(q.root, done1, 'completed');
    await waitForState(q.root, 'dead1', 'dead');
    w.kill('SIGTERM');
    assert.equal((await w.waitForExit()).code, 0);
    // Targets for the commands that change a job, one per placement.
    const N = 8;
    await q.ok(['enqueue', '-'], { input: Array.from({ length: N }, (_, i) => `{"id":"c${i}","command":"true"}\n{"id":"dr${i}","command":"true"}`).join('\n') });
    await q.ok(['cancel', ...Array.from({ length: N }, (_, i) => `dr${i}`)]);

    type Case = { words: (i: number) => string[]; code?: number; check: (out: string, i: number) => void | Promise<void> };
    const has = (re: RegExp) => (out: string) => assert.match(out, re);
    const cases: Case[] = [
      { words: (i) => ['enqueue', '--id', `e${i}`, '--priority', '-5', '--', 'echo', 'hi'], check: (out, i) => assert.equal(out, `Enqueued e${i}\n`) },
      { words: (i) => ['enqueue', `{"id":"j${i}","command":"true"}`], check: (out, i) => assert.equal(out, `Enqueued j${i}\n`) },
      { words: () => ['status'], check: has(new RegExp(`Queue ${q.root}`)) },
      { words: () => ['status', '--json'], check: (out) => assert.equal(JSON.parse(out).root, q.root) },
      { words: () => ['list', '--state', 'dead', '--limit', '20'], check: has(/^dead1\s+dead/m) },
      { words: () => ['show', 'done1'], check: has(/^state\s+completed$/m) },
      { words: () => ['show', 'done1', '--json'], check: (out) => assert.equal(JSON.parse(out).state, 'completed') },
      { words: () => ['logs', 'done1', '--attempt', '1'], check: (out) => assert.equal(out, 'logged\n[exited with status 0]\n') },
      { words: () => ['wait', 'done1', '--timeout', '5s'], check: () => {} },
      { words: (i) => ['config', 'set', 'max-retries', String(i)], check: (out, i) => assert.equal(out, `max-retries = ${i}\n`) },
      { words: () => ['config', 'get', 'kill-grace'], check: (out) => assert.equal(out, '500ms\n') },
      { words: () => ['config', 'unset', 'retention'], check: has(/^retention = 7d \(default\)$/m) },
      { words: () => ['config', 'list', '--json'], check: (out) => assert.equal(JSON.parse(out)['kill-grace'].value, 500) },
      { words: () => ['config'], check: has(/^kill-grace\s+500ms/m) },
      { words: () => ['dlq', 'list'], check: has(/^dead1 /m) },
      { words: (i) => ['dlq', 'retry', `dr${i}`], check: (out, i) => assert.equal(out, `Retrying dr${i}\n`) },
      { words: () => ['dlq', 'purge', '--older-than', '30d'], check: (out) => assert.equal(out, 'Removed 0 dead jobs\n') },
      { words: (i) => ['cancel', `c${i}`], check: (out, i) => assert.equal(out, `Cancelled c${i}\n`) },
      { words: () => ['purge', '--state', 'completed', '--older-than', '30d'], check: (out) => assert.equal(out, 'Removed 0 completed jobs\n') },
      { words: () => ['worker', 'stop', '--timeout', '5s'], check: (out) => assert.equal(out, 'No live workers.\n') },
      { words: () => ['help', 'worker', 'start'], check: has(/^Usage: queuectl worker start \[options\]/m) },
      { words: () => ['metrics'], check: has(/^queuectl_jobs\{state="dead"\} [1-9]/m) },
      { words: () => ['quarantine', 'list', '--json'], check: (out) => assert.deepEqual(JSON.parse(out), []) },
      { words: () => ['completion', 'bash'], check: has(/^complete -o default -F _queuectl queuectl$/m) },
      // Jobs are left waiting (no worker runs now): a time-out, 124, with them listed.
      { words: () => ['wait', '--all', '--timeout', '300ms', '--json'], code: 124, check: (out) => assert.ok(JSON.parse(out).waiting.length > 0) },
      { words: () => ['wait', 'dead1', '--json'], code: 1, check: (out) => assert.deepEqual(JSON.parse(out).dead, ['dead1']) },
    ];
    for (const c of cases) {
      const placements = rootPlacements(c.words(0), q.root);
      assert.ok(placements.length <= N, `at most ${N} placements`);
      const results = await Promise.all(placements.map((_, i) => runCli(rootPlacements(c.words(i), q.root)[i], { cwd: elsewhere })));
      for (const [i, r] of results.entries()) {
        const args = rootPlacements(c.words(i), q.root)[i].join(' ');
        assert.equal(r.code, c.code ?? 0, `queuectl ${args}: ${explain(r)}`);
        await c.check(r.stdout, i);
      }
    }
    // worker start and dashboard run until stopped: each placement must start on the given root.
    for (const words of [['worker', 'start', '--count', '1'], ['dashboard', '--port', '0']]) {
      for (const args of rootPlacements(words, q.root)) {
        const child = spawn(process.execPath, [CLI, ...args], { cwd: elsewhere, env: cliEnv({ NO_COLOR: '1' }), stdio: ['ignore', 'pipe', 'pipe'] });
        t.after(() => child.kill('SIGKILL'));
        let out = '';
        child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
        child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
        const ready = words[0] === 'worker' ? /1 worker ready/ : new RegExp(`queuectl dashboard for ${q.root}\\n`);
        await waitFor(() => ready.test(out), { timeoutMs: 10_000, what: `queuectl ${args.join(' ')} to start; output: ${out}` });
        child.kill('SIGTERM');
        const code = await new Promise((r) => child.on('close', r));
        assert.equal(code, 0, `${args.join(' ')}: ${out}`);
      }
    }
    assert.equal(existsSync(join(elsewhere, '.queuectl')), false, 'no ./.queuectl made where the commands ran');
  });
});

describe('values are kept as typed', () => {
  test('ids like 007 and 1.50, negative numbers as values, a negative number as an argument', async (t) => {
    const { root } = await makeTempRoot(t);
    assert.equal((await runCli(['enqueue', '--id', '007', '--', 'true'], { root })).stdout, 'Enqueued 007\n');
    assert.equal((await runCli(['enqueue', '--id=1.50', '--priority=-5', '--', 'true'], { root })).stdout, 'Enqueued 1.50\n');
    assert.equal((await runCli(['enqueue', '--id', '1e3', '--priority', '-999', '--', 'true'], { root })).stdout, 'Enqueued 1e3\n');
    const jobs = JSON.parse((await runCli(['list', '--json'], { root })).stdout) as { id: string; priority: number }[];
    assert.deepEqual(jobs.map((j) => [j.id, j.priority]).sort(), [['007', 0], ['1.50', -5], ['1e3', -999]]);
    assert.match((await runCli(['show', '007'], { root })).stdout, /^id\s+007$/m);
    const neg = await runCli(['enqueue', '--max-retries', '-1', '--', 'true'], { root });
    assert.equal(neg.code, 2, explain(neg));
    assert.match(neg.stderr, /--max-retries to be an integer from 0 to 100, got "-1"/);
    const negArg = await runCli(['config', 'set', 'backoff-base', '-1'], { root });
    assert.equal(negArg.code, 2, explain(negArg));
    assert.match(negArg.stderr, /config backoff-base: expected at least 1, got "-1"/);
    assert.equal((await runCli(['config', 'set', 'backoff-base', '1.50', '--json'], { root })).stdout, `${JSON.stringify({ key: 'backoff-base', value: 1.5, default: 2, set: true }, null, 2)}\n`);
  });

  test('an option that needs a value and gets another option, or none, or a value it does not take, exits 2', async (t) => {
    const { root } = await makeTempRoot(t);
    const cases: [string[], RegExp][] = [
      [['list', '--state'], /--state needs a value \(STATE\)/],
      [['list', '--state', '--json'], /--state needs a value \(STATE\), got the option "--json"; for a value that starts with "-", write --state=--json/],
      [['enqueue', '--after', '--', 'true'], /--after needs a value \(ID\) before `--`/],
      [['status', '--json=yes'], /--json takes no value/],
      [['worker', 'stop', '--count', '2'], /Unknown option `--count` for queuectl worker stop; run queuectl worker stop --help/],
      [['show'], /Missing ID: queuectl show ID/],
      [['show', 'a', 'b'], /Unexpected argument "b": queuectl show ID/],
      [['stauts'], /Unknown command "stauts" \(did you mean "status"\?\)/],
      [['worker', 'begin'], /Unknown action "worker begin"; expected one of start, stop/],
      [['enqueue', '--'], /Expected a command after `--`/],
      [['purge'], /Expected --state completed or --state dead/],
    ];
    for (const [args, message] of cases) {
      const r = await runCli(args, { root });
      assert.equal(r.code, 2, `${args.join(' ')}: ${explain(r)}`);
      assert.match(r.stderr, message, args.join(' '));
      assert.equal(r.stderr.trimEnd().split('\n').length, 1, `one line: ${r.stderr}`);
    }
  });
});

describe('help and version', () => {
  test('help CMD is CMD --help; worker --help lists start and stop; the top help lists exit statuses and the environment', async (t) => {
    const { root } = await makeTempRoot(t);
    for (const words of [['worker'], ['worker', 'start'], ['config', 'set'], ['enqueue'], ['wait']]) {
      const a = await okNoRoot(['help', ...words], { root });
      const b = await okNoRoot([...words, '--help'], { root });
      assert.equal(a.stdout, b.stdout, words.join(' '));
    }
    const worker = (await okNoRoot(['worker', '--help'], { root })).stdout;
    assert.match(worker, /^Actions:\n {2}start\s+Run N workers/m);
    assert.match(worker, /^ {2}stop\s+Stop every live worker/m);
    assert.match(worker, /--count N/);
    assert.match(worker, /--force/);
    const top = (await okNoRoot(['--help'], { root })).stdout;
    assert.match(top, /^Exit status:\n {2}0 +done\n {2}1 +failed.*\n {2}2 +bad usage.*\n {2}124 +.*timeout/m);
    for (const v of ['QUEUECTL_ROOT', 'QUEUECTL_DASHBOARD_TOKEN', 'NO_COLOR', 'FORCE_COLOR']) assert.match(top, new RegExp(`^ {2}${v}\\s`, 'm'));
    const enq = (await okNoRoot(['enqueue', '--help'], { root })).stdout;
    assert.match(enq, /Without an offset \(Z, \+02:00\) it is local time, and a date alone\n\(2026-03-01\) is local midnight/);
    const bad = await runCli(['help', 'frob'], { root });
    assert.equal(bad.code, 2, explain(bad));
    // An incomplete command shows its help on stderr and exits 2.
    const bare = await runCli(['worker'], { root });
    assert.equal(bare.code, 2, explain(bare));
    assert.match(bare.stderr, /Usage: queuectl worker <start\|stop>/);
  });
});

describe('a closed stdout', () => {
  test('list, status, show, config list, logs, help exit 0 quietly when the reader has gone', async (t) => {
    const q = await makeQueue(t);
    await q.ok(['enqueue', '-'], { input: Array.from({ length: 3000 }, (_, i) => `{"id":"j${i}","command":"echo ${'x'.repeat(60)}"}`).join('\n') });
    for (const args of [['list', '--limit', '0'], ['list', '--json', '--limit', '0'], ['status'], ['status', '--json'], ['show', 'j1'], ['config', 'list'], ['dlq', 'list'], ['--help'], ['completion', 'bash']]) {
      const r = await runWithClosedStdout([...args, '--root', q.root]);
      assert.deepEqual({ code: r.code, signal: r.signal, stderr: r.stderr }, { code: 0, signal: null, stderr: '' }, args.join(' '));
    }
    // Through a real pipe into head: the first line, and exit 0 for queuectl too.
    const r = spawn('bash', ['-c', `${process.execPath} ${CLI} --root ${q.root} list --limit 0 | head -1; echo "status=\${PIPESTATUS[0]}"`], { env: cliEnv({ NO_COLOR: '1' }) });
    let out = '';
    let err = '';
    r.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    r.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    await new Promise((res) => r.on('close', res));
    assert.match(out, /^ID\s+STATE\s+QUEUE\s+RUNS\s+PRIO\s+WHEN\s+COMMAND\nstatus=0\n$/);
    assert.equal(err, '');
  });

  test('a worker whose stdout reader is gone keeps working and stops cleanly', async (t) => {
    const q = await makeQueue(t);
    const child = spawn(process.execPath, [CLI, 'worker', 'start', '--root', q.root], { cwd: q.dir, env: cliEnv({ NO_COLOR: '1' }), stdio: ['ignore', 'pipe', 'pipe'] });
    t.after(() => child.kill('SIGKILL'));
    child.stdout.destroy();
    let err = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push(await enqueue(q, `echo ${i}`));
    for (const id of ids) await waitForState(q.root, id, 'completed');
    assert.equal(child.exitCode, null, 'still running');
    child.kill('SIGTERM');
    assert.equal(await new Promise((r) => child.on('close', r)), 0, err);
    assert.equal(err, '');
  });

  test('a foreground worker whose terminal goes away (SIGHUP, then EIO on writes) finishes its job and exits', { skip: noPty }, async (t) => {
    const q = await makeQueue(t);
    const id = await enqueue(q, 'sleep 0.5; echo finished');
    const term = spawn('script', ['-qc', `${process.execPath} ${CLI} worker start --root ${q.root}`, '/dev/null'], { env: cliEnv(), stdio: ['ignore', 'pipe', 'ignore'] });
    t.after(() => term.kill('SIGKILL'));
    let shown = '';
    term.stdout.setEncoding('utf8').on('data', (d: string) => (shown += d));
    await waitFor(() => /processing/.test(shown), { timeoutMs: 10_000, what: `the job to start in the terminal: ${shown}` });
    term.kill('SIGKILL'); // the terminal is gone: its session gets SIGHUP
    // Generous: the finish is a few fsyncs, which another test's burst of file writes can hold up for seconds.
    const job = await waitForState(q.root, id, 'completed', 30_000).catch(async (err: Error) => {
      err.message += `; the worker: ${await workerProcesses(q.root)}; the terminal showed: ${JSON.stringify(shown)}`;
      throw err;
    });
    assert.equal(job.history?.length, 1);
    assert.equal(job.history?.[0].reason, 'completed', 'the running job was finished, not lost');
    // A clean exit removes the heartbeat; a crash on a failed write would leave it.
    await waitFor(async () => (await fsp.readdir(join(q.root, 'workers'))).filter((n) => n.endsWith('.json')).length === 0, { timeoutMs: 10_000, what: 'the worker to exit cleanly' });
  });
});

describe('colour', () => {
  test('in a pipe: none by default, with CI=true, FORCE_COLOR=0 or --no-color; FORCE_COLOR=1 and --color turn it on', async (t) => {
    const { root } = await makeTempRoot(t);
    await okNoRoot(['enqueue', '--id', 'c1', '--', 'true'], { root });
    const cases: [Record<string, string | undefined>, string[], boolean][] = [
      [{ NO_COLOR: undefined }, [], false],
      [{ NO_COLOR: undefined, CI: 'true' }, [], false],
      [{ NO_COLOR: undefined, FORCE_COLOR: '0' }, [], false],
      [{ NO_COLOR: undefined, FORCE_COLOR: 'false' }, [], false],
      [{ NO_COLOR: undefined, FORCE_COLOR: '1' }, [], true],
      [{ NO_COLOR: undefined, FORCE_COLOR: '1' }, ['--no-color'], false],
      [{ NO_COLOR: undefined }, ['--color'], true],
      [{ NO_COLOR: '1' }, ['--color'], true],
      [{ NO_COLOR: '1', FORCE_COLOR: '1' }, [], false],
      [{ NO_COLOR: undefined }, ['--color', '--no-color'], false],
    ];
    for (const [env, flags, colour] of cases) {
      for (const args of [['status'], ['list'], ['show', 'c1']]) {
        const r = await runCli([...args, ...flags], { root, env });
        assert.equal(r.code, 0, explain(r));
        assert.equal(/\x1b\[/.test(r.stdout), colour, `${args.join(' ')} ${flags.join(' ')} with ${JSON.stringify(env)}: ${r.stdout}`);
      }
    }
  });

  test('in a terminal: colour by default; none with NO_COLOR, --no-color, FORCE_COLOR=0 or TERM=dumb', { skip: noPty }, async (t) => {
    const { root } = await makeTempRoot(t);
    await okNoRoot(['enqueue', '--id', 'c1', '--', 'true'], { root });
    const cases: [Record<string, string | undefined>, string[], boolean][] = [
      [{}, [], true],
      [{ CI: 'true' }, [], true],
      [{ NO_COLOR: '1' }, [], false],
      [{}, ['--no-color'], false],
      [{ FORCE_COLOR: '0' }, [], false],
      [{ TERM: 'dumb' }, [], false],
    ];
    for (const [env, flags, colour] of cases) {
      const r = await runInPty(['--root', root, 'list', ...flags], { env });
      assert.equal(r.code, 0, explain(r));
      assert.match(r.stdout, /c1/);
      assert.equal(/\x1b\[/.test(r.stdout), colour, `${flags.join(' ')} with ${JSON.stringify(env)}: ${JSON.stringify(r.stdout)}`);
    }
  });
});

describe('output for people and for programs', () => {
  test('list says when it stopped at its limit; --limit 0 lists all', async (t) => {
    const { root } = await makeTempRoot(t);
    await okNoRoot(['enqueue', '-'], { root, input: Array.from({ length: 60 }, (_, i) => `{"id":"j${String(i).padStart(2, '0')}","command":"true"}`).join('\n') });
    const some = await okNoRoot(['list'], { root });
    assert.equal(some.stdout.trimEnd().split('\n').length, 51, 'a header and 50 jobs');
    assert.equal(some.stderr, '50 of 60 jobs; --limit 0 for all\n');
    const pending = await okNoRoot(['list', '--state', 'pending', '--limit', '10', '--json'], { root });
    assert.equal(JSON.parse(pending.stdout).length, 10);
    assert.equal(pending.stderr, '10 of 60 pending jobs; --limit 0 for all\n');
    const all = await okNoRoot(['list', '--limit', '0'], { root });
    assert.equal(all.stdout.trimEnd().split('\n').length, 61);
    assert.equal(all.stderr, '');
    const exact = await okNoRoot(['list', '--limit', '60'], { root });
    assert.equal(exact.stderr, '', 'nothing left out');
  });

  test('--json: state is the state people see (failed, scheduled) and every time is ISO-8601', async (t) => {
    const q = await makeQueue(t, { 'backoff-base': '100' });
    const w = await startWorker(q);
    const failing = await enqueue(q, 'exit 1', ['--max-retries', '3']);
    await w.waitForOutput(new RegExp(`failed ${failing} run 1`));
    w.kill('SIGTERM');
    await w.waitForExit();
    const later = await enqueue(q, 'true', ['--delay', '1h']);
    const now = await enqueue(q, 'true');
    const jobs = JSON.parse(await q.ok(['list', '--json'])) as Record<string, unknown>[];
    const state = Object.fromEntries(jobs.map((j) => [j.id, j.state]));
    assert.deepEqual(state, { [failing]: 'failed', [later]: 'scheduled', [now]: 'pending' });
    assert.equal((JSON.parse(await q.ok(['show', failing, '--json'])) as { state: string }).state, 'failed');
    const times = (value: unknown, path = ''): [string, unknown][] => {
      if (Array.isArray(value)) return value.flatMap((v, i) => times(v, `${path}[${i}]`));
      if (value && typeof value === 'object') return Object.entries(value).flatMap(([k, v]) => (/_at$/.test(k) ? [[`${path}.${k}`, v] as [string, unknown]] : times(v, `${path}.${k}`)));
      return [];
    };
    const shown = JSON.parse(await q.ok(['show', failing, '--json']));
    const found = [...times(jobs), ...times(shown)];
    assert.ok(found.length > 10, 'times were found');
    for (const [where, v] of found) if (v !== null) assert.match(String(v), ISO, where);
  });

  test('table columns are measured in terminal cells: CJK text does not overflow the width', async (t) => {
    const { root } = await makeTempRoot(t);
    await okNoRoot(['enqueue', '--id', 'wide', '--', `echo ${'日本語のコマンド'.repeat(30)}`], { root });
    await okNoRoot(['enqueue', '--id', 'narrow', '--', 'echo ascii'], { root });
    const out = (await okNoRoot(['list'], { root })).stdout.trimEnd().split('\n');
    for (const line of out) assert.ok(stringWidth(line) <= 120, `${stringWidth(line)} cells: ${line}`);
    assert.match(out.find((l) => l.startsWith('wide'))!, /…$/);
    // The columns line up: COMMAND starts at the same cell in every row.
    const at = (l: string, s: string) => stringWidth(l.slice(0, l.indexOf(s)));
    assert.equal(at(out[1], 'echo'), at(out[2], 'echo'));
    assert.equal(at(out[0], 'COMMAND'), at(out[1], 'echo'));
  });

  test('--cwd takes a relative path, resolved where enqueue runs', async (t) => {
    const { root, dir } = await makeTempRoot(t);
    await okNoRoot(['enqueue', '--id', 'rel', '--cwd', 'sub/dir', '--', 'pwd'], { root, cwd: dir });
    await okNoRoot(['enqueue', '--id', 'dot', '--cwd=.', '--', 'pwd'], { root, cwd: dir });
    const cwd = (id: string) => runCli(['show', id, '--json'], { root }).then((r) => JSON.parse(r.stdout).cwd);
    assert.equal(await cwd('rel'), join(dir, 'sub/dir'));
    assert.equal(await cwd('dot'), dir);
  });

  test('purge without --state refuses and deletes nothing', async (t) => {
    const q = await makeQueue(t);
    const w = await startWorker(q);
    const id = await enqueue(q, 'true');
    await waitForState(q.root, id, 'completed');
    w.kill('SIGTERM');
    await w.waitForExit();
    const r = await q.cli(['purge']);
    assert.equal(r.code, 2, explain(r));
    assert.equal((await readJson<{ state: string }>(join(q.root, 'completed', (await fsp.readdir(join(q.root, 'completed'))).find((n) => /^\d{10}$/.test(n))!, `${id}.json`))).state, 'completed');
    assert.equal((await q.cli(['purge', '--state', 'completed'])).stdout, 'Removed 1 completed job\n');
  });
});

describe('progress on stderr when it is a terminal', () => {
  test('a big enqueue - shows how far it has got; in a pipe it shows nothing', { skip: noPty }, async (t) => {
    const { root, dir } = await makeTempRoot(t);
    const file = join(dir, 'jobs.ndjson');
    await fsp.writeFile(file, Array.from({ length: 3000 }, (_, i) => `{"id":"p${i}","command":"true"}`).join('\n'));
    const r = await runInPty(['--root', root, 'enqueue', '-'], { stdinFile: file, timeoutMs: 60_000 });
    assert.equal(r.code, 0, explain(r));
    assert.match(r.stdout, /enqueue: \d+% of 3,000 jobs/);
    assert.match(r.stdout, /\r\x1b\[KEnqueued 3000 jobs\r\n$/, 'the progress line is cleared before the result');
    const piped = await runCli(['enqueue', '-'], { root: join(dir, 'q2'), input: await fsp.readFile(file, 'utf8') });
    assert.equal(piped.stderr, '');
    assert.equal(piped.stdout, 'Enqueued 3000 jobs\n');
  });

  test('wait --all shows how many jobs are left and how many run', { skip: noPty }, async (t) => {
    const q = await makeQueue(t);
    await q.ok(['enqueue', '-'], { input: Array.from({ length: 4 }, (_, i) => `{"id":"w${i}","command":"sleep 0.5"}`).join('\n') });
    const waiting = runInPty(['--root', q.root, 'wait', '--all', '--timeout', '60s'], { timeoutMs: 60_000 });
    const w = await startWorker(q, ['--count', '2']);
    const r = await waiting;
    w.kill('SIGTERM');
    assert.equal(r.code, 0, explain(r));
    assert.match(r.stdout, /wait: [1-4] jobs? left, [0-2] running/);
    assert.doesNotMatch(r.stdout, /wait: .* left[^\r]*\r\n/, 'the progress line is cleared, not left as a line');
  });
});
