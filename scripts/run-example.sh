#!/usr/bin/env bash
# `make run`: run the windowed word count (event time, out-of-order input, allowed lateness and a
# late-data side output) on the embedded local cluster at parallelism 2, then the batch-style
# word count on a generated text file, checked against `sort | uniq -c`.
set -euo pipefail
cd "$(dirname "$0")/.."
export FLINK_GO_LOG_LEVEL=${FLINK_GO_LOG_LEVEL:-warn}
echo "== windowed-wordcount: 5 s event-time windows over generated out-of-order sentences (p=2)"
./bin/flink-go run -t local -p 2 -D rest.port=0 bin/examples/windowed-wordcount --records 3000
echo
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
awk 'BEGIN{srand(42); for(i=0;i<20000;i++){n=1+int(rand()*8); l=""; for(j=0;j<n;j++){l=l (j?" ":"") "w" int(rand()*500)} print l}}' > "$tmp/input.txt"
echo "== wordcount: $(wc -c < "$tmp/input.txt") bytes of text, TaskManagers as 2 processes (p=2)"
./bin/flink-go run -t local -p 2 -D rest.port=0 -D local.taskmanagers=2 -D local.taskmanagers.processes=true \
  bin/examples/wordcount --input "$tmp/input.txt" --output "$tmp/out"
sort "$tmp"/out/part-* > "$tmp/got"
tr -s ' ' '\n' < "$tmp/input.txt" | sort | uniq -c | awk '{print $2"\t"$1}' | sort > "$tmp/want"
echo "first counts:"; head -5 "$tmp/got"
if cmp -s "$tmp/got" "$tmp/want"; then echo "wordcount output matches sort | uniq -c ($(wc -l < "$tmp/got") words)"; else echo "MISMATCH with sort | uniq -c"; exit 1; fi
