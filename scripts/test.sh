#!/usr/bin/env bash
# The full test suite: unit tests, doc tests, and integration tests against real registries.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cargo test --all-targets
cargo test --doc
