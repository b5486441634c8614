#!/usr/bin/env bash
# `make deps`: installs the system packages the native stack (`make dev`) and the tests
# (`make test`) run, on Debian or Ubuntu. `make dev` and `make test` run this themselves when
# something is missing and they can (scripts/check-deps.sh --install). Node.js is not covered:
# the distributions' nodejs packages are older than package.json asks for; the npm packages
# come from `make install` (npm ci), which make dev and make test run first.
#
# Usage: scripts/deps.sh          install (uses sudo when not root), then check
#        scripts/deps.sh --list   print the package names
#        scripts/deps.sh --e2e    install the browser of `make e2e` (chromium) instead
set -euo pipefail

# caddy: the edge of `make dev` (one port for the web client, the api and the gateways).
# procps: `ps` for concurrently's tree-kill. setpriv and setsid come with util-linux, which is
# Essential on Debian and Ubuntu. The exporters and Alertmanager: make dev's and make
# test-observability's operator view (docs/operations.md).
packages=(redis-server postgresql prometheus caddy prometheus-alertmanager prometheus-redis-exporter prometheus-postgres-exporter procps)
# `make e2e` alone also needs a browser: Debian's Chromium, which Playwright drives
# (`npx playwright install` downloads nothing here). Kept out of the list above, so make dev and
# make test do not install a browser.
if [[ ${1:-} == --e2e ]]; then
  packages=(chromium)
  shift
fi
if [[ ${1:-} == --list ]]; then
  echo "${packages[*]}"
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "deps: no apt-get here; install these with your system's package manager: ${packages[*]}" >&2
  exit 1
fi

sudo=()
if [[ $(id -u) -ne 0 ]]; then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "deps: not root and no sudo; run as root: apt-get install -y --no-install-recommends ${packages[*]}" >&2
    exit 1
  fi
  sudo=(sudo)
fi

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
was_missing=()
for package in "${packages[@]}"; do
  installed "$package" || was_missing+=("$package")
done

export DEBIAN_FRONTEND=noninteractive
echo "deps: apt-get update"
"${sudo[@]}" apt-get update
echo "deps: apt-get install ${packages[*]}"
# Recommends would add extras such as prometheus-node-exporter, another always-on daemon.
"${sudo[@]}" apt-get install -y --no-install-recommends "${packages[@]}"

# On a machine with systemd, installing these packages also starts system-wide servers on the
# ports `make dev` uses by default, which would stop it from starting. make dev runs its own
# servers, so stop and disable the ones this install brought (never a service that was there
# before), and say how to free the ports of the others.
if command -v systemctl >/dev/null 2>&1 && [[ -d /run/systemd/system ]]; then
  for package in "${was_missing[@]}"; do
    case "$package" in
      redis-server | postgresql | prometheus | caddy | prometheus-alertmanager | prometheus-redis-exporter | prometheus-postgres-exporter)
        if installed "$package" && systemctl is-active --quiet "$package"; then
          echo "deps: stopping and disabling the system service $package that the package started (make dev runs its own)"
          "${sudo[@]}" systemctl disable --now "$package"
        fi
        ;;
    esac
  done
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
if [[ ${packages[*]} == chromium ]]; then exec "$root/scripts/check-deps.sh" --e2e; fi
"$root/scripts/check-deps.sh" --system
