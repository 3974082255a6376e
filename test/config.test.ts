// `queuectl config` through the REAL compiled CLI: set/get/unset/list, key spelling, validation,
// units, and concurrent writers under the lock.

import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { explain, makeTempRoot, pendingFiles, readJson, runCli } from './helpers.js';

/** Runs the CLI and asserts it exited 0, returning stdout. */
async function ok(args: string[], root: string): Promise<string> {
  const r = await runCli(args, { root });
  assert.equal(r.code, 0, `${args.join(' ')}: ${explain(r)}`);
  return r.stdout;
}

/** config.json's text, or null when it does not exist. */
const configText = (root: string) => fsp.readFile(join(root, 'config.json'), 'utf8').catch(() => null);

describe('config set, get, unset and list', () => {
  test('set stores a value, get prints it, unset returns to the default', async (t) => {
    const { root } = await makeTempRoot(t);
    assert.equal(await ok(['config', 'get', 'max-retries'], root), '3\n', 'the default before anything is set');
    assert.equal(await ok(['config', 'set', 'max-retries', '5'], root), 'max-retries = 5\n');
    assert.equal(await ok(['config', 'get', 'max-retries'], root), '5\n');
    assert.deepEqual(await readJson(join(root, 'config.json')), { 'max-retries': 5 });
    assert.equal((await fsp.stat(join(root, 'config.json'))).mode & 0o777, 0o600);
    assert.deepEqual(JSON.parse(await ok(['config', 'get', 'max-retries', '--json'], root)), { key: 'max-retries', value: 5, default: 3, set: true });

    assert.equal(await ok(['config', 'unset', 'max-retries'], root), 'max-retries = 3 (default)\n');
    assert.equal(await ok(['config', 'get', 'max-retries'], root), '3\n');
    assert.deepEqual(JSON.parse(await ok(['config', 'get', 'max-retries', '--json'], root)), { key: 'max-retries', value: 3, default: 3, set: false });
    assert.deepEqual(await readJson(join(root, 'config.json')), {});
  });

  test('the configured max-retries is the default of newly enqueued jobs', async (t) => {
    const { root } = await makeTempRoot(t);
    await ok(['config', 'set', 'max-retries', '7'], root);
    await ok(['enqueue', '--id', 'a', '--', 'true'], root);
    await ok(['enqueue', '{"id":"b","command":"true","max_retries":1}'], root);
    const jobs = JSON.parse(await ok(['list', '--json'], root)) as { id: string; max_retries: number }[];
    assert.deepEqual(jobs.map((j) => [j.id, j.max_retries]).sort(), [['a', 7], ['b', 1]]);
  });

  test('max_retries, max-retries and MAX_RETRIES are one key', async (t) => {
    const { root } = await makeTempRoot(t);
    assert.equal(await ok(['config', 'set', 'max_retries', '4'], root), 'max-retries = 4\n');
    assert.equal(await ok(['config', 'get', 'max-retries'], root), '4\n');
    assert.equal(await ok(['config', 'get', 'MAX_RETRIES'], root), '4\n');
    await ok(['config', 'set', 'Max-Retries', '6'], root);
    assert.deepEqual(await readJson(join(root, 'config.json')), { 'max-retries': 6 }, 'one key in the file, in its canonical spelling');
    await ok(['config', 'unset', 'max_retries'], root);
    assert.deepEqual(await readJson(join(root, 'config.json')), {});
  });

  test('list shows every key with its value, default and meaning; --json marks what is set', async (t) => {
    const { root } = await makeTempRoot(t);
    await ok(['config', 'set', 'backoff_base', '1.50'], root);
    const json = JSON.parse(await ok(['config', 'list', '--json'], root)) as Record<string, { value: unknown; default: unknown; set: boolean; help: string }>;
    for (const key of ['max-retries', 'backoff-base', 'backoff-max', 'timeout', 'kill-grace', 'heartbeat-interval', 'stale-after', 'poll-interval', 'output-limit', 'retention']) {
      assert.ok(key in json, `${key} in config list --json`);
      assert.equal(typeof json[key].help, 'string');
      assert.ok(json[key].help.length > 0);
    }
    assert.deepEqual(json['backoff-base'], { ...json['backoff-base'], value: 1.5, default: 2, set: true });
    assert.equal(json['max-retries'].set, false);
    assert.equal(json['max-retries'].value, 3);

    const human = await ok(['config', 'list'], root);
    assert.match(human, /^KEY\s+VALUE\s+DEFAULT\s+MEANING$/m);
    assert.match(human, /^backoff-base\s+1\.5\s+2\s+retry n waits/m);
    assert.match(human, /^retention\s+7d\s+7d\s+/m);
    assert.equal(await ok(['config'], root), human, 'config alone is config list');
  });

  test('durations and sizes are read and shown in units: 10s, 1h30m, 10MB', async (t) => {
    const { root } = await makeTempRoot(t);
    assert.equal(await ok(['config', 'set', 'timeout', '10s'], root), 'timeout = 10s\n');
    assert.equal(await ok(['config', 'get', 'timeout'], root), '10s\n');
    assert.equal(JSON.parse(await ok(['config', 'get', 'timeout', '--json'], root)).value, 10_000, 'durations in ms in JSON');
    assert.equal(await ok(['config', 'set', 'backoff-max', '1h30m'], root), 'backoff-max = 90m\n');
    assert.equal(await ok(['config', 'set', 'stale-after', '2'], root), 'stale-after = 2s\n', 'a bare number of seconds');
    assert.equal(await ok(['config', 'set', 'kill-grace', '1500ms'], root), 'kill-grace = 1500ms\n');
    assert.equal(await ok(['config', 'set', 'output-limit', '10MB'], root), 'output-limit = 10MB\n');
    assert.equal(await ok(['config', 'get', 'output_limit'], root), '10MB\n');
    assert.equal(JSON.parse(await ok(['config', 'get', 'output-limit', '--json'], root)).value, 10 * 1024 * 1024, 'sizes in bytes in JSON');
    assert.equal(await ok(['config', 'set', 'output-limit', '512kb'], root), 'output-limit = 512KB\n');
    assert.equal(await ok(['config', 'set', 'backoff-jitter', 'yes'], root), 'backoff-jitter = true\n');
    // The file is written as a person would write it, and reads back the same.
    assert.deepEqual(await readJson(join(root, 'config.json')), {
      'backoff-max': '90m',
      'backoff-jitter': true,
      timeout: '10s',
      'kill-grace': '1500ms',
      'stale-after': '2s',
      'output-limit': '512KB',
    });
    assert.equal(await ok(['config', 'get', 'kill-grace'], root), '1500ms\n');
  });
});

describe('config refuses what it does not know, exit 2, and leaves config.json as it was', () => {
  test('an unknown key is refused, listing the known keys', async (t) => {
    const { root } = await makeTempRoot(t);
    await ok(['config', 'set', 'timeout', '5s'], root);
    const before = await configText(root);
    for (const args of [['config', 'set', 'colour', 'red'], ['config', 'get', 'max_retry'], ['config', 'unset', 'nope']]) {
      const r = await runCli(args, { root });
      assert.equal(r.code, 2, `${args.join(' ')}: ${explain(r)}`);
      assert.match(r.stderr, /Unknown config key "(colour|max_retry|nope)"; known keys: max-retries, backoff-base, .*timeout.*retention/);
      assert.equal(await configText(root), before);
    }
  });

  test('bad values are refused naming the key and what was expected', async (t) => {
    const { root } = await makeTempRoot(t);
    await ok(['config', 'set', 'max-retries', '2'], root);
    const before = await configText(root);
    const cases: [string[], RegExp][] = [
      [['config', 'set', 'max-retries', 'abc'], /config max-retries: expected an integer, got "abc"/],
      [['config', 'set', 'max-retries', '1.5'], /config max-retries: expected an integer, got "1\.5"/],
      [['config', 'set', 'max-retries', '101'], /config max-retries: expected at most 100, got "101"/],
      [['config', 'set', 'max-retries', ''], /config max-retries: expected an integer/],
      [['config', 'set', 'timeout', 'soon'], /config timeout: expected a duration such as 30s/],
      [['config', 'set', 'stale-after', '10ms'], /config stale-after: expected at least 50ms, got "10ms"/],
      [['config', 'set', 'output-limit', '10XB'], /config output-limit: expected a size such as 10MB/],
      [['config', 'set', 'backoff-jitter', 'maybe'], /config backoff-jitter: expected true or false, got "maybe"/],
      [['config', 'set', 'max-retries'], /Missing VALUE: queuectl config set KEY VALUE/],
      [['config', 'get'], /Missing KEY: queuectl config get KEY/],
      [['config', 'set', 'max-retries', '5', '6'], /Unexpected argument "6": queuectl config set KEY VALUE/],
      [['config', 'frob'], /Unknown action "config frob"; expected one of list, get, set, unset/],
    ];
    for (const [args, message] of cases) {
      const r = await runCli(args, { root });
      assert.equal(r.code, 2, `${args.join(' ')}: ${explain(r)}`);
      assert.match(r.stderr, message, args.join(' '));
      assert.equal(await configText(root), before, `${args.join(' ')} must not change config.json`);
    }
    assert.equal(await ok(['config', 'get', 'max-retries'], root), '2\n');
    assert.deepEqual((await fsp.readdir(root)).filter((n) => n.includes('lock')), [], 'no lock left behind');
  });

  test('a refused value on a fresh root creates no config.json', async (t) => {
    const { root } = await makeTempRoot(t);
    const r = await runCli(['config', 'set', 'max-retries', 'abc'], { root });
    assert.equal(r.code, 2, explain(r));
    assert.equal(await configText(root), null);
  });

  test('a broken config.json is reported with its path by every command that reads it', async (t) => {
    const { root } = await makeTempRoot(t);
    await ok(['status'], root);
    const file = join(root, 'config.json');
    for (const [text, message] of [
      ['{"max_retries": "x"}', 'config max-retries: expected an integer, got "x"'],
      ['{"colour": 1}', 'Unknown config key "colour"'],
      ['{not json', 'not valid JSON'],
      ['[1]', 'expected a JSON object'],
    ]) {
      await fsp.writeFile(file, text);
      for (const args of [['config', 'list'], ['status'], ['enqueue', '--', 'true']]) {
        const r = await runCli(args, { root });
        assert.equal(r.code, 1, `${args.join(' ')} with ${text}: ${explain(r)}`);
        assert.ok(r.stderr.includes(file), `names ${file}: ${r.stderr}`);
        assert.ok(r.stderr.includes(message), `${message}: ${r.stderr}`);
      }
    }
    assert.deepEqual(await pendingFiles(root), [], 'nothing enqueued with a broken config');
  });
});

describe('concurrent config writers', () => {
  test('6 processes setting different keys at once: every value survives', async (t) => {
    const { root } = await makeTempRoot(t);
    await ok(['status'], root); // the root exists, so only the config write is contended
    const sets: [string, string, unknown][] = [
      ['max-retries', '9', 9],
      ['backoff-base', '3', 3],
      ['timeout', '45s', '45s'],
      ['kill-grace', '2s', '2s'],
      ['output-limit', '2MB', '2MB'],
      ['retention', '14d', '14d'],
    ];
    const results = await Promise.all(sets.map(([key, value]) => runCli(['config', 'set', key, value], { root })));
    for (const r of results) assert.equal(r.code, 0, explain(r));
    const stored = await readJson(join(root, 'config.json'));
    assert.deepEqual(stored, Object.fromEntries(sets.map(([key, , v]) => [key, v])));
    assert.deepEqual((await fsp.readdir(root)).filter((n) => n.includes('lock')), [], 'every lock was released');
    assert.deepEqual(await fsp.readdir(join(root, 'tmp')), [], 'no temp file left');
  });
});
