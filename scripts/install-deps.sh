#!/usr/bin/env bash
# Installs the Debian packages OggEdge builds, tests and benchmarks with. Idempotent.
set -euo pipefail
packages=(libvorbis-dev libogg-dev liblmdb-dev libhiredis-dev redis-server vorbis-tools sox pkg-config openssl curl)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "installing: ${missing[*]}" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
