#!/usr/bin/env bash
# `make up`: creates the env file with fresh secrets on first run, starts the Compose stack
# detached, and waits until every container with a healthcheck is healthy and the one-shot jobs
# (`migrate`, and `postgres-exporter-role` of the observability profile) have exited 0. Compose 1.29 has no `up --wait`, so this polls `docker inspect` itself.
#
# Usage: scripts/up.sh [--scale SERVICE=N]... [SERVICE...]   (--scale api=3 --scale socket=4
#        runs that many replicas behind the edge; default: every service of the active profiles; named
#        services start with what they depend on, whatever their profile, and the rest of a
#        running stack is left as it is)
# Reads: QUAD_ENV_FILE (default <repo>/.env), QUAD_UP_TIMEOUT (seconds, default 300),
#        COMPOSE_PROFILES (e.g. "observability,media"), COMPOSE_PROJECT_NAME, QUAD_DOCKER
#        (docker client to use, default `docker`), plus everything scripts/compose.sh reads.
# Exit status: 0 when everything is up; 1 with the failing services and their logs otherwise.
set -Eeuo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
export QUAD_ENV_FILE=${QUAD_ENV_FILE:-$root/.env}
timeout_s=${QUAD_UP_TIMEOUT:-300}
docker=${QUAD_DOCKER:-docker}

log() { printf '[%s] up: %s\n' "$(date +%H:%M:%S)" "$*"; }
compose() { "$root/scripts/compose.sh" "$@"; }
# Jobs that run once and exit 0 (restart: "no" in the compose file); the rest must stay running.
is_one_shot() { [[ $1 == migrate || $1 == postgres-exporter-role ]]; }

# A setting as Compose sees it: the shell environment wins over the env file.
setting() {
  local name=$1 default=$2 value
  value=${!name:-}
  if [[ -z $value ]]; then
    value=$(sed -n "s/^${name}=//p" "$QUAD_ENV_FILE" | tail -n 1)
    value=${value%\"}; value=${value#\"}
  fi
  printf '%s' "${value:-$default}"
}

# Pre-flight: fail before touching anything when Docker is not reachable.
if ! "$docker" info >/dev/null 2>&1; then
  echo "up: cannot reach the Docker daemon with '$docker' (DOCKER_HOST=${DOCKER_HOST:-default}); is it running?" >&2
  exit 1
fi

"$root/scripts/ensure-env.sh" "$QUAD_ENV_FILE"

started=$SECONDS
deadline=$((started + timeout_s))
log "starting project $(setting COMPOSE_PROJECT_NAME "$(basename "$root")") (env file $QUAD_ENV_FILE, profiles: ${COMPOSE_PROFILES:-default only}, timeout ${timeout_s}s)"
# `up -d` itself already waits for the depends_on conditions of the services it starts.
if ! timeout "$timeout_s" "$root/scripts/compose.sh" up -d "$@"; then
  up_failed=1
else
  up_failed=0
fi

# One line per container of the project: id service state exit-code health restarts.
# Health comes from `docker ps` ("Up 5 seconds (healthy)"): a template naming .State.Health
# fails on newer docker clients for a container without a healthcheck (migrate).
snapshot() {
  local ids id service st code restarts status health filters=()
  ids=$(compose ps -a -q 2>/dev/null || true)
  [[ -n $ids ]] || return 0
  declare -A health_of=()
  for id in $ids; do filters+=(--filter "id=$id"); done
  while IFS=$'\t' read -r id status; do
    case "$status" in
      *"(healthy)"*) health_of[$id]=healthy ;;
      *"(unhealthy)"*) health_of[$id]=unhealthy ;;
      *"(health: starting)"*) health_of[$id]=starting ;;
      *) health_of[$id]=none ;;
    esac
  done < <("$docker" ps -a --no-trunc "${filters[@]}" --format '{{.ID}}{{"\t"}}{{.Status}}')
  # shellcheck disable=SC2086
  "$docker" inspect --format '{{.Id}} {{index .Config.Labels "com.docker.compose.service"}} {{.State.Status}} {{.State.ExitCode}} {{.RestartCount}}' $ids |
    while read -r id service st code restarts; do
      printf '%s %s %s %s %s %s\n' "$id" "$service" "$st" "$code" "${health_of[$id]:-none}" "$restarts"
    done
}

report_failure() {
  echo "up: the stack is not healthy after $((SECONDS - started))s:" >&2
  local id service state code health restarts
  while read -r id service state code health restarts; do
    [[ -n $id ]] || continue
    if is_one_shot "$service" && [[ $state == exited && $code == 0 ]]; then continue; fi
    if [[ $state == running && ($health == healthy || $health == none) ]]; then continue; fi
    echo "---- $service: state=$state exit=$code health=$health restarts=$restarts" >&2
    if [[ $health != none ]]; then
      echo "last healthcheck output:" >&2
      "$docker" inspect --format '{{with .State.Health}}{{range .Log}}{{.Output}}{{end}}{{end}}' "$id" | tail -n 5 >&2 || true
    fi
    echo "last log lines:" >&2
    "$docker" logs --tail 40 "$id" 2>&1 | sed 's/^/  | /' >&2 || true
  done <<<"$(snapshot)"
  echo "up: inspect with scripts/logs.sh, stop with scripts/down.sh" >&2
}

if ((up_failed)); then
  report_failure
  exit 1
fi

last_progress=-1
while :; do
  pending=()
  failed=()
  while read -r id service state code health restarts; do
    [[ -n $id ]] || continue
    if is_one_shot "$service"; then
      if [[ $state == exited ]]; then
        [[ $code == 0 ]] || failed+=("$service (exit $code)")
      else
        pending+=("$service ($state)")
      fi
      continue
    fi
    case "$state/$health" in
      running/healthy | running/none) ;;
      */unhealthy) failed+=("$service (unhealthy)") ;;
      exited/* | dead/*) failed+=("$service ($state, exit $code)") ;;
      *)
        if ((restarts >= 3)); then
          failed+=("$service (restarted $restarts times)")
        else
          pending+=("$service ($state/$health)")
        fi
        ;;
    esac
  done <<<"$(snapshot)"

  if ((${#failed[@]})); then
    log "failed: ${failed[*]}"
    report_failure
    exit 1
  fi
  if ((${#pending[@]} == 0)); then
    break
  fi
  if ((SECONDS >= deadline)); then
    log "timed out after ${timeout_s}s waiting for: ${pending[*]}"
    report_failure
    exit 1
  fi
  elapsed=$((SECONDS - started))
  if ((elapsed / 5 != last_progress)); then
    last_progress=$((elapsed / 5))
    log "waiting (${elapsed}s): ${pending[*]}"
  fi
  sleep 1
done

services=" $(snapshot | awk '{print $2}' | sort -u | tr '\n' ' ') "
log "all services are up and healthy in $((SECONDS - started))s"
echo
row() { printf '  %-12s %-31s %s\n' "$@"; }
if [[ $services == *" edge "* ]]; then
  echo "  Open Quad:  http://127.0.0.1:$(setting EDGE_PORT 8080)/"
  echo
fi
# The api, the gateways and the workers publish no port: the first two are reached through the
# edge and the workers by Prometheus, however many.
replicas() { compose ps -q "$1" 2>/dev/null | grep -c . || true; }
row api "behind the edge: /api/v1" "$(replicas api) replica(s); scale with --scale api=N"
row socket "behind the edge: /socket.io/" "$(replicas socket) replica(s); scale with --scale socket=N"
row worker "metrics: Prometheus, job quad" "$(replicas worker) replica(s); scale with --scale worker=N"
row prometheus "http://127.0.0.1:$(setting PROMETHEUS_PORT 9090)" ""
if [[ $services == *" grafana "* ]]; then
  row grafana "http://127.0.0.1:$(setting GRAFANA_PORT 3003)" "user admin, password GRAFANA_ADMIN_PASSWORD in $QUAD_ENV_FILE"
fi
if [[ $services == *" jaeger "* ]]; then
  row jaeger "http://127.0.0.1:$(setting JAEGER_PORT 16686)" "traces: OTEL_EXPORTER_OTLP_ENDPOINT=http://jaeger:4318"
fi
if [[ $services == *" alertmanager "* ]]; then
  row alertmanager "http://127.0.0.1:$(setting ALERTMANAGER_PORT 9093)" "receiver: ALERT_WEBHOOK_URL"
fi
if [[ $services == *" livekit "* ]]; then
  row livekit "ws://127.0.0.1:$(setting LIVEKIT_PORT 7880)" "signalling; media on $(setting LIVEKIT_RTC_TCP_PORT 7881)/tcp and $(setting LIVEKIT_RTC_UDP_PORT 7882)/udp"
fi
row redis "127.0.0.1:$(setting REDIS_PORT 6379)" "state and queues (redis-cli with REDISCLI_AUTH=REDIS_ADMIN_PASSWORD)"
row redis-cache "127.0.0.1:$(setting REDIS_CACHE_PORT 6380)" "cache"
row postgres "127.0.0.1:$(setting POSTGRES_PORT 5432)" ""
echo
echo "  logs: make logs    stop: make down    (secrets: $QUAD_ENV_FILE)"
