#!/usr/bin/env bash
# Throughput of two builds, interleaved: `worker start --count C` on a fresh root, one `enqueue -` of N
# `{"command":"true"}` jobs, `wait --all`, the wall clock around the two calls; the order of the builds
# alternates each pair. One line per pass.
#   bash bench/ab.sh OLD_CLI NEW_CLI C REPS [N]    e.g. bash bench/ab.sh /tmp/old/dist/cli/index.js dist/cli/index.js 2 6
set -euo pipefail
OLD=$1 NEW=$2 C=$3 REPS=$4 N=${5:-1000}
jobs=$(mktemp)
trap 'rm -f "$jobs"' EXIT
for _ in $(seq 1 "$N"); do echo '{"command":"true"}'; done > "$jobs"
for r in $(seq 1 "$REPS"); do
  if [ $((r % 2)) = 1 ]; then order="old new"; else order="new old"; fi
  for v in $order; do
    if [ "$v" = old ]; then cli=$OLD; else cli=$NEW; fi
    dir=$(mktemp -d)
    root=$dir/root
    node "$cli" --root "$root" status >/dev/null
    node "$cli" --root "$root" worker start --count "$C" >"$dir/worker.log" 2>&1 &
    w=$!
    for _ in $(seq 1 600); do grep -q " ready (pid" "$dir/worker.log" && break; sleep 0.05; done
    t0=$(date +%s%N)
    node "$cli" --root "$root" enqueue - <"$jobs" >/dev/null
    node "$cli" --root "$root" wait --all >/dev/null
    t1=$(date +%s%N)
    node "$cli" --root "$root" worker stop >/dev/null
    wait "$w" || true
    echo "$v C=$C rep $r: $(( N * 10000000000 / (t1 - t0) / 10 )).$(( N * 10000000000 / (t1 - t0) % 10 )) jobs/s"
    rm -rf "$dir"
  done
done
