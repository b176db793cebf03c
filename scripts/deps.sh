#!/usr/bin/env bash
# Installs the Debian 12 packages ticketbridge needs, if any are missing.
# Usage: scripts/deps.sh [bench]
set -euo pipefail

pkgs=(build-essential cmake pkg-config
      libmicrohttpd-dev libcurl4-openssl-dev libexpat1-dev libjansson-dev
      libsqlite3-dev libsodium-dev libcmocka-dev
      sqlite3 curl python3 procps openssl tinyproxy)
if [ "${1:-}" = bench ]; then
  pkgs=(wrk procps)
fi

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "Installing missing packages: ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "error: not root; install them with: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
