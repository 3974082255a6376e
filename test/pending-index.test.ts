// The pending index's window of jobs scheduled ahead (src/pending-index.ts): with a small futureCap it
// holds only the earliest scheduled jobs, yet hands out every job in the order a full index would, as
// their times come (a clock of the test's, no sleeping), loading the next window by rescans.

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { pendingName } from '../src/lifecycle.js';
import { PendingIndex } from '../src/pending-index.js';
import { makeTempRoot } from './helpers.js';

const T0 = Date.parse('2030-01-01T00:00:00Z');

function put(dir: string, id: string, atMs: number, priority = 0): string {
  const name = pendingName({ id, available_at: new Date(atMs).toISOString(), priority, attempts: 0, queue: undefined });
  fs.writeFileSync(join(dir, name), '{}');
  return name;
}

/** Takes every job due at the index's clock, removing its file as a claim would. */
function drain(index: PendingIndex, dir: string): string[] {
  const ids: string[] = [];
  for (let t = index.take(); t; t = index.take()) {
    assert.equal(t.kind, 'job');
    if (t.kind !== 'job') continue;
    fs.unlinkSync(join(dir, t.entry.name));
    ids.push(t.entry.id);
  }
  return ids;
}

describe('pending index: the window of scheduled jobs', () => {
  test('holds at most futureCap scheduled jobs and still runs them all in order, with due jobs by priority', async (t) => {
    const { dir } = await makeTempRoot(t);
    const pending = join(dir, 'pending');
    fs.mkdirSync(pending);
    let now = T0;
    // 40 scheduled at T0+1s..T0+40s (some share a time), 3 due now.
    for (let i = 1; i <= 40; i++) put(pending, `s${String(i).padStart(2, '0')}`, T0 + Math.ceil(i / 2) * 1000);
    put(pending, 'due-b', T0 - 10, 5);
    put(pending, 'due-a', T0 - 5, -5);
    put(pending, 'due-c', T0 - 20, 5);
    const index = new PendingIndex({ dir: pending, pollIntervalMs: 60_000, poll: true, now: () => now, futureCap: 6 });
    t.after(() => index.close());
    await index.rescan();
    assert.ok(index.size <= 3 + 6, `holds ${index.size} names, at most 3 due + 6 scheduled`);
    assert.deepEqual(drain(index, pending), ['due-a', 'due-c', 'due-b']);

    const order: string[] = [];
    for (let step = 1; step <= 20; step++) {
      now = T0 + step * 1000;
      // What the horizon's timer does near its time: a rescan loads the next window.
      await index.rescan();
      assert.ok(index.size <= 2 + 6, `step ${step}: holds ${index.size}, at most the 2 now due + 6 scheduled`);
      // A job scheduled at this step by an event, before the horizon: held and taken at once.
      order.push(...drain(index, pending));
    }
    const expected = Array.from({ length: 40 }, (_, i) => `s${String(i + 1).padStart(2, '0')}`);
    assert.deepEqual(order, expected);
  });

  test('an event for a job beyond the window is not held; one before it is; a rescan finds the rest', async (t) => {
    const { dir } = await makeTempRoot(t);
    const pending = join(dir, 'pending');
    fs.mkdirSync(pending);
    let now = T0;
    for (let i = 1; i <= 10; i++) put(pending, `s${i}`, T0 + i * 1000);
    const index = new PendingIndex({ dir: pending, pollIntervalMs: 60_000, poll: true, now: () => now, futureCap: 3 });
    t.after(() => index.close());
    await index.rescan();
    assert.equal(index.size, 3);
    index.add(put(pending, 'late', T0 + 99_000));
    assert.equal(index.size, 3, 'beyond the horizon (s4): not held');
    index.add(put(pending, 'early', T0 + 500));
    assert.equal(index.size, 4, 'before the horizon: held');
    now = T0 + 600;
    assert.deepEqual(drain(index, pending), ['early']);
    now = T0 + 200_000;
    await index.rescan();
    assert.deepEqual(drain(index, pending), ['s1', 's2', 's3', 's4', 's5', 's6', 's7', 's8', 's9', 's10', 'late']);
  });

  test('a burst of events for scheduled jobs is cut back to the window', async (t) => {
    const { dir } = await makeTempRoot(t);
    const pending = join(dir, 'pending');
    fs.mkdirSync(pending);
    let now = T0;
    const index = new PendingIndex({ dir: pending, pollIntervalMs: 60_000, poll: true, now: () => now, futureCap: 5 });
    t.after(() => index.close());
    await index.rescan();
    for (let i = 30; i >= 1; i--) index.add(put(pending, `e${i}`, T0 + i * 1000));
    assert.ok(index.size <= 10, `holds ${index.size}, at most 2 x futureCap`);
    now = T0 + 60_000;
    await index.rescan();
    assert.deepEqual(drain(index, pending), Array.from({ length: 30 }, (_, i) => `e${i + 1}`));
  });
});
