// The Node API as another project gets it: `npm pack` of a copy of the sources, the tarball installed into
// a fresh project next to that project's own TypeScript, and a program that type-checks against the shipped
// .d.ts (and one that must NOT: the types are real, not `any`), then runs from TypeScript (compiled by that
// compiler) and from plain ESM against a real root, with workers in process. The shipped JobSpec type and
// the shipped job-spec schema name the same fields.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { makeTempRoot, readJson, REPO } from './helpers.js';
import { readmeBlocks } from './readme-blocks.js';

const npmEnv = { ...process.env, npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' };

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = npmEnv) {
  return spawnSync(cmd, args, { cwd, env, encoding: 'utf8', timeout: 240_000 });
}

function ok(cmd: string, args: string[], cwd: string, env?: NodeJS.ProcessEnv): string {
  const r = run(cmd, args, cwd, env);
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')}: ${r.stdout}${r.stderr}`);
  return r.stdout;
}

/** The program a TypeScript user writes: every call of the API, with the types it promises. */
const APP_TS = `
import { FORMAT_VERSION, InputError, openQueue, type Job, type JobSpec, type JobSpecFields, type StatusReport, type WorkerEvent } from 'queuectl';
import specSchema from 'queuectl/schema/job-spec.schema.json' with { type: 'json' };

// Every field of the type, so that this object fails to compile when the type gains or loses one.
const every: Required<JobSpecFields> = { id: 'x', command: 'x', priority: 0, queue: 'q', after: [], max_retries: 0, run_at: 'x', delay: 0, timeout: 0, cwd: '/', env: {} };
const ignored = Object.entries(specSchema.properties as Record<string, { $ref?: string }>).filter(([, v]) => v.$ref === '#/$defs/ignored').map(([k]) => k);
const schemaFields = Object.keys(specSchema.properties).filter((k) => !ignored.includes(k));

const queue = await openQueue(process.env.ROOT!);
const one: Job = await queue.enqueue({ id: 'ts-one', command: 'echo from typescript', priority: -1 });
const specs: JobSpec[] = [{ command: 'true' }, { command: 'true', timeout: '5s', my_field: { any: 'thing' } }];
const batch: Job[] = await queue.enqueue(specs);
let refused = '';
try {
  await queue.enqueue({ command: '   ' });
} catch (err) {
  if (err instanceof InputError) refused = err.message;
}
const events: WorkerEvent['type'][] = [];
const pool = await queue.startWorkers({ count: 2, onEvent: (e) => events.push(e.type) });
const waited = await queue.wait([one.id, ...batch.map((j) => j.id)], { timeoutMs: 60_000 });
const got: Job | null = await queue.get('ts-one');
const page = await queue.list({ state: 'completed', limit: 10 });
const status: StatusReport = await queue.status();
pool.stop('graceful');
await pool.done;
console.log(JSON.stringify({
  format: FORMAT_VERSION, typeFields: Object.keys(every).sort(), schemaFields: schemaFields.sort(), refused,
  completed: waited.completed, state: got?.state, listed: page.jobs.map((j) => j.id).sort(), completedCount: status.counts.completed,
  sawCompleted: events.includes('completed'),
}));
`;

/** What must not compile: each line is a mistake the types catch. */
const BAD_TS = `
import { openQueue } from 'queuectl';
const queue = await openQueue('q');
await queue.enqueue({ comand: 'typo' });
await queue.enqueue({ command: 'x', priority: 'high' });
const job = await queue.get('x');
console.log(job.id);
await queue.list({ state: 'running' });
await queue.wait(42);
`;

/** Plain ESM, no types, no build step. */
const APP_MJS = `
import { openQueue } from 'queuectl';
const queue = await openQueue(process.env.ROOT);
const job = await queue.enqueue({ id: 'esm-one', command: 'echo from esm' });
const pool = await queue.startWorkers();
const waited = await queue.wait(job.id, { timeoutMs: 60000 });
const done = await queue.get(job.id);
pool.stop('graceful');
await pool.done;
console.log(JSON.stringify({ completed: waited.completed, tail: done.output_tail, reason: done.history[0].reason }));
`;

describe('the packed package as a dependency', () => {
  test('installed into a TypeScript project: type-checked, compiled and run; and from plain ESM', { timeout: 600_000 }, async (t) => {
    const { dir } = await makeTempRoot(t);
    const src = join(dir, 'clone');
    for (const name of ['package.json', 'package-lock.json', 'tsconfig.json', 'README.md', 'LICENSE', 'src', 'views', 'deploy', 'schema']) {
      await fsp.cp(join(REPO, name), join(src, name), { recursive: true });
    }
    await fsp.symlink(join(REPO, 'node_modules'), join(src, 'node_modules'));
    const packed = JSON.parse(ok('npm', ['pack', '--json', '--pack-destination', dir], src)) as { filename: string; files: { path: string }[] }[];
    const files = packed[0].files.map((f) => f.path);
    for (const f of ['dist/index.js', 'dist/index.d.ts', 'dist/api.d.ts', 'schema/job-spec.schema.json', 'schema/job-record.schema.json']) assert.ok(files.includes(f), `${f} in the tarball`);

    // The consumer: its own compiler (the version this repository pins, so the npm cache has it).
    const lock = await readJson<{ packages: Record<string, { version: string }> }>(join(REPO, 'package-lock.json'));
    const ts = lock.packages['node_modules/typescript'].version;
    const types = lock.packages['node_modules/@types/node'].version;
    const app = join(dir, 'app');
    await fsp.mkdir(app);
    await fsp.writeFile(join(app, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
    ok('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', join(dir, packed[0].filename), `typescript@${ts}`, `@types/node@${types}`], app);
    await fsp.writeFile(join(app, 'tsconfig.json'), JSON.stringify({
      compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, resolveJsonModule: true, outDir: 'out', types: ['node'], skipLibCheck: false },
      include: ['app.ts'],
    }));
    await fsp.writeFile(join(app, 'app.ts'), APP_TS);
    await fsp.writeFile(join(app, 'bad.ts'), BAD_TS);
    await fsp.writeFile(join(app, 'app.mjs'), APP_MJS);
    const tsc = join(app, 'node_modules', '.bin', 'tsc');

    // The mistakes are caught, each on its line (the types are the API's, not `any`).
    await fsp.writeFile(join(app, 'tsconfig.bad.json'), JSON.stringify({ extends: './tsconfig.json', compilerOptions: { noEmit: true }, include: ['bad.ts'] }));
    const bad = run(tsc, ['-p', 'tsconfig.bad.json'], app);
    assert.notEqual(bad.status, 0, `bad.ts compiled: ${bad.stdout}`);
    const lines = [...`${bad.stdout}${bad.stderr}`.matchAll(/bad\.ts[(:](\d+)[,:]\d+\)?:? - error TS\d+|bad\.ts\((\d+),\d+\): error TS\d+/g)].map((m) => Number(m[1] ?? m[2]));
    assert.deepEqual([...new Set(lines)].sort((a, b) => a - b), [4, 5, 7, 8, 9], `tsc output:\n${bad.stdout}${bad.stderr}`);

    ok(tsc, ['-p', '.'], app);
    const root = join(dir, 'q');
    await fsp.mkdir(root, { mode: 0o700 });
    await fsp.writeFile(join(root, 'config.json'), JSON.stringify({ 'heartbeat-interval': '50ms', 'stale-after': '600ms', 'poll-interval': '200ms' }));
    const env = { ...process.env, ROOT: root };
    const out = JSON.parse(ok(process.execPath, [join('out', 'app.js')], app, env));
    assert.equal(out.format, 2);
    assert.deepEqual(out.typeFields, out.schemaFields, 'the JobSpec type and the job-spec schema name the same fields');
    assert.match(out.refused, /^job: field "command" must not be empty/);
    assert.equal(out.completed.length, 3);
    assert.equal(out.state, 'completed');
    assert.deepEqual(out.listed, [...out.completed].sort());
    assert.equal(out.completedCount, 3);
    assert.equal(out.sawCompleted, true);

    const esm = JSON.parse(ok(process.execPath, ['app.mjs'], app, env));
    assert.deepEqual(esm, { completed: ['esm-one'], tail: 'from esm\n', reason: 'completed' });
    // The README's example of the API, as written there.
    const example = readmeBlocks('tested').get('node-api');
    assert.ok(example, 'README.md has a block marked <!-- tested: node-api -->');
    await fsp.writeFile(join(app, 'readme-example.mjs'), example.code);
    const root2 = join(dir, 'q2');
    await fsp.mkdir(root2, { mode: 0o700 });
    await fsp.writeFile(join(root2, 'config.json'), JSON.stringify({ 'heartbeat-interval': '50ms', 'stale-after': '600ms', 'poll-interval': '200ms' }));
    const printed = ok(process.execPath, ['readme-example.mjs'], app, { ...process.env, QUEUECTL_ROOT: root2 }).split('\n');
    assert.equal(printed[0], 'ready');
    assert.ok(printed.includes('3 hi'), printed.join('\n'));
    assert.equal(printed.filter((l) => l === 'completed').length, 3);
    // And the CLI of the same package reads what the API wrote.
    const shown = ok(process.execPath, [join(app, 'node_modules', 'queuectl', 'dist', 'cli', 'index.js'), '--root', root, 'show', 'esm-one', '--json'], app);
    assert.equal(JSON.parse(shown).state, 'completed');
  });
});
