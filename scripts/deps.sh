#!/usr/bin/env bash
# Installs what irel's tests and demo run against: the distribution registry, skopeo (the
# independent peer that cross-checks digests), openssl (test certificates and token signing)
# htpasswd, script (a pseudo-terminal for the progress-bar test) and tmux (a terminal emulator whose
# screen the terminal tests read back). Does nothing when they are
# all present. Then scripts/registries.sh: the registry matrix's other implementations
# (ferro-oci-server, zuul-registry), from a cache when built before; never fails.
set -euo pipefail
registries() { bash "$(dirname "$0")/registries.sh"; }
need=()
command -v docker-registry >/dev/null || need+=(docker-registry)
command -v skopeo >/dev/null || need+=(skopeo)
command -v openssl >/dev/null || need+=(openssl)
command -v htpasswd >/dev/null || need+=(apache2-utils)
command -v script >/dev/null || need+=(bsdutils)
command -v tmux >/dev/null || need+=(tmux)
[ -e /etc/ssl/certs/ca-certificates.crt ] || need+=(ca-certificates)
if [ ${#need[@]} -eq 0 ]; then registries; exit 0; fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "irel: please install: ${need[*]} (Debian packages)" >&2; exit 1; }
  sudo=sudo
fi
echo "installing ${need[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
registries
