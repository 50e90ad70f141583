#!/usr/bin/env bash
# Installs the Debian packages paygate needs to build and test; installs only what is missing.
set -euo pipefail
pkgs=(g++ cmake ninja-build ccache pkg-config make
      libboost1.81-dev libssl-dev libsqlite3-dev libcurl4-openssl-dev
      libexpected-dev nlohmann-json3-dev libtomlplusplus-dev libcli11-dev libpugixml-dev
      libgtest-dev libgmock-dev libbenchmark-dev curl sqlite3 openssl ca-certificates)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
