#!/bin/sh
# `make logs`: follows the logs of the stack (the last LOGS_TAIL lines of each, default 100).
# Arguments pass through to `compose logs`, e.g. `scripts/logs.sh api worker`.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
exec "$root/scripts/compose.sh" logs -f --tail="${LOGS_TAIL:-100}" "$@"
