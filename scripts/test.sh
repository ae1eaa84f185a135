#!/usr/bin/env bash
# The full test suite: unit, integration (against real registries) and doc tests. Ends with one
# line giving the totals; exits non-zero when any test failed.
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh || exit 1
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
cargo test --all-targets 2>&1 | tee -a "$log" || status=1
cargo test --doc 2>&1 | tee -a "$log" || status=1
# "test result: ok. 12 passed; 0 failed; 1 ignored; …" once per test binary.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { n = $i + 0
       if ($(i+1) ~ /^passed/) p += n; if ($(i+1) ~ /^failed/) f += n; if ($(i+1) ~ /^ignored/) g += n } }
     END { printf "tests: %d passed, %d failed, %d ignored\n", p, f, g }' "$log"
exit $status
