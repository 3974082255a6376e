// `queuectl doctor [--fix] [--json]`: what is wrong with the root, what it means and what repairs it
// (src/doctor.ts finds it); --fix repairs what is safe and says what it did. The root is never created.
// Exit 0 when nothing but notes is left, 1 when an error or a warning is.

import { examine, type Finding, repair } from '../../doctor.js';
import { type Context, flag } from '../context.js';
import { count, pc, printJson } from '../format.js';
import type { Input } from '../spec.js';

const LABEL: Record<Finding['severity'], string> = { error: 'error', warning: 'warning', info: 'note' };

export async function doctorCommand(ctx: Context, input: Input): Promise<number> {
  const opts = { uid: process.getuid?.() ?? 0 };
  const fix = flag(input, 'fix');
  const { fixed, left } = fix ? await repair(ctx.root, opts) : { fixed: [] as Finding[], left: await examine(ctx.root, opts) };
  const healthy = !left.some((f) => f.severity !== 'info');
  if (flag(input, 'json')) {
    printJson(ctx.out, { root: ctx.root, healthy, fixed, findings: left });
    return healthy ? 0 : 1;
  }
  for (const f of fixed) ctx.out(`${pc.green('fixed'.padEnd(8))} ${f.message}`);
  for (const f of left) {
    const label = LABEL[f.severity].padEnd(8);
    ctx.out(`${f.severity === 'error' ? pc.red(label) : f.severity === 'warning' ? pc.yellow(label) : pc.dim(label)} ${f.message}`);
    if (f.repair) ctx.out(`${' '.repeat(9)}${pc.dim('repair:')} ${f.repair}`);
  }
  const n = (severity: Finding['severity']) => left.filter((f) => f.severity === severity).length;
  const tally = [[n('error'), 'error'], [n('warning'), 'warning'], [n('info'), 'note']]
    .filter(([k]) => k)
    .map(([k, w]) => `${count(k as number)} ${w}${k === 1 ? '' : 's'}`);
  const fixable = left.filter((f) => f.fixable && f.severity !== 'info').length;
  const summary = healthy ? `${ctx.root}: no problems${tally.length ? ` (${tally.join(', ')})` : ''}` : `${ctx.root}: ${tally.join(', ')}`;
  ctx.out(`${fix && fixed.length ? `Repaired ${count(fixed.length)}. ` : ''}${healthy ? pc.green(summary) : pc.bold(summary)}${!fix && fixable ? `; queuectl doctor --fix repairs ${count(fixable)} of them` : ''}`);
  return healthy ? 0 : 1;
}
