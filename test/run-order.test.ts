// A run's log keeps stdout and stderr in the order the command wrote them (src/runner.ts joins them
// into one pipe). With two pipes, `echo o1; echo e1 >&2; echo o2` was logged o1 o2 e1 in 395 runs of 400.

import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { runCommand } from '../src/runner.js';
import { makeTempRoot } from './helpers.js';

async function runLogged(dir: string, name: string, command: string) {
  const logPath = join(dir, `${name}.log`);
  const result = await runCommand({ command, cwd: null, env: {}, timeoutMs: 0, killGraceMs: 500, logPath, outputLimitBytes: 1 << 20 });
  return { result, log: await fsp.readFile(logPath, 'utf8').catch(() => null) };
}

describe('the order of stdout and stderr in a run log', () => {
  test('echo o1; echo e1 >&2; echo o2 is logged o1 e1 o2, in each of 20 runs', async (t) => {
    const { dir } = await makeTempRoot(t);
    const logs: string[] = [];
    for (let i = 0; i < 20; i++) logs.push((await runLogged(dir, `r${i}`, 'echo o1; echo e1 >&2; echo o2')).log ?? '');
    assert.deepEqual(logs.filter((l) => l !== 'o1\ne1\no2\n[exited with status 0]\n'), [], 'every log in the written order');
  });

  test("the command's own redirections still apply, and error messages keep their line numbers", async (t) => {
    const { dir } = await makeTempRoot(t);
    const quiet = await runLogged(dir, 'quiet', 'ls /nonexistent-queuectl 2>/dev/null; echo after');
    assert.equal(quiet.log, 'after\n[exited with status 0]\n');
    const missing = await runLogged(dir, 'missing', 'no-such-command-queuectl-order');
    assert.match(missing.log ?? '', /^\S+: 1: no-such-command-queuectl-order: not found\n\[exited with status 127\]\n$/);
    assert.match(missing.result.tail, /not found/);
  });

  test('a command of the largest accepted size (131071 bytes) still runs', async (t) => {
    const { dir } = await makeTempRoot(t);
    const command = `echo big; : ${'x'.repeat(131_071 - 'echo big; : '.length)}`;
    assert.equal(Buffer.byteLength(command), 131_071);
    const { result, log } = await runLogged(dir, 'big', command);
    assert.deepEqual(result.outcome, { kind: 'exited', exitCode: 0 });
    assert.equal(log, 'big\n[exited with status 0]\n');
  });
});
