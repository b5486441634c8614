#!/bin/sh
# `make down`: stops and removes the stack's containers and networks, including those of the
# optional profiles. Data volumes are kept unless asked: `scripts/down.sh -v` or VOLUMES=1
# (that deletes the PostgreSQL database and the Redis queues).
#
# Other arguments pass through to `compose down` (e.g. `-t 30`).
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)

if [ "${VOLUMES:-0}" = 1 ]; then
  set -- "$@" --volumes
fi

# Name every profile so that a Grafana or LiveKit started with `COMPOSE_PROFILES=...` goes too.
COMPOSE_PROFILES="${COMPOSE_PROFILES:+$COMPOSE_PROFILES,}observability,media"
export COMPOSE_PROFILES

exec "$root/scripts/compose.sh" down --remove-orphans "$@"
