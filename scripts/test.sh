#!/usr/bin/env bash
# The full test suite: unit, integration (against real registries) and doc tests. Ends with one
# line giving the totals; exits non-zero when any test failed.
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh || exit 1
# The registry matrix's scenarios that did not run (an implementation not installed) are
# listed here by tests/support/matrix.rs.
skipped_file=target/tmp/matrix-skipped
rm -f "$skipped_file"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
cargo test --all-targets 2>&1 | tee -a "$log" || status=1
cargo test --doc 2>&1 | tee -a "$log" || status=1
skipped=0
if [ -s "$skipped_file" ]; then
  skipped=$(wc -l <"$skipped_file")
  echo "registry matrix: $skipped scenarios skipped: not installed ($(awk '{print $2}' "$skipped_file" | sort -u | paste -sd, -))"
fi
# "test result: ok. 12 passed; 0 failed; 1 ignored; …" once per test binary. The matrix's
# skipped scenarios end as passed tests there: counted as skipped here instead.
awk -v s="$skipped" '/^test result:/ { for (i = 1; i <= NF; i++) { n = $i + 0
       if ($(i+1) ~ /^passed/) p += n; if ($(i+1) ~ /^failed/) f += n; if ($(i+1) ~ /^ignored/) g += n } }
     END { printf "tests: %d passed, %d failed, %d ignored", p - s, f, g
           if (s > 0) printf ", %d skipped (registry not installed)", s
           printf "\n" }' "$log"
exit $status
