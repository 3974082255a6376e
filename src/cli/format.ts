// Human output: colours (decided once per process), state colours (the page uses the same hues), tables
// measured in terminal cells, times.
//
// Invariants:
//  - `pc` is off until the entry point calls setColor(): a module that prints before that prints plain text.
//  - Widths are terminal cells (string-width): a CJK character is 2, an escape code 0, so no column of
//    a table overflows whatever its text.

import picocolors from 'picocolors';
import { formatDuration } from '../units.js';

type Colors = ReturnType<typeof picocolors.createColors>;

/** The colour functions for stdout (a live binding: setColor() replaces it). */
export let pc: Colors = picocolors.createColors(false);
/** The colour functions for stderr. */
export let pcErr: Colors = picocolors.createColors(false);

export interface ColorInputs {
  /** --color (true), --no-color (false), or neither (undefined); the last one given wins. */
  flag: boolean | undefined;
  env: Record<string, string | undefined>;
  isTTY: boolean;
}

/**
 * Whether to colour one stream: --color/--no-color first, then NO_COLOR (any non-empty value: off),
 * then FORCE_COLOR ("0" or "false": off; anything else: on), then a terminal (not TERM=dumb).
 * CI=true alone never turns colour on: a pipe gets plain text.
 */
export function wantColor({ flag, env, isTTY }: ColorInputs): boolean {
  if (flag !== undefined) return flag;
  if (env.NO_COLOR) return false;
  const force = env.FORCE_COLOR;
  if (force !== undefined) return !(force === '0' || force.toLowerCase() === 'false');
  return isTTY && env.TERM !== 'dumb';
}

export function setColor(stdout: boolean, stderr: boolean): void {
  pc = picocolors.createColors(stdout);
  pcErr = picocolors.createColors(stderr);
}

/** One colour per state; views/ uses the same hues. */
const STATE_COLOR: Record<string, keyof Colors> = {
  pending: 'cyan',
  scheduled: 'blue',
  failed: 'yellow',
  waiting: 'white',
  processing: 'magenta',
  completed: 'green',
  dead: 'red',
  quarantined: 'gray',
};

export function colorState(state: string): string {
  const name = STATE_COLOR[state];
  return name ? (pc[name] as (s: string) => string)(state) : state;
}

const ANSI = /\x1b\[[0-9;]*m/g;

let stringWidth: ((s: string) => number) | undefined;

/** Text whose width is one cell a code point: ASCII, Latin (up to U+02FF), and the … and ⏎ we add. */
const NARROW = /^[\x20-\x7e\u00a0-\u02ff…⏎]*$/;

/**
 * Loads string-width when some text needs it (none given: always). Its import compiles Unicode
 * property regexes, about 25 ms, so a table of plain text does not pay for it. Call it before laying
 * out text that is not known to be narrow.
 */
export async function loadCellWidths(texts?: Iterable<string>): Promise<void> {
  if (stringWidth) return;
  if (texts) {
    let narrow = true;
    for (const t of texts) if (!NARROW.test(t.replace(ANSI, ''))) narrow = false;
    if (narrow) return;
  }
  stringWidth = (await import('string-width')).default;
}

/** Width of text in terminal cells (escape codes count 0, wide characters 2, combining marks 0). */
export function cells(s: string): number {
  const plain = s.replace(ANSI, '');
  if (NARROW.test(plain)) return [...plain].length;
  // string-width not loaded (a caller did not expect such text): one cell a code point.
  return stringWidth ? stringWidth(plain) : [...plain].length;
}
// Made on first use: building a grapheme Segmenter costs ~20 ms (ICU data), a fifth of a CLI call's start-up.
let graphemes: Intl.Segmenter | undefined;

/** Pads text with spaces to n cells. */
export function pad(text: string, n: number): string {
  return text + ' '.repeat(Math.max(0, n - cells(text)));
}

/** Folds text onto one line: each line break (with the spaces around it) becomes " ⏎ ". */
export function oneLine(text: string): string {
  return text.replace(/\s*\r?\n\s*/g, ' ⏎ ');
}

/** Shortens text to at most n cells with an ellipsis, on one line. Escape codes are dropped when it is cut. */
export function cut(text: string, n: number): string {
  const one = oneLine(text);
  if (cells(one) <= n) return one;
  let out = '';
  let used = 0;
  graphemes ??= new Intl.Segmenter(undefined, { granularity: 'grapheme' });
  for (const { segment } of graphemes.segment(one.replace(ANSI, ''))) {
    const w = cells(segment);
    if (used + w > Math.max(1, n - 1)) break;
    out += segment;
    used += w;
  }
  return `${out}…`;
}

/**
 * Lays out rows under headers, columns separated by two spaces; every line fits `width` cells. The last
 * column is cut first; when the others alone are too wide, each cell is cut to its share.
 */
export function table(headers: string[], rows: string[][], width = 120): string[] {
  const all = [headers, ...rows].map((r) => r.map(oneLine));
  const widths = headers.map((_, c) => Math.max(...all.map((r) => cells(r[c] ?? ''))));
  // Columns before the last may take at most what leaves the last one 10 cells.
  const budget = Math.max(headers.length * 4, width - 10 - 2 * (headers.length - 1));
  let fixed = widths.slice(0, -1).reduce((a, b) => a + b, 0);
  while (fixed > budget) {
    const widest = widths.slice(0, -1).indexOf(Math.max(...widths.slice(0, -1)));
    widths[widest]--;
    fixed--;
  }
  const lastMax = Math.max(10, width - fixed - 2 * (headers.length - 1));
  return all.map((r, i) =>
    r.map((cell, c) => {
      const text = c === r.length - 1 ? cut(cell, lastMax) : pad(cut(cell, widths[c]), widths[c]);
      return i === 0 ? pc.bold(text) : text;
    }).join('  ').trimEnd(),
  );
}

/** "in 5s", "3m ago", "now". */
export function relative(ms: number, now: number): string {
  const d = ms - now;
  if (Math.abs(d) < 1000) return 'now';
  return d > 0 ? `in ${formatDuration(d)}` : `${formatDuration(-d)} ago`;
}

/** A local time with its offset, to the millisecond: 2026-01-05T14:03:22.123+01:00 (ISO-8601). */
export function localTime(ms: number): string {
  const d = new Date(ms);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  const off = -d.getTimezoneOffset();
  const zone = `${off >= 0 ? '+' : '-'}${p(Math.floor(Math.abs(off) / 60))}:${p(Math.abs(off) % 60)}`;
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}${zone}`;
}

/** 100000 -> "100,000". */
export function count(n: number): string {
  return n.toLocaleString('en-US');
}

export function printJson(out: (line: string) => void, value: unknown): void {
  out(JSON.stringify(value, null, 2));
}
