#!/usr/bin/env bash
# `make e2e`: the Playwright suite (e2e/) in Debian's Chromium against a whole native stack
# started here by scripts/dev.sh (the same as `make dev`: two gateways and LiveKit behind the
# Caddy edge; LiveKit from tools/bin, `make tools`) and stopped at the end, pass or fail. The stack gets its own env file (fresh secrets), data
# directory and free ports, so it runs beside a developer's own `make dev`.
#
# Usage: scripts/e2e.sh [playwright arguments...]   e.g. scripts/e2e.sh --grep offline
# Reads: E2E_KEEP_DATA=1  keep the temporary data directory (printed) for a look afterwards
# Writes: e2e/test-results/ (traces and screenshots of failures; gitignored),
#         docs/images/conversation.png when E2E_SCREENSHOT=1 (make screenshot)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
log() { printf '[%s] e2e: %s\n' "$(date +%H:%M:%S)" "$*"; }
# shellcheck source=scripts/lib/native-stack.sh
. "$root/scripts/lib/native-stack.sh"

work=$(mktemp -d "${TMPDIR:-/tmp}/quad-e2e.XXXXXX")
# PostgreSQL runs as the postgres user when we are root: it must reach its data directory.
chmod 755 "$work"

cleanup() {
  local code=$?
  stop_stack
  if [[ ${E2E_KEEP_DATA:-} == 1 ]]; then log "data kept in $work"; else rm -rf "$work"; fi
  exit "$code"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The call test needs a real LiveKit: scripts/dev.sh starts tools/bin/livekit-server (built by
# `make tools`) with its webhook pointed at the api, as it does for `make dev`.
if [[ ! -x $root/tools/bin/livekit-server ]]; then
  log "tools/bin/livekit-server is missing: \`make tools\` builds it (Go); the call test needs it" >&2
  exit 1
fi

env_file=$work/env
sh "$root/scripts/ensure-env.sh" "$env_file" >/dev/null
# The suite knows the two gateways by their ports (E2E_SOCKET_PORTS below): whatever the shell
# says, one api and two gateways.
export API_INSTANCES=1 SOCKET_INSTANCES=2
assign_stack_ports "$env_file"
# The admin test registers a webhook on 127.0.0.1 (no delivery to anywhere else).
sed -i '/^WEBHOOK_ALLOWED_HOSTS=/d' "$env_file"
printf '%s\n' 'WEBHOOK_ALLOWED_HOSTS=127.0.0.1' >>"$env_file"
# The suite measures 50 sends in a row and logs in many fresh accounts from one address: the
# stack under test gets room for that; every other limit stays as shipped.
sed -i '/^RATE_LIMITS=/d' "$env_file"
printf '%s\n' "RATE_LIMITS='{\"message-send\":{\"limit\":1000,\"windowMs\":10000},\"login-ip\":{\"limit\":1000,\"windowMs\":600000}}'" >>"$env_file"
set -a
# shellcheck disable=SC1090
. "$env_file"
set +a

log "starting the stack (scripts/dev.sh; log in $work/dev.log)"
start_stack "$env_file" "$work" 180
log "stack ready at http://127.0.0.1:$EDGE_PORT/"

# The first admin, as an operator would make it (docs/api.md).
admin_password="e2e-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
(
  cd "$root"
  QUAD_PROFILE=host QUAD_ADMIN_PASSWORD=$admin_password npm run --silent quad -- admin create \
    --username e2e-admin --email e2e-admin@school.example --display-name "E2E Admin" >/dev/null
)

cd "$root/e2e"
export E2E_BASE_URL=http://127.0.0.1:$EDGE_PORT E2E_ADMIN_USERNAME=e2e-admin
export E2E_ADMIN_PASSWORD=$admin_password E2E_SOCKET_PORTS="$SOCKET_PORT $SOCKET2_PORT"
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
log "running the suite"
status=0
npx playwright test "$@" || status=$?
exit "$status"
