// A root on a filesystem that ignores case in names (macOS's default, WSL's /mnt/c): ids that differ only
// in case are one id, so a second one is refused instead of overwriting the first's record. The filesystem
// is real: a FUSE passthrough that folds case (test/fixtures/casefold-fs.py; Debian's python3-fusepy),
// because this kernel has no case-folding ext4 or xfs.

import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { makeTempRoot, REPO, runCli, waitFor } from './helpers.js';
import { startWorker, waitForState } from './worker-helpers.js';

const PYTHON = '/usr/bin/python3';
const why = process.getuid?.() !== 0 ? 'needs root (FUSE mount)'
  : !existsSync('/dev/fuse') ? 'no /dev/fuse'
  : spawnSync(PYTHON, ['-c', 'import fusepy']).status !== 0 ? 'python3-fusepy is not installed (apt-get install python3-fusepy)'
  : false;

describe('a root on a filesystem that ignores case', { skip: why }, () => {
  test('the root knows it; Job1 and job1 are one id: refused at enqueue, in a batch, and for a dropped file', async (t) => {
    const tmp = await makeTempRoot();
    const back = join(tmp.dir, 'back');
    const mnt = join(tmp.dir, 'mnt');
    await fsp.mkdir(back);
    await fsp.mkdir(mnt);
    let fuse: ChildProcess | undefined;
    let worker: { kill(s: NodeJS.Signals): void; waitForExit(ms?: number): Promise<unknown> } | undefined;
    t.after(async () => {
      worker?.kill('SIGKILL');
      await worker?.waitForExit().catch(() => {});
      spawnSync('fusermount', ['-uz', mnt]);
      fuse?.kill('SIGKILL');
      await tmp.cleanup();
    });
    const log = await fsp.open(join(tmp.dir, 'fuse.log'), 'w');
    fuse = spawn(PYTHON, [join(REPO, 'test', 'fixtures', 'casefold-fs.py'), back, mnt], { stdio: ['ignore', log.fd, log.fd] });
    await waitFor(() => spawnSync('mountpoint', ['-q', mnt]).status === 0, { what: 'the case-folding filesystem to be mounted' });
    const root = join(mnt, 'q');
    const cli = (args: string[], input?: string) => runCli(['--root', root, ...args], { input, timeoutMs: 30_000 });

    assert.equal((await cli(['enqueue', JSON.stringify({ id: 'Job1', command: 'echo first' })])).code, 0);
    assert.ok(existsSync(join(root, 'case-insensitive')), 'the root records that its filesystem ignores case');
    const second = await cli(['enqueue', JSON.stringify({ id: 'job1', command: 'echo second' })]);
    assert.equal(second.code, 2, second.stderr);
    assert.match(second.stderr, /id "job1" is already used by a job \(pending\)/);
    const batch = await cli(['enqueue', '-'], '{"id":"a1","command":"true"}\n{"id":"A1","command":"true"}');
    assert.equal(batch.code, 2);
    assert.match(batch.stderr, /duplicate id "A1" \(also used by line 1 of stdin of this batch as "a1"; this root's filesystem ignores case/);
    const show = await cli(['show', 'JOB1', '--json']);
    assert.equal(JSON.parse(show.stdout).command, 'echo first', 'show finds it under any case');

    // A dropped file named after a taken id (in another case) gets a generated id, never Job1's record.
    await fsp.writeFile(join(tmp.dir, 'drop'), JSON.stringify({ command: 'echo dropped' }));
    await fsp.copyFile(join(tmp.dir, 'drop'), join(root, 'tmp', 'JOB1.producer'));
    await fsp.rename(join(root, 'tmp', 'JOB1.producer'), join(root, 'pending', 'JOB1.json'));
    const q = { root, dir: tmp.dir, ledger: join(tmp.dir, 'ledger') };
    worker = await startWorker(q as never);
    const job = await waitForState(root, 'Job1', 'completed', 20_000);
    assert.equal(job.command, 'echo first');
    await waitFor(async () => (await fsp.readdir(join(root, 'pending'))).filter((n) => !n.startsWith('.')).length === 0, { timeoutMs: 20_000, what: 'the dropped file to be taken in and run' });
    const list = JSON.parse((await cli(['list', '--state', 'completed', '--json'])).stdout) as { id: string; command: string; source?: string }[];
    const dropped = list.find((j) => j.source === 'JOB1.json');
    assert.ok(dropped, JSON.stringify(list));
    assert.notEqual(dropped.id.toLowerCase(), 'job1');
    assert.equal(dropped.command, 'echo dropped');
  });
});
