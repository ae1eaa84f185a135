#!/usr/bin/env bash
# A local relocation, end to end: starts two throwaway registries, pushes a synthetic
# multi-arch image into the first (with skopeo, from an OCI layout this script writes), maps its
# name under a prefix on the second the way Go irel does, copies it with irel, and checks with
# skopeo that the digest survived. The registries are stopped and their storage removed at the
# end, however the script ends.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
# The same build a user runs next (`cargo build --release`), so nothing is rebuilt after.
echo "building irel (cargo build --release; the first build takes a few minutes)"
cargo build --release --quiet
irel=target/release/irel
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

# Starts a registry (in this shell, so that cleanup knows its pid); sets REPLY to 127.0.0.1:PORT.
start_registry() {
  local dir=$work/$1
  mkdir -p "$dir"
  printf 'version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n    rootdirectory: %s/data\nhttp:\n  addr: 127.0.0.1:0\n  secret: demo\n' "$dir" > "$dir/config.yml"
  docker-registry serve "$dir/config.yml" >"$dir/log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do
    REPLY=$(grep -so 'listening on 127.0.0.1:[0-9]*' "$dir/log" | head -1 | sed 's/listening on //') || true
    if [ -n "$REPLY" ]; then return; fi
    sleep 0.1
  done
  echo "registry $1 did not start" >&2; cat "$dir/log" >&2; exit 1
}

# Writes blob content from stdin into the layout $1; prints "DIGEST SIZE".
put_blob() {
  local tmp=$1/blob.tmp hex
  cat > "$tmp"
  hex=$(sha256sum "$tmp" | cut -d' ' -f1)
  mv "$tmp" "$1/blobs/sha256/$hex"
  echo "sha256:$hex $(stat -c %s "$1/blobs/sha256/$hex")"
}

# A two-platform OCI layout of random layers, tagged 1.0.
synthetic_layout() {
  local dir=$1 entries="" arch
  mkdir -p "$dir/blobs/sha256"
  echo '{"imageLayoutVersion":"1.0.0"}' > "$dir/oci-layout"
  for arch in amd64 arm64; do
    read -r ld ls < <(head -c 524288 /dev/urandom | put_blob "$dir")
    read -r cd cs < <(printf '{"architecture":"%s","os":"linux","rootfs":{"type":"layers","diff_ids":["%s"]}}' "$arch" "$ld" | put_blob "$dir")
    read -r md ms < <(printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"%s","size":%s}]}' "$cd" "$cs" "$ld" "$ls" | put_blob "$dir")
    entries+="${entries:+,}{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"$md\",\"size\":$ms,\"platform\":{\"architecture\":\"$arch\",\"os\":\"linux\"}}"
  done
  read -r id is < <(printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[%s]}' "$entries" | put_blob "$dir")
  printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"1.0"}}]}' "$id" "$is" > "$dir/index.json"
}

start_registry source; src_reg=$REPLY
start_registry target; dst_reg=$REPLY
echo "source registry  http://$src_reg    target registry  http://$dst_reg"

src="$src_reg/acme/app:1.0"
echo "pushing a synthetic two-platform image to $src (skopeo)"
synthetic_layout "$work/layout"
skopeo copy --quiet --all --dest-tls-verify=false "oci:$work/layout:1.0" "docker://$src"

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
