#!/usr/bin/env bash
# `make deps`: installs the system packages the native stack (`make dev`) runs, on Debian or
# Ubuntu. Node.js and `npm ci` are not covered: the distributions' nodejs packages are older
# than package.json asks for.
#
# Usage: scripts/deps.sh   (uses sudo when not run as root)
set -euo pipefail

# procps: `ps` for concurrently's tree-kill. setpriv and setsid come with util-linux, which is
# Essential on Debian and Ubuntu.
packages=(redis-server postgresql prometheus procps)

if ! command -v apt-get >/dev/null 2>&1; then
  echo "deps: no apt-get here; install these with your system's package manager: ${packages[*]}" >&2
  exit 1
fi

sudo=()
if [[ $(id -u) -ne 0 ]]; then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "deps: not root and no sudo; run as root: apt-get install -y ${packages[*]}" >&2
    exit 1
  fi
  sudo=(sudo)
fi

export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update
# Recommends would add extras such as prometheus-node-exporter, another always-on daemon.
"${sudo[@]}" apt-get install -y --no-install-recommends "${packages[@]}"

# On a machine with systemd, installing these packages also starts system-wide servers on the
# ports `make dev` uses by default. make dev runs its own processes, so say how to free them.
if command -v systemctl >/dev/null 2>&1 && [[ -d /run/systemd/system ]]; then
  active=()
  for unit in redis-server postgresql prometheus; do
    if systemctl is-active --quiet "$unit"; then active+=("$unit"); fi
  done
  if ((${#active[@]} > 0)); then
    echo "deps: note: the system services ${active[*]} are running on the default ports that make dev also uses."
    echo "      Stop them (sudo systemctl disable --now ${active[*]}) or choose other ports in .env."
  fi
fi

root=$(cd "$(dirname "$0")/.." && pwd)
if [[ ! -d $root/node_modules ]]; then
  echo "deps: system packages installed; now run \`npm ci\` (needs Node.js from package.json's engines)."
fi
"$root/scripts/check-deps.sh" || true
