# Sourced by the scripts that start their own native stack beside a developer's (scripts/e2e.sh,
# scripts/loadtest.sh): free loopback ports for every port scripts/dev.sh may listen on, so
# nothing collides with a running `make dev`, and the start and stop of that stack.

# A free port on 127.0.0.1, different from every one handed out before, into $port (not
# echoed: a command substitution's subshell would forget what it handed out).
declare -A taken=()
free_port() {
  while :; do
    port=$((20000 + RANDOM % 30000))
    [[ -z ${taken[$port]:-} ]] || continue
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      taken[$port]=1
      return
    fi
  done
}

# Writes every port scripts/dev.sh may listen on (the exporters, Alertmanager and Jaeger as
# well, where it runs them) into the env file $1 and exports it. LiveKit takes signalling on
# LIVEKIT_PORT and media on the next two ports, all three free.
assign_stack_ports() {
  local env_file=$1 name
  for name in API_PORT SOCKET_PORT SOCKET2_PORT WORKER_PORT REDIS_PORT REDIS_CACHE_PORT \
    POSTGRES_PORT PROMETHEUS_PORT EDGE_PORT REDIS_EXPORTER_PORT REDIS_CACHE_EXPORTER_PORT \
    POSTGRES_EXPORTER_PORT ALERTMANAGER_PORT JAEGER_PORT JAEGER_OTLP_PORT; do
    free_port
    sed -i "/^$name=/d" "$env_file"
    printf '%s=%s\n' "$name" "$port" >>"$env_file"
    export "$name=$port"
  done
  while :; do
    free_port
    if [[ -z ${taken[$((port + 1))]:-} && -z ${taken[$((port + 2))]:-} ]] &&
      ! (exec 3<>"/dev/tcp/127.0.0.1/$((port + 1))") 2>/dev/null &&
      ! (exec 3<>"/dev/tcp/127.0.0.1/$((port + 2))") 2>/dev/null; then
      taken[$((port + 1))]=1
      taken[$((port + 2))]=1
      break
    fi
  done
  sed -i '/^LIVEKIT_PORT=/d' "$env_file"
  printf 'LIVEKIT_PORT=%s\n' "$port" >>"$env_file"
  export LIVEKIT_PORT=$port
}

# Starts scripts/dev.sh with the env file $1 and the data directory $2/data, its log in
# $2/dev.log, in a session of its own (so that stopping it stops every server it started), and
# waits up to $3 seconds for "Quad is ready". Sets dev_pid. On failure: the log's tail, exit 1.
dev_pid=
start_stack() {
  local env_file=$1 work=$2 wait_seconds=$3
  QUAD_ENV_FILE=$env_file QUAD_DATA_DIR=$work/data setsid "$root/scripts/dev.sh" >"$work/dev.log" 2>&1 &
  dev_pid=$!
  local deadline=$((SECONDS + wait_seconds))
  until grep -qs 'dev: Quad is ready' "$work/dev.log"; do
    if ! kill -0 "$dev_pid" 2>/dev/null || ((SECONDS >= deadline)); then
      tail -n 60 "$work/dev.log" >&2
      log "the stack did not start" >&2
      exit 1
    fi
    sleep 0.5
  done
}

# Stops the stack start_stack started (scripts/dev.sh stops its servers on TERM), if it runs.
stop_stack() {
  if [[ -n $dev_pid ]] && kill -0 "$dev_pid" 2>/dev/null; then
    log "stopping the stack"
    kill -TERM "$dev_pid" 2>/dev/null || true
    wait "$dev_pid" 2>/dev/null || true
  fi
}
