// The bare watched folder of the pick-up latency figure: what any folder-watching runner must do for a
// dropped job file, and nothing else. fs.watch (inotify) on DIR; each new *.json is read, parsed, and its
// `command` started with `sh -c` (own process group, output ignored). No claim, no record, no fsync.
// usage: node bench/bare-folder.mjs DIR   (prints "ready" once the watch is set; stop it with a signal)
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { join } from 'node:path';

const dir = process.argv[2];
const seen = new Set();
fs.watch(dir, () => {
  for (const name of fs.readdirSync(dir)) {
    if (!name.endsWith('.json') || seen.has(name)) continue;
    seen.add(name);
    let spec;
    try {
      spec = JSON.parse(fs.readFileSync(join(dir, name), 'utf8'));
    } catch {
      continue;
    }
    spawn('/bin/sh', ['-c', spec.command], { stdio: 'ignore', detached: true }).unref();
  }
});
process.stdout.write('ready\n');
