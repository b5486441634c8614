#!/usr/bin/env bash
# Pre-flight for `make dev` (the native stack): checks that every program it runs is installed
# and says exactly what is missing and how to get it. Changes nothing.
#
# Usage: scripts/check-deps.sh             check everything; exit 1 listing what is missing
#        scripts/check-deps.sh --pg-bindir print the PostgreSQL bin directory used (exit 1 if none)
# Reads: QUAD_PG_BINDIR (optional: the PostgreSQL bin directory to use instead of searching)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)

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

if [[ ${1:-} == --pg-bindir ]]; then
  pg_bindir
  exit
fi

missing=()
found=()
need_apt=0

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
for tool in tsx concurrently; do
  if [[ ! -x $root/node_modules/.bin/$tool ]]; then
    missing+=("node_modules/.bin/$tool: run \`npm ci\` in $root")
    break
  fi
done
if [[ -f $root/node_modules/.package-lock.json && $root/package-lock.json -nt $root/node_modules/.package-lock.json ]]; then
  echo "check-deps: note: package-lock.json is newer than node_modules; run \`npm ci\` if something fails to load" >&2
fi

if ((${#missing[@]} > 0)); then
  {
    echo "check-deps: make dev cannot start; missing:"
    printf '  - %s\n' "${missing[@]}"
    if ((need_apt)); then
      echo "On Debian/Ubuntu, \`make deps\` installs the system packages (scripts/deps.sh: apt-get install redis-server postgresql prometheus procps; uses sudo when not root)."
    fi
  } >&2
  exit 1
fi
summary=$(IFS=','; echo "${found[*]}")
echo "check-deps: ok: ${summary//,/, }"
