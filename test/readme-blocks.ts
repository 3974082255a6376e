// The README's tested code: fenced blocks marked `<!-- MARKER: NAME -->` on the line before, taken from
// README.md itself, so that what a reader copies is what the tests run.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO } from './helpers.js';

/** The fenced blocks of README.md after `<!-- MARKER: NAME -->`, by name, with their language. */
export function readmeBlocks(marker: string): Map<string, { lang: string; code: string }> {
  const text = readFileSync(join(REPO, 'README.md'), 'utf8');
  const re = new RegExp(`^<!-- ${marker}: ([\\w-]+) -->\\n\`\`\`(\\w+)\\n([\\s\\S]*?)^\`\`\`$`, 'gm');
  const out = new Map<string, { lang: string; code: string }>();
  for (const m of text.matchAll(re)) {
    assert.ok(!out.has(m[1]), `README.md has two blocks marked ${marker}: ${m[1]}`);
    out.set(m[1], { lang: m[2], code: m[3] });
  }
  return out;
}
