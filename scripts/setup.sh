#!/usr/bin/env bash
# Sets up ft on a fresh machine: the system packages the native engine needs (Debian/Ubuntu, with
# apt-get as root or through sudo), pnpm 12.4.2, the workspace's packages, and the native engine.
#
#   bash scripts/setup.sh          for training (oneDNN and a compiler, so `ft env` says native)
#   bash scripts/setup.sh --dev    also what the tests and the prebuilt package need (h5py, patchelf)
#   bash scripts/setup.sh --bench  also the PyTorch peer of `pnpm bench`
#
# Without apt-get or the rights to use it, it says what to install and goes on: ft then trains on
# wasm and says so, with this fix, at the start of every training run.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(libdnnl-dev g++ make)
for arg in "$@"; do
  case "$arg" in
    --dev) packages+=(python3-h5py python3-numpy patchelf) ;;
    --bench) packages+=(python3-torch python3-torchvision libopenblas0-pthread) ;;
    *) echo "setup.sh: unknown option $arg (use --dev or --bench)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if ! command -v apt-get >/dev/null; then
    echo "setup.sh: no apt-get here; install oneDNN (libdnnl), a C++ compiler and make yourself for the native engine" >&2
  else
    sudo=()
    [ "$(id -u)" -eq 0 ] || sudo=(sudo -n)
    if { [ ${#sudo[@]} -eq 0 ] || sudo -n true 2>/dev/null; } \
      && "${sudo[@]}" apt-get update -qq \
      && DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
      echo "setup.sh: installed ${missing[*]}" >&2
    else
      echo "setup.sh: could not install ${missing[*]}; as root: apt-get install ${missing[*]}" >&2
    fi
  fi
fi

if [ "$(pnpm --version 2>/dev/null || true)" != "12.4.2" ]; then
  npm install --global pnpm@12.4.2 >/dev/null
fi
pnpm install
# The native engine (from source: the prebuilt package is for installs from the registry).
if [ -f /usr/include/oneapi/dnnl/dnnl.hpp ] || [ -f /usr/local/include/oneapi/dnnl/dnnl.hpp ]; then
  pnpm --filter @ft/backend-native build:native
fi
