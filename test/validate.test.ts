// `queuectl validate`: for each file, whether a worker would take it, and if not the reason the quarantine
// gives. Proved against the real thing: the same files are then dropped into pending/ of a root with a real
// worker, and every reason `quarantine list` shows must be the one validate printed (the corpus of
// test/fixtures/jobs.ts, plus files that are not JSON, not regular files, too big, badly named, or whose id
// is taken). validate changes nothing, and does not create a root.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { HAVE_SCRIPT, rootPlacements, runInPty, runWithClosedStdout } from './cli-helpers.js';
import { SPEC_GROUPS } from './fixtures/jobs.js';
import { explain, listTree, makeTempRoot, runCli, waitFor } from './helpers.js';
import { folder, makeQueue, startWorker } from './worker-helpers.js';

interface Verdict {
  file: string;
  name: string;
  valid: boolean;
  reason: string | null;
  id: string | null;
  id_from: string | null;
  note: string | null;
}

/** Everything under the root, with sizes and mtimes: what "unchanged" means. */
async function fingerprint(root: string): Promise<string[]> {
  const out: string[] = [];
  for (const p of await listTree(root)) {
    const st = await fsp.lstat(join(root, p));
    out.push(`${p} ${st.size} ${st.mtimeMs} ${st.mode}`);
  }
  return out;
}

/** A minute ago: written well before it is judged, so no one waits for it to settle. */
const settled = async (path: string) => {
  const past = new Date(Date.now() - 60_000);
  await fsp.lutimes(path, past, past);
};

describe('validate gives the reason a worker quarantines with', () => {
  test('the corpus, files that are not JSON or not regular files, too big or badly named, and a taken id: validate, then drop them', { timeout: 120_000 }, async (t) => {
    const q = await makeQueue(t);
    await q.ok(['enqueue', '--id', 'taken', '--', 'true']);
    const staging = join(q.dir, 'staging');
    await fsp.mkdir(staging);
    const files: { name: string; valid: boolean }[] = [];
    let n = 0;
    for (const group of SPEC_GROUPS) {
      let good = 0;
      for (const c of group.cases) {
        const text = JSON.stringify(c.spec);
        // JSON only (a file cannot hold undefined); a few accepted ones per group, with harmless commands.
        if (text === undefined || (!c.refused && (good++ >= 2 || (c.spec as { command?: string }).command !== 'true'))) continue;
        const name = `${c.refused ? 'bad' : 'good'}-${n++}.json`;
        await fsp.writeFile(join(staging, name), text);
        files.push({ name, valid: !c.refused });
      }
    }
    const special: [string, (path: string) => Promise<unknown>, boolean][] = [
      ['half.json', (p) => fsp.writeFile(p, '{"command": "echo half'), false],
      ['array.json', (p) => fsp.writeFile(p, '[{"command": "true"}]'), false],
      ['empty.json', (p) => fsp.writeFile(p, ''), false],
      ['big.json', (p) => fsp.writeFile(p, JSON.stringify({ command: 'true', pad: 'x'.repeat(4 * 1024 * 1024) })), false],
      ['folder.json', (p) => fsp.mkdir(p), false],
      ['fifo.json', async (p) => assert.equal(spawnSync('mkfifo', [p]).status, 0), false],
      ['link.json', (p) => fsp.symlink(join(staging, 'good-target'), p), false],
      [`${'n'.repeat(196)}.json`, (p) => fsp.writeFile(p, '{"command": "true"}'), false],
      ['reuses-taken.json', (p) => fsp.writeFile(p, '{"id": "taken", "command": "true"}'), false],
      ['taken.json', (p) => fsp.writeFile(p, '{"command": "true"}'), true], // its name's id is taken: a generated one
      ['named-by-json.json', (p) => fsp.writeFile(p, '{"id": "from-json", "command": "true"}'), true],
    ];
    await fsp.writeFile(join(staging, 'good-target'), '{"command": "true"}');
    for (const [name, make, valid] of special) {
      await make(join(staging, name));
      files.push({ name, valid });
    }
    for (const f of files) await settled(join(staging, f.name));

    const rootBefore = await fingerprint(q.root);
    const stagingBefore = await fingerprint(staging);
    const r = await runCli(['--root', q.root, 'validate', '--json', ...files.map((f) => f.name)], { cwd: staging, timeoutMs: 60_000 });
    assert.equal(r.code, 2, explain(r));
    const verdicts = JSON.parse(r.stdout) as Verdict[];
    assert.deepEqual(verdicts.map((v) => [v.file, v.valid]), files.map((f) => [f.name, f.valid]));
    assert.deepEqual(await fingerprint(q.root), rootBefore, 'validate changes nothing in the root');
    assert.deepEqual(await fingerprint(staging), stagingBefore, 'nor the files it reads');
    const byName = new Map(verdicts.map((v) => [v.name, v]));
    assert.deepEqual([byName.get('taken.json')!.id_from, byName.get('named-by-json.json')!.id], ['generated', 'from-json']);
    assert.equal(byName.get('good-target'), undefined);

    // Now the same files, dropped as a producer should (renamed into pending/), with a real worker.
    await startWorker(q);
    for (const f of files) await fsp.rename(join(staging, f.name), join(q.root, 'pending', f.name));
    const dropped = new Set(files.map((f) => f.name));
    await waitFor(async () => {
      const left = [...(await folder(q.root, 'pending')), ...(await folder(q.root, 'processing'))].filter((n) => dropped.has(n) || n.includes('~'));
      return left.length === 0;
    }, { timeoutMs: 60_000, what: 'the worker to take in or quarantine every dropped file' });
    const quarantined = JSON.parse(await q.ok(['quarantine', 'list', '--json'])) as { original_name: string; reason: string }[];
    const reasons = new Map(quarantined.map((x) => [x.original_name, x.reason]));
    for (const f of files) {
      const v = byName.get(f.name)!;
      if (f.valid) assert.equal(reasons.get(f.name), undefined, `${f.name}: validate says valid, the worker quarantined it: ${reasons.get(f.name)}`);
      else assert.equal(reasons.get(f.name), v.reason, `${f.name}: the worker's reason and validate's`);
    }
    assert.equal(quarantined.length, files.filter((f) => !f.valid).length);
  });
});

describe('validate as a person types it', () => {
  test('files, - for stdin, --name, options anywhere; exit 0 when all are valid, 2 when any is not', async (t) => {
    const { dir, root } = await makeTempRoot(t);
    await fsp.writeFile(join(dir, 'job.json'), '{"command": "echo hi"}');
    await fsp.writeFile(join(dir, 'bad.json'), '{"command": "echo hi", "priority": "high"}');
    const good = await runCli(['validate', 'job.json'], { cwd: dir });
    assert.equal(good.code, 0, explain(good));
    assert.equal(good.stdout, 'job.json: valid (id "job", from its file name; a generated one if that is taken by then)\n');
    const mixed = await runCli(['validate', 'job.json', 'bad.json', 'missing.json'], { cwd: dir });
    assert.equal(mixed.code, 2);
    assert.equal(mixed.stdout, [
      'job.json: valid (id "job", from its file name; a generated one if that is taken by then)',
      'bad.json: invalid: pending/bad.json: field "priority" must be an integer from -999 to 999 (lower runs first), got "high" (string)',
      'missing.json: invalid: no such file',
      '',
    ].join('\n'));
    // stdin, judged as pending/stdin.json, or under --name (also --name=...).
    const stdin = await runCli(['validate', '-'], { cwd: dir, input: '{"command": "true", "delay": "soon"}' });
    assert.equal(stdin.code, 2);
    assert.equal(stdin.stdout, 'stdin: invalid: pending/stdin.json: field "delay" must be a duration such as 30s, 5m or a number of seconds, got "soon" (string)\n');
    for (const args of [['validate', '--name', 'report.json', '-'], ['validate', '-', '--name=report.json'], ['--json', 'validate', '-', '--name', 'report.json']]) {
      const r = await runCli(args, { cwd: dir, input: '{"command": "true"}' });
      assert.equal(r.code, 0, `${args.join(' ')}: ${explain(r)}`);
      if (args.includes('--json')) assert.equal((JSON.parse(r.stdout) as Verdict[])[0].id, 'report');
      else assert.equal(r.stdout, 'stdin: valid (id "report", from its file name; a generated one if that is taken by then)\n');
    }
    // --root anywhere; the root does not exist and is not created.
    for (const args of rootPlacements(['validate', 'job.json', '--json'], root)) {
      const r = await runCli(args, { cwd: dir });
      assert.equal(r.code, 0, `${args.join(' ')}: ${explain(r)}`);
      assert.equal((JSON.parse(r.stdout) as Verdict[])[0].valid, true);
    }
    assert.equal(existsSync(root), false, 'validate does not create the root');
    assert.equal(existsSync(join(dir, '.queuectl')), false, 'nor ./.queuectl');
    // A name a worker never takes is said on stderr; the content is still judged.
    const hidden = await runCli(['validate', '-', '--name', 'job.tmp'], { cwd: dir, input: '{"command": "true"}' });
    assert.equal(hidden.code, 0);
    assert.match(hidden.stderr, /^stdin: note: a worker never takes pending\/job\.tmp: move it into pending\/ under a name that ends in \.json/m);
  });

  test('bad usage exits 2 and says what was expected', async (t) => {
    const { dir } = await makeTempRoot(t);
    const cases: [string[], RegExp][] = [
      [['validate'], /Missing FILE: queuectl validate FILE/],
      [['validate', 'a.json', 'b.json', '--name', 'x.json'], /--name applies to one file/],
      [['validate', '-', '--name', 'a/b.json'], /Expected --name to be a file name in pending\/ \(no \/\), got "a\/b\.json"/],
      [['validate', '-', '-'], /Give - \(stdin\) at most once/],
      [['validate', 'a.json', '--bogus'], /Unknown option `--bogus`/],
    ];
    for (const [args, re] of cases) {
      const r = await runCli(args, { cwd: dir });
      assert.equal(r.code, 2, `${args.join(' ')}: ${explain(r)}`);
      assert.match(r.stderr, re, args.join(' '));
    }
  });

  test('in a pipe into head the exit status stays the answer; colour only on a terminal, NO_COLOR and FORCE_COLOR respected', async (t) => {
    const { dir } = await makeTempRoot(t);
    await fsp.writeFile(join(dir, 'bad.json'), '{}');
    const closed = await runWithClosedStdout(['validate', 'bad.json'], { cwd: dir });
    assert.equal(closed.code, 2, 'a reader that went away does not turn "invalid" into 0');
    const piped = await runCli(['validate', 'bad.json'], { cwd: dir, env: { NO_COLOR: undefined } });
    assert.doesNotMatch(piped.stdout, /\x1b\[/);
    const forced = await runCli(['validate', 'bad.json'], { cwd: dir, env: { NO_COLOR: undefined, FORCE_COLOR: '1' } });
    assert.match(forced.stdout, /\x1b\[31minvalid/);
    if (!HAVE_SCRIPT) return t.skip('util-linux script is not installed (terminal check)');
    const tty = await runInPty(['validate', join(dir, 'bad.json')]);
    assert.equal(tty.code, 2, explain(tty));
    assert.match(tty.stdout, /\x1b\[31minvalid\x1b\[39m: pending\/bad\.json: field "command"/);
    const noColor = await runInPty(['validate', join(dir, 'bad.json')], { env: { NO_COLOR: '1' } });
    assert.doesNotMatch(noColor.stdout, /\x1b\[/);
  });
});
