// Chart geometry for the overview, computed here and drawn as SVG by views/overview.ejs. Pure.
// views/static/app.js redraws the same charts from /api/status: it reads the sizes from the SVG's
// data-* attributes and uses the same scale (niceMax), so both drawings agree.

import type { Counts } from '../inspect.js';
import type { StatsSnapshot } from '../stats.js';

/** The states shown on the page, in lifecycle order, with what each means. */
export const PAGE_STATES = [
  { state: 'pending', hint: 'ready to run' },
  { state: 'scheduled', hint: 'run_at ahead' },
  { state: 'failed', hint: 'awaiting retry' },
  { state: 'waiting', hint: 'for dependencies' },
  { state: 'processing', hint: 'running now' },
  { state: 'completed', hint: 'succeeded' },
  { state: 'dead', hint: 'gave up' },
] as const;

/** The smallest 1, 2 or 5 times a power of ten that is at least v (and at least 1). */
export function niceMax(v: number): number {
  if (v <= 1) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

/** One minute of throughput. */
export interface MinuteCount {
  /** Start of the minute (epoch ms). */
  start: number;
  completed: number;
  failed: number;
}

/** The last `minutes` minutes up to and including now's, oldest first, zero where nothing ran. */
export function throughputSeries(stats: Pick<StatsSnapshot, 'minutes'>, now: number, minutes = 60): MinuteCount[] {
  const current = Math.floor(now / 60_000);
  const out: MinuteCount[] = [];
  for (let m = current - minutes + 1; m <= current; m++) {
    const c = stats.minutes[String(m)];
    out.push({ start: m * 60_000, completed: c?.completed ?? 0, failed: c?.failed ?? 0 });
  }
  return out;
}

export const STATE_CHART = { width: 360, row: 26, labelWidth: 84, valueWidth: 64 } as const;

export interface StateBar {
  state: string;
  value: number;
  y: number;
  width: number;
}

/** Horizontal bars, one per state, scaled to the largest count. */
export function stateBars(counts: Counts): { bars: StateBar[]; height: number; barSpace: number } {
  const barSpace = STATE_CHART.width - STATE_CHART.labelWidth - STATE_CHART.valueWidth;
  const max = Math.max(1, ...PAGE_STATES.map(({ state }) => counts[state]));
  const bars = PAGE_STATES.map(({ state }, i) => {
    const value = counts[state];
    return { state, value, y: i * STATE_CHART.row, width: value === 0 ? 0 : Math.max(2, (value / max) * barSpace) };
  });
  return { bars, height: PAGE_STATES.length * STATE_CHART.row, barSpace };
}

export const THROUGHPUT_CHART = { width: 600, height: 150, left: 36, bottom: 20, top: 8 } as const;

export interface Column {
  x: number;
  width: number;
  /** Completed part (bottom), then failed part stacked on it. */
  completedY: number;
  completedH: number;
  failedY: number;
  failedH: number;
  title: string;
}

/** Stacked columns per minute; y runs from 0 to niceMax of the busiest minute. */
export function throughputColumns(series: MinuteCount[]): { columns: Column[]; max: number; plotHeight: number } {
  const { width, height, left, bottom, top } = THROUGHPUT_CHART;
  const plotHeight = height - bottom - top;
  const max = niceMax(Math.max(0, ...series.map((m) => m.completed + m.failed)));
  const step = (width - left) / series.length;
  const base = height - bottom;
  const columns = series.map((m, i) => {
    const completedH = (m.completed / max) * plotHeight;
    const failedH = (m.failed / max) * plotHeight;
    const time = new Date(m.start).toISOString().slice(11, 16);
    return {
      x: left + i * step + 1,
      width: Math.max(1, step - 2),
      completedY: base - completedH,
      completedH,
      failedY: base - completedH - failedH,
      failedH,
      title: `${time} UTC: ${m.completed} completed, ${m.failed} failed`,
    };
  });
  return { columns, max, plotHeight };
}
