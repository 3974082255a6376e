// The README's producers, run AS WRITTEN: each fenced block after a `<!-- producer: LANG -->` marker in
// README.md is taken from the file (never copied here), saved as a script and run by its interpreter (dash
// for sh, python3, node) with QUEUECTL_ROOT set, against a real worker. Each prints the id it enqueued; that
// job must complete with the output its command gives, and nothing may end in quarantine/.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { readmeBlocks } from './readme-blocks.js';
import { folder, makeQueue, startWorker, waitForState } from './worker-helpers.js';

const hasPython = spawnSync('python3', ['--version']).status === 0;

/** How each producer runs, and what its job prints. */
const PRODUCERS: Record<string, { file: string; argv: (file: string) => string[]; output: string; skip?: string | false }> = {
  sh: { file: 'producer.sh', argv: (f) => ['sh', f], output: 'hello from sh\n' },
  python: { file: 'producer.py', argv: (f) => ['python3', f], output: 'hello from python\n', skip: !hasPython && 'python3 is not installed (apt-get install python3)' },
  node: { file: 'producer.mjs', argv: (f) => [process.execPath, f], output: 'hello from node hi\n' },
};

describe('the README\'s producers, as written', () => {
  test('the README marks exactly the sh, Python and Node producers, each with its language', () => {
    const blocks = readmeBlocks('producer');
    assert.deepEqual([...blocks.keys()].sort(), ['node', 'python', 'sh']);
    assert.deepEqual([...blocks.entries()].map(([k, b]) => [k, b.lang]).sort(), [['node', 'js'], ['python', 'python'], ['sh', 'sh']]);
  });

  for (const [name, p] of Object.entries(PRODUCERS)) {
    test(`${name}: its job is taken in by a real worker and runs`, { skip: p.skip }, async (t) => {
      const block = readmeBlocks('producer').get(name);
      assert.ok(block, `README.md has a block marked <!-- producer: ${name} -->`);
      const q = await makeQueue(t);
      await startWorker(q); // the root exists from here on
      const script = join(q.dir, p.file);
      await fsp.writeFile(script, block.code);
      const [cmd, ...args] = p.argv(script);
      // Twice: two runs of one producer must not pick the same name.
      const ids: string[] = [];
      for (let i = 0; i < 2; i++) {
        const r = spawnSync(cmd, args, { cwd: q.dir, encoding: 'utf8', env: { ...process.env, QUEUECTL_ROOT: q.root }, timeout: 30_000 });
        assert.equal(r.status, 0, `${cmd} ${p.file}: ${r.stdout}${r.stderr}`);
        assert.equal(r.stderr, '');
        ids.push(r.stdout.trim());
      }
      assert.notEqual(ids[0], ids[1]);
      for (const id of ids) {
        const job = await waitForState(q.root, id, 'completed', 30_000);
        assert.equal(job.output_tail, p.output, `${name} job ${id}`);
        assert.equal(job.source, `${id}.json`, 'taken in from the file the producer renamed into pending/');
      }
      assert.deepEqual(await folder(q.root, 'quarantine'), []);
      assert.deepEqual((await folder(q.root, 'tmp')).filter((n) => n.startsWith('producer.')), [], 'nothing left in tmp/');
    });
  }
});
