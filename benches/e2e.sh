#!/usr/bin/env bash
# End-to-end throughput: irel against the practical limit (curl, ../shared/bench/rawcopy.sh or
# its copy in benches/) and skopeo, side by side in one run, each into a freshly started empty
# destination registry, rounds interleaved, medians reported, ratios printed.
#
# usage: benches/e2e.sh [--rounds N] [--size-mib M] [--sync-only] [--smoke]
#   --size-mib M   total image size, in 4 equal layers (default 1024)
#   --sync-only    just the 100-tag sync against skopeo sync
#   --smoke        a tiny image and one round: checks the script works (CI)
# For the sync it also prints the CPU the two registries used, and the floor that sets.
# With IREL_BEFORE=/path/to/an/older/irel, that binary runs in every round beside this one (the
# same copies and syncs into fresh registries), and the after/before ratios are printed: how a
# change is measured without the noise of two separate runs.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=3 size=1024 smoke=0 tags=100 sync_only=0 singles="64 2048"
while [ $# -gt 0 ]; do
  case $1 in
    --rounds) rounds=$2; shift 2;;
    --size-mib) size=$2; shift 2;;
    --smoke) smoke=1 rounds=1 size=4 tags=3 singles="1 8"; shift;;
    --sync-only) sync_only=1; shift;;
    *) echo "unknown argument $1" >&2; exit 2;;
  esac
done
scripts/deps.sh
for tool in bc /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "benches/e2e.sh needs $tool (apt-get install bc time)" >&2; exit 1; }
done
cargo build --release --quiet --bin irel
irel=$PWD/target/release/irel
rawcopy=$PWD/benches/rawcopy.sh
mkimage=$PWD/benches/mkimage.py
work=$(mktemp -d)
# Registries are started in command substitutions (subshells), so they are found by their
# storage path rather than by a pid list.
cleanup() { pkill -f "docker-registry serve $work/" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

registry() { # NAME -> 127.0.0.1:PORT (fresh storage)
  local dir=$work/reg-$1-$RANDOM; mkdir -p "$dir"
  printf 'version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: %s/data\nhttp:\n  addr: 127.0.0.1:0\n  secret: bench\n' "$dir" >"$dir/config.yml"
  docker-registry serve "$dir/config.yml" >"$dir/log" 2>&1 &
  echo $! >"$dir/pid"
  for _ in $(seq 200); do
    a=$(grep -o 'listening on 127.0.0.1:[0-9]*' "$dir/log" | head -1 | sed 's/listening on //') || true
    [ -n "${a:-}" ] && { echo "$a $(cat "$dir/pid")" >>"$work/registries"; echo "$a"; return; }
    sleep 0.05
  done
  echo "registry did not start" >&2; exit 1
}
# CPU seconds (user + sys) the registry at ADDR has used so far.
registry_cpu() {
  local pid; pid=$(awk -v a="$1" '$1 == a {print $2}' "$work/registries")
  awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$pid/stat"
}
stop_registry() { pkill -f "$work/reg-.*$1" 2>/dev/null || true; }

# run LABEL CMD... : appends "wall cpu rss_kib" to $work/LABEL
run() {
  local label=$1; shift
  # Flush the writeback an earlier row left (a 1 GiB copy leaves seconds of dirty pages), so
  # the registries' fsyncs in this run wait only on this run's data.
  sync
  local t0 t1; t0=$(date +%s.%N)
  /usr/bin/time -f "%U %S %M" -o "$work/time" "$@" >/dev/null 2>"$work/err" || { cat "$work/err" >&2; exit 1; }
  t1=$(date +%s.%N)
  read -r u s m <"$work/time"
  echo "$(echo "$t1 - $t0" | bc) $(echo "$u + $s" | bc) $m" >>"$work/$label"
}
median() { # LABEL FIELD(1 wall, 2 cpu, 3 rss)
  cut -d' ' -f"$2" "$work/$1" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}
ratio() { if [ "$(echo "$2 == 0" | bc)" = 1 ]; then echo "n/a"; else echo "scale=2; $1 / $2" | bc; fi; }
layers=$(for _ in 1 2 3 4; do printf '%s,' "$(echo "scale=3; $size / 4" | bc)"; done); layers=${layers%,}

echo "image: ${size} MiB in 4 layers; $rounds rounds; $(nproc) cores; $(uname -m)"
python3 "$mkimage" "$work/img" --layers "$layers" --seed 1 >/dev/null
src=$(registry src)
skopeo copy --all --preserve-digests --dest-tls-verify=false "oci:$work/img:latest" "docker://$src/bench/img:1" >/dev/null
gib=$(echo "scale=4; $size / 1024" | bc)

copy_rounds=$rounds
[ "$sync_only" = 1 ] && copy_rounds=0
for round in $(seq "$copy_rounds"); do
  d=$(registry raw); run rawcopy bash "$rawcopy" "$src/bench/img:1" "$d/bench/img:1"
  d=$(registry irel); run irel "$irel" copy "$src/bench/img:1" "$d/bench/img:1"
  if [ -n "${IREL_BEFORE:-}" ]; then
    d=$(registry before); run irel_before "$IREL_BEFORE" copy "$src/bench/img:1" "$d/bench/img:1"
  fi
  run recopy "$irel" copy "$src/bench/img:1" "$d/bench/img:1"
  run mount "$irel" copy "$src/bench/img:1" "$src/bench/mounted-$round:1"
  rm -f /var/lib/containers/cache/blob-info-cache-v1.boltdb
  d=$(registry skopeo); run skopeo skopeo copy --preserve-digests --src-tls-verify=false --dest-tls-verify=false "docker://$src/bench/img:1" "docker://$d/bench/img:1"
  # registry → OCI layout and back, against curl doing the same blob transfers.
  rm -rf "$work/layout-$round"
  run to_layout "$irel" layout add "$work/layout-$round" "$src/bench/img:1"
  digest=$("$irel" digest "$src/bench/img:1")
  d=$(registry from-layout); run from_layout "$irel" layout push "$work/layout-$round" "$digest" "$d/bench/img:1"
  run curl_down bash -c "cd $work && for b in \$(ls $work/img/blobs/sha256); do curl -sf http://$src/v2/bench/img/blobs/sha256:\$b -o $work/dl-\$b & done; wait"
  d=$(registry curl-up); run curl_up bash -c "for b in \$(ls $work/img/blobs/sha256); do (loc=\$(curl -sf -X POST -D - -o /dev/null http://$d/v2/bench/img/blobs/uploads/ | tr -d '\r' | awk -F': ' 'tolower(\$1)==\"location\"{print \$2}'); case \$loc in http*) ;; *) loc=http://$d\$loc;; esac; curl -sf -X PUT -H 'Content-Type: application/octet-stream' -T $work/img/blobs/sha256/\$b \"\$loc&digest=sha256:\$b\" -o /dev/null) & done; wait"
  rm -f "$work"/dl-*
done

# Peak memory does not grow with blob size: single-layer images (generated by irel bench).
if [ "$sync_only" = 0 ]; then
  for s in $singles; do
    "$irel" bench push --size "${s}MiB" --layers 1 "$src/single/s$s:1" >/dev/null
    d=$(registry single-$s); run "single_$s" "$irel" copy "$src/single/s$s:1" "$d/single/s$s:1"
    stop_registry "single-$s"
  done
fi

# Sync of many small tags, irel against skopeo sync, fresh destinations.
for i in $(seq "$tags"); do
  python3 "$mkimage" "$work/tag-$i" --layers 0.5,0.5 --seed $((1000 + i)) >/dev/null
  skopeo copy --preserve-digests --dest-tls-verify=false "oci:$work/tag-$i:latest" "docker://$src/many/app:t$i" >/dev/null
done
# sync_run LABEL CMD... : `run`, and the CPU both registries spent meanwhile into LABEL_registries.
sync_run() {
  local label=$1 dst=$2; shift 2
  local s0 d0; s0=$(registry_cpu "$src"); d0=$(registry_cpu "$dst")
  run "$label" "$@"
  sleep 0.2 # the destination's last responses are accounted after the client exits
  echo "$(echo "$(registry_cpu "$src") - $s0 + $(registry_cpu "$dst") - $d0" | bc)" >>"$work/${label}_registries"
}
for _ in $(seq "$rounds"); do
  d=$(registry sync-irel); sync_run sync_irel "$d" "$irel" sync "docker://$src/many/app" "docker://$d/m"
  if [ -n "${IREL_BEFORE:-}" ]; then
    d=$(registry sync-before); sync_run sync_before "$d" "$IREL_BEFORE" sync "docker://$src/many/app" "docker://$d/m"
  fi
  rm -f /var/lib/containers/cache/blob-info-cache-v1.boltdb
  d=$(registry sync-skopeo); sync_run sync_skopeo "$d" skopeo sync --src docker --dest docker --src-tls-verify=false --dest-tls-verify=false "$src/many/app" "$d/m"
done
# The sync's floor: the CPU the two registries and the client need, spread over every core.
sync_floor() {
  local reg; reg=$(median sync_irel_registries 1)
  echo "irel sync: registries $reg s cpu, irel $(median sync_irel 2) s; floor on $(nproc) cores $(echo "scale=2; ($reg + $(median sync_irel 2)) / $(nproc)" | bc) s, wall $(median sync_irel 1) s (skopeo sync: registries $(median sync_skopeo_registries 1) s)"
}

# After/before ratios, when IREL_BEFORE ran beside this build.
before_ratios() {
  [ -n "${IREL_BEFORE:-}" ] || return 0
  if [ -s "$work/irel_before" ]; then
    echo "irel / before, copy: wall $(ratio "$(median irel 1)" "$(median irel_before 1)"), cpu $(ratio "$(median irel 2)" "$(median irel_before 2)"), rss $(ratio "$(median irel 3)" "$(median irel_before 3)")"
  fi
  echo "irel / before, sync: wall $(ratio "$(median sync_irel 1)" "$(median sync_before 1)"), cpu $(ratio "$(median sync_irel 2)" "$(median sync_before 2)"), rss $(ratio "$(median sync_irel 3)" "$(median sync_before 3)")"
}

printf '\n%-44s %10s %10s %10s\n' "what (medians)" "wall s" "cpu s" "rss MiB"
if [ "$sync_only" = 1 ]; then
  for l in sync_irel sync_skopeo; do
    printf '%-44s %10s %10s %10s\n' "$l" "$(median $l 1)" "$(median $l 2)" "$(echo "$(median $l 3) / 1024" | bc)"
  done
  echo "skopeo sync / irel sync ($tags tags) $(ratio "$(median sync_skopeo 1)" "$(median sync_irel 1)")   (target >= 3)"
  sync_floor
  before_ratios
  exit 0
fi
for l in rawcopy irel skopeo mount recopy to_layout curl_down from_layout curl_up sync_irel sync_skopeo; do
  printf '%-44s %10s %10s %10s\n' "$l" "$(median $l 1)" "$(median $l 2)" "$(echo "$(median $l 3) / 1024" | bc)"
done
echo
echo "irel / rawcopy wall            $(ratio "$(median irel 1)" "$(median rawcopy 1)")   (target <= 1.10)"
echo "irel / skopeo wall             $(ratio "$(median irel 1)" "$(median skopeo 1)")   (target <= 0.95)"
echo "irel cpu s per GiB             $(ratio "$(median irel 2)" "$gib")   (target <= 1.0; skopeo $(ratio "$(median skopeo 2)" "$gib"))"
echo "irel peak rss MiB              $(echo "$(median irel 3) / 1024" | bc)   (target <= 64)"
for s in $singles; do
  echo "irel peak rss MiB, ${s} MiB single layer  $(echo "$(median "single_$s" 3) / 1024" | bc)   (target <= 64; wall $(median "single_$s" 1) s)"
done
echo "mount to a new repository s    $(median mount 1)   (target <= 0.5)"
echo "repeated copy s                $(median recopy 1)   (target <= 0.3)"
echo "registry -> layout / curl      $(ratio "$(median to_layout 1)" "$(median curl_down 1)")   (target <= 1.15)"
echo "layout -> registry / curl      $(ratio "$(median from_layout 1)" "$(median curl_up 1)")   (target <= 1.15)"
echo "skopeo sync / irel sync ($tags tags) $(ratio "$(median sync_skopeo 1)" "$(median sync_irel 1)")   (target >= 3)"
sync_floor
before_ratios
