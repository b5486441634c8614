#!/usr/bin/env bash
# `make dev`: the whole Quad stack as native processes, without Docker. Redis (state and
# cache, with the same ACL users as compose), PostgreSQL, the migrations, the api (one instance
# or more), the socket gateways (two or more), the worker, Prometheus and the edge (Caddy: the
# web client, /api/ and /socket.io/ on one port, balanced over every instance started) run
# side by side under `concurrently`, with
# their output prefixed in this terminal. A component that crashes (exits non-zero or is killed)
# is restarted after 1 s, then 2 s, 4 s... for that component, as compose's
# `restart: unless-stopped` would; the others keep running. Only Ctrl-C or SIGTERM stops them
# all, and then the script exits 0.
#
# The env file is the single source of ports and secrets: it is created with fresh secrets on
# first run (scripts/ensure-env.sh) and never overwritten; as with Compose, a variable set in
# the shell wins over it. Everything the stack writes lives in the data directory, so a second
# run reuses the database and the queues. PostgreSQL's password follows the env file: it is
# set again on every start, so a regenerated env file still works with an existing cluster.
#
# Usage: scripts/dev.sh
# Reads: QUAD_ENV_FILE     env file (default <repo>/.env)
#        QUAD_DATA_DIR     data directory (default <repo>/.data): postgres/, redis/,
#                          redis-cache/, prometheus/, prometheus.yml
#        QUAD_DEV_TIMEOUT  seconds to wait for everything to be ready (default 120)
#        API_INSTANCES     how many api processes (default 1): the first on API_PORT, the
#                          others 10 ports apart (API_PORT + 10, + 20...)
#        SOCKET_INSTANCES  how many socket gateways (default 2): the first on SOCKET_PORT, the
#                          second on SOCKET2_PORT, the others on SOCKET_PORT + 20, + 30...
#        SOCKET2_PORT      port of the second socket gateway (default SOCKET_PORT + 10)
#        EDGE_PORT         the one port to open in a browser (default 8080)
#        everything in the env file (ports: API_PORT SOCKET_PORT WORKER_PORT REDIS_PORT
#        REDIS_CACHE_PORT POSTGRES_PORT PROMETHEUS_PORT LIVEKIT_PORT)
# Calls: when `make tools` has built tools/bin/livekit-server, LiveKit runs too (signalling on
# LIVEKIT_PORT, media on LIVEKIT_PORT+1/tcp and +2/udp, loopback only), its webhook pointed at
# the api (config/livekit/start-livekit.sh renders its config from the env file).
# Observability: redis_exporter for both Redis instances and postgres_exporter (each with its
# own least-privilege login, as in compose), Alertmanager (receiver ALERT_WEBHOOK_URL) and
# Prometheus's alert rules, all from Debian packages (`make deps`); Jaeger when `make tools` has
# built tools/bin/jaeger, and then the services send it their traces (every one, unless
# OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_TRACES_SAMPLER_ARG say otherwise). Ports: JAEGER_PORT (UI
# and query API), JAEGER_OTLP_PORT, ALERTMANAGER_PORT, REDIS_EXPORTER_PORT,
# REDIS_CACHE_EXPORTER_PORT, POSTGRES_EXPORTER_PORT.
# Exit status: 0 after a clean stop on Ctrl-C/SIGTERM; non-zero when a check fails or the stack
# does not become ready in time.
#
# Internal: `scripts/dev.sh component NAME` runs one component in the foreground; concurrently
# calls it with the environment prepared by the main invocation.
set -Eeuo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
self=$root/scripts/dev.sh
# The api and gateway instances are added once API_INSTANCES and SOCKET_INSTANCES are known.
components=(redis redis-cache postgres migrate)

log() { printf '[%s] dev: %s\n' "$(date +%H:%M:%S)" "$*"; }
die() {
  log "$*" >&2
  exit 1
}
is_root() { [[ $(id -u) -eq 0 ]]; }

# PostgreSQL refuses to run as root: as root, its programs run as the `postgres` system user.
as_postgres() {
  if is_root; then
    setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"
  else
    "$@"
  fi
}

sql_identifier() { printf '"%s"' "${1//\"/\"\"}"; }
sql_literal() { printf "'%s'" "${1//\'/\'\'}"; }

# Runs SQL in PostgreSQL's single-user mode (no server, no network): used before the server
# starts, so the role and database exist by the time anyone can connect. Statements end with
# ";" and an empty line (-j).
postgres_single() {
  as_postgres "$QUAD_DEV_PG_BINDIR/postgres" --single -j -D "$QUAD_DEV_DATA/postgres" \
    -c log_min_messages=warning -c log_min_error_statement=panic -c log_checkpoints=off postgres
}

# --- components (each ends in exec, so concurrently's signals reach the real process) -------

# Every secret of the env file: a component unsets those it has no use for.
all_secrets=(POSTGRES_PASSWORD REDIS_ADMIN_PASSWORD REDIS_API_PASSWORD REDIS_SOCKET_PASSWORD
  REDIS_WORKER_PASSWORD REDIS_EXPORTER_PASSWORD POSTGRES_EXPORTER_PASSWORD GRAFANA_ADMIN_PASSWORD
  LIVEKIT_API_SECRET WEBHOOK_SECRET_KEY WEBHOOK_SECRET_KEY_PREVIOUS)

# Every component dies with its parent (concurrently): a killed runner leaves nothing behind.
guarded() {
  local signal=$1
  shift
  exec setpriv --pdeathsig "$signal" -- "$@"
}

run_redis() {
  local role=$1 port=$2 dir=$3
  export REDIS_ACL_DIR=$dir/acl
  guarded TERM sh "$root/config/redis/start-redis.sh" "$role" \
    --port "$port" --bind 127.0.0.1 --dir "$dir"
}

# Processes still working on the data directory: PostgreSQL's processes run in it. A postmaster
# killed outright leaves its backends running for a moment, still attached to its shared memory.
postgres_processes_in() {
  local dir=$1 proc
  for proc in /proc/[0-9]*; do
    if [[ $(readlink "$proc/cwd" 2>/dev/null) == "$dir" ]]; then printf '%s ' "${proc#/proc/}"; fi
  done
}

# Before a restart after a crash: PostgreSQL refuses to start while its previous server's
# processes live, and also when the pid in a postmaster.pid left by a killed server now belongs
# to an unrelated process (pids are reused). So wait for the old processes to go, then the lock
# file is provably stale and is removed.
clear_crashed_postgres() {
  local pgdata=$1 deadline=$((SECONDS + 15)) leftover
  [[ -f $pgdata/postmaster.pid ]] || return 0
  leftover=$(postgres_processes_in "$pgdata")
  while [[ -n $leftover ]] && ((SECONDS < deadline)); do
    sleep 0.2
    leftover=$(postgres_processes_in "$pgdata")
  done
  if [[ -n $leftover ]]; then
    echo "processes of a previous PostgreSQL server still run in $pgdata (pids $leftover); not starting a second one" >&2
    exit 1
  fi
  echo "removing postmaster.pid left by a server that did not shut down"
  rm -f "$pgdata/postmaster.pid"
}

run_postgres() {
  local data=$QUAD_DEV_DATA pgdata=$QUAD_DEV_DATA/postgres
  if [[ ! -f $pgdata/PG_VERSION ]]; then
    # initdb into a scratch directory and rename it when complete: an interrupted first run
    # leaves no half-initialised cluster behind, and the next run simply starts over.
    local scratch=$data/postgres.init pwfile=$data/postgres.pwfile
    rm -rf "$scratch" "$pwfile"
    mkdir -m 700 "$scratch"
    (umask 077 && printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile")
    if is_root; then chown postgres: "$scratch" "$pwfile"; fi
    echo "initialising a new PostgreSQL cluster in $pgdata (user $POSTGRES_USER, scram-sha-256)"
    if ! as_postgres "$QUAD_DEV_PG_BINDIR/initdb" -D "$scratch" -U "$POSTGRES_USER" \
      --pwfile="$pwfile" --auth=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 >/dev/null; then
      rm -f "$pwfile"
      echo "initdb failed" >&2
      exit 1
    fi
    rm -f "$pwfile"
    mv "$scratch" "$pgdata"
  fi

  clear_crashed_postgres "$pgdata"

  # On every start: the env file is the source of truth for the password (a regenerated env
  # file keeps working with an existing cluster), and the database exists.
  local user db answer
  user=$(sql_identifier "$POSTGRES_USER")
  db=$(sql_literal "$POSTGRES_DB")
  answer=$(printf 'ALTER ROLE %s WITH LOGIN PASSWORD %s;\n\nSELECT 1 AS present FROM pg_database WHERE datname = %s;\n\n' \
    "$user" "$(sql_literal "$POSTGRES_PASSWORD")" "$db" | postgres_single) ||
    { echo "could not prepare the cluster in $pgdata (see above)" >&2; exit 1; }
  if [[ $answer != *'present = "1"'* ]]; then
    echo "creating database $POSTGRES_DB"
    printf 'CREATE DATABASE %s;\n\n' "$(sql_identifier "$POSTGRES_DB")" | postgres_single >/dev/null ||
      { echo "could not create database $POSTGRES_DB" >&2; exit 1; }
  fi

  # The Unix socket goes into the data directory (never /var/run); its path has a length limit.
  local socket_dir=$pgdata
  if ((${#pgdata} + 20 > 107)); then
    echo "data directory path too long for a Unix socket; TCP only"
    socket_dir=
  fi
  local run=(setpriv --pdeathsig INT)
  if is_root; then run+=(--reuid=postgres --regid=postgres --init-groups); fi
  # SIGINT is PostgreSQL's fast shutdown; it is what the runner sends on Ctrl-C and on failure.
  # The runner signals the server's children too; without logical replication (unused here)
  # no launcher logs a spurious ERROR for it.
  exec "${run[@]}" -- "$QUAD_DEV_PG_BINDIR/postgres" -D "$pgdata" -p "$POSTGRES_PORT" \
    -c listen_addresses=127.0.0.1 -c unix_socket_directories="$socket_dir" \
    -c max_logical_replication_workers=0
}

# The PostgreSQL component initialises the cluster first: wait for it to listen.
wait_for_postgres() {
  local deadline=$((SECONDS + ${QUAD_DEV_TIMEOUT:-120}))
  until "$QUAD_DEV_PG_BINDIR/pg_isready" -q -h 127.0.0.1 -p "$POSTGRES_PORT" -t 1; do
    if ((SECONDS >= deadline)); then
      echo "PostgreSQL did not accept connections on 127.0.0.1:$POSTGRES_PORT in time" >&2
      exit 1
    fi
    sleep 0.3
  done
}

run_migrate() {
  wait_for_postgres
  cd "$root"
  guarded TERM npm run --silent migrate
}

run_service() {
  local service=$1 password_variable
  password_variable=REDIS_$(tr '[:lower:]' '[:upper:]' <<<"$service")_PASSWORD
  export REDIS_USERNAME=$service REDIS_PASSWORD=${!password_variable}
  # Each service sees only its own Redis password.
  unset REDIS_ADMIN_PASSWORD REDIS_API_PASSWORD REDIS_SOCKET_PASSWORD REDIS_WORKER_PASSWORD \
    REDIS_EXPORTER_PASSWORD POSTGRES_EXPORTER_PASSWORD GRAFANA_ADMIN_PASSWORD
  cd "$root"
  # node --import tsx, not the tsx CLI: one process, so a signal is delivered exactly once. The
  # tracing preload comes before main.ts; it does nothing unless an OTLP endpoint is set.
  guarded TERM node --import tsx --import ./lib/observability/tracing.ts "services/$service/main.ts"
}

# Instance n's port: api-1 on API_PORT, api-2 on API_PORT + 10...; socket-1 on SOCKET_PORT,
# socket-2 on SOCKET2_PORT (its own setting, as before there were more), socket-3 on
# SOCKET_PORT + 20...
api_port_of() { echo $((API_PORT + 10 * ($1 - 1))); }
socket_port_of() {
  case $1 in
    1) echo "$SOCKET_PORT" ;;
    2) echo "$SOCKET2_PORT" ;;
    *) echo $((SOCKET_PORT + 10 * ($1 - 1))) ;;
  esac
}
# Component names: `api` while there is one (as always), api-1..api-N when there are more;
# socket-1..socket-N.
api_name_of() { if ((API_INSTANCES == 1)); then echo api; else echo "api-$1"; fi; }

run_component() {
  local data=$QUAD_DEV_DATA
  case "${1:-}" in
    redis) run_redis state "$REDIS_PORT" "$data/redis" ;;
    redis-cache) run_redis cache "$REDIS_CACHE_PORT" "$data/redis-cache" ;;
    postgres) run_postgres ;;
    migrate) run_migrate ;;
    api | worker) run_service "$1" ;;
    api-[1-9]*)
      API_PORT=$(api_port_of "${1#api-}")
      export API_PORT
      run_service api
      ;;
    socket-[1-9]*)
      SOCKET_PORT=$(socket_port_of "${1#socket-}")
      export SOCKET_PORT
      run_service socket
      ;;
    redis-exporter | redis-cache-exporter)
      local port=$REDIS_EXPORTER_PORT redis_port=$REDIS_PORT
      if [[ $1 == redis-cache-exporter ]]; then
        port=$REDIS_CACHE_EXPORTER_PORT redis_port=$REDIS_CACHE_PORT
      fi
      # The `exporter` ACL user (INFO, SLOWLOG, LATENCY only); the password through the
      # environment, never the command line.
      export REDIS_ADDR=redis://127.0.0.1:$redis_port REDIS_USER=exporter
      export REDIS_PASSWORD=$REDIS_EXPORTER_PASSWORD
      unset "${all_secrets[@]}"
      guarded TERM prometheus-redis-exporter -web.listen-address="127.0.0.1:$port"
      ;;
    postgres-exporter)
      wait_for_postgres
      # Its own role (pg_monitor), made or updated by the script compose runs too.
      PGHOST=127.0.0.1 PGPORT=$POSTGRES_PORT PGUSER=$POSTGRES_USER PGPASSWORD=$POSTGRES_PASSWORD \
        PGDATABASE=$POSTGRES_DB sh "$root/config/postgres/exporter-role.sh"
      export DATA_SOURCE_URI="127.0.0.1:$POSTGRES_PORT/$POSTGRES_DB?sslmode=disable"
      export DATA_SOURCE_USER=quad_exporter DATA_SOURCE_PASS=$POSTGRES_EXPORTER_PASSWORD
      unset "${all_secrets[@]}"
      guarded TERM prometheus-postgres-exporter --web.listen-address="127.0.0.1:$POSTGRES_EXPORTER_PORT"
      ;;
    jaeger)
      # In memory (config/jaeger/jaeger.yaml); its gRPC query port is not used here: any free one.
      export JAEGER_OTLP_HTTP_ENDPOINT=127.0.0.1:$JAEGER_OTLP_PORT
      export JAEGER_QUERY_HTTP_ENDPOINT=127.0.0.1:$JAEGER_PORT JAEGER_QUERY_GRPC_ENDPOINT=127.0.0.1:0
      unset "${all_secrets[@]}"
      guarded TERM "$root/tools/bin/jaeger" --config "$root/config/jaeger/jaeger.yaml"
      ;;
    alertmanager)
      # The shipped config with the receiver from the env file (ALERT_WEBHOOK_URL), as compose
      # renders it; no cluster port: one instance.
      local receiver=${ALERT_WEBHOOK_URL:-http://alert-receiver.invalid/alerts}
      sed "s|{{ALERT_WEBHOOK_URL}}|$receiver|" "$root/config/alertmanager/alertmanager.yml.template" \
        >"$data/alertmanager.yml"
      unset "${all_secrets[@]}"
      guarded TERM prometheus-alertmanager --config.file="$data/alertmanager.yml" \
        --storage.path="$data/alertmanager" --web.listen-address="127.0.0.1:$ALERTMANAGER_PORT" \
        --cluster.listen-address=
      ;;
    livekit)
      # LiveKit needs its own key and secret only; none of the other secrets.
      local secret=$LIVEKIT_API_SECRET
      unset "${all_secrets[@]}"
      export LIVEKIT_API_SECRET=$secret
      export LIVEKIT_WEBHOOK_URL="http://127.0.0.1:$API_PORT/api/v1/livekit/webhook"
      export LIVEKIT_RTC_TCP_PORT=$((LIVEKIT_PORT + 1))
      guarded TERM sh "$root/config/livekit/start-livekit.sh" --bind 127.0.0.1 \
        --node-ip 127.0.0.1 --udp-port $((LIVEKIT_PORT + 2))
      ;;
    prometheus)
      unset "${all_secrets[@]}"
      guarded TERM prometheus --config.file="$data/prometheus.yml" \
        --storage.tsdb.path="$data/prometheus" \
        --web.listen-address="127.0.0.1:$PROMETHEUS_PORT"
      ;;
    edge)
      # The same Caddyfile as compose; the built client comes from `make web` (make dev runs it).
      # The upstream lists name every instance this run started, each probed on /readyz.
      local n api_list=() socket_list=()
      for ((n = 1; n <= API_INSTANCES; n++)); do api_list+=("127.0.0.1:$(api_port_of "$n")"); done
      for ((n = 1; n <= SOCKET_INSTANCES; n++)); do socket_list+=("127.0.0.1:$(socket_port_of "$n")"); done
      export EDGE_ADDRESS=http://127.0.0.1:$EDGE_PORT EDGE_DISCOVERY=static
      export EDGE_API="${api_list[*]}" EDGE_SOCKETS="${socket_list[*]}"
      export EDGE_WEB_ROOT=$root/web/dist XDG_CONFIG_HOME=$data/edge XDG_DATA_HOME=$data/edge
      export EDGE_LIVEKIT=127.0.0.1:${LIVEKIT_PORT:-7880}
      guarded TERM caddy run --config "$root/config/edge/Caddyfile" --adapter caddyfile
      ;;
    *) die "unknown component '${1:-}' (one of: ${components[*]})" ;;
  esac
}

if [[ ${1:-} == component ]]; then
  run_component "${2:-}"
  exit
fi
if [[ $# -gt 0 ]]; then
  sed -n '2,/^set -E/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'
  exit 64
fi

# --- main: checks, environment, data directory ------------------------------------------------

"$root/scripts/check-deps.sh"
QUAD_DEV_PG_BINDIR=$("$root/scripts/check-deps.sh" --pg-bindir)

env_file=$(realpath -m "${QUAD_ENV_FILE:-$root/.env}")
sh "$root/scripts/ensure-env.sh" "$env_file"
# As with Compose (scripts/up.sh), a variable set in the shell wins over the env file, so
# `API_PORT=4000 make dev` works like `API_PORT=4000 make up`.
declare -A from_shell=()
while IFS= read -r name; do
  if [[ -n ${!name+set} ]]; then from_shell[$name]=${!name}; fi
done < <(sed -n 's/^\([A-Za-z_][A-Za-z0-9_]*\)=.*/\1/p' "$env_file")
set -a
# shellcheck disable=SC1090
. "$env_file"
set +a
for name in "${!from_shell[@]}"; do export "$name=${from_shell[$name]}"; done

QUAD_DEV_DATA=$(realpath -m "${QUAD_DATA_DIR:-$root/.data}")
export QUAD_DEV_DATA QUAD_DEV_PG_BINDIR
# The host profile: services find everything on 127.0.0.1 and the ports below.
export QUAD_PROFILE=host NODE_ENV=development
export API_PORT=${API_PORT:-3000} SOCKET_PORT=${SOCKET_PORT:-3001} WORKER_PORT=${WORKER_PORT:-3002}
export REDIS_PORT=${REDIS_PORT:-6379} REDIS_CACHE_PORT=${REDIS_CACHE_PORT:-6380}
export POSTGRES_PORT=${POSTGRES_PORT:-5432} PROMETHEUS_PORT=${PROMETHEUS_PORT:-9090}
export POSTGRES_USER=${POSTGRES_USER:-quad} POSTGRES_DB=${POSTGRES_DB:-quad}
export SOCKET2_PORT=${SOCKET2_PORT:-$((SOCKET_PORT + 10))} EDGE_PORT=${EDGE_PORT:-8080}
export API_INSTANCES=${API_INSTANCES:-1} SOCKET_INSTANCES=${SOCKET_INSTANCES:-2}
for name in API_INSTANCES SOCKET_INSTANCES; do
  if [[ ! ${!name} =~ ^[1-9][0-9]?$ ]]; then die "$name=${!name} is not a number of instances (1 to 99)"; fi
done
# label -> port of every api and gateway instance, in start order.
service_ports=()
for ((n = 1; n <= API_INSTANCES; n++)); do
  components+=("$(api_name_of "$n")")
  service_ports+=("$(api_name_of "$n")=$(api_port_of "$n")")
done
for ((n = 1; n <= SOCKET_INSTANCES; n++)); do
  components+=("socket-$n")
  service_ports+=("socket-$n=$(socket_port_of "$n")")
done
components+=(worker prometheus edge)

# Calls need LiveKit, which `make tools` builds (Go): started when it is there.
port_names=(API_PORT WORKER_PORT REDIS_PORT REDIS_CACHE_PORT POSTGRES_PORT PROMETHEUS_PORT EDGE_PORT)
((SOCKET_INSTANCES < 2)) || port_names+=(SOCKET2_PORT)
if [[ -x $root/tools/bin/livekit-server ]]; then
  components+=(livekit)
  export LIVEKIT_PORT=${LIVEKIT_PORT:-7880}
  # Browsers signal to LiveKit through the edge: the api hands them /livekit, the edge proxies
  # /livekit/ to LIVEKIT_PORT (one URL to open; media still goes to LIVEKIT_PORT+1 and +2).
  export LIVEKIT_PUBLIC_URL=${LIVEKIT_PUBLIC_URL:-/livekit}
  port_names+=(LIVEKIT_PORT)
elif [[ -z ${LIVEKIT_URL:-} ]]; then
  log "note: calls are off: there is no tools/bin/livekit-server; \`make tools\` builds it (needs Go), and make dev then starts it"
  # No LiveKit to talk to: the api serves no call routes rather than tokens for nothing.
  unset LIVEKIT_API_KEY LIVEKIT_API_SECRET
fi

# Observability: the exporters and Alertmanager come with `make deps` (check-deps.sh insists),
# Jaeger with `make tools`.
export REDIS_EXPORTER_PORT=${REDIS_EXPORTER_PORT:-9121}
export REDIS_CACHE_EXPORTER_PORT=${REDIS_CACHE_EXPORTER_PORT:-9122}
export POSTGRES_EXPORTER_PORT=${POSTGRES_EXPORTER_PORT:-9187}
export ALERTMANAGER_PORT=${ALERTMANAGER_PORT:-9093}
export JAEGER_PORT=${JAEGER_PORT:-16686} JAEGER_OTLP_PORT=${JAEGER_OTLP_PORT:-4318}
declare -A observability_program=(
  [redis-exporter]=prometheus-redis-exporter [redis-cache-exporter]=prometheus-redis-exporter
  [postgres-exporter]=prometheus-postgres-exporter [alertmanager]=prometheus-alertmanager
)
declare -A observability_port=(
  [redis-exporter]=REDIS_EXPORTER_PORT [redis-cache-exporter]=REDIS_CACHE_EXPORTER_PORT
  [postgres-exporter]=POSTGRES_EXPORTER_PORT [alertmanager]=ALERTMANAGER_PORT
)
for component in redis-exporter redis-cache-exporter postgres-exporter alertmanager; do
  if command -v "${observability_program[$component]}" >/dev/null 2>&1; then
    components+=("$component")
    port_names+=("${observability_port[$component]}")
  else
    log "note: no $component: \`make deps\` installs ${observability_program[$component]} (Debian package of that name)"
  fi
done
if [[ -x $root/tools/bin/jaeger ]]; then
  components+=(jaeger)
  port_names+=(JAEGER_PORT JAEGER_OTLP_PORT)
  # Traces on, every one kept: a development stack's few requests are the ones to look at.
  if [[ -z ${OTEL_EXPORTER_OTLP_ENDPOINT:-} ]]; then
    export OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$JAEGER_OTLP_PORT
    export OTEL_TRACES_SAMPLER_ARG=${OTEL_TRACES_SAMPLER_ARG:-1}
  fi
else
  log "note: no traces: there is no tools/bin/jaeger; \`make tools\` builds it (needs Go), and make dev then starts it"
fi

problems=()
for name in POSTGRES_PASSWORD REDIS_ADMIN_PASSWORD REDIS_API_PASSWORD REDIS_SOCKET_PASSWORD \
  REDIS_WORKER_PASSWORD; do
  [[ -n ${!name:-} ]] || problems+=("$name is empty in $env_file")
done
# Every port as "what=port": the variables, then the instances' ports derived from them (the
# first api and gateway are API_PORT and SOCKET_PORT themselves).
port_checks=()
for name in "${port_names[@]}"; do port_checks+=("$name=${!name}"); done
for entry in "${service_ports[@]:1:API_INSTANCES-1}"; do
  port_checks+=("${entry%%=*}'s port (API_PORT + 10 per instance)=${entry#*=}")
done
port_checks+=("SOCKET_PORT=$SOCKET_PORT")
for entry in "${service_ports[@]:API_INSTANCES+2}"; do
  port_checks+=("${entry%%=*}'s port (SOCKET_PORT + 10 per instance)=${entry#*=}")
done
declare -A port_owner=()
for check in "${port_checks[@]}"; do
  name=${check%=*} port=${check##*=}
  if [[ ! $port =~ ^[0-9]+$ ]] || ((port < 1 || port > 65535)); then
    problems+=("$name=$port is not a port number")
  elif [[ -n ${port_owner[$port]:-} ]]; then
    problems+=("$name and ${port_owner[$port]} are both $port")
  else
    port_owner[$port]=$name
    # Something already listening (often the system redis-server, postgresql or prometheus
    # service that the Debian packages start) would make a component fail to bind.
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      problems+=("$name=$port is already in use on 127.0.0.1 (stop what listens there, e.g. the system service, or change $name in $env_file)")
    fi
  fi
done
if ((${#problems[@]} > 0)); then
  log "cannot start:" >&2
  printf '  - %s\n' "${problems[@]}" >&2
  exit 1
fi
for name in REDIS_URL REDIS_CACHE_URL DATABASE_URL; do
  if [[ -n ${!name:-} ]]; then
    log "note: $name is set, so the services connect there, not to the server this script starts"
  fi
done

data=$QUAD_DEV_DATA
mkdir -p "$data"
# Private per component, except that the postgres user (as root) must be able to traverse $data.
mkdir -p "$data/redis" "$data/redis-cache" "$data/prometheus" "$data/edge" "$data/alertmanager"
chmod 700 "$data/redis" "$data/redis-cache" "$data/prometheus" "$data/alertmanager"
if is_root; then
  if ! setpriv --reuid=postgres --regid=postgres --init-groups -- test -x "$data" -a -r "$data"; then
    die "PostgreSQL runs as the 'postgres' user, which cannot reach $data (a parent directory is not searchable by others); set QUAD_DATA_DIR to a directory it can reach"
  fi
fi
if [[ -d $data/postgres ]]; then
  expected_owner=$(if is_root; then echo postgres; else id -un; fi)
  owner=$(stat -c %U "$data/postgres")
  if [[ $owner != "$expected_owner" ]]; then
    die "$data/postgres belongs to $owner but PostgreSQL will run as $expected_owner (was the data directory made by another user?); chown -R it or use another QUAD_DATA_DIR"
  fi
fi

# Prometheus scrapes every instance started: "127.0.0.1:3000", "127.0.0.1:3010"...
targets_of() {
  local prefix=$1 entry list=()
  for entry in "${service_ports[@]}"; do
    if [[ $entry == "$prefix"* ]]; then list+=("\"127.0.0.1:${entry#*=}\""); fi
  done
  local IFS=,
  echo "${list[*]}"
}
sed -e "s/{{API_TARGETS}}/$(targets_of api)/g" -e "s/{{SOCKET_TARGETS}}/$(targets_of socket)/g" \
  -e "s/{{WORKER_PORT}}/$WORKER_PORT/g" \
  -e "s/{{PROMETHEUS_PORT}}/$PROMETHEUS_PORT/g" -e "s/{{ALERTMANAGER_PORT}}/$ALERTMANAGER_PORT/g" \
  -e "s/{{REDIS_EXPORTER_PORT}}/$REDIS_EXPORTER_PORT/g" \
  -e "s/{{REDIS_CACHE_EXPORTER_PORT}}/$REDIS_CACHE_EXPORTER_PORT/g" \
  -e "s/{{POSTGRES_EXPORTER_PORT}}/$POSTGRES_EXPORTER_PORT/g" -e "s#{{RULES_DIR}}#$root/config/prometheus/rules#g" \
  "$root/config/prometheus/prometheus.host.yml.template" >"$data/prometheus.yml"

# --- run ----------------------------------------------------------------------------------

stack_pid=
stack_ready=0
stopping=0

# The runner gets a session of its own, so a Ctrl-C in this terminal reaches only this script,
# which then stops the stack through the runner exactly once (a second SIGINT makes Node and
# Redis exit at once instead of shutting down cleanly). The session is also one process group
# holding every component, which makes "is anything left?" a single kill -0 (PostgreSQL's
# backends form groups of their own, but the postmaster in ours outlives them). If this script
# dies without cleaning up, --pdeathsig still stops the runner and with it every component.
stack_alive() { [[ -n $stack_pid ]] && kill -0 -- "-$stack_pid" 2>/dev/null; }

stop_stack() {
  local reason=$1 code=0 deadline signalled pid
  stopping=1
  trap 'force_stop' INT TERM HUP
  log "stopping ($reason); Ctrl-C again to kill at once"
  if ((stack_ready)); then stop_services_first; fi
  # The runner forwards SIGINT to the components running now; a crashed one still waiting out
  # its restart delay is started after that and never told to stop, so the loop below stops
  # each component started after this point (once: a second SIGINT means "exit at once").
  signalled=" $(pgrep -P "$stack_pid" | tr '\n' ' ')"
  if kill -0 "$stack_pid" 2>/dev/null; then kill -INT "$stack_pid" 2>/dev/null || true; fi
  deadline=$((SECONDS + 30))
  while stack_alive && ((SECONDS < deadline)); do
    for pid in $(pgrep -P "$stack_pid"); do
      if [[ $signalled != *" $pid "* ]]; then
        kill -INT "$pid" 2>/dev/null || true
        signalled+="$pid "
      fi
    done
    sleep 0.2 &
    wait $! || true
  done
  if stack_alive; then
    log "processes still running after 30 s; killing them" >&2
    kill -KILL -- "-$stack_pid" 2>/dev/null || true
    code=1
  fi
  wait "$stack_pid" 2>/dev/null || code=$((code ? code : $?))
  # 130: the runner itself died of our SIGINT before it had set up its handlers, so before it
  # had started anything.
  if ((code == 130)) && ! stack_alive; then code=0; fi
  if ((code)); then
    log "stopped, but a component did not shut down cleanly (see its output above)" >&2
  else
    log "stopped; every component has exited"
  fi
  return "$code"
}

# The services first, while Redis and PostgreSQL are still there for them to drain against
# (a worker closing its queue against a Redis that is already gone waits out its whole drain
# budget). Exiting 0, they are not restarted (one whose shutdown step fails exits 1 and is, a
# second or more later; stop_stack's loop then stops the new one). Only once the stack was ready:
# a service still loading has no signal handler yet and would die of the signal, which the
# runner would take for a crash and restart.
stop_services_first() {
  local pids pid alive deadline
  pids=$(pgrep -P "$stack_pid" -f 'services/(api|socket|worker)/main\.ts' || true)
  [[ -n $pids ]] || return 0
  # shellcheck disable=SC2086
  kill -INT $pids 2>/dev/null || true
  # Each service drains for at most 8 s (policy.shutdown.drainTimeoutMs).
  deadline=$((SECONDS + 12))
  while ((SECONDS < deadline)); do
    alive=0
    for pid in $pids; do
      if kill -0 "$pid" 2>/dev/null; then alive=1; fi
    done
    ((alive)) || return 0
    sleep 0.1 &
    wait $! || true
  done
}

# After the runner ended by itself: give stragglers a moment, then make sure nothing is left.
reap_leftovers() {
  local deadline=$((SECONDS + 5))
  while stack_alive && ((SECONDS < deadline)); do
    sleep 0.2 &
    wait $! || true
  done
  if stack_alive; then kill -KILL -- "-$stack_pid" 2>/dev/null || true; fi
}

# shellcheck disable=SC2317 # trap handlers below
force_stop() {
  trap - INT TERM HUP
  log "killing every component now" >&2
  kill -KILL -- "-$stack_pid" 2>/dev/null || true
  exit 130
}

# shellcheck disable=SC2317
on_signal() {
  if stop_stack "$1 received"; then exit 0; fi
  exit 1
}

# shellcheck disable=SC2317
on_exit() {
  local code=$?
  if ((!stopping)) && stack_alive; then stop_stack "exiting" || true; fi
  exit "$code"
}

trap 'on_signal SIGINT' INT
trap 'on_signal SIGTERM' TERM
trap 'on_signal SIGHUP' HUP
trap on_exit EXIT

commands=()
for component in "${components[@]}"; do
  commands+=("exec $(printf '%q' "$self") component $component")
done
names=$(IFS=,; echo "${components[*]}")
log "starting ${components[*]} (env $env_file, data $data)"
# A component that exits non-zero or dies of a signal is restarted, forever, with an exponential
# delay (1 s, 2 s, 4 s... counted per component: concurrently neither caps nor resets it); one
# that exits 0 (migrate, once done) stays stopped. Once concurrently itself gets SIGINT (Ctrl-C,
# or stop_stack above) it forwards it and counts every exit as clean, so it restarts nothing
# more (except a restart already waiting out its delay: stop_stack stops that one). SIGINT is
# graceful for every component and PostgreSQL's fast shutdown.
setsid setpriv --pdeathsig INT -- "$root/node_modules/.bin/concurrently" \
  --restart-tries -1 --restart-after exponential \
  --names "$names" --prefix-colors auto --pad-prefix \
  "${commands[@]}" &
stack_pid=$!
# The runner's pid is also the id of its process group (setsid does not fork here, as the
# background child is no group leader) once setsid has run: wait for that moment.
for _ in $(seq 50); do
  [[ $(ps -o pgid= -p "$stack_pid" 2>/dev/null | tr -d ' ') == "$stack_pid" ]] && break
  sleep 0.02
done

# Bounded wait for readiness, polling with bash's /dev/tcp so no HTTP client is required.
http_get() {
  local port=$1 path=$2
  (
    exec 3<>"/dev/tcp/127.0.0.1/$port" || exit 1
    printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1:%s\r\n\r\n' "$path" "$port" >&3
    response=
    IFS= read -r -t 3 -d '' response <&3 || true
    printf '%s' "$response"
  ) 2>/dev/null
}

declare -A probe_port=([worker]=$WORKER_PORT [prometheus]=$PROMETHEUS_PORT [edge]=$EDGE_PORT)
waiting=()
for entry in "${service_ports[@]}"; do
  probe_port[${entry%%=*}]=${entry#*=}
  waiting+=("${entry%%=*}")
done
waiting+=(worker)
services_waited=$(IFS=,; echo "${waiting[*]}")
waiting+=(prometheus edge)
declare -A last_answer=()
# These answer 200 on these paths once they serve; the others report "ready" on /readyz. Through
# the edge, the api's readiness: the edge is ready once it proxies.
declare -A probe_path=(
  [prometheus]=/-/ready [edge]=/api/v1/ [redis-exporter]=/ [redis-cache-exporter]=/
  [postgres-exporter]=/ [alertmanager]=/-/ready [jaeger]=/api/services
)
probe_port+=(
  [redis-exporter]=$REDIS_EXPORTER_PORT [redis-cache-exporter]=$REDIS_CACHE_EXPORTER_PORT
  [postgres-exporter]=$POSTGRES_EXPORTER_PORT [alertmanager]=$ALERTMANAGER_PORT [jaeger]=$JAEGER_PORT
)
for component in redis-exporter redis-cache-exporter postgres-exporter alertmanager jaeger; do
  if [[ " ${components[*]} " == *" $component "* ]]; then waiting+=("$component"); fi
done
timeout_s=${QUAD_DEV_TIMEOUT:-120}
started=$SECONDS
deadline=$((started + timeout_s))
next_progress=$((started + 5))
log "waiting up to ${timeout_s}s for /readyz of ${services_waited//,/, }, and for ${waiting[*]:API_INSTANCES+SOCKET_INSTANCES+1}"
while ((${#waiting[@]} > 0)); do
  if ! kill -0 "$stack_pid" 2>/dev/null; then
    code=0
    wait "$stack_pid" || code=$?
    stopping=1
    reap_leftovers
    die "a component exited during start-up (see its output above); the stack has stopped (exit $code)"
  fi
  still=()
  for name in "${waiting[@]}"; do
    path=${probe_path[$name]:-/readyz}
    answer=$(http_get "${probe_port[$name]}" "$path" || true)
    last_answer[$name]=${answer:-no answer}
    status_line=${answer%%$'\r'*}
    if [[ $status_line =~ ^HTTP/1\.[01]\ 200 ]] &&
      { [[ -n ${probe_path[$name]:-} ]] || [[ $answer == *'"status":"ready"'* ]]; }; then
      log "$name ready after $((SECONDS - started))s"
    else
      still+=("$name")
    fi
  done
  waiting=("${still[@]}")
  ((${#waiting[@]} > 0)) || break
  if ((SECONDS >= deadline)); then
    log "not ready after ${timeout_s}s: ${waiting[*]}; last answers:" >&2
    for name in "${waiting[@]}"; do
      body=${last_answer[$name]#*$'\r\n\r\n'}
      printf '  %s: %s\n' "$name" "${body:0:600}" >&2
    done
    stop_stack "not ready in time" || true
    exit 1
  fi
  if ((SECONDS >= next_progress)); then
    log "still waiting for ${waiting[*]} ($((SECONDS - started))s of ${timeout_s}s)"
    next_progress=$((SECONDS + 5))
  fi
  sleep 0.5 &
  wait $! || true
done

stack_ready=1
instance_lines=$(
  for entry in "${service_ports[@]}"; do
    name=${entry%%=*}
    note=
    if [[ $name == api* ]]; then note='(/api/v1, /readyz, /metrics)'; fi
    if [[ $name == socket* ]]; then note='(Socket.IO, /readyz, /metrics)'; fi
    printf '  %-12s http://127.0.0.1:%-8s %s\n' "$name" "${entry#*=}" "$note"
  done
)
cat <<EOF
[$(date +%H:%M:%S)] dev: Quad is ready in ${SECONDS}s; Ctrl-C stops everything.

  Open Quad:   http://127.0.0.1:$EDGE_PORT/

  behind the edge: $API_INSTANCES api and $SOCKET_INSTANCES socket instances (API_INSTANCES, SOCKET_INSTANCES)
$instance_lines
  worker       http://127.0.0.1:$WORKER_PORT        (/readyz, /metrics)
  prometheus   http://127.0.0.1:$PROMETHEUS_PORT
  redis        redis://127.0.0.1:$REDIS_PORT        (ACL users default, api, socket, worker)
  redis-cache  redis://127.0.0.1:$REDIS_CACHE_PORT
  postgres     postgres://$POSTGRES_USER@127.0.0.1:$POSTGRES_PORT/$POSTGRES_DB
  passwords in $env_file; data in $data
EOF
if [[ " ${components[*]} " == *" livekit "* ]]; then
  log "livekit      ws://127.0.0.1:$LIVEKIT_PORT (calls, also at /livekit/ on the edge; webhook to the api)"
fi
if [[ " ${components[*]} " == *" jaeger "* ]]; then
  log "jaeger       http://127.0.0.1:$JAEGER_PORT (query API /api/traces: every service's traces; OTLP on $JAEGER_OTLP_PORT)"
fi
if [[ " ${components[*]} " == *" alertmanager "* ]]; then
  log "alertmanager http://127.0.0.1:$ALERTMANAGER_PORT (receiver: ${ALERT_WEBHOOK_URL:-none, set ALERT_WEBHOOK_URL})"
fi
if [[ " ${components[*]} " == *" redis-exporter "* ]]; then
  log "exporters    redis :$REDIS_EXPORTER_PORT, redis-cache :$REDIS_CACHE_EXPORTER_PORT, postgres :$POSTGRES_EXPORTER_PORT (scraped by Prometheus)"
fi

code=0
wait "$stack_pid" || code=$?
# Reached only when the runner ended by itself: every component exited 0 (each was stopped
# from outside, as crashes are restarted), or the runner itself died.
stopping=1
reap_leftovers
log "the stack stopped on its own (exit $code): every component exited; see the output above" >&2
exit $((code == 0 ? 1 : code))
