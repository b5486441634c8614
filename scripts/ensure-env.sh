#!/bin/sh
# Creates the env file (default .env) from .env.example when it is missing, replacing every
# `change-me` value with its own freshly generated random secret. In an existing file no line
# is ever changed; a secret the template gained since the file was made (an upgrade, e.g.
# WEBHOOK_SECRET_KEY) is appended with a fresh value. Running this twice is safe.
#
# Usage: scripts/ensure-env.sh [target-file]   (default: $QUAD_ENV_FILE or .env)
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
target=${1:-${QUAD_ENV_FILE:-$root/.env}}
template=$root/.env.example

secret() { head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n'; }

if [ -e "$target" ]; then
  added=
  while IFS= read -r line || [ -n "$line" ]; do
    case "$line" in
      *=change-me)
        name=${line%%=*}
        if ! grep -q "^$name=" "$target"; then
          # A last line without its newline would swallow the appended one.
          [ -z "$(tail -c 1 "$target")" ] || printf '\n' >>"$target"
          printf '%s=%s\n' "$name" "$(secret)" >>"$target"
          added="$added $name"
        fi
        ;;
    esac
  done <"$template"
  if [ -n "$added" ]; then
    echo "ensure-env: added new secrets to $target:$added"
  fi
  if grep -q '=change-me$' "$target"; then
    echo "ensure-env: $target still has change-me placeholders; production services will refuse them" >&2
  fi
  exit 0
fi

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
