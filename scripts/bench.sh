#!/usr/bin/env bash
# Benchmarks of flink-go (make bench runs `make build` first):
#   1. Go micro-benchmarks of the hot packages (serialization, network, Nexmark generator), short;
#   2. whole-job Nexmark runs (bench/nexmark-bench): throughput per query, q1 latency, TaskManager
#      memory during q5, CPU profiles of queries that miss their target, and q5/q7 throughput
#      with checkpoints every 10 s vs. without on the heap (hashmap) and Pebble backends.
# Results go to docs/benchmarks.md (between the bench:results markers; the checkpoint comparison
# between the bench:checkpoint markers); raw output, profiles and
# logs to build/bench/. The machine should be otherwise idle: numbers on a shared box are noisy.
#
# Environment: BENCH_PARTS (default throughput,latency,rss,profile,checkpoint; BENCH_CHECKPOINT=0
# drops checkpoint from it), BENCH_CHECKPOINT_QUERIES (default q5,q7), BENCH_CHECKPOINT_SECONDS
# (job runtime per checkpoint-comparison run, default 40s), BENCH_CHECKPOINT_REPEAT (interleaved
# without/with pairs per query and backend, default 2), BENCH_QUERIES (default all),
# BENCH_SECONDS (job runtime per throughput run, default 15s), BENCH_MICRO=0 skips the
# micro-benchmarks, BENCH_BENCHTIME (go test -benchtime, default 200ms), BENCH_PROFILE_ALSO
# (queries to profile even when they met their target, e.g. q5-window,q4), BENCH_REPEAT (measured
# runs per query, the fastest counts; default 1), BENCH_FLINK_GO / BENCH_JOB (the binaries, default
# bin/flink-go and bin/examples/nexmark), BENCH_STATE=0 skips the short Pebble checkpoint benchmark
# (BENCH_STATE_KEYS, BENCH_STATE_ROUNDS).
set -euo pipefail
cd "$(dirname "$0")/.."
out=build/bench
mkdir -p "$out"

flink_go=${BENCH_FLINK_GO:-bin/flink-go}
job=${BENCH_JOB:-bin/examples/nexmark}
for b in "$flink_go" "$job"; do
  [[ -x $b ]] || { echo "bench: $b is missing; run 'make build' first" >&2; exit 1; }
done

micro_args=()
if [[ ${BENCH_MICRO:-1} != 0 ]]; then
  echo "== micro-benchmarks (benchtime ${BENCH_BENCHTIME:-200ms})" >&2
  # -run '^$' skips the tests; each package's benchmarks run briefly, one package at a time.
  go test -run '^$' -bench . -benchmem -benchtime "${BENCH_BENCHTIME:-200ms}" -count 1 -p 1 \
    ./runtime/serde ./runtime/network ./connectors/nexmark 2>&1 \
    | grep -E '^(Benchmark|goos|goarch|cpu|pkg|ok|FAIL|---)' | tee "$out/micro.txt" >&2 || true
  micro_args=(--micro "$out/micro.txt")
fi

if [[ ${BENCH_STATE:-1} != 0 ]]; then
  # The short version of the Pebble state-backend benchmark (docs/benchmarks.md, "State
  # backends"; the full one is 10 M keys, 20 rounds). Output only in build/bench/state.txt.
  echo "== state backend: pebble incremental checkpoints (short)" >&2
  FLINKGO_STATE_BENCH_KEYS=${BENCH_STATE_KEYS:-200000} FLINKGO_STATE_BENCH_ROUNDS=${BENCH_STATE_ROUNDS:-5} \
    go test -v -run '^$' -bench PebbleBackendCheckpoints -benchtime=1x -timeout 20m ./runtime/state/ \
    > "$out/state.txt" 2>&1 || echo "bench: state backend benchmark failed, see $out/state.txt" >&2
  grep -E '^(Benchmark|ok|FAIL)' "$out/state.txt" >&2 || true
fi

parts=${BENCH_PARTS:-throughput,latency,rss,profile,checkpoint}
if [[ ${BENCH_CHECKPOINT:-1} == 0 ]]; then
  parts=$(tr ',' '\n' <<<"$parts" | { grep -vx checkpoint || true; } | paste -sd, -)
fi

echo "== whole-job Nexmark runs ($parts)" >&2
go run ./bench/nexmark-bench \
  --flink-go "$flink_go" --job "$job" \
  --parts "$parts" \
  --queries "${BENCH_QUERIES:-q0,q1,q2,q3,q4,q5,q5-window,q7,q8}" \
  --seconds "${BENCH_SECONDS:-15s}" \
  --repeat "${BENCH_REPEAT:-1}" \
  --profile-dir "$out" \
  --checkpoint-queries "${BENCH_CHECKPOINT_QUERIES:-q5,q7}" \
  --checkpoint-seconds "${BENCH_CHECKPOINT_SECONDS:-40s}" \
  --checkpoint-repeat "${BENCH_CHECKPOINT_REPEAT:-2}" \
  --checkpoint-dir "$out/checkpoints" \
  --profile-also "${BENCH_PROFILE_ALSO:-}" \
  --doc docs/benchmarks.md \
  "${micro_args[@]}" | tee "$out/results.md"
