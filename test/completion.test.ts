// Shell completion through the real scripts: bash sources `queuectl completion bash` and its completion
// function is called with COMP_WORDS as bash sets them; zsh and fish scripts are checked for syntax.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { CLI, explain, makeTempRoot, runCli } from './helpers.js';
import { cliEnv, sq } from './cli-helpers.js';

const have = (cmd: string) => spawnSync(cmd, ['--version'], { stdio: 'ignore' }).status === 0;

/** A folder with a `queuectl` on PATH that runs the compiled CLI (as an installed one would). */
async function binDir(dir: string): Promise<string> {
  const bin = join(dir, 'bin');
  await fsp.mkdir(bin, { recursive: true });
  await fsp.writeFile(join(bin, 'queuectl'), `#!/bin/sh\nexec ${sq(process.execPath)} ${sq(CLI)} "$@"\n`, { mode: 0o755 });
  return bin;
}

/** COMPREPLY after bash's completion function ran for `words` (the last one is being completed). */
function bashComplete(bin: string, cwd: string, words: string[], env: Record<string, string> = {}): string[] {
  const script = [
    'source <(queuectl completion bash)',
    'complete -p queuectl >&2',
    `COMP_WORDS=(${words.map(sq).join(' ')})`,
    `COMP_CWORD=${words.length - 1}`,
    `COMP_LINE=${sq(words.join(' '))}`,
    'COMP_POINT=${#COMP_LINE}',
    '_queuectl',
    'printf "%s\\n" "${COMPREPLY[@]}"',
  ].join('\n');
  const r = spawnSync('bash', ['-c', script], { cwd, env: cliEnv({ PATH: `${bin}:${process.env.PATH}`, ...env }), encoding: 'utf8' });
  assert.equal(r.status, 0, `bash: ${r.stderr}`);
  assert.match(r.stderr, /^complete -o default -F _queuectl queuectl$/m, 'the script registers the function');
  return r.stdout.split('\n').filter(Boolean);
}

describe('completion', () => {
  test('bash completes commands, actions, options, option values, config keys and job ids from the queue', async (t) => {
    const { dir, root } = await makeTempRoot(t);
    const bin = await binDir(dir);
    for (const args of [['enqueue', '--id', 'pend1', '--', 'true'], ['enqueue', '--id', 'pend2', '--', 'true'], ['enqueue', '--id', 'gone1', '--', 'true'], ['cancel', 'gone1']]) {
      const r = await runCli(args, { root });
      assert.equal(r.code, 0, explain(r));
    }
    const empty = join(dir, 'empty');
    await fsp.mkdir(empty);
    const cases: [string[], string[], Record<string, string>?][] = [
      [['queuectl', 'wo'], ['worker']],
      [['queuectl', ''], ['enqueue', 'status', 'list', 'show', 'logs', 'cancel', 'wait', 'purge', 'worker', 'dlq', 'validate', 'doctor', 'quarantine', 'queue', 'schedule', 'config', 'dashboard', 'metrics', 'completion', 'help']],
      [['queuectl', 'worker', ''], ['start', 'stop']],
      [['queuectl', 'worker', 'start', '--co'], ['--count', '--color']],
      [['queuectl', 'list', '--st'], ['--state']],
      [['queuectl', 'list', '--state', 'f'], ['failed']],
      [['queuectl', 'list', '--state', '=', 'de'], ['dead']],
      [['queuectl', 'purge', '--state', ''], ['completed', 'dead']],
      [['queuectl', 'config', 'get', 'max'], ['max-retries']],
      [['queuectl', 'config', 'set', 'stale-after', ''], []],
      [['queuectl', 'completion', ''], ['bash', 'zsh', 'fish']],
      [['queuectl', '--root', root, 'show', ''], ['pend1', 'pend2', 'gone1']],
      [['queuectl', 'show', '--root', root, 'pend'], ['pend1', 'pend2']],
      [['queuectl', 'cancel', `--root=${root}`, ''], ['pend1', 'pend2']],
      [['queuectl', 'dlq', 'retry', '--root', root, ''], ['gone1']],
      [['queuectl', 'show', ''], ['pend1', 'pend2', 'gone1'], { QUEUECTL_ROOT: root }],
      [['queuectl', 'show', ''], []],
      [['queuectl', 'enqueue', '--', 'ec'], []],
    ];
    for (const [words, expected, env] of cases) {
      assert.deepEqual(bashComplete(bin, empty, words, env).sort(), [...expected].sort(), words.join(' '));
    }
    assert.equal(existsSync(join(empty, '.queuectl')), false, 'completing created no queue');
  });

  test('the zsh and fish scripts are valid for their shells', async (t) => {
    const { dir } = await makeTempRoot(t);
    for (const shell of ['zsh', 'fish']) {
      const r = await runCli(['completion', shell]);
      assert.equal(r.code, 0, explain(r));
      const file = join(dir, `completion.${shell}`);
      await fsp.writeFile(file, r.stdout);
      if (!have(shell)) {
        t.diagnostic(`${shell} is not installed: syntax not checked (apt-get install ${shell})`);
        continue;
      }
      const check = spawnSync(shell, ['-n', file], { encoding: 'utf8' });
      assert.equal(check.status, 0, `${shell} -n: ${check.stderr}`);
    }
    const bad = await runCli(['completion', 'tcsh']);
    assert.equal(bad.code, 2, explain(bad));
    assert.match(bad.stderr, /Expected a shell: bash, zsh, fish; got "tcsh"/);
  });
});
