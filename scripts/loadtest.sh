#!/usr/bin/env bash
# `make loadtest` / `make loadtest-ci`: the scenarios of loadtests/scenarios.json, run with
# Artillery (loadtests/run.ts) against a whole native stack started here by scripts/dev.sh (the
# same as `make dev`: api, two gateways behind the Caddy edge, worker, Redis, PostgreSQL, and
# LiveKit when `make tools` has built tools/bin/livekit-server) with
# the test's raised RATE_LIMITS, seeded by `quad seed`, and stopped at the end, pass or fail.
# The stack gets its own env file, data directory and free ports, so it runs beside a
# developer's own `make dev`.
#
# Usage: scripts/loadtest.sh ci|full|soak [runner options...]
#   ci    a fresh stack and a small seed (300 people); about two minutes of load; a breached
#         threshold exits 1 (what .ci/run runs)
#   full  the 2,000-person institution, kept in .data/loadtest/ so that the next run reuses the
#         seed; thresholds reported, not enforced
#   soak  an hour of the steady mix on the full institution
#   runner options go to loadtests/run.ts, e.g. a capacity search on the full institution:
#   scripts/loadtest.sh full --scenario steady --arrival-rate 60 --duration 600
# Reads: LOADTEST_KEEP_DATA=1  (ci) keep the temporary data directory (printed)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
profile=${1:-ci}
shift || true
log() { printf '[%s] loadtest: %s\n' "$(date +%H:%M:%S)" "$*"; }
# shellcheck source=scripts/lib/native-stack.sh
. "$root/scripts/lib/native-stack.sh"
case $profile in
  ci | full | soak) ;;
  *)
    echo "usage: scripts/loadtest.sh ci|full|soak" >&2
    exit 64
    ;;
esac
seed_profile=$profile
[[ $profile == soak ]] && seed_profile=full
# The calls scenario needs LiveKit, which scripts/dev.sh starts only when `make tools` has built
# it. Said now rather than after the other scenarios: without it the calls scenario fails (the
# runner says why), the others run as usual.
if [[ ! -x $root/tools/bin/livekit-server ]]; then
  log "note: no tools/bin/livekit-server, so this stack has no LiveKit and the calls scenario, if this run includes it, fails; \`make tools\` builds it (needs Go)"
fi

if [[ $profile == ci ]]; then
  work=$(mktemp -d "${TMPDIR:-/tmp}/quad-loadtest.XXXXXX")
  temporary=1
else
  work=$root/.data/loadtest
  temporary=0
  mkdir -p "$work"
fi
# PostgreSQL runs as the postgres user when we are root: it must reach its data directory.
chmod 755 "$work"
started=$SECONDS

cleanup() {
  local code=$?
  stop_stack
  if ((temporary)) && [[ ${LOADTEST_KEEP_DATA:-} != 1 ]]; then rm -rf "$work"; else log "data in $work"; fi
  log "done in $((SECONDS - started)) s (exit $code)"
  exit "$code"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The env file keeps its secrets across runs (the kept data directory's PostgreSQL password is
# in it); the ports are chosen afresh each time (scripts/lib/native-stack.sh).
env_file=$work/env
sh "$root/scripts/ensure-env.sh" "$env_file" >/dev/null
assign_stack_ports "$env_file"
# The layout the resource samples know (API_PORT, SOCKET_PORT, SOCKET2_PORT), whatever the shell
# says; and no tracing: the figures are those of a default deployment (tracing off), not of
# make dev's trace-everything into Jaeger (docs/performance.md has tracing's own cost).
export API_INSTANCES=1 SOCKET_INSTANCES=2 OTEL_SDK_DISABLED=true
# A load generator is a few addresses speaking for thousands of people: the per-address limits
# would stop it. The raised limits come from scenarios.json, for this stack only.
rate_limits=$(node -e 'const {$comment, ...limits} = require(process.argv[1]).testRateLimits; console.log(JSON.stringify(limits))' "$root/loadtests/scenarios.json")
sed -i '/^RATE_LIMITS=/d;/^LOG_LEVEL=/d' "$env_file"
printf "RATE_LIMITS='%s'\nLOG_LEVEL=warn\n" "$rate_limits" >>"$env_file"
set -a
# shellcheck disable=SC1090
. "$env_file"
set +a
export SOCKET2_PORT

log "starting the stack (scripts/dev.sh; log in $work/dev.log)"
start_stack "$env_file" "$work" 240
log "stack ready at http://127.0.0.1:$EDGE_PORT/ after $((SECONDS - started)) s"

# The institution, through the services, as the worker's environment sees it.
seed_flags=$(node -e '
  const seed = require(process.argv[1]).seed[process.argv[2]];
  const flag = (name) => "--" + name.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase());
  console.log(Object.entries(seed).map(([name, value]) => flag(name) + " " + value).join(" "));
' "$root/loadtests/scenarios.json" "$seed_profile")
manifest=$work/seed-manifest.json
seeded_at=$SECONDS
(
  cd "$root"
  # shellcheck disable=SC2086 # the flags are words
  REDIS_USERNAME=worker REDIS_PASSWORD=$REDIS_WORKER_PASSWORD QUAD_PROFILE=host \
    npm run --silent quad -- seed $seed_flags --manifest "$manifest"
)
log "seeded in $((SECONDS - seeded_at)) s"

enforce=()
[[ $profile == ci ]] && enforce=(--enforce)
cd "$root"
node --import tsx loadtests/run.ts --profile "$profile" --base-url "http://127.0.0.1:$EDGE_PORT" \
  --manifest "$manifest" --work-dir "$work/run" "${enforce[@]}" "$@"
