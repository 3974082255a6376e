// The torture suite, short and seeded, inside `npm test` (the full one is `npm run torture`). Every case of
// test/torture/cases.ts runs at a small scale; each prints its figures (jobs, kills, lost, duplicated,
// stuck, time) as test diagnostics and fails on any loss.
//
// Any violation fails its case, including those of the bugs the suite found and that were fixed
// (F1-F13 in RELIABILITY.md): the checks for them stay, so that they cannot come back unnoticed.
//
//   TORTURE_SEED=n      replay a seed (the default is fixed, so runs are comparable)
//   TORTURE_VERBOSE=1   print each case's progress lines

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CASES } from './torture/cases.js';
import { Ctx, formatFigures } from './torture/lib.js';

const seed = Number(process.env.TORTURE_SEED ?? 20_261_128);
const verbose = !!process.env.TORTURE_VERBOSE;

for (const c of CASES) {
  const ctx = new Ctx({ scale: 'short', seed, bugsAsTodo: false, log: verbose ? (l) => console.log(`  . ${l}`) : undefined });
  test(`torture ${c.id} ${c.key}: ${c.title} (short, seed ${seed})`, { timeout: 120_000 }, async (t) => {
    try {
      const f = await c.run(ctx).catch((err: Error & { figures?: Parameters<typeof formatFigures>[0] }) => {
        if (err.figures) t.diagnostic(formatFigures(err.figures));
        throw err;
      });
      if (f.skipped) {
        t.skip(f.skipped);
        return;
      }
      t.diagnostic(formatFigures(f));
      for (const n of f.notes) t.diagnostic(`  ${n}`);
      assert.equal(f.lost, 0, 'jobs lost');
    } finally {
      await ctx.cleanup();
    }
  });
}
