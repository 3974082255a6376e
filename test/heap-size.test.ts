// keepHeapSmall (src/cli/heap-size.ts), in a real node process each: under allocation that survives a
// while (as a worker's per-job garbage does) V8's new space keeps the size it had and the old space stays
// near what it holds; a size the user chose on node's command line or in NODE_OPTIONS is left alone, by
// `worker start --detach` too.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { heapSizeFlags } from '../src/cli/heap-size.js';
import { makeTempRoot, runCli, waitFor } from './helpers.js';

const MODULE = pathToFileURL(join(import.meta.dirname, '..', 'src', 'cli', 'heap-size.ts')).href;

interface Probe { set: { young: boolean; old: boolean } | null; atCallMb: number; newSpaceMb: number; oldPeakMb: number }

/**
 * Runs a node process that calls keepHeapSmall (or not), keeps ~3 MB alive, then allocates objects that
 * each outlive a few scavenges (a ring of 50,000), and reports the new space's size at the end and the
 * old space's largest size along the way.
 */
function probe(opts: { call: boolean; smallYoung?: boolean; nodeFlags?: string[]; nodeOptions?: string }): Probe {
  const script = `
    import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
    if (${!!opts.smallYoung}) setFlagsFromString('--semi-space-growth-factor=1');
    const { keepHeapSmall } = await import(${JSON.stringify(MODULE)});
    const space = (name) => getHeapSpaceStatistics().find((s) => s.space_name === name).space_size / 1048576;
    const atCallMb = space('new_space');
    const set = ${opts.call} ? keepHeapSmall(process.execArgv, process.env.NODE_OPTIONS) : null;
    const kept = [];
    for (let i = 0; i < 30000; i++) kept.push({ i, s: 'k' + i, a: [i] });
    const ring = new Array(50000);
    let oldPeakMb = 0;
    for (let i = 0; i < 3e6; i++) {
      ring[i % ring.length] = { a: i, b: 's' + i, c: [i, i + 1] };
      if (i % 1000 === 0) oldPeakMb = Math.max(oldPeakMb, space('old_space'));
    }
    console.log(JSON.stringify({ set, atCallMb, newSpaceMb: space('new_space'), oldPeakMb, kept: kept.length }));
  `;
  const r = spawnSync(process.execPath, [...(opts.nodeFlags ?? []), '--import', 'tsx', '--input-type=module', '-e', script], {
    encoding: 'utf8',
    env: { ...process.env, NODE_OPTIONS: opts.nodeOptions ?? '' },
    timeout: 60_000,
  });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

describe('a worker keeps its heap small', () => {
  test('without it the new space grows under surviving garbage (the probe can tell)', () => {
    const r = probe({ call: false });
    assert.ok(r.newSpaceMb >= 4 * r.atCallMb, `new space ${r.atCallMb} -> ${r.newSpaceMb} MB`);
  });

  test('with it the new space stays at the size it had when it was called', () => {
    const r = probe({ call: true });
    assert.deepEqual(r.set, { young: true, old: true });
    assert.ok(r.newSpaceMb <= r.atCallMb, `new space ${r.atCallMb} -> ${r.newSpaceMb} MB`);
  });

  test('a young-generation size set on node\'s command line is left alone, the old generation still kept', () => {
    const r = probe({ call: true, nodeFlags: ['--max-semi-space-size=8'] });
    assert.deepEqual(r.set, { young: false, old: true });
    assert.ok(r.newSpaceMb > r.atCallMb, `new space ${r.atCallMb} -> ${r.newSpaceMb} MB`);
  });

  test('a young-generation size set in NODE_OPTIONS is left alone', () => {
    const r = probe({ call: true, nodeOptions: '--max-semi-space-size=8' });
    assert.deepEqual(r.set, { young: false, old: true });
    assert.ok(r.newSpaceMb > r.atCallMb, `new space ${r.atCallMb} -> ${r.newSpaceMb} MB`);
  });

  // With the young generation kept small (as in a worker), objects that outlive a job are promoted: the
  // old space is where the garbage then grows. The young factor is set at run time in all three (on the
  // command line V8 does not keep the semi-spaces at 1 MB: they grew to 16 MB in a probe).
  let plain: Probe | undefined;
  const without = () => (plain ??= probe({ call: false, smallYoung: true }));

  test('without it the old space grows far past what is kept (the probe can tell)', () => {
    assert.ok(without().oldPeakMb >= 30, `old space peaked at ${without().oldPeakMb} MB`);
  });

  test('with it the old space peaks far lower', () => {
    const r = probe({ call: true, smallYoung: true });
    assert.deepEqual(r.set, { young: true, old: true });
    assert.ok(r.oldPeakMb <= 0.7 * without().oldPeakMb, `old space peaked at ${r.oldPeakMb} MB, ${without().oldPeakMb} MB without`);
  });

  test('a growing percent set on node\'s command line is left alone', () => {
    const r = probe({ call: true, smallYoung: true, nodeFlags: ['--heap-growing-percent=300'] });
    assert.deepEqual(r.set, { young: true, old: false });
    assert.ok(r.oldPeakMb >= 30, `old space peaked at ${r.oldPeakMb} MB`);
  });
});

describe('worker start --detach passes a heap size on', () => {
  test('heapSizeFlags picks those flags only', () => {
    assert.deepEqual(
      heapSizeFlags(['--import', 'tsx', '--max-semi-space-size=8', '--semi-space-growth-factor=3', '--heap-growing-percent=50', '--inspect']),
      ['--max-semi-space-size=8', '--semi-space-growth-factor=3', '--heap-growing-percent=50'],
    );
    assert.deepEqual(heapSizeFlags(['--max-old-space-size=100']), []);
  });

  test('node --max-semi-space-size=8 --heap-growing-percent=50 queuectl worker start --detach: the background worker has both', async (t) => {
    const { root } = await makeTempRoot(t);
    const r = await runCli(['worker', 'start', '--detach'], { root, nodeFlags: ['--max-semi-space-size=8', '--heap-growing-percent=50'] });
    assert.equal(r.code, 0, r.stderr);
    const pid = Number(/\(pid (\d+)\)/.exec(r.stdout)?.[1]);
    assert.ok(pid > 0, r.stdout);
    t.after(async () => {
      await runCli(['worker', 'stop'], { root });
    });
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    assert.ok(argv.includes('--max-semi-space-size=8'), argv.join(' '));
    assert.ok(argv.includes('--heap-growing-percent=50'), argv.join(' '));
    const stopped = await runCli(['worker', 'stop'], { root });
    assert.equal(stopped.code, 0, stopped.stderr);
    await waitFor(() => { try { readFileSync(`/proc/${pid}/cmdline`); return false; } catch { return true; } }, { timeoutMs: 5_000, what: `the background worker (pid ${pid}) to exit` });
  });
});
