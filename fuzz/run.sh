#!/usr/bin/env bash
# Runs every fuzz target for a bounded time (default 60 s each) from the seeds in corpus/,
# writing what it finds to a scratch corpus so the kept seeds stay small. Needs nightly and
# cargo-fuzz (cargo install cargo-fuzz). Stable CI checks the same properties over the seeds
# and their mutations instead (tests/integration/fuzz_seeds.rs).
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-60}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
for target in reference www_authenticate manifest layout_index layout_path archive_entries; do
  mkdir -p "$scratch/$target"
  if ! cargo +nightly fuzz run "$target" "$scratch/$target" "corpus/$target" -- \
      -max_total_time="$seconds" -rss_limit_mb=1024 -print_final_stats=1 >"$scratch/$target.log" 2>&1; then
    tail -40 "$scratch/$target.log"
    echo "$target: CRASH (the input is in fuzz/artifacts/$target/)"
    exit 1
  fi
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$scratch/$target.log" | grep -o '[0-9]*$')
  echo "$target: ${seconds}s, $runs runs, $(ls "$scratch/$target" | wc -l) new inputs, no crash"
done
