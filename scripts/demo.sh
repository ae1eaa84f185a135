#!/usr/bin/env bash
# A local relocation, end to end: starts two throwaway registries, pushes a synthetic
# multi-arch image into the first, maps its name under a prefix on the second the way Go irel
# does, copies it with irel, and checks with skopeo that the digest survived.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cargo build --release --quiet --bin irel --example push_synthetic
irel=target/release/irel
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

start_registry() { # name -> prints 127.0.0.1:PORT
  local dir=$work/$1
  mkdir -p "$dir"
  printf 'version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n    rootdirectory: %s/data\nhttp:\n  addr: 127.0.0.1:0\n  secret: demo\n' "$dir" > "$dir/config.yml"
  docker-registry serve "$dir/config.yml" >"$dir/log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do
    addr=$(grep -o 'listening on 127.0.0.1:[0-9]*' "$dir/log" | head -1 | sed 's/listening on //') || true
    if [ -n "${addr:-}" ]; then echo "$addr"; return; fi
    sleep 0.1
  done
  echo "registry $1 did not start" >&2; cat "$dir/log" >&2; exit 1
}

src_reg=$(start_registry source)
dst_reg=$(start_registry target)
echo "source registry  http://$src_reg    target registry  http://$dst_reg"

src="$src_reg/acme/app:1.0"
echo "pushing a synthetic two-platform image to $src"
target/release/examples/push_synthetic "$src" 512 >/dev/null

echo "\$ irel digest $src"
$irel digest "$src"
dst=$($irel map -r "$dst_reg/relocated" "$src")
echo "\$ irel map -r $dst_reg/relocated $src"
echo "$dst"
echo "\$ irel copy $src $dst"
$irel copy "$src" "$dst"

want=$($irel digest "$src")
got=$(skopeo inspect --raw --tls-verify=false "docker://$dst" | sha256sum | cut -d' ' -f1)
if [ "sha256:$got" != "$want" ]; then
  echo "FAILED: skopeo sees sha256:$got at $dst, expected $want" >&2
  exit 1
fi
echo "OK: skopeo confirms $dst has digest $want"
