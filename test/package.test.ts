// The package: its metadata agrees with its dependencies, and the README's install route works outside
// the clone: `npm pack` in a copy of the sources, `npm install --global` of the tarball into a fresh
// prefix, and the installed `queuectl` run from elsewhere.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { makeTempRoot, readJson, REPO, waitFor } from './helpers.js';

type Version = [number, number, number];
const parse = (v: string): Version => {
  const [a = 0, b = 0, c = 0] = v.replace(/^[^\d]*/, '').split('.').map((n) => Number.parseInt(n, 10) || 0);
  return [a, b, c];
};
const cmp = (a: Version, b: Version) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2];

/** Whether version v satisfies an engines range of the forms packages use (>=, >, <, <=, ^, ~, ||). */
export function satisfies(v: Version, range: string): boolean {
  return range.split('||').some((alt) => {
    const comparators = alt.trim().replace(/(>=|<=|>|<|\^|~)\s+/g, '$1').split(/\s+/).filter(Boolean);
    return comparators.every((c) => {
      const m = /^(>=|<=|>|<|\^|~)?(.*)$/.exec(c)!;
      const w = parse(m[2]);
      const d = cmp(v, w);
      switch (m[1]) {
        case '>=': return d >= 0;
        case '>': return d > 0;
        case '<=': return d <= 0;
        case '<': return d < 0;
        case '^': return d >= 0 && v[0] === w[0];
        case '~': return d >= 0 && v[0] === w[0] && v[1] === w[1];
        default: return m[2] === '*' || m[2] === '' || d === 0;
      }
    });
  });
}

/** The lowest version a range allows among the versions it names. */
const lowest = (range: string): Version => range.split(/\|\||\s+/).map((c) => c.replace(/^(>=|\^|~)/, '')).filter((c) => /^\d/.test(c)).map(parse).sort(cmp)[0] ?? [0, 0, 0];

describe('the package', () => {
  test('engines is the newest minimum of the production dependencies; LICENSE is MIT; keywords, os, files', async () => {
    const pkg = await readJson<{ engines: { node: string }; license: string; keywords: string[]; os: string[]; files: string[] }>(join(REPO, 'package.json'));
    const lock = await readJson<{ packages: Record<string, { dev?: boolean; engines?: { node?: string } | string[] }> }>(join(REPO, 'package-lock.json'));
    const ranges = Object.entries(lock.packages)
      .filter(([path, p]) => path.startsWith('node_modules/') && !p.dev && p.engines && !Array.isArray(p.engines) && p.engines.node)
      .map(([path, p]) => [path.slice('node_modules/'.length), (p.engines as { node: string }).node] as const);
    assert.ok(ranges.some(([name]) => name === 'chokidar'), 'chokidar states its engines');
    const ours = lowest(pkg.engines.node);
    const needed = ranges.map(([, r]) => lowest(r)).sort(cmp).at(-1)!;
    assert.deepEqual(ours, needed, `engines ${pkg.engines.node}: the dependencies need ${needed.join('.')}`);
    for (const v of [ours, parse('22.0.0'), parse('24.0.0')]) {
      for (const [name, range] of ranges) assert.ok(satisfies(v, range), `${name} (${range}) runs on ${v.join('.')}`);
    }
    assert.equal(pkg.license, 'MIT');
    assert.match(await fsp.readFile(join(REPO, 'LICENSE'), 'utf8'), /^MIT License\n\nCopyright \(c\) \d{4} /);
    assert.ok(pkg.keywords.includes('queue') && pkg.keywords.includes('cli'));
    assert.deepEqual(pkg.os, ['linux', 'darwin'], 'Linux (tested) and macOS (README: Platforms); not Windows');
    assert.deepEqual(pkg.files, ['dist', 'views', 'deploy', 'schema']);
  });

  test('npm pack, npm install --global into a fresh prefix: the installed queuectl runs from anywhere', { timeout: 300_000 }, async (t) => {
    const { dir } = await makeTempRoot(t);
    // A copy of the sources as a clone has them (node_modules linked, as `npm ci` would have made it).
    const src = join(dir, 'clone');
    for (const name of ['package.json', 'package-lock.json', 'tsconfig.json', 'README.md', 'LICENSE', 'src', 'views', 'deploy', 'schema']) {
      await fsp.cp(join(REPO, name), join(src, name), { recursive: true });
    }
    await fsp.symlink(join(REPO, 'node_modules'), join(src, 'node_modules'));
    const npm = (args: string[], cwd: string) => {
      const r = spawnSync('npm', args, { cwd, encoding: 'utf8', env: { ...process.env, npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' } });
      assert.equal(r.status, 0, `npm ${args.join(' ')}: ${r.stdout}${r.stderr}`);
      return r.stdout;
    };
    const packed = JSON.parse(npm(['pack', '--json', '--pack-destination', dir], src)) as { filename: string; files: { path: string }[] }[];
    const files = packed[0].files.map((f) => f.path);
    for (const f of ['package.json', 'README.md', 'LICENSE', 'dist/cli/index.js', 'views/overview.ejs', 'schema/job-spec.schema.json', 'schema/job-record.schema.json', 'deploy/systemd/queuectl-worker.service', 'deploy/cron/queuectl.crontab']) {
      assert.ok(files.includes(f), `${f} in the tarball: ${files.join(' ')}`);
    }
    assert.deepEqual(files.filter((f) => /^(src|test|bench|node_modules)\//.test(f)), [], 'no sources, tests or node_modules');

    const prefix = join(dir, 'prefix');
    npm(['install', '--global', '--prefix', prefix, '--prefer-offline', join(dir, packed[0].filename)], dir);
    const bin = join(prefix, 'bin', 'queuectl');
    const elsewhere = join(dir, 'elsewhere');
    await fsp.mkdir(elsewhere);
    const env = { PATH: `${join(prefix, 'bin')}:${process.env.PATH}`, HOME: elsewhere, QUEUECTL_ROOT: join(elsewhere, 'q') };
    const run = (args: string[]) => spawnSync('queuectl', args, { cwd: elsewhere, env, encoding: 'utf8' });
    const { version } = await readJson<{ version: string }>(join(REPO, 'package.json'));
    assert.equal(run(['--version']).stdout, `${version}\n`);
    assert.equal((await fsp.realpath(bin)).startsWith(prefix), true, 'a copy in the prefix, not a link to the clone');
    for (const args of [['config', 'set', 'heartbeat-interval', '50ms'], ['config', 'set', 'stale-after', '600ms'], ['enqueue', '--id', 'installed', '--', 'echo from the package']]) {
      const r = run(args);
      assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
    }
    const worker = spawn('queuectl', ['worker', 'start'], { cwd: elsewhere, env, stdio: 'ignore' });
    t.after(() => worker.kill('SIGKILL'));
    const waited = run(['wait', 'installed', '--timeout', '30s']);
    assert.equal(waited.status, 0, waited.stderr);
    assert.equal(run(['logs', 'installed']).stdout, 'from the package\n[exited with status 0]\n');
    worker.kill('SIGTERM');
    // The page finds its views in the installed package.
    const page = spawn('queuectl', ['dashboard', '--port', '0'], { cwd: elsewhere, env, stdio: ['ignore', 'pipe', 'pipe'] });
    t.after(() => page.kill('SIGKILL'));
    let out = '';
    page.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    // Without --token it makes one and prints the URL with it.
    const url = (await waitFor(() => /^ {2}(http:\/\/\S+)$/m.exec(out), { timeoutMs: 10_000, what: `the page to listen: ${out}` }))[1];
    const token = new URL(url).searchParams.get('token');
    assert.ok(token, url);
    const res = await fetch(new URL('/', url), { headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 200);
    assert.match(await res.text(), /installed|queuectl/);
    page.kill('SIGTERM');
  });
});
