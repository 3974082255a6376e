// The environment a job starts from: the one queuectl was started with, plus the job's env and the
// QUEUECTL_ variables. Nothing queuectl sets for itself reaches it: UV_THREADPOOL_SIZE (set by the CLI
// for its file I/O) and the colour setting of `worker start --detach`.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { resolveConfig } from '../src/config.js';
import { enqueueJobs } from '../src/enqueue.js';
import { openStore } from '../src/store.js';
import { startWorkerPool, type WorkerEvent } from '../src/pool.js';
import { CLI, explain, makeTempRoot, runCli, waitFor } from './helpers.js';
import { enqueue, makeQueue, processGone, waitForState } from './worker-helpers.js';

/** NAME=VALUE lines of `env` as a map. */
const parseEnv = (text: string) => new Map(text.split('\n').filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));

describe('the environment of a job', () => {
  test('startWorkerPool({env}): a job sees that env, its own env and QUEUECTL_*, not the process environment', async (t) => {
    const { root, dir } = await makeTempRoot(t);
    const store = await openStore(root);
    const out = join(dir, 'env.txt');
    await enqueueJobs(store, [{ spec: { id: 'envjob', command: `env > ${out}`, env: { OWN: 'mine' } }, label: 'job' }], { now: Date.now(), maxRetries: 0, cwd: dir });
    process.env.QUEUECTL_TEST_PROCESS_ONLY = 'leak';
    t.after(() => delete process.env.QUEUECTL_TEST_PROCESS_ONLY);
    const events: WorkerEvent[] = [];
    const pool = await startWorkerPool({
      store,
      config: resolveConfig({ 'heartbeat-interval': 50, 'stale-after': 600, 'poll-interval': 200, retention: 0 }),
      count: 1,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', GIVEN: 'base', OWN: 'overridden' },
      onEvent: (e) => events.push(e),
    });
    t.after(async () => {
      pool.stop('force');
      await pool.done;
    });
    await waitFor(() => events.some((e) => e.type === 'completed' || e.type === 'dead'), { timeoutMs: 10_000, what: 'the job to finish' });
    const env = parseEnv(await fsp.readFile(out, 'utf8'));
    assert.equal(env.get('GIVEN'), 'base');
    assert.equal(env.get('OWN'), 'mine', "the job's own env wins over the base");
    assert.equal(env.get('QUEUECTL_JOB_ID'), 'envjob');
    assert.equal(env.get('QUEUECTL_ROOT'), root);
    assert.equal(env.get('QUEUECTL_TEST_PROCESS_ONLY'), undefined, 'the worker process environment is not inherited');
  });

  test('worker start: no UV_THREADPOOL_SIZE unless the user set it; the rest of its environment is passed on', async (t) => {
    for (const userPool of [undefined, '7']) {
      const q = await makeQueue(t);
      const out = join(q.dir, 'env.txt');
      const id = await enqueue(q, `env > ${out}`);
      const env: NodeJS.ProcessEnv = { ...process.env, MARKER_FROM_USER: 'yes', NO_COLOR: '1' };
      if (userPool === undefined) delete env.UV_THREADPOOL_SIZE;
      else env.UV_THREADPOOL_SIZE = userPool;
      const child = spawn(process.execPath, [CLI, 'worker', 'start', '--root', q.root], { cwd: q.dir, env, stdio: 'ignore' });
      t.after(() => child.kill('SIGKILL'));
      await waitForState(q.root, id, 'completed');
      child.kill('SIGTERM');
      const vars = parseEnv(await fsp.readFile(out, 'utf8'));
      assert.equal(vars.get('MARKER_FROM_USER'), 'yes');
      assert.equal(vars.get('UV_THREADPOOL_SIZE'), userPool, 'queuectl sets it for itself, not for jobs');
      assert.equal(vars.get('QUEUECTL_JOB_ID'), id);
    }
  });

  test('worker start --detach: jobs see neither NO_COLOR nor UV_THREADPOOL_SIZE; a user NO_COLOR is kept', async (t) => {
    for (const userNoColor of [undefined, 'mine']) {
      const q = await makeQueue(t);
      const out = join(q.dir, 'env.txt');
      const id = await enqueue(q, `env > ${out}`);
      const r = await runCli(['worker', 'start', '--detach'], { root: q.root, cwd: q.dir, env: { NO_COLOR: userNoColor, UV_THREADPOOL_SIZE: undefined } });
      assert.equal(r.code, 0, explain(r));
      const pid = Number(/\(pid (\d+)\)/.exec(r.stdout)?.[1]);
      await waitForState(q.root, id, 'completed');
      assert.equal((await runCli(['worker', 'stop'], { root: q.root })).code, 0);
      await waitFor(() => processGone(pid), { timeoutMs: 5_000, what: 'the background worker to exit' });
      const vars = parseEnv(await fsp.readFile(out, 'utf8'));
      assert.equal(vars.get('NO_COLOR'), userNoColor, `NO_COLOR with the user's ${userNoColor ?? 'none'}`);
      assert.equal(vars.get('UV_THREADPOOL_SIZE'), undefined);
      // The log has no escape codes all the same (--no-color).
      assert.doesNotMatch(await fsp.readFile(join(q.root, 'logs', 'workers.log'), 'utf8'), /\x1b\[/);
    }
  });
});
