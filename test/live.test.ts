// A running worker and the world around it: `config set` applied without a restart, a closed terminal
// (SIGHUP) taken as a graceful stop, and requests (stop, cancel) that are never read half-written or lost.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { requestPath, takeRequestSync, writeRequest } from '../src/lifecycle.js';
import { openStore } from '../src/store.js';
import { waitFor } from './helpers.js';
import { enqueue, ledgerLines, makeQueue, readJobFile, startWorker, waitForState } from './worker-helpers.js';

describe('config set reaches running workers', () => {
  test('a new backoff-base applies to the next failure, a new timeout to the next job, within a heartbeat', async (t) => {
    const q = await makeQueue(t); // backoff-base 1 in the test config
    const w = await startWorker(q);
    await q.ok(['config', 'set', 'backoff-base', '3']);
    await q.ok(['config', 'set', 'timeout', '500ms']);
    await w.waitForOutput(/config changed: .*backoffBase/);
    const failing = await enqueue(q, 'exit 3', ['--max-retries', '1']);
    const retry = await waitFor(async () => {
      const { state, job } = await readJobFile(q.root, failing).catch(() => ({ state: null, job: null }));
      return state === 'pending' && job && job.attempts === 1 ? job : null;
    }, { what: 'the failed job to wait for its retry' });
    const waited = Date.parse(retry.available_at) - Date.parse(retry.history![0].ended_at);
    assert.ok(Math.abs(waited - 3_000) < 300, `the retry waits backoff-base^1 = 3s, not the 1s the worker started with: ${waited} ms`);
    const slow = await enqueue(q, 'sleep 5', ['--max-retries', '0']);
    const job = await waitForState(q.root, slow, 'dead', 5_000);
    assert.equal(job.history![0].reason, 'timeout');
  });

  test('config set refuses a stale-after below twice heartbeat-interval, naming both keys, and changes nothing', async (t) => {
    const q = await makeQueue(t); // heartbeat-interval 50ms
    const before = await fsp.readFile(join(q.root, 'config.json'), 'utf8');
    const r = await q.cli(['config', 'set', 'stale-after', '80ms']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /stale-after \(80ms\) must be at least twice heartbeat-interval \(50ms\)/);
    assert.equal(await fsp.readFile(join(q.root, 'config.json'), 'utf8'), before);
    const r2 = await q.cli(['config', 'set', 'heartbeat-interval', '1s']);
    assert.equal(r2.code, 2);
    assert.match(r2.stderr, /stale-after \(600ms\) must be at least twice heartbeat-interval \(1s\)/);
  });

  test('a config file edited by hand into an unusable one is not applied: the worker says so and keeps going', async (t) => {
    const q = await makeQueue(t);
    const w = await startWorker(q);
    await fsp.writeFile(join(q.root, 'config.json'), JSON.stringify({ 'heartbeat-interval': '50ms', 'stale-after': '60ms' }));
    await w.waitForOutput(/config not applied, keeping the running one: stale-after/);
    const id = await enqueue(q, 'true');
    await waitForState(q.root, id, 'completed');
  });
});

describe('SIGHUP (the terminal closed)', () => {
  test('a foreground worker takes SIGHUP as a graceful stop: its job finishes, no attempt is lost', async (t) => {
    const q = await makeQueue(t);
    const w = await startWorker(q);
    const id = await enqueue(q, `sleep 1; echo done >> ${q.ledger}`);
    await w.waitForOutput(new RegExp(`processing ${id}`));
    w.kill('SIGHUP');
    const exit = await w.waitForExit(10_000);
    assert.deepEqual(exit, { code: 0, signal: null });
    const job = await waitForState(q.root, id, 'completed');
    assert.deepEqual(job.history!.map((h) => h.reason), ['completed']);
    assert.deepEqual(await ledgerLines(q), ['done']);
  });
});

describe('requests to workers', () => {
  test('a request is never seen half-written: another process reading it in a loop sees all of it or nothing', async (t) => {
    const q = await makeQueue(t);
    await q.ok(['status']);
    const store = await openStore(q.root);
    const path = requestPath(store, 'wtest000001', 'stop');
    // A reader in its own process, reading as fast as it can until told to stop.
    const reader = spawn(process.execPath, ['-e', `
      const fs = require('fs'); const bad = new Set(); let reads = 0;
      const stop = Date.now() + 60000;
      while (!fs.existsSync(${JSON.stringify(`${path}.done`)}) && Date.now() < stop) {
        try { const t = fs.readFileSync(${JSON.stringify(path)}, 'utf8'); reads++; if (t !== 'force\\n') bad.add(JSON.stringify(t)); } catch {}
      }
      console.log(JSON.stringify({ reads, bad: [...bad] }));
    `]);
    let out = '';
    reader.stdout.on('data', (d) => (out += d));
    const closed = new Promise((r) => reader.on('close', r));
    for (let i = 0; i < 300; i++) {
      await writeRequest(store, 'wtest000001', 'stop', 'force');
      assert.equal(takeRequestSync(store, 'wtest000001', 'stop'), 'force');
    }
    await fsp.writeFile(`${path}.done`, '');
    await closed;
    const seen = JSON.parse(out) as { reads: number; bad: string[] };
    assert.ok(seen.reads > 0, 'the reader saw the request');
    assert.deepEqual(seen.bad, [], 'never an empty or partial request');
  });

  test('a request written while the previous one is being taken is a new one, not lost', async (t) => {
    const q = await makeQueue(t);
    await q.ok(['status']);
    const store = await openStore(q.root);
    await writeRequest(store, 'wtest000002', 'cancel', 'claim-a.json');
    assert.equal(takeRequestSync(store, 'wtest000002', 'cancel'), 'claim-a.json');
    await writeRequest(store, 'wtest000002', 'cancel', 'claim-b.json');
    assert.equal(takeRequestSync(store, 'wtest000002', 'cancel'), 'claim-b.json');
    assert.equal(takeRequestSync(store, 'wtest000002', 'cancel'), null);
    assert.deepEqual((await fsp.readdir(store.tmp)).filter((n) => n.startsWith('req')), [], 'taken requests leave nothing in tmp/');
  });
});
