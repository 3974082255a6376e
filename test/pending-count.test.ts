// The counts of pending/ (src/pending-count.ts): the same answer from a listing and from the cache, and the
// cache dropped when pending/ changes or a scheduled job it counted becomes due. The folder's mtime is set
// back with utimes to make it "quiet" (no sleeping for it).

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { readOverview } from '../src/inspect.js';
import { pendingName } from '../src/lifecycle.js';
import { tallyPending } from '../src/pending-count.js';
import { openStore, type Store } from '../src/store.js';
import { makeTempRoot } from './helpers.js';

const T0 = Date.parse('2030-01-01T00:00:00Z');

function put(store: Store, id: string, atMs: number, extra: { attempts?: number; queue?: string } = {}): string {
  const name = pendingName({ id, available_at: new Date(atMs).toISOString(), priority: 0, attempts: extra.attempts ?? 0, queue: extra.queue });
  fs.writeFileSync(join(store.pending, name), '{}');
  return name;
}
function quiet(store: Store): void {
  const past = new Date(Date.now() - 60_000);
  fs.utimesSync(store.pending, past, past);
}
const cacheFile = (store: Store) => join(store.root, 'pending.count');

describe('pending counts', () => {
  test('from a listing and from the cache alike; the cache goes when pending/ changes or a counted job falls due', async (t) => {
    const { root } = await makeTempRoot(t);
    const store = await openStore(root);
    put(store, 'due', T0 - 1000);
    put(store, 'later', T0 + 60_000);
    put(store, 'retry', T0 + 5_000, { attempts: 1 });
    put(store, 'mail1', T0 + 30_000, { queue: 'mail' });
    fs.writeFileSync(join(store.pending, 'dropped.json'), '{"command":"true"}');
    fs.writeFileSync(join(store.pending, `.stage~w1~${pendingName({ id: 'moving', available_at: new Date(T0).toISOString(), priority: 0, attempts: 0, queue: 'mail' })}`), '{}');
    const expected = { counts: { pending: 2, scheduled: 2, failed: 1 }, queues: new Map([['default', { pending: 2, scheduled: 1, failed: 1 }], ['mail', { pending: 1, scheduled: 1, failed: 0 }]]) };

    // A folder that just changed is listed and not cached.
    assert.deepEqual(await tallyPending(store, T0), expected);
    assert.equal(fs.existsSync(cacheFile(store)), false, 'no cache for a folder changed less than a second ago');

    quiet(store);
    assert.deepEqual(await tallyPending(store, T0), expected);
    assert.ok(fs.existsSync(cacheFile(store)), 'a quiet folder is cached');
    // The cache is what answers now: a tampered count shows through (and proves it was read).
    const c = JSON.parse(fs.readFileSync(cacheFile(store), 'utf8'));
    c.counts.pending = 99;
    fs.writeFileSync(cacheFile(store), JSON.stringify(c));
    assert.equal((await tallyPending(store, T0)).counts.pending, 99);

    // A job counted as scheduled falls due (mail1 at T0+30s): listed again.
    const at31 = await tallyPending(store, T0 + 31_000);
    assert.deepEqual(at31.counts, { pending: 3, scheduled: 1, failed: 1 });
    assert.deepEqual(at31.queues.get('mail'), { pending: 2, scheduled: 0, failed: 0 });

    // A file added: the folder's mtime moved, so it is listed again.
    quiet(store);
    await tallyPending(store, T0);
    put(store, 'new', T0 - 1);
    assert.equal((await tallyPending(store, T0)).counts.pending, 3);

    // A cache that is not JSON is a miss.
    quiet(store);
    fs.writeFileSync(cacheFile(store), 'garbage');
    assert.equal((await tallyPending(store, T0)).counts.pending, 3);
  });

  test('status (readOverview) counts a quiet pending/ the same from the cache as from the listing', async (t) => {
    const { root } = await makeTempRoot(t);
    const store = await openStore(root);
    const now = Date.now();
    for (let i = 0; i < 50; i++) put(store, `s${i}`, now + 3_600_000 + i);
    put(store, 'q1', now - 10, { queue: 'other' });
    quiet(store);
    const first = await readOverview(store, now, 10_000);
    assert.ok(fs.existsSync(cacheFile(store)));
    const second = await readOverview(store, now, 10_000);
    assert.deepEqual(second.counts, first.counts);
    assert.deepEqual(second.queues, first.queues);
    assert.deepEqual(first.counts, { pending: 1, scheduled: 50, failed: 0, waiting: 0, processing: 0, completed: 0, dead: 0, quarantined: 0 });
    assert.deepEqual(first.queues.map((q) => [q.name, q.pending, q.scheduled]), [['default', 0, 50], ['other', 1, 0]]);
  });
});
