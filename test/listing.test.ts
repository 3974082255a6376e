// The listing engine (src/listing.ts): one display state and one order per state, the same for the
// engine, `queuectl list`, `queuectl dlq list` and /api/jobs. The run order is checked against what a real
// worker does: the jobs a single worker runs come out in the order the listing promised.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { pendingName } from '../src/lifecycle.js';
import { displayStateOf, listJobsPage, type ListState, pendingNameState, runOrderKey } from '../src/listing.js';
import { openStore } from '../src/store.js';
import { waitFor } from './helpers.js';
import { completedCount, makeQueue, type Queue, readJobFile, startWorker } from './worker-helpers.js';

/** Ids from `list --json` / `dlq list --json` (an array of jobs, or an object holding one). */
function idsOf(stdout: string): string[] {
  const parsed = JSON.parse(stdout) as { id: string }[] | { jobs: { id: string }[] };
  return (Array.isArray(parsed) ? parsed : parsed.jobs).map((j) => j.id);
}

async function engineIds(q: Queue, state: ListState | 'all', limit = 100): Promise<string[]> {
  const store = await openStore(q.root);
  return (await listJobsPage(store, { state, limit, now: Date.now() })).jobs.map((j) => j.id);
}

/** Enqueues jobs given as JSON specs, in one batch (NDJSON on stdin). */
async function enqueueSpecs(q: Queue, specs: Record<string, unknown>[]): Promise<void> {
  await q.ok(['enqueue', '-'], { input: specs.map((s) => JSON.stringify(s)).join('\n') });
}

const ago = (ms: number) => new Date(Date.now() - ms).toISOString();

describe('display state and run order (pure)', () => {
  test('displayStateOf decides pending, scheduled, failed from folder, attempts and available_at', () => {
    const now = 1_800_000_000_000;
    assert.equal(displayStateOf('pending', 0, now, now), 'pending');
    assert.equal(displayStateOf('pending', 0, now + 1, now), 'scheduled');
    assert.equal(displayStateOf('pending', 1, now + 1, now), 'failed');
    assert.equal(displayStateOf('pending', 2, now - 1, now), 'failed', 'a retry that is due is still failed');
    for (const folder of ['processing', 'completed', 'dead'] as const) assert.equal(displayStateOf(folder, 3, now + 1, now), folder);
    assert.equal(pendingNameState('dropped-by-hand.json', now), 'pending');
    assert.equal(pendingNameState(pendingName({ id: 'x', priority: 0, attempts: 1, available_at: new Date(now + 5).toISOString() }), now), 'failed');
  });

  test('runOrderKey sorts dropped files first, then due jobs by priority, then future jobs by time', () => {
    const now = 1_800_000_000_000;
    const name = (id: string, priority: number, at: number, attempts = 0) => pendingName({ id, priority, attempts, available_at: new Date(at).toISOString() });
    const names = [
      name('future-late-p-9', -9, now + 60_000),
      name('due-p0-old', 0, now - 50_000),
      name('future-soon-p5', 5, now + 1_000),
      name('due-pm5', -5, now - 1_000),
      'hand-dropped.json',
      name('due-p0-new', 0, now - 1_000),
      name('future-soon-p1', 1, now + 1_000),
      name('due-p0-old-retry', 0, now - 50_000, 2),
    ];
    const sorted = [...names].sort((a, b) => (runOrderKey(a, now) < runOrderKey(b, now) ? -1 : 1));
    assert.deepEqual(sorted.map((n) => n.replace(/^\d{13}-\d{4}-\d{3}-/, '')), [
      'hand-dropped.json',
      'due-pm5.json',
      'due-p0-old.json',
      'due-p0-old-retry.json',
      'due-p0-new.json',
      'future-soon-p1.json',
      'future-soon-p5.json',
      'future-late-p-9.json',
    ]);
  });
});

describe('one listing for the CLI and the page', () => {
  test('pending lists in the order a worker takes the jobs, and completed newest finished first', async (t) => {
    const q = await makeQueue(t);
    await enqueueSpecs(q, [
      { id: 'z-p0-old', command: 'true', priority: 0, run_at: ago(60_000) },
      { id: 'a-p0-new', command: 'true', priority: 0, run_at: ago(10_000) },
      { id: 'm-pm5', command: 'true', priority: -5, run_at: ago(5_000) },
      { id: 'b-p5', command: 'true', priority: 5, run_at: ago(100_000) },
      { id: 'c-pm5-old', command: 'true', priority: -5, run_at: ago(50_000) },
      { id: 'd-p0-mid', command: 'true', priority: 0, run_at: ago(30_000) },
    ]);
    const expected = ['c-pm5-old', 'm-pm5', 'z-p0-old', 'd-p0-mid', 'a-p0-new', 'b-p5'];
    assert.deepEqual(await engineIds(q, 'pending'), expected);
    assert.deepEqual(idsOf(await q.ok(['list', '--state', 'pending', '--json'])), expected, 'list --state pending');
    assert.deepEqual(idsOf(await q.ok(['list', '--json'])), expected, 'list (all)');

    // One worker slot runs them one at a time: in the order the listing promised.
    const w = await startWorker(q, ['--count', '1']);
    await waitFor(async () => (await completedCount(q.root)) === expected.length, { what: 'all six jobs to complete', timeoutMs: 20_000 });
    w.kill('SIGTERM');
    await w.waitForExit();
    const started = await Promise.all(expected.map(async (id) => ({ id, at: (await readJobFile(q.root, id)).job.history![0].started_at })));
    assert.deepEqual(started.sort((a, b) => a.at.localeCompare(b.at)).map((s) => s.id), expected, 'the order the worker ran them');

    // Newest finished first: the reverse of the run order, which is not the id order.
    const newest = [...expected].reverse();
    assert.deepEqual(await engineIds(q, 'completed'), newest);
    assert.deepEqual(idsOf(await q.ok(['list', '--state', 'completed', '--json'])), newest, 'list --state completed');
    // Page by page with the cursor: the same order, each job once.
    const store = await openStore(q.root);
    const paged: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await listJobsPage(store, { state: 'completed', limit: 4, now: Date.now(), cursor });
      paged.push(...page.jobs.map((j) => j.id));
      cursor = page.next_cursor ?? undefined;
    } while (cursor);
    assert.deepEqual(paged, newest);
  });

  test('scheduled lists in the order the jobs become due, failed in the order they will be retried', async (t) => {
    const q = await makeQueue(t, { 'backoff-base': '100' });
    const at = (ms: number) => new Date(Date.now() + ms).toISOString();
    const half = at(1_800_000);
    await enqueueSpecs(q, [
      { id: 's-1h', command: 'true', priority: 5, run_at: at(3_600_000) },
      { id: 's-30m-p0', command: 'true', priority: 0, run_at: half },
      { id: 's-2h-pm9', command: 'true', priority: -9, run_at: at(7_200_000) },
      { id: 's-30m-pm1', command: 'true', priority: -1, run_at: half },
    ]);
    const scheduled = ['s-30m-pm1', 's-30m-p0', 's-1h', 's-2h-pm9'];
    assert.deepEqual(await engineIds(q, 'scheduled'), scheduled);
    assert.deepEqual(idsOf(await q.ok(['list', '--state', 'scheduled', '--json'])), scheduled);

    // Failing jobs wait 100 s for their retry: failed, in the order of their retry times.
    await enqueueSpecs(q, [
      { id: 'f-p3', command: 'exit 1', priority: 3 },
      { id: 'f-pm3', command: 'exit 1', priority: -3 },
      { id: 'f-p0', command: 'exit 1', priority: 0 },
    ]);
    const w = await startWorker(q, ['--count', '1']);
    const store = await openStore(q.root);
    await waitFor(async () => (await listJobsPage(store, { state: 'failed', limit: 10, now: Date.now() })).jobs.length === 3, { what: 'three failed jobs', timeoutMs: 15_000 });
    w.kill('SIGTERM');
    await w.waitForExit();
    const failed = ['f-pm3', 'f-p0', 'f-p3']; // run (and so failed) in priority order; each retry 100 s after
    const retryAt = await Promise.all(failed.map(async (id) => (await readJobFile(q.root, id)).job.available_at));
    assert.deepEqual([...retryAt].sort(), retryAt, 'retry times in that order');
    assert.deepEqual(await engineIds(q, 'failed'), failed);
    assert.deepEqual(idsOf(await q.ok(['list', '--state', 'failed', '--json'])), failed);
    assert.deepEqual(idsOf(await q.ok(['list', '--json'])), [...scheduled, ...failed], 'all: the states one after the other');
  });

  test('dead lists newest death first, the same in dlq list, list --state dead, and the engine', async (t) => {
    const q = await makeQueue(t);
    await enqueueSpecs(q, ['z', 'a', 'm'].map((id) => ({ id, command: 'true', delay: '1h' })));
    for (const id of ['z', 'a', 'm']) await q.ok(['cancel', id]);
    const newest = ['m', 'a', 'z']; // not the id order either way
    assert.deepEqual(await engineIds(q, 'dead'), newest);
    assert.deepEqual(idsOf(await q.ok(['dlq', 'list', '--json'])), newest, 'dlq list');
    assert.deepEqual(idsOf(await q.ok(['list', '--state', 'dead', '--json'])), newest, 'list --state dead');
    assert.deepEqual(await engineIds(q, 'dead', 2), ['m', 'a'], 'a limit keeps the newest');
  });
});
