#!/usr/bin/env bash
# Peak RSS of an idle `worker start --count 2` on an existing root (of the process started: since 8cabc4b its
# helper, the second process, holds as much again), 3 s after it printed "ready" (its first
# recovery pass and its first scan of pending/ are done by then). For before/after comparisons of builds on
# one root filled by bench/fill.mjs, e.g.:
#   node dist/cli/index.js status --root /tmp/wm/root
#   node bench/fill.mjs pending /tmp/wm/root 300000 --at $(( $(date +%s%3N) + 86400000 ))
#   for c in /tmp/qsnap-A /tmp/qsnap-B; do bash bench/worker-mem.sh $c/dist/cli/index.js /tmp/wm/root; done
# usage: bash bench/worker-mem.sh CLI ROOT
set -u
CLI=$1; ROOT=$2; LOG=$(mktemp)
node "$CLI" worker start --count 2 --root "$ROOT" > "$LOG" 2>&1 & P=$!
for i in $(seq 1 600); do grep -q " ready (pid" "$LOG" && break; sleep 0.1; done
sleep 3
echo "$CLI: ready after ~$((i / 10)) s; $(grep -E 'VmHWM|VmRSS' /proc/$P/status | tr -s ' \t' ' ' | tr '\n' ' ')"
node "$CLI" worker stop --root "$ROOT" > /dev/null 2>&1; wait $P; rm -f "$LOG"
