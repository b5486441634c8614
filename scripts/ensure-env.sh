#!/bin/sh
# Creates the env file (default .env) from .env.example when it is missing, replacing every
# `change-me` value with its own freshly generated random secret. An existing file is never
# touched, so running this twice is safe.
#
# Usage: scripts/ensure-env.sh [target-file]   (default: $QUAD_ENV_FILE or .env)
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
target=${1:-${QUAD_ENV_FILE:-$root/.env}}
template=$root/.env.example

if [ -e "$target" ]; then
  if grep -q '=change-me$' "$target"; then
    echo "ensure-env: $target still has change-me placeholders; production services will refuse them" >&2
  fi
  exit 0
fi

secret() { head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n'; }

tmp=$target.tmp.$$
umask 077
while IFS= read -r line || [ -n "$line" ]; do
  case "$line" in
    *=change-me) printf '%s=%s\n' "${line%%=*}" "$(secret)" ;;
    *) printf '%s\n' "$line" ;;
  esac
done < "$template" > "$tmp"
mv "$tmp" "$target"
echo "ensure-env: created $target with new random secrets (keep it private; it is gitignored)"
