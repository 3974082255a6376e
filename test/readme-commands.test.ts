// The README's command table is the reference people read: every command and action of the CLI's table
// (src/cli/spec.ts) has a row there, and every option a command takes is named in the README.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { COMMANDS, GLOBAL_OPTIONS } from '../src/cli/spec.js';

const README = readFileSync(join(import.meta.dirname, '..', 'README.md'), 'utf8');
const section = README.slice(README.indexOf('## Commands'), README.indexOf('### Job fields'));
const rows = section.split('\n').filter((l) => l.startsWith('| `'));
const visible = COMMANDS.filter((c) => !c.path[0].startsWith('__'));

test('every command and action has a row in the README command table', () => {
  const missing = visible.filter((c) => {
    const [word, action] = c.path;
    return !rows.some((r) => {
      const cells = r.split(' | ')[0];
      if (action === undefined) return cells.startsWith(`| \`${word}`);
      // `queue list` / `schedule list [--json]` / `remove NAME...`: the action after its command word
      return cells.includes(`\`${word} ${action}`) || (cells.startsWith(`| \`${word} `) && cells.includes(`\`${action}`));
    });
  }).map((c) => c.path.join(' '));
  assert.deepEqual(missing, []);
});

test('every option of every command is named in the README', () => {
  const missing = new Set<string>();
  for (const c of visible) {
    for (const o of [...(c.options ?? []), ...GLOBAL_OPTIONS]) {
      if (!README.includes(`--${o.name}`)) missing.add(`${c.path.join(' ')} --${o.name}`);
    }
  }
  assert.deepEqual([...missing], []);
});
