// keepYoungGenerationSmall (src/cli/young-generation.ts), in a real node process each: under allocation
// that survives (as a worker's per-job garbage does) V8's new space keeps the size it had, and a size
// the user chose on node's command line or in NODE_OPTIONS is left alone, by `worker start --detach` too.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { youngGenerationFlags } from '../src/cli/young-generation.js';
import { makeTempRoot, runCli, waitFor } from './helpers.js';

const MODULE = pathToFileURL(join(import.meta.dirname, '..', 'src', 'cli', 'young-generation.ts')).href;

/** Runs a node process that calls the function (or not), allocates, and reports the new space's size. */
function probe(opts: { call: boolean; nodeFlags?: string[]; nodeOptions?: string }): { set: boolean | null; atCallMb: number; newSpaceMb: number } {
  const script = `
    import { getHeapSpaceStatistics } from 'node:v8';
    const { keepYoungGenerationSmall } = await import(${JSON.stringify(MODULE)});
    const newSpaceMb = () => getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size / 1048576;
    const atCallMb = newSpaceMb();
    const set = ${opts.call} ? keepYoungGenerationSmall(process.execArgv, process.env.NODE_OPTIONS) : null;
    const ring = new Array(20000);
    for (let i = 0; i < 2e6; i++) ring[i % ring.length] = { a: i, b: 's' + i, c: [i, i + 1] };
    console.log(JSON.stringify({ set, atCallMb, newSpaceMb: newSpaceMb() }));
  `;
  const r = spawnSync(process.execPath, [...(opts.nodeFlags ?? []), '--import', 'tsx', '--input-type=module', '-e', script], {
    encoding: 'utf8',
    env: { ...process.env, NODE_OPTIONS: opts.nodeOptions ?? '' },
    timeout: 60_000,
  });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

describe('a worker keeps its young generation small', () => {
  test('without it the new space grows under surviving garbage (the probe can tell)', () => {
    const r = probe({ call: false });
    assert.ok(r.newSpaceMb >= 4 * r.atCallMb, `new space ${r.atCallMb} -> ${r.newSpaceMb} MB`);
  });

  test('with it the new space stays at the size it had when it was called', () => {
    const r = probe({ call: true });
    assert.equal(r.set, true);
    assert.ok(r.newSpaceMb <= r.atCallMb, `new space ${r.atCallMb} -> ${r.newSpaceMb} MB`);
  });

  test('a size set on node\'s command line is left alone', () => {
    const r = probe({ call: true, nodeFlags: ['--max-semi-space-size=8'] });
    assert.equal(r.set, false);
    assert.ok(r.newSpaceMb > r.atCallMb, `new space ${r.atCallMb} -> ${r.newSpaceMb} MB`);
  });

  test('a size set in NODE_OPTIONS is left alone', () => {
    const r = probe({ call: true, nodeOptions: '--max-semi-space-size=8' });
    assert.equal(r.set, false);
    assert.ok(r.newSpaceMb > r.atCallMb, `new space ${r.atCallMb} -> ${r.newSpaceMb} MB`);
  });
});

describe('worker start --detach passes a young-generation size on', () => {
  test('youngGenerationFlags picks those flags only', () => {
    assert.deepEqual(youngGenerationFlags(['--import', 'tsx', '--max-semi-space-size=8', '--semi-space-growth-factor=3', '--inspect']), ['--max-semi-space-size=8', '--semi-space-growth-factor=3']);
    assert.deepEqual(youngGenerationFlags(['--max-old-space-size=100']), []);
  });

  test('node --max-semi-space-size=8 queuectl worker start --detach: the background worker has it too', async (t) => {
    const { root } = await makeTempRoot(t);
    const r = await runCli(['worker', 'start', '--detach'], { root, nodeFlags: ['--max-semi-space-size=8'] });
    assert.equal(r.code, 0, r.stderr);
    const pid = Number(/\(pid (\d+)\)/.exec(r.stdout)?.[1]);
    assert.ok(pid > 0, r.stdout);
    t.after(async () => {
      await runCli(['worker', 'stop'], { root });
    });
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    assert.ok(argv.includes('--max-semi-space-size=8'), argv.join(' '));
    const stopped = await runCli(['worker', 'stop'], { root });
    assert.equal(stopped.code, 0, stopped.stderr);
    await waitFor(() => { try { readFileSync(`/proc/${pid}/cmdline`); return false; } catch { return true; } }, { timeoutMs: 5_000, what: `the background worker (pid ${pid}) to exit` });
  });
});
