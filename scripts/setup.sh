#!/usr/bin/env bash
# Installs every Debian package the project needs. Idempotent: installs only what is missing.
set -euo pipefail
PACKAGES=(
  g++ cmake make pkg-config libgtest-dev libfmt-dev nlohmann-json3-dev libcli11-dev libpcre2-dev libutf8proc-dev libsimdjson-dev libicu-dev libxxhash-dev libcpp-httplib-dev  # C++
  clang-14 libclang-rt-14-dev libomp-14-dev                            # the libFuzzer build (scripts/fuzz.sh)
  prometheus                                                           # promtool, for the /metrics test
  haproxy                                                              # the router of deploy/ and its test
  python3-yaml python3-kubernetes                                      # the manifests' schema check
  python3 python3-numpy python3-regex python3-pytest                   # reference and its tests
)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# kubectl renders deploy/'s kustomize tree; a kubectl already there (a newer one) is kept
if ! command -v kubectl >/dev/null; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq kubernetes-client >/dev/null
fi
echo "setup: ok"
