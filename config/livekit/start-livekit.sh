#!/bin/sh
# Starts livekit-server with config/livekit/livekit.yaml, its API key and its webhook to Quad's
# api, from the same variables as the services (the env file in `make dev`, generated ones in
# the test harness). LiveKit refuses a webhook whose `api_key` does not name a configured key,
# and the key name is a generated secret that lives only in the env file: so the config is
# rendered here, at start, as start-redis.sh renders the Redis ACL. Compose passes the same
# variables to the official image instead (compose/docker-compose.yml).
#
# Usage: start-livekit.sh [livekit-server flags: --bind, --node-ip, --udp-port...]
# Reads: LIVEKIT_API_KEY LIVEKIT_API_SECRET (required)
#        LIVEKIT_WEBHOOK_URL  where LiveKit posts its webhooks; empty: no webhooks
#        LIVEKIT_SERVER_BIN   the binary (default tools/bin/livekit-server, else on PATH)
#        any LIVEKIT_<SETTING> livekit-server reads itself (LIVEKIT_PORT, LIVEKIT_RTC_TCP_PORT,
#        LIVEKIT_ROOM_DEPARTURE_TIMEOUT...: `livekit-server help-verbose` lists them)
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=${LIVEKIT_SERVER_BIN:-}
if [ -z "$bin" ]; then
  if [ -x "$root/tools/bin/livekit-server" ]; then bin=$root/tools/bin/livekit-server
  else bin=livekit-server; fi
fi

missing=""
[ -n "${LIVEKIT_API_KEY:-}" ] || missing="$missing LIVEKIT_API_KEY"
[ -n "${LIVEKIT_API_SECRET:-}" ] || missing="$missing LIVEKIT_API_SECRET"
if [ -n "$missing" ]; then
  echo "start-livekit.sh: missing required variable(s):$missing (scripts/ensure-env.sh generates them)" >&2
  exit 78
fi

# The secret goes through the environment, never the command line (`ps` shows that).
LIVEKIT_KEYS="$LIVEKIT_API_KEY: $LIVEKIT_API_SECRET"
if [ -n "${LIVEKIT_WEBHOOK_URL:-}" ]; then
  case "$LIVEKIT_WEBHOOK_URL" in
    http://*|https://*) ;;
    *) echo "start-livekit.sh: LIVEKIT_WEBHOOK_URL must be an http(s) URL" >&2; exit 78 ;;
  esac
  LIVEKIT_WEBHOOK_API_KEY=$LIVEKIT_API_KEY
  LIVEKIT_CONFIG=$(sed "s#^    - http://api:3000/api/v1/livekit/webhook\$#    - $LIVEKIT_WEBHOOK_URL#" "$here/livekit.yaml")
  export LIVEKIT_WEBHOOK_API_KEY
else
  LIVEKIT_CONFIG=$(sed '/^webhook:/,$d' "$here/livekit.yaml")
fi
export LIVEKIT_KEYS LIVEKIT_CONFIG
unset LIVEKIT_API_SECRET
exec "$bin" "$@"
