// Human output: state colours (the page uses the same ones), tables cut to the terminal, relative times.

import pc from 'picocolors';
import { formatDuration } from '../units.js';

/** One colour per state; views/ uses the same hues. */
export const STATE_COLOR: Record<string, (s: string) => string> = {
  pending: pc.cyan,
  scheduled: pc.blue,
  failed: pc.yellow,
  processing: pc.magenta,
  completed: pc.green,
  dead: pc.red,
  quarantined: pc.gray,
};

export function colorState(state: string): string {
  return (STATE_COLOR[state] ?? ((s: string) => s))(state);
}

const ANSI = /\x1b\[[0-9;]*m/g;
const visibleLength = (s: string) => s.replace(ANSI, '').length;

/** Lays out rows under headers; the last column is cut so each line fits `width`. */
export function table(headers: string[], rows: string[][], width = process.stdout.columns || 120): string[] {
  const all = [headers.map((h) => pc.bold(h)), ...rows];
  const widths = headers.map((_, c) => Math.max(...all.map((r) => visibleLength(r[c] ?? ''))));
  const fixed = widths.slice(0, -1).reduce((a, b) => a + b + 2, 0);
  const lastMax = Math.max(10, width - fixed);
  return all.map((r) =>
    r.map((cell, c) => {
      if (c === r.length - 1) return cut(cell, lastMax);
      return cell + ' '.repeat(widths[c] - visibleLength(cell));
    }).join('  ').trimEnd(),
  );
}

/** Shortens plain text to n characters with an ellipsis, on one line. */
export function cut(text: string, n: number): string {
  const one = text.replace(/\s*\n\s*/g, ' ⏎ ');
  if (visibleLength(one) <= n) return one;
  return `${one.replace(ANSI, '').slice(0, Math.max(1, n - 1))}…`;
}

/** "in 5s", "3m ago", "now". */
export function relative(ms: number, now: number): string {
  const d = ms - now;
  if (Math.abs(d) < 1000) return 'now';
  return d > 0 ? `in ${formatDuration(d)}` : `${formatDuration(-d)} ago`;
}

export function printJson(out: (line: string) => void, value: unknown): void {
  out(JSON.stringify(value, null, 2));
}
