#!/usr/bin/env bash
# Installs the extra registry implementations of the test matrix (tests/integration/matrix.rs) into a
# cache directory that is checked first, so a machine that kept it does not build again:
#   ferro-oci-server  cargo install --locked --root "$cache/ferro"   (crates.io; ~2-5 min on 2 cores)
#   zuul-registry     a venv at "$cache/zuul", pip install            (PyPI; ~30 s)
# Versions are pinned (the matrix asserts each one's behaviour); a cache of another version is
# replaced.
# An install that fails is reported and skipped: the matrix then reports those kinds as
# "skipped: not installed" and the rest of the suite still runs. Never fails itself.
# IREL_REGISTRY_CACHE overrides the cache; IREL_SKIP_REGISTRIES=1 installs nothing.
set -uo pipefail
cache="${IREL_REGISTRY_CACHE:-$HOME/.cache/irel-registries}"
[ "${IREL_SKIP_REGISTRIES:-}" = 1 ] && { echo "irel: registry matrix: installs skipped (IREL_SKIP_REGISTRIES=1)" >&2; exit 0; }
ferro_version=1.0.0
zuul_version=1.3.0
mkdir -p "$cache" || { echo "irel: registry matrix: cannot create $cache; skipped" >&2; exit 0; }

ferro() {
  local bin="$cache/ferro/bin/ferro-oci-server"
  [ -x "$bin" ] && [ "$(cat "$cache/ferro/version" 2>/dev/null)" = "$ferro_version" ] && return 0
  rm -rf "$cache/ferro"
  command -v cargo >/dev/null || { echo "irel: registry matrix: no cargo; ferro-oci-server not installed" >&2; return 0; }
  echo "irel: registry matrix: building ferro-oci-server (crates.io) into $cache/ferro" >&2
  local start=$SECONDS log="$cache/ferro-install.log"
  # Its own target directory under the cache (not the project's) and only crates.io as source.
  # From the cache directory: no project's cargo configuration applies.
  if (cd "$cache" && CARGO_TARGET_DIR="$cache/ferro-target" cargo install --locked --quiet --root "$cache/ferro" \
      "ferro-oci-server@$ferro_version") >"$log" 2>&1; then
    rm -rf "$cache/ferro-target"
    echo "$ferro_version" >"$cache/ferro/version"
    echo "irel: registry matrix: ferro-oci-server installed in $((SECONDS - start)) s" >&2
  else
    echo "irel: registry matrix: NOTE ferro-oci-server failed to install (see $log); its scenarios will be skipped" >&2
    tail -5 "$log" >&2 || true
  fi
}

zuul() {
  local bin="$cache/zuul/bin/zuul-registry"
  [ -x "$bin" ] && [ "$(cat "$cache/zuul/version" 2>/dev/null)" = "$zuul_version" ] && return 0
  local py
  py="$(command -v python3 || true)"
  [ -n "$py" ] || { echo "irel: registry matrix: no python3; zuul-registry not installed" >&2; return 0; }
  echo "irel: registry matrix: installing zuul-registry (PyPI) into $cache/zuul" >&2
  local start=$SECONDS log="$cache/zuul-install.log"
  rm -rf "$cache/zuul"
  # PyPI only: the default index, no extra index or find-links from the environment.
  if "$py" -m venv "$cache/zuul" >"$log" 2>&1 \
      && PIP_FIND_LINKS= PIP_EXTRA_INDEX_URL= "$cache/zuul/bin/pip" install --quiet \
        --disable-pip-version-check "zuul-registry==$zuul_version" >>"$log" 2>&1 \
      && [ -x "$bin" ]; then
    echo "$zuul_version" >"$cache/zuul/version"
    echo "irel: registry matrix: zuul-registry installed in $((SECONDS - start)) s" >&2
  else
    echo "irel: registry matrix: NOTE zuul-registry failed to install (see $log); its scenarios will be skipped" >&2
    tail -5 "$log" >&2 || true
    rm -rf "$cache/zuul"
  fi
}

zuul
ferro
exit 0
