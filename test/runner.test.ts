// runCommand (src/runner.ts) on real shell commands: outcomes as data, process-group kills on timeout
// and abort, the capped log with its outcome line, the in-memory tail, spawn failures, env and cwd.

import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { GUARD_EXIT, runCommand, type RunSpec, TAIL_BYTES } from '../src/runner.js';
import { makeTempRoot, waitFor } from './helpers.js';
import { pidsWithCommand } from './worker-helpers.js';

const marker = () => `${100 + Math.floor(Math.random() * 800)}.${Math.floor(Math.random() * 1e6)}`;

type TestContext = { after: (fn: () => Promise<void>) => void };

/** Runs `command` with a log in a fresh temp folder; returns the result and the log's text (null: no log file). */
async function run(t: TestContext, command: string, spec: Partial<RunSpec> = {}) {
  const { dir } = await makeTempRoot(t);
  const logPath = join(dir, 'run.log');
  const result = await runCommand({ command, cwd: null, env: {}, timeoutMs: 0, killGraceMs: 500, logPath, outputLimitBytes: 1024 * 1024, ...spec });
  return { result, log: await fsp.readFile(logPath, 'utf8').catch(() => null), logPath, dir };
}

describe('runCommand outcomes', () => {
  test('a guard file that is gone stops the command before it starts; one that is there changes nothing the command sees', async (t) => {
    const { dir } = await makeTempRoot(t);
    const guard = join(dir, 'claim.json');
    const ran = join(dir, 'ran');
    const gone = await run(t, `touch ${ran}`, { guardPath: guard });
    assert.deepEqual(gone.result.outcome, { kind: 'exited', exitCode: GUARD_EXIT });
    await assert.rejects(fsp.stat(ran), /ENOENT/, 'the command did not run');
    await fsp.writeFile(guard, '{}');
    // $0 and the arguments are as without the guard, and so is the shell's own error line.
    const there = await run(t, `touch ${ran}; echo "$0 $#"; no-such-command-here`, { guardPath: guard });
    assert.equal((await fsp.stat(ran)).isFile(), true);
    assert.match(there.result.tail, /^\/bin\/sh 0\n\/bin\/sh: 1: no-such-command-here: not found\n/);
    // A path that is shell text stays a path.
    const odd = join(dir, '$(touch pwned) `x` ;"\'.json');
    await fsp.writeFile(odd, '{}');
    assert.equal((await run(t, 'exit 4', { guardPath: odd, cwd: dir })).result.exitCode, 4);
    await assert.rejects(fsp.stat(join(dir, 'pwned')), /ENOENT/);
  });

  test('exit 0: exited, exit code 0, output in the tail and the log, then the outcome line', async (t) => {
    const { result, log } = await run(t, 'echo out; echo err >&2');
    assert.deepEqual(result.outcome, { kind: 'exited', exitCode: 0 });
    assert.equal(result.exitCode, 0);
    assert.equal(result.signal, null);
    assert.equal(result.summary, 'exited with status 0');
    assert.match(result.tail, /out\n/);
    assert.match(result.tail, /err\n/);
    assert.ok(log?.endsWith('[exited with status 0]\n'), log ?? 'no log');
    assert.equal(result.durationMs, result.endedAt - result.startedAt);
  });

  test('a run that prints nothing leaves no log file (its outcome is in the result)', async (t) => {
    const { result, log, dir } = await run(t, 'true');
    assert.equal(result.exitCode, 0);
    assert.equal(log, null);
    assert.deepEqual(await fsp.readdir(dir), []);
  });

  test('the outcome line starts a line of its own when the output does not end with a newline', async (t) => {
    const { log } = await run(t, 'printf abc');
    assert.equal(log, 'abc\n[exited with status 0]\n');
  });

  test('a non-zero exit is data, not an exception', async (t) => {
    const { result, log } = await run(t, 'echo failing; exit 3');
    assert.deepEqual(result.outcome, { kind: 'exited', exitCode: 3 });
    assert.equal(result.exitCode, 3);
    assert.equal(result.summary, 'exited with status 3');
    assert.equal(log, 'failing\n[exited with status 3]\n');
  });

  test('a command that is not found exits 127', async (t) => {
    const { result } = await run(t, 'no-such-command-queuectl-runner');
    assert.equal(result.exitCode, 127);
    assert.match(result.tail, /not found/);
  });

  test('a command killed by a signal reports the signal and no exit code', async (t) => {
    const { result, log } = await run(t, 'kill -KILL $$');
    assert.deepEqual(result.outcome, { kind: 'signaled', signal: 'SIGKILL' });
    assert.equal(result.exitCode, null);
    assert.equal(result.signal, 'SIGKILL');
    assert.equal(result.summary, 'killed by signal SIGKILL');
    assert.equal(log, null, 'nothing printed, no log');
  });

  test('stdin is closed: a command reading it ends at once', async (t) => {
    const { result } = await run(t, 'cat; echo after cat', { timeoutMs: 5_000 });
    assert.equal(result.exitCode, 0);
    assert.equal(result.tail, 'after cat\n');
  });
});

describe('timeouts and aborts kill the whole process group', () => {
  test('a timeout SIGTERMs the group: no background or foreground child survives', async (t) => {
    const m = marker();
    const { result, log } = await run(t, `sleep ${m} & sleep ${m}`, { timeoutMs: 300 });
    assert.deepEqual(result.outcome, { kind: 'timedOut', signal: 'SIGTERM' });
    assert.equal(result.summary, 'timed out after 0.3s; killed by SIGTERM');
    assert.ok(result.durationMs >= 300 && result.durationMs < 2_000, `took ${result.durationMs}ms`);
    assert.equal(log, null, 'nothing printed, no log');
    assert.deepEqual(await pidsWithCommand(`sleep ${m}`), []);
  });

  test('a group that ignores SIGTERM is SIGKILLed after the grace', async (t) => {
    const m = marker();
    const { result } = await run(t, `trap '' TERM; sleep ${m} & sleep ${m}; echo survived`, { timeoutMs: 200, killGraceMs: 300 });
    assert.deepEqual(result.outcome, { kind: 'timedOut', signal: 'SIGKILL' });
    assert.ok(result.durationMs >= 500 && result.durationMs < 2_500, `took ${result.durationMs}ms`);
    assert.doesNotMatch(result.tail, /survived/);
    assert.deepEqual(await pidsWithCommand(`sleep ${m}`), []);
  });

  test('aborting kills the group and reports aborted', async (t) => {
    const m = marker();
    const abort = new AbortController();
    let pid = 0;
    const running = run(t, `sleep ${m} & sleep ${m}`, { abort: abort.signal, onSpawn: (p) => (pid = p) });
    await waitFor(async () => (await pidsWithCommand(`sleep ${m}`)).length >= 2, { timeoutMs: 3_000, what: 'both sleeps to start' });
    assert.ok(pid > 0, 'onSpawn gave the pid');
    abort.abort();
    const { result } = await running;
    assert.deepEqual(result.outcome, { kind: 'aborted', signal: 'SIGTERM' });
    assert.equal(result.summary, 'stopped by request; killed by SIGTERM');
    assert.deepEqual(await pidsWithCommand(`sleep ${m}`), []);
  });

  test('an already aborted signal kills the command at once', async (t) => {
    const { result } = await run(t, 'sleep 5', { abort: AbortSignal.abort() });
    assert.equal(result.outcome.kind, 'aborted');
    assert.ok(result.durationMs < 2_000);
  });

  test('the command runs in its own process group (pid = pgid), apart from the caller', async (t) => {
    let pid = 0;
    const { result } = await run(t, 'ps -o pgid= -p $$', { onSpawn: (p) => (pid = p) });
    assert.equal(Number(result.tail.trim()), pid);
    assert.notEqual(pid, process.pid);
  });

  test('a background child holding the output open does not hold the run past a short grace', async (t) => {
    const m = marker();
    t.after(async () => {
      for (const p of await pidsWithCommand(`sleep ${m}`)) process.kill(p, 'SIGKILL');
    });
    const { result } = await run(t, `sleep ${m} & echo started`);
    assert.equal(result.exitCode, 0);
    assert.ok(result.durationMs < 2_000, `took ${result.durationMs}ms`);
    assert.equal(result.tail, 'started\n');
  });
});

describe('output: capped log, bounded tail', () => {
  test('the log keeps the first output-limit bytes, a truncation marker, then the outcome', async (t) => {
    // seq 1 30000 prints 168,894 bytes.
    const { result, log } = await run(t, 'seq 1 30000', { outputLimitBytes: 10_000 });
    const full = Array.from({ length: 30000 }, (_, i) => `${i + 1}\n`).join('');
    assert.equal(result.exitCode, 0);
    assert.equal(log, `${full.slice(0, 10_000)}\n[output truncated: over the output-limit of 10000 bytes]\n[exited with status 0]\n`);
    assert.equal(result.tail, full.slice(-TAIL_BYTES), 'the tail is the true end of the output');
  });

  test('output under the limit is kept whole, and the tail is at most TAIL_BYTES', async (t) => {
    const { result, log } = await run(t, 'seq 1 1000', { outputLimitBytes: 1_000_000 });
    const full = Array.from({ length: 1000 }, (_, i) => `${i + 1}\n`).join('');
    assert.equal(log, `${full}[exited with status 0]\n`);
    assert.equal(result.tail, full.slice(-TAIL_BYTES));
  });

  test('output-limit 0 keeps no output but still the marker and the outcome', async (t) => {
    const { log, result } = await run(t, 'echo something', { outputLimitBytes: 0 });
    assert.equal(log, '\n[output truncated: over the output-limit of 0 bytes]\n[exited with status 0]\n');
    assert.equal(result.tail, 'something\n');
  });
});

describe('the environment of the command', () => {
  test('the command sees exactly the environment it is given, nothing of the worker\'s own', async (t) => {
    process.env.QUEUECTL_TEST_LEAK = 'leaked'; // in this process's environment: it must not reach the job
    t.after(() => {
      delete process.env.QUEUECTL_TEST_LEAK;
    });
    const { result } = await run(t, 'printf "%s|%s|%s" "$GREETING" "$PATH" "${QUEUECTL_TEST_LEAK-unset}"', { env: { GREETING: 'hello world', PATH: '/usr/bin:/bin' } });
    assert.equal(result.tail, 'hello world|/usr/bin:/bin|unset');
  });

  test('the command runs in the given cwd', async (t) => {
    const { dir } = await makeTempRoot(t);
    const { result } = await run(t, 'pwd', { cwd: dir });
    assert.equal(result.tail, `${dir}\n`);
  });

  test('a cwd that does not exist is a spawn failure, returned as data', async (t) => {
    const { dir } = await makeTempRoot(t);
    const { result } = await run(t, 'echo never', { cwd: join(dir, 'missing') });
    assert.equal(result.outcome.kind, 'spawnFailed');
    assert.equal(result.exitCode, null);
    assert.equal(result.signal, null);
    assert.match(result.summary, /^could not start: /);
  });
});
