// `npm run torture`: every case at full scale, one after the other, each printing its figures; exits 1
// when any case fails (any job lost, duplicated beyond the guarantee, or stuck). Figures are also written
// to test-output/torture-figures.json.
//
//   npm run torture                       all cases, full scale
//   npm run torture -- 3 8                only cases 3 and 8
//   npm run torture -- --short            the short scale (what npm test runs)
//   TORTURE_SEED=42 npm run torture       replay a seed (printed at the start)

import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { CASES } from './cases.js';
import { Ctx, emptyFigures, type Figures, formatFigures, REPO } from './lib.js';

const args = process.argv.slice(2);
const scale = args.includes('--short') ? 'short' : 'full';
const only = args.filter((a) => !a.startsWith('-'));
const seed = Number(process.env.TORTURE_SEED ?? Date.now() % 1_000_000);

const selected = CASES.filter((c) => only.length === 0 || only.includes(c.id) || only.includes(c.key));
if (selected.length === 0) {
  console.error(`No case matches ${only.join(' ')}; cases: ${CASES.map((c) => `${c.id} (${c.key})`).join(', ')}`);
  process.exit(2);
}
console.log(`queuectl torture: ${selected.length} cases, scale ${scale}, seed ${seed} (replay: TORTURE_SEED=${seed})`);
const t0 = Date.now();
const results: { figures: Figures; error?: string }[] = [];
for (const c of selected) {
  const ctx = new Ctx({ scale, seed, log: (l) => console.log(`  . ${l}`) });
  console.log(`\n== ${c.id}. ${c.title}`);
  const started = Date.now();
  let figures: Figures = emptyFigures(`${c.id} ${c.key}`);
  let error: string | undefined;
  try {
    figures = await c.run(ctx);
  } catch (err) {
    error = (err as Error).stack ?? String(err);
    figures = (err as { figures?: Figures }).figures ?? figures;
    if (!figures.timeMs) figures.timeMs = Date.now() - started;
  } finally {
    await ctx.cleanup();
  }
  results.push({ figures, error });
  console.log(`${error ? 'FAIL' : 'ok  '} ${formatFigures(figures)}`);
  for (const n of figures.notes) console.log(`     - ${n}`);
  if (error) console.log(`     ${error.split('\n').slice(0, 25).join('\n     ')}`);
}

const total = Date.now() - t0;
console.log(`\n== figures (scale ${scale}, seed ${seed}, ${(total / 1000).toFixed(0)}s)`);
for (const r of results) console.log(`${r.error ? 'FAIL' : 'ok  '} ${formatFigures(r.figures)}`);
await fsp.mkdir(join(REPO, 'test-output'), { recursive: true });
await fsp.writeFile(join(REPO, 'test-output', `torture-figures${scale === 'short' ? '-short' : ''}.json`),
  `${JSON.stringify({ scale, seed, totalMs: total, at: new Date().toISOString(), results }, null, 2)}\n`);
const failed = results.filter((r) => r.error);
if (failed.length) {
  console.log(`\n${failed.length} case(s) failed: ${failed.map((r) => r.figures.case).join(', ')}`);
  process.exitCode = 1;
} else console.log('\nall cases passed: nothing lost, nothing duplicated beyond the guarantee, nothing stuck');
