// Recovery's judge of who is dead (src/recovery.ts makeJudge), on a real queue root: a worker whose
// heartbeat file appeared after the judge read workers/ (a process starting beside the one recovering)
// is alive, not "no heartbeat file"; a worker with no file, or only a file older than stale-after that
// could not be read, is dead.

import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { createHeartbeat } from '../src/heartbeat.js';
import { makeJudge } from '../src/recovery.js';
import { openStore } from '../src/store.js';
import { makeTempRoot } from './helpers.js';

test('a heartbeat that appears after the judge read workers/ is a live worker; none, or an old unreadable one, is dead', async (t) => {
  const tmp = await makeTempRoot(t);
  const store = await openStore(tmp.root);
  const now = Date.now();
  const judge = await makeJudge({ store, reference: now, staleAfterMs: 600, self: new Set(), now });
  const late = await createHeartbeat(store, 'wlate000001');
  t.after(() => late.remove());
  assert.equal(judge.deadWorker('wlate000001'), null, 'started after the judge looked: alive');
  assert.equal(judge.deadWorker('wnever00001'), 'it has no heartbeat file');
  // A file that never parses and is older than stale-after: dead, as before.
  const torn = join(store.workers, 'wtorn000001.json');
  await fsp.writeFile(torn, '{"id": "wtor');
  await fsp.utimes(torn, (now - 5_000) / 1000, (now - 5_000) / 1000);
  const again = await makeJudge({ store, reference: now, staleAfterMs: 600, self: new Set(), now });
  assert.equal(again.deadWorker('wtorn000001'), 'it has no heartbeat file');
});
