#!/usr/bin/env bash
# Pre-flight for `make dev` (the native stack) and `make test` (whose tests run the same
# servers): checks that every program they run is installed and says exactly what is missing and
# how to get it. Without --install it changes nothing.
#
# Usage: scripts/check-deps.sh             check everything; exit 1 listing what is missing
#        scripts/check-deps.sh --install   the Makefile's pre-flight: when system packages are
#                                          missing, install them (scripts/deps.sh) if this user
#                                          can (root, or a sudo that works here), else exit 1
#                                          naming the one command to run; then check again.
#                                          Skips node_modules, which make installs next.
#        scripts/check-deps.sh --system    check everything but node_modules
#        scripts/check-deps.sh --pg-bindir print the PostgreSQL bin directory used (exit 1 if none)
#        scripts/check-deps.sh --e2e       check (and with --install, install) what `make e2e`
#                                          adds: Debian's /usr/bin/chromium
# Reads: QUAD_PG_BINDIR (optional: the PostgreSQL bin directory to use instead of searching)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
mode=${1:-}
case "$mode" in
  "" | --install | --system | --pg-bindir | --e2e) ;;
  *)
    echo "usage: $0 [--install | --system | --pg-bindir | --e2e]" >&2
    exit 64
    ;;
esac

# initdb and postgres live in /usr/lib/postgresql/<version>/bin on Debian, off PATH. All the
# PostgreSQL programs must come from one directory: initdb and postgres of different major
# versions cannot share a data directory.
pg_bindir() {
  local dir candidate
  if [[ -n ${QUAD_PG_BINDIR:-} ]]; then
    [[ -x $QUAD_PG_BINDIR/initdb && -x $QUAD_PG_BINDIR/postgres ]] || return 1
    printf '%s\n' "$QUAD_PG_BINDIR"
    return 0
  fi
  if candidate=$(command -v initdb 2>/dev/null); then
    dir=$(dirname "$(readlink -f "$candidate")")
    if [[ -x $dir/postgres && -x $dir/pg_isready ]]; then
      printf '%s\n' "$dir"
      return 0
    fi
  fi
  # Newest version first.
  for dir in $(printf '%s\n' /usr/lib/postgresql/*/bin | sort -t/ -k5,5 -n -r); do
    if [[ -x $dir/initdb && -x $dir/postgres && -x $dir/pg_isready ]]; then
      printf '%s\n' "$dir"
      return 0
    fi
  done
  return 1
}

if [[ $mode == --pg-bindir ]]; then
  pg_bindir
  exit
fi

if [[ $mode == --e2e ]]; then
  if [[ -x /usr/bin/chromium ]]; then
    echo "check-deps: ok: $(/usr/bin/chromium --version 2>/dev/null || echo chromium)"
    exit 0
  fi
  echo "check-deps: make e2e needs Debian's Chromium at /usr/bin/chromium: run \`scripts/deps.sh --e2e\` (apt-get install chromium)" >&2
  exit 1
fi

missing=()
found=()
need_apt=0
deps_packages=$("$root/scripts/deps.sh" --list)

if command -v redis-server >/dev/null 2>&1; then
  found+=("redis-server $(redis-server --version | sed -n 's/.*v=\([0-9.]*\).*/\1/p')")
else
  missing+=("redis-server (Redis): package redis-server")
  need_apt=1
fi

if bindir=$(pg_bindir); then
  found+=("PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') ($bindir)")
else
  missing+=("PostgreSQL server programs initdb, postgres, pg_isready (searched PATH and /usr/lib/postgresql/*/bin): package postgresql")
  need_apt=1
fi

if command -v prometheus >/dev/null 2>&1; then
  found+=("prometheus $(prometheus --version 2>&1 | awk 'NR==1{print $3}')")
else
  missing+=("prometheus: package prometheus")
  need_apt=1
fi

if command -v caddy >/dev/null 2>&1; then
  found+=("caddy $(caddy version 2>/dev/null | awk 'NR==1{print $1}')")
else
  missing+=("caddy (the edge of make dev): package caddy")
  need_apt=1
fi
for program in prometheus-alertmanager prometheus-redis-exporter prometheus-postgres-exporter; do
  if command -v "$program" >/dev/null 2>&1; then
    found+=("$program")
  else
    missing+=("$program: package $program")
    need_apt=1
  fi
done

# tree-kill (used by concurrently to stop each component with its children) runs `ps`.
if ! command -v ps >/dev/null 2>&1; then
  missing+=("ps: package procps")
  need_apt=1
fi

# As root, PostgreSQL must run as an unprivileged user (it refuses root): the `postgres`
# system user that the postgresql package creates, switched to with setpriv.
if [[ $(id -u) -eq 0 ]]; then
  if ! id -u postgres >/dev/null 2>&1; then
    missing+=("the 'postgres' system user (PostgreSQL refuses to run as root): created by package postgresql, or run make dev as a normal user")
    need_apt=1
  fi
fi
if ! command -v setpriv >/dev/null 2>&1 || ! command -v setsid >/dev/null 2>&1; then
  missing+=("setpriv and setsid: package util-linux")
  need_apt=1
fi

# Node.js: the version package.json's "engines" asks for.
node_wanted=$(sed -n '/^ *"node": *"/{s/^ *"node": *"\([^"]*\)".*/\1/p;q;}' "$root/package.json")
if command -v node >/dev/null 2>&1; then
  # shellcheck disable=SC2016 # JavaScript, not shell
  node_check=$(node -e '
    const wanted = require(process.argv[1]).engines.node;
    const [, major, minor = "0"] = /(\d+)(?:\.(\d+))?/.exec(wanted) ?? [, "20"];
    const [haveMajor, haveMinor] = process.versions.node.split(".").map(Number);
    const ok = haveMajor > Number(major) || (haveMajor === Number(major) && haveMinor >= Number(minor));
    console.log(`${ok ? "ok" : "old"} ${process.versions.node} ${wanted}`);
  ' "$root/package.json" 2>/dev/null || echo "old unknown >=20")
  read -r node_state node_version node_wanted <<<"$node_check"
  if [[ $node_state == ok ]]; then
    found+=("node $node_version")
  else
    missing+=("Node.js $node_wanted (found $node_version): install a current Node.js LTS, e.g. from nodejs.org or NodeSource (Debian bookworm's own nodejs package is too old)")
  fi
else
  missing+=("node (Node.js ${node_wanted:->=20}): install a current Node.js LTS, e.g. from nodejs.org or NodeSource")
fi

# npm ci must have run, and recently enough to include the dev tools this script starts with.
if [[ -z $mode ]]; then
  for tool in tsx concurrently; do
    if [[ ! -x $root/node_modules/.bin/$tool ]]; then
      missing+=("node_modules/.bin/$tool: run \`make install\` (npm ci) in $root")
      break
    fi
  done
  if [[ -f $root/node_modules/.package-lock.json && $root/package-lock.json -nt $root/node_modules/.package-lock.json ]]; then
    echo "check-deps: note: package-lock.json is newer than node_modules; run \`make install\` if something fails to load" >&2
  fi
fi

# Whether this user can run apt-get as root here without help: root, a sudo that needs no
# password, or a sudo that can ask for one on this terminal.
can_install_packages() {
  command -v apt-get >/dev/null 2>&1 || return 1
  [[ $(id -u) -eq 0 ]] && return 0
  command -v sudo >/dev/null 2>&1 || return 1
  sudo -n true 2>/dev/null && return 0
  [[ -t 0 ]]
}

if ((${#missing[@]} > 0)) && ((need_apt)) && [[ $mode == --install ]]; then
  if can_install_packages; then
    {
      echo "check-deps: missing:"
      printf '  - %s\n' "${missing[@]}"
      echo "check-deps: installing the system packages now (scripts/deps.sh, the same as \`make deps\`)"
    } >&2
    # deps.sh ends with the --system check, so its status is the verdict.
    exec "$root/scripts/deps.sh"
  fi
fi

if ((${#missing[@]} > 0)); then
  {
    echo "check-deps: make dev and make test cannot start; missing:"
    printf '  - %s\n' "${missing[@]}"
    if ((need_apt)); then
      if ! command -v apt-get >/dev/null 2>&1; then
        echo "Install them with your system's package manager (Debian/Ubuntu package names above)."
      elif [[ $mode == --install ]]; then
        # Neither root nor a usable sudo: the one command that fixes it, for whoever is root.
        echo "This user cannot install packages (not root, no working sudo). Run as root:"
        echo "  apt-get update && apt-get install -y --no-install-recommends ${deps_packages}"
      else
        echo "On Debian/Ubuntu, \`make deps\` installs the system packages (scripts/deps.sh: apt-get install ${deps_packages}; uses sudo when not root)."
      fi
    fi
  } >&2
  exit 1
fi
summary=$(IFS=','; echo "${found[*]}")
echo "check-deps: ok: ${summary//,/, }"
