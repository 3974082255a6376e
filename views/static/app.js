// queuectl status page: progressive enhancement. Every page works without this file; with it:
//  - the overview refreshes its counts, charts, workers and recent activity from /api/status
//    every few seconds (paused while the tab is hidden), without reloading the page;
//  - "Retry all" and cancel ask for confirmation; the dead letter queue gets "select all".
// Job-derived text is only ever set with textContent, never parsed as HTML.
'use strict';

(function () {
  document.documentElement.classList.add('js');
  const int = new Intl.NumberFormat('en-US');
  const SVG = 'http://www.w3.org/2000/svg';

  // ---- confirmations and selection (every page) ----
  document.addEventListener('click', (e) => {
    const button = e.target instanceof Element ? e.target.closest('button[data-confirm]') : null;
    if (button && !window.confirm(button.getAttribute('data-confirm'))) e.preventDefault();
  });

  const form = document.getElementById('dlq-form');
  if (form) {
    const boxes = () => Array.from(form.querySelectorAll('input[name="ids"]'));
    const all = form.querySelector('[data-select-all]');
    const needs = form.querySelector('[data-needs-selection]');
    const sync = () => {
      const checked = boxes().filter((b) => b.checked).length;
      if (needs) {
        needs.disabled = checked === 0;
        needs.textContent = checked ? `Retry selected (${checked})` : 'Retry selected';
      }
      if (all) {
        all.checked = checked > 0 && checked === boxes().length;
        all.indeterminate = checked > 0 && checked < boxes().length;
      }
    };
    if (all) all.addEventListener('change', () => { for (const b of boxes()) b.checked = all.checked; sync(); });
    form.addEventListener('change', (e) => { if (e.target !== all) sync(); });
    sync();
  }

  if (document.body.dataset.page !== 'overview') return;

  // ---- live overview ----
  const refreshMs = Math.max(500, Number(document.body.dataset.refresh || 2) * 1000);
  const live = document.getElementById('live');
  let last = null;
  let timer = null;
  let failures = 0;

  function formatDuration(ms) {
    if (!Number.isFinite(ms)) return '-';
    ms = Math.abs(ms);
    if (ms < 1000) return `${Math.round(ms)}ms`;
    if (ms < 60000) return `${+(ms / 1000).toFixed(ms < 10000 ? 1 : 0)}s`;
    let rest = Math.round(ms / 1000);
    const parts = [];
    for (const [unit, size] of [['d', 86400], ['h', 3600], ['m', 60], ['s', 1]]) {
      if (rest >= size) { parts.push(`${Math.floor(rest / size)}${unit}`); rest %= size; }
    }
    return parts.slice(0, 2).join('');
  }
  function rel(ms, now) {
    const d = ms - now;
    if (!Number.isFinite(d)) return '-';
    if (Math.abs(d) < 1000) return 'now';
    return d > 0 ? `in ${formatDuration(d)}` : `${formatDuration(-d)} ago`;
  }
  /** Same scale as charts.ts niceMax: 1, 2 or 5 times a power of ten. */
  function niceMax(v) {
    if (v <= 1) return 1;
    const p = 10 ** Math.floor(Math.log10(v));
    for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
    return 10 * p;
  }
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    for (const c of children) node.append(c);
    return node;
  }
  const jobLink = (id) => el('a', { class: 'mono id', href: `/jobs/${encodeURIComponent(id)}`, title: id }, id);

  function updateCounts(counts) {
    for (const node of document.querySelectorAll('[data-count]')) {
      const state = node.getAttribute('data-count');
      if (!(state in counts)) continue;
      const text = int.format(counts[state]);
      if (node.textContent !== text) {
        node.textContent = text;
        const card = node.closest('.count');
        if (card) { card.classList.remove('changed'); void card.offsetWidth; card.classList.add('changed'); }
      }
      if (node.classList.contains('badge')) node.hidden = counts[state] === 0;
    }
  }

  function updateStateChart(counts) {
    const svg = document.getElementById('state-chart');
    if (!svg) return;
    const space = Number(svg.dataset.barSpace);
    const rows = Array.from(svg.querySelectorAll('g[data-state]'));
    const max = Math.max(1, ...rows.map((g) => counts[g.dataset.state] || 0));
    for (const g of rows) {
      const v = counts[g.dataset.state] || 0;
      const bar = g.querySelector('.bar');
      bar.setAttribute('width', (v === 0 ? 0 : Math.max(2, (v / max) * space)).toFixed(1));
      bar.querySelector('title').textContent = `${g.dataset.state}: ${int.format(v)}`;
      g.querySelector('.value').textContent = int.format(v);
    }
  }

  function updateThroughput(tp) {
    const svg = document.getElementById('tp-chart');
    if (!svg) return;
    const d = svg.dataset;
    const [width, height, left, top, bottom] = [d.width, d.height, d.left, d.top, d.bottom].map(Number);
    const plot = height - bottom - top;
    const base = height - bottom;
    const max = niceMax(Math.max(0, ...tp.minutes.map((m) => m.completed + m.failed)));
    const step = (width - left) / tp.minutes.length;
    const group = svg.querySelector('[data-columns]');
    const cols = group.querySelectorAll('g.col');
    tp.minutes.forEach((m, i) => {
      let g = cols[i];
      if (!g) {
        g = document.createElementNS(SVG, 'g');
        g.setAttribute('class', 'col');
        g.append(document.createElementNS(SVG, 'title'));
        for (const cls of ['c-completed', 'c-failed']) {
          const r = document.createElementNS(SVG, 'rect');
          r.setAttribute('class', cls);
          g.append(r);
        }
        group.append(g);
      }
      const ch = (m.completed / max) * plot;
      const fh = (m.failed / max) * plot;
      const x = (left + i * step + 1).toFixed(1);
      const w = Math.max(1, step - 2).toFixed(1);
      const [c, f] = g.querySelectorAll('rect');
      c.setAttribute('x', x); c.setAttribute('width', w); c.setAttribute('y', (base - ch).toFixed(1)); c.setAttribute('height', ch.toFixed(1));
      f.setAttribute('x', x); f.setAttribute('width', w); f.setAttribute('y', (base - ch - fh).toFixed(1)); f.setAttribute('height', fh.toFixed(1));
      g.querySelector('title').textContent = `${new Date(m.start).toISOString().slice(11, 16)} UTC: ${m.completed} completed, ${m.failed} failed`;
    });
    svg.querySelector('[data-axis="max"]').textContent = int.format(max);
    svg.querySelector('[data-axis="half"]').textContent = int.format(max / 2);
    for (const k of ['completed', 'failed']) {
      const node = document.querySelector(`[data-tp="${k}"]`);
      if (node) node.textContent = int.format(tp[k]);
    }
  }

  function updateWorkers(workers, now) {
    const body = document.getElementById('workers-body');
    if (!body) return;
    const rows = workers.map((w) => el('tr', null,
      el('td', { class: 'mono' }, w.id),
      el('td', { class: 'num hide-narrow' }, String(w.pid)),
      el('td', { class: 'hide-narrow' }, w.host),
      el('td', { class: 'id' }, w.current_job ? jobLink(w.current_job) : el('span', { class: 'muted' }, w.stop ? 'none (stopping: takes no more jobs)' : 'idle')),
      el('td', null, rel(w.heartbeat_at, now)),
      el('td', null, el('span', { class: `badge ${!w.alive ? 'st-dead' : w.stop ? 'st-scheduled' : 'st-completed'}`, 'data-worker-status': '' }, !w.alive ? 'stale' : w.stop ? 'stopping' : 'alive'))));
    if (rows.length === 0) {
      rows.push(el('tr', null, el('td', { colspan: '6', class: 'empty' }, 'No workers. Start one with ', el('code', null, 'queuectl worker start'), '.')));
    }
    body.replaceChildren(...rows);
    const alive = workers.filter((w) => w.alive).length;
    const stale = workers.length - alive;
    const summary = document.getElementById('workers-summary');
    if (summary) summary.textContent = `${alive} alive${stale ? `, ${stale} stale` : ''}`;
  }

  async function updateRecent(now) {
    const list = document.getElementById('recent');
    if (!list) return;
    const get = (state) => fetch(`/api/jobs?state=${state}&limit=10`, { headers: { accept: 'application/json' } }).then((r) => r.json());
    const [completed, dead] = await Promise.all([get('completed'), get('dead')]);
    const at = (j) => j.finished_at || j.updated_at;
    const jobs = [...completed.jobs, ...dead.jobs].sort((a, b) => at(b).localeCompare(at(a))).slice(0, 10);
    const items = jobs.map((j) => el('li', null,
      el('span', null, el('span', { class: `badge st-${j.state}` }, j.state)),
      jobLink(j.id),
      el('span', { class: 'cmd mono', title: j.command }, j.command.replace(/\s*\n\s*/g, ' ⏎ ')),
      el('time', { datetime: at(j) }, rel(Date.parse(at(j)), now))));
    if (items.length === 0) items.push(el('li', { class: 'empty' }, 'Nothing has finished yet.'));
    list.replaceChildren(...items);
  }

  async function refresh() {
    timer = null;
    try {
      const res = await fetch('/api/status', { headers: { accept: 'application/json' } });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      const s = await res.json();
      updateCounts(s.counts);
      updateStateChart(s.counts);
      updateThroughput(s.throughput);
      updateWorkers(s.workers, s.now);
      if (!last || last.completed !== s.counts.completed || last.dead !== s.counts.dead) await updateRecent(s.now);
      last = s.counts;
      failures = 0;
      live.hidden = false;
      live.classList.remove('offline');
      live.textContent = 'live';
      live.title = `Updated ${new Date(s.now).toLocaleTimeString()}`;
      document.body.dataset.updated = String(s.now);
    } catch (err) {
      failures++;
      live.hidden = false;
      live.classList.add('offline');
      live.textContent = 'offline';
      live.title = `Could not reach the dashboard: ${err.message}`;
    }
    schedule();
  }

  function schedule() {
    if (timer !== null || document.hidden) return;
    // Back off while the server is unreachable, up to 30 s.
    timer = setTimeout(refresh, Math.min(30000, refreshMs * 2 ** Math.min(failures, 4)));
  }

  document.addEventListener('visibilitychange', () => {
    if (document.hidden) { clearTimeout(timer); timer = null; } else refresh();
  });
  schedule();
})();
