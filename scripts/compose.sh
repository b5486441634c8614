#!/bin/sh
# Runs Docker Compose on Quad's compose file with the generated env file, whichever Compose
# is installed: the `docker compose` v2 plugin, or the standalone `docker-compose` (1.29+).
# The compose file is written for both.
#
# Usage: scripts/compose.sh <compose arguments...>      e.g. scripts/compose.sh ps
# Reads: QUAD_ENV_FILE (default <repo>/.env), QUAD_COMPOSE (force a command, e.g.
#        "docker-compose"), and everything Compose itself reads (COMPOSE_PROJECT_NAME,
#        COMPOSE_PROFILES, DOCKER_HOST...).
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
env_file=${QUAD_ENV_FILE:-$root/.env}

if [ ! -f "$env_file" ]; then
  echo "compose.sh: env file $env_file not found; create it with scripts/ensure-env.sh (make up does)" >&2
  exit 78
fi

if [ -n "${QUAD_COMPOSE:-}" ]; then
  # Word splitting is intended: QUAD_COMPOSE="docker compose" is two words.
  # shellcheck disable=SC2086
  set -- $QUAD_COMPOSE -f "$root/compose/docker-compose.yml" --env-file "$env_file" --project-directory "$root" "$@"
elif docker compose version >/dev/null 2>&1; then
  set -- docker compose -f "$root/compose/docker-compose.yml" --env-file "$env_file" --project-directory "$root" "$@"
elif command -v docker-compose >/dev/null 2>&1; then
  set -- docker-compose -f "$root/compose/docker-compose.yml" --env-file "$env_file" --project-directory "$root" "$@"
else
  echo "compose.sh: neither 'docker compose' (v2 plugin) nor 'docker-compose' is installed" >&2
  exit 127
fi

exec "$@"
