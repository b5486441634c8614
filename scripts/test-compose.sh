#!/usr/bin/env bash
# `make test-compose`: runs the real Compose stack end to end on a machine that cannot pull
# images. It starts a private dockerd, builds stand-ins for the official images from Debian
# packages (test/compose/*), builds Quad's image, runs scripts/up.sh exactly as `make up` does
# (temporary env file, project `quadtest`, free host ports), checks the result, scales the api
# and the gateways to two replicas each behind the edge (test/compose/scale-check.ts), then adds the
# optional profiles to the running stack (`media`: LiveKit and a real call through the api;
# `observability`: the exporters, Jaeger and Alertmanager, each checked scraped or healthy;
# Grafana is AGPL and not run here), runs scripts/down.sh and stops the daemon again, whatever
# happens.
#
# Needs root, dockerd, debootstrap, docker-compose 1.29+ or the compose v2 plugin, curl,
# redis-cli and Node 20 on the host (its node binary is copied into the node stand-in), the
# npm dependencies (`make install`: the call check runs @livekit/rtc-node on the host), and
# tools/bin/livekit-server and tools/bin/jaeger (`make tools`; built here when missing): the
# stand-ins for the LiveKit and Jaeger images are made from them.
#
# State that makes a rerun cheap (Docker data root with the built images, the debootstrap
# rootfs tarball, logs) lives in QUAD_TEST_STATE (default /var/tmp/quad-compose-test): outside
# the repository, so no linter, test runner or build context ever walks a Docker data root.
# Delete that directory (or set QUAD_TEST_FRESH=1) for a cold run.
#
# Other settings: QUAD_TEST_MIRROR (Debian mirror; default: the host's apt mirror),
# QUAD_TEST_ADDRESS_POOL (networks of the private daemon, default 10.213.0.0/16),
# QUAD_TEST_STORAGE_DRIVER (default: dockerd's choice, overlay2 on ext4/xfs), QUAD_UP_TIMEOUT.
set -Eeuo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
state=${QUAD_TEST_STATE:-/var/tmp/quad-compose-test}
pool=${QUAD_TEST_ADDRESS_POOL:-10.213.0.0/16}
project=quadtest
base_image=quad-test/base:bookworm
node_image=quad-test/node:20
quad_image=quad-test/quad:local
expected_services=(redis redis-cache postgres migrate api socket worker prometheus edge)
# The optional profiles' services, added to the running stack by name (Grafana aside).
profile_services=(livekit redis-exporter redis-cache-exporter postgres-exporter-role postgres-exporter jaeger alertmanager)

t0=$SECONDS
log() { printf '[%s %4ds] %s\n' "$(date +%H:%M:%S)" $((SECONDS - t0)) "$*"; }

passed=0
failed=0
pass() { passed=$((passed + 1)); echo "PASS: $*"; }
fail() { failed=$((failed + 1)); echo "FAIL: $*"; }
summary() { echo "test-compose: $passed passed, $failed failed"; }
# A step the checks depend on failed: count it, show why, stop (the EXIT trap cleans up).
abort() {
  fail "$*"
  dump_stack
  summary
  exit 1
}

# --- pre-flight -------------------------------------------------------------------------------
if [[ $(id -u) != 0 ]]; then
  echo "test-compose: needs root (it runs a private dockerd and debootstrap)" >&2
  exit 1
fi
for tool in dockerd debootstrap curl redis-cli node tar gzip flock; do
  command -v "$tool" >/dev/null 2>&1 || { echo "test-compose: '$tool' is not installed" >&2; exit 1; }
done
[[ -x $root/node_modules/.bin/tsx ]] || { echo "test-compose: no node_modules here: run make install" >&2; exit 1; }
for tool in livekit-server jaeger; do
  [[ -x $root/tools/bin/$tool ]] || "$root/scripts/build-tools.sh" "$tool"
done

mkdir -p "$state"
exec 9>"$state/lock"
if ! flock -n 9; then
  echo "test-compose: another run holds $state/lock" >&2
  exit 1
fi

# Short paths for sockets (unix socket paths are limited to 108 bytes).
run_dir=$(mktemp -d /tmp/quad-test-dockerd.XXXXXX)
export DOCKER_HOST=unix://$run_dir/docker.sock
export COMPOSE_PROJECT_NAME=$project
unset COMPOSE_PROFILES COMPOSE_FILE DOCKER_CONTEXT DOCKER_CONFIG
# The run writes its own env file; a developer's .env is never read or touched.
export QUAD_ENV_FILE=$run_dir/quad.env
docker=docker
dockerd_pid=
forward_rule=()
stack_started=0

compose() { "$root/scripts/compose.sh" "$@"; }

# Bash runs a signal trap only after the foreground command ends; a long build would keep
# Ctrl-C or a TERM waiting. Waiting on a background child is interrupted at once.
# 9>&-: long-running children must not inherit (and outlive the script holding) the run lock.
interruptible() {
  "$@" 9>&- &
  wait $!
}

dump_stack() {
  if [[ $stack_started == 1 ]] && [[ -n $dockerd_pid ]]; then
    echo "---- compose ps"
    compose ps -a || true
    echo "---- compose logs (last 80 lines per service)"
    compose logs --no-color --tail=80 || true
  fi
}

unmount_under() {
  local dir=$1
  local m
  for m in $({ grep -o " ${dir}[^ ]*" /proc/mounts || true; } | sort -r); do
    umount -l "$m" || true
  done
}

cleanup() {
  local rc=$? waited=0
  trap - EXIT INT TERM
  if [[ -n $dockerd_pid ]] && kill -0 "$dockerd_pid" 2>/dev/null; then
    if [[ $stack_started == 1 ]]; then
      log "cleanup: removing the $project containers and volumes"
      VOLUMES=1 "$root/scripts/down.sh" -t 5 >>"$state/logs/cleanup.log" 2>&1 || true
    fi
    log "cleanup: stopping dockerd (pid $dockerd_pid)"
    kill -TERM "$dockerd_pid" 2>/dev/null || true
    while kill -0 "$dockerd_pid" 2>/dev/null && ((waited < 60)); do
      sleep 1
      waited=$((waited + 1))
    done
    if kill -0 "$dockerd_pid" 2>/dev/null; then
      log "cleanup: dockerd did not stop in 60s; killing it"
      kill -KILL "$dockerd_pid" 2>/dev/null || true
    fi
    rm -f "$state/dockerd.pid"
  fi
  # Anything still running from this daemon (a containerd shim, say) was started by this run.
  local leftovers
  leftovers=$(pgrep -f -- "$run_dir" || true)
  if [[ -n $leftovers ]]; then
    log "cleanup: stopping leftover processes of this run: ${leftovers//$'\n'/ }"
    # shellcheck disable=SC2086
    kill -TERM $leftovers 2>/dev/null || true
    sleep 2
  fi
  if ((${#forward_rule[@]})); then
    iptables -D "${forward_rule[@]}" 2>/dev/null || true
  fi
  # dockerd leaves its bind mount of the host network namespace (exec-root/netns/default).
  unmount_under "$run_dir"
  if grep -q " $run_dir" /proc/mounts; then
    log "cleanup: mounts remain under $run_dir; leaving it in place"
  else
    rm -rf --one-file-system "$run_dir"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A daemon left running on this data root by a run that was killed outright (SIGKILL skips
# the trap): stop it first, two daemons must never share a data root.
if [[ -s $state/dockerd.pid ]]; then
  old_pid=$(cat "$state/dockerd.pid")
  old_cmd=$(tr '\0' ' ' <"/proc/$old_pid/cmdline" 2>/dev/null || true)
  if [[ $old_cmd == *"--data-root $state/docker "* ]]; then
    log "stopping the dockerd (pid $old_pid) left running by an earlier run"
    kill -TERM "$old_pid" 2>/dev/null || true
    for _ in $(seq 1 60); do kill -0 "$old_pid" 2>/dev/null || break; sleep 1; done
    if [[ $old_cmd =~ --exec-root\ (/tmp/quad-test-dockerd\.[A-Za-z0-9]+)/exec ]]; then
      unmount_under "${BASH_REMATCH[1]}"
      rm -rf --one-file-system "${BASH_REMATCH[1]}"
    fi
  fi
  rm -f "$state/dockerd.pid"
fi
if [[ ${QUAD_TEST_FRESH:-0} == 1 ]]; then
  log "QUAD_TEST_FRESH=1: removing the cached images and rootfs in $state"
  find "$state" -mindepth 1 -maxdepth 1 ! -name lock -exec rm -rf --one-file-system {} +
fi
mkdir -p "$state/logs"

# --- 1. a private dockerd ---------------------------------------------------------------------
# Its own data root, exec root, socket, pid file and (empty) config file, so it neither reads
# /etc/docker/daemon.json nor meets a system dockerd. No docker0 bridge and no iptables
# management: the daemon then leaves the host firewall and ip_forward alone (a default dockerd
# sets the FORWARD policy to DROP for good). Compose networks are plain Linux bridges from a
# dedicated address pool; published ports go through docker-proxy, which needs no NAT rules.
log "starting a private dockerd (state $state, socket $run_dir/docker.sock)"
echo '{}' >"$run_dir/daemon.json"
dockerd_args=(
  --config-file "$run_dir/daemon.json"
  --data-root "$state/docker"
  --exec-root "$run_dir/exec"
  --pidfile "$run_dir/docker.pid"
  -H "unix://$run_dir/docker.sock"
  --bridge=none --iptables=false --ip-forward=false
  --default-address-pool "base=$pool,size=24"
)
if [[ -n ${QUAD_TEST_STORAGE_DRIVER:-} ]]; then
  dockerd_args+=(--storage-driver "$QUAD_TEST_STORAGE_DRIVER")
fi
# 9>&-: the daemon must not inherit (and keep) the run lock.
dockerd "${dockerd_args[@]}" >"$state/logs/dockerd.log" 2>&1 9>&- &
dockerd_pid=$!
echo "$dockerd_pid" >"$state/dockerd.pid"
for _ in $(seq 1 60); do
  docker info >/dev/null 2>&1 && break
  kill -0 "$dockerd_pid" 2>/dev/null || break
  sleep 1
done
if ! docker info >/dev/null 2>&1; then
  tail -n 30 "$state/logs/dockerd.log" || true
  abort "private dockerd did not start (log: $state/logs/dockerd.log)"
fi
# Prefer the docker client on PATH; fall back to Debian's if it cannot talk to this daemon.
if ! docker version >/dev/null 2>&1 && [[ -x /usr/bin/docker ]]; then
  docker=/usr/bin/docker
  mkdir -p "$run_dir/bin"
  ln -s /usr/bin/docker "$run_dir/bin/docker"
  export PATH=$run_dir/bin:$PATH
fi
export QUAD_DOCKER=$docker
log "dockerd up: $($docker info --format 'server {{.ServerVersion}}, storage driver {{.Driver}}, cgroup {{.CgroupDriver}}')"

# With br_netfilter loaded, bridged traffic between containers crosses the host's FORWARD
# chain; a DROP policy there (left by any earlier default dockerd) would cut the stack apart.
# Accept our pool for the duration of the run only.
if command -v iptables >/dev/null 2>&1; then
  rule=(FORWARD -s "$pool" -d "$pool" -m comment --comment quad-test-compose -j ACCEPT)
  # Copies left by runs that were killed outright go first.
  while iptables -D "${rule[@]}" 2>/dev/null; do :; done
  if iptables -I "${rule[@]}" 2>/dev/null; then
    forward_rule=("${rule[@]}")
  else
    log "warning: could not add an iptables FORWARD rule; containers may not reach each other if FORWARD drops"
  fi
fi

# Leftovers of an interrupted earlier run (containers restarted by the daemon, old volumes
# whose passwords no longer match) would make this run test the past.
stale=$($docker ps -aq --filter "label=com.docker.compose.project=$project")
if [[ -n $stale ]]; then
  log "removing containers left by an earlier run"
  # shellcheck disable=SC2086
  $docker rm -f $stale >/dev/null
fi
stale=$($docker volume ls -q --filter "label=com.docker.compose.project=$project")
if [[ -n $stale ]]; then
  # shellcheck disable=SC2086
  $docker volume rm $stale >/dev/null
fi

# --- 2. base image: Debian bookworm minbase ---------------------------------------------------
# The host's own Debian mirror (the only one reachable here).
host_mirror() {
  local uri
  uri=$(sed -n 's/^URIs:[[:space:]]*//p' /etc/apt/sources.list.d/*.sources 2>/dev/null \
    | tr ' ' '\n' | grep -E '/debian/?$' | head -n 1 || true)
  if [[ -z $uri ]]; then
    uri=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
      | awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^https?:\/\/.*\/debian\/?$/) { print $i; exit } }' || true)
  fi
  printf '%s' "${uri:-http://deb.debian.org/debian}"
}
host_security_mirror() {
  { sed -n 's/^URIs:[[:space:]]*//p' /etc/apt/sources.list.d/*.sources 2>/dev/null | tr ' ' '\n'
    cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | awk '$1 == "deb" { print $2 }'
  } | grep -E '/debian-security/?$' | head -n 1 || true
}

if ! $docker image inspect "$base_image" >/dev/null 2>&1; then
  tarball=$state/rootfs-bookworm-minbase.tar.gz
  if [[ ! -s $tarball ]]; then
    mirror=${QUAD_TEST_MIRROR:-$(host_mirror)}
    security=$(host_security_mirror)
    rootfs=$state/rootfs.tmp
    unmount_under "$rootfs"
    rm -rf --one-file-system "$rootfs"
    log "debootstrap --variant=minbase bookworm from $mirror (log: $state/logs/debootstrap.log)"
    if ! interruptible debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$state/logs/debootstrap.log" 2>&1; then
      tail -n 20 "$state/logs/debootstrap.log"
      unmount_under "$rootfs"
      abort "debootstrap failed"
    fi
    rm -f "$rootfs/etc/apt/sources.list"
    {
      printf 'Types: deb\nURIs: %s\nSuites: bookworm bookworm-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$mirror"
      if [[ -n $security ]]; then
        printf '\nTypes: deb\nURIs: %s\nSuites: bookworm-security\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$security"
      fi
    } >"$rootfs/etc/apt/sources.list.d/debian.sources"
    # Like Debian's official images: no recommends, no package cache kept in layers.
    printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' >"$rootfs/etc/apt/apt.conf.d/90quad-test"
    printf 'DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/*.bin || true"; };\n' >"$rootfs/etc/apt/apt.conf.d/docker-clean"
    rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/archives/*.deb
    tar -C "$rootfs" --numeric-owner -czf "$tarball.tmp" .
    mv "$tarball.tmp" "$tarball"
    rm -rf --one-file-system "$rootfs"
  else
    log "reusing the cached rootfs $tarball"
  fi
  log "importing $base_image"
  $docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["bash"]' \
    "$tarball" "$base_image" >/dev/null || abort "docker import of the base image failed"
else
  log "base image $base_image present"
fi

# --- 3. stand-ins for the official images -----------------------------------------------------
build() {
  local tag=$1 name=$2
  shift 2
  log "building $tag"
  if ! interruptible $docker build --network host -t "$tag" "$@" >"$state/logs/build-$name.log" 2>&1; then
    tail -n 30 "$state/logs/build-$name.log"
    abort "docker build $tag (log: $state/logs/build-$name.log)"
  fi
}

# Node 20 from the host (Debian bookworm only packages Node 18).
node_bin=$(readlink -f "$(command -v node)")
node_major=$("$node_bin" -p 'process.versions.node.split(".")[0]')
npm_dir=$(dirname "$node_bin")/../lib/node_modules/npm
if ((node_major < 20)) || [[ ! -f $npm_dir/bin/npm-cli.js ]]; then
  abort "host Node $("$node_bin" --version) with npm in $npm_dir: need Node >= 20 and its npm"
fi
node_ctx=$state/node-context
rm -rf "$node_ctx"
mkdir -p "$node_ctx/stage"
cp -a "$node_bin" "$node_ctx/stage/node"
cp -a "$(readlink -f "$npm_dir")" "$node_ctx/stage/npm"
host_ca=/etc/ssl/certs/ca-certificates.crt
[[ -s $host_ca ]] || abort "no CA bundle at $host_ca (install ca-certificates)"
cp "$host_ca" "$node_ctx/stage/ca-certificates.crt"

build quad-test/redis:7 redis "$root/test/compose/redis"
build quad-test/postgres:15 postgres "$root/test/compose/postgres"
build quad-test/prometheus:2 prometheus "$root/test/compose/prometheus"
build "$node_image" node -f "$root/test/compose/node/Dockerfile" "$node_ctx"
build quad-test/caddy:2 caddy "$root/test/compose/caddy"
# The optional profiles: Debian's exporters and Alertmanager (one package layer, three targets);
# LiveKit and Jaeger from the binaries `make tools` built, staged like Node above.
for target in redis-exporter postgres-exporter alertmanager; do
  build "quad-test/$target:debian" "$target" --target "$target" "$root/test/compose/prometheus-tools"
done
for tool in livekit-server jaeger; do
  context=$state/$tool-context
  mkdir -p "$context"
  cp "$root/test/compose/${tool%-server}/Dockerfile" "$context/Dockerfile"
  # A hard link when the state is on the same file system; the layer cache compares contents.
  ln -f "$root/tools/bin/$tool" "$context/$tool" 2>/dev/null || cp "$root/tools/bin/$tool" "$context/$tool"
  build "quad-test/${tool%-server}:local" "$tool" "$context"
done

# --- 4. Quad's own image, with the real Dockerfile --------------------------------------------
build "$quad_image" quad --build-arg "NODE_IMAGE=$node_image" "$root"
# The edge image with its real Dockerfile: the web client built on the node stand-in, served
# by the caddy stand-in.
build quad-test/edge:local edge --build-arg "NODE_IMAGE=$node_image" \
  --build-arg CADDY_IMAGE=quad-test/caddy:2 "$root/web"
# The build stages' images are untagged: they are the layer cache of the next run, so only
# those left over from builds more than a week old are pruned.
$docker image prune -f --filter until=168h >/dev/null 2>&1 || true

# --- 5. make up -------------------------------------------------------------------------------
# Free ports on 127.0.0.1 so a developer's running stack (3000, 5432, 6379...) is never hit.
read -r api_port socket_port worker_port redis_port cache_port pg_port prom_port grafana_port livekit_port edge_port \
  jaeger_port alertmanager_port rtc_tcp_port rtc_udp_port < <(
  node -e '
    const net = require("node:net");
    const servers = [];
    const take = () => {
      if (servers.length === 14) {
        console.log(servers.map((s) => s.address().port).join(" "));
        servers.forEach((s) => s.close());
        return;
      }
      const s = net.createServer().listen(0, "127.0.0.1", take);
      servers.push(s);
    };
    take();'
)

"$root/scripts/ensure-env.sh" "$QUAD_ENV_FILE" >/dev/null
set_env() {
  local key=$1 value=$2
  if grep -q "^$key=" "$QUAD_ENV_FILE"; then
    sed -i "s|^$key=.*|$key=$value|" "$QUAD_ENV_FILE"
  else
    printf '%s=%s\n' "$key" "$value" >>"$QUAD_ENV_FILE"
  fi
}
set_env API_PORT "$api_port"
set_env SOCKET_PORT "$socket_port"
set_env WORKER_PORT "$worker_port"
set_env REDIS_PORT "$redis_port"
set_env REDIS_CACHE_PORT "$cache_port"
set_env POSTGRES_PORT "$pg_port"
set_env PROMETHEUS_PORT "$prom_port"
set_env GRAFANA_PORT "$grafana_port"
set_env LIVEKIT_PORT "$livekit_port"
set_env EDGE_PORT "$edge_port"
set_env JAEGER_PORT "$jaeger_port"
set_env ALERTMANAGER_PORT "$alertmanager_port"
# Free on TCP a moment ago; for the UDP port that is a good enough guess on a test machine.
set_env LIVEKIT_RTC_TCP_PORT "$rtc_tcp_port"
set_env LIVEKIT_RTC_UDP_PORT "$rtc_udp_port"
set_env EDGE_IMAGE quad-test/edge:local
set_env QUAD_IMAGE "$quad_image"
set_env NODE_IMAGE "$node_image"
set_env REDIS_IMAGE quad-test/redis:7
set_env POSTGRES_IMAGE quad-test/postgres:15
set_env PROMETHEUS_IMAGE quad-test/prometheus:2
set_env LIVEKIT_IMAGE quad-test/livekit:local
set_env JAEGER_IMAGE quad-test/jaeger:local
set_env REDIS_EXPORTER_IMAGE quad-test/redis-exporter:debian
set_env POSTGRES_EXPORTER_IMAGE quad-test/postgres-exporter:debian
set_env ALERTMANAGER_IMAGE quad-test/alertmanager:debian
# Tracing on from the start, as the env file documents it for the observability profile: until
# Jaeger joins (below) the services' exports fail quietly, then their traces arrive.
set_env OTEL_EXPORTER_OTLP_ENDPOINT http://jaeger:4318
admin_password=$(sed -n 's/^REDIS_ADMIN_PASSWORD=//p' "$QUAD_ENV_FILE")

log "scripts/up.sh (project $project, the edge on 127.0.0.1:$edge_port)"
stack_started=1
if interruptible "$root/scripts/up.sh"; then
  up_ok=1
else
  up_ok=0
fi

# --- 6. checks --------------------------------------------------------------------------------
# service -> "state exit health" for every container of the project.
# service -> "state exit health" (health from `docker ps`, see scripts/up.sh).
declare -A status=()
declare -A health_of=()
while IFS=$'\t' read -r id st; do
  case "$st" in
    *"(healthy)"*) health_of[$id]=healthy ;;
    *"(unhealthy)"*) health_of[$id]=unhealthy ;;
    *"(health: starting)"*) health_of[$id]=starting ;;
    *) health_of[$id]=none ;;
  esac
done < <($docker ps -a --no-trunc --filter "label=com.docker.compose.project=$project" --format '{{.ID}}{{"\t"}}{{.Status}}')
while read -r id service st code; do
  [[ -n $id ]] || continue
  status[$service]="$st $code ${health_of[$id]:-none}"
done < <(
  ids=$($docker ps -aq --no-trunc --filter "label=com.docker.compose.project=$project")
  # shellcheck disable=SC2086
  [[ -z $ids ]] || $docker inspect --format '{{.Id}} {{index .Config.Labels "com.docker.compose.service"}} {{.State.Status}} {{.State.ExitCode}}' $ids
)
bad=()
for service in "${expected_services[@]}"; do
  got=${status[$service]:-missing}
  if [[ $service == migrate ]]; then
    [[ $got == "exited 0 "* ]] || bad+=("$service: $got")
  else
    [[ $got == "running 0 healthy" ]] || bad+=("$service: $got")
  fi
done
if ((up_ok)) && ((${#bad[@]} == 0)); then
  pass "make up: ${#expected_services[@]} services up, all healthy, migrate exited 0"
else
  fail "make up: up.sh ok=$up_ok; not as expected: ${bad[*]:-none}"
fi

# The api, the gateways and the workers publish no host port (the edge is the way in, and
# Prometheus finds the workers by DNS); an operator reaches one replica from inside it, as the
# compose file documents.
published=$(for service in api socket worker; do
  $docker ps --filter "label=com.docker.compose.project=$project" \
    --filter "label=com.docker.compose.service=$service" --format '{{.Names}} {{.Ports}}'
done | grep -- '->' || true)
if [[ -z $published ]] && compose exec -T api node dist/services/healthcheck.js http://127.0.0.1:3000/readyz \
  && compose exec -T worker node dist/services/healthcheck.js http://127.0.0.1:3002/readyz; then
  pass "api, socket and worker publish no host port; /readyz of the api and the worker answers 2xx inside its container"
else
  fail "api/socket published ports: ${published:-none}; or /readyz inside the api container failed"
fi

# The edge: the login page (the built client) with its Content-Security-Policy, the api behind
# /api/, and long-polling refused (the gateways take WebSockets only).
headers=$(curl -sS -m 10 -D - -o "$state/logs/edge-index.html" "http://127.0.0.1:$edge_port/" 2>&1 || true)
if [[ $headers == *" 200"* ]] && grep -qi "^content-security-policy: default-src 'self'" <<<"$headers" \
  && grep -q '<div id="app">' "$state/logs/edge-index.html"; then
  pass "edge serves the web client with a Content-Security-Policy on 127.0.0.1:$edge_port"
else
  fail "edge /: $(head -n 1 <<<"$headers"); CSP: $(grep -i '^content-security-policy' <<<"$headers" || echo none)"
fi
code=$(curl -sS -m 10 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$edge_port/api/v1/openapi.json" 2>&1 || true)
poll=$(curl -sS -m 10 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$edge_port/socket.io/?EIO=4&transport=polling" 2>&1 || true)
if [[ $code == 200 && $poll == 400 ]]; then
  pass "edge proxies /api/ (200) and refuses Socket.IO long-polling (400)"
else
  fail "edge /api/v1/openapi.json: HTTP $code; /socket.io/ polling: HTTP $poll (want 200, 400)"
fi

redis_ping() { # port [password]
  if [[ -n ${2:-} ]]; then
    REDISCLI_AUTH=$2 redis-cli -h 127.0.0.1 -p "$1" PING 2>&1 || true
  else
    env -u REDISCLI_AUTH redis-cli -h 127.0.0.1 -p "$1" PING 2>&1 || true
  fi
}
for pair in "redis:$redis_port" "redis-cache:$cache_port"; do
  name=${pair%%:*}
  port=${pair##*:}
  out=$(redis_ping "$port")
  if [[ $out == *NOAUTH* ]]; then
    pass "$name refuses an unauthenticated PING on 127.0.0.1:$port ($out)"
  else
    fail "$name answered an unauthenticated PING with: $out"
  fi
  out=$(redis_ping "$port" "$admin_password")
  if [[ $out == PONG ]]; then
    pass "$name answers PONG to the admin password"
  else
    fail "$name with the admin password answered: $out"
  fi
done

# Prometheus discovers every app replica through Docker's DNS and scrapes it.
targets_up=""
for _ in $(seq 1 45); do
  targets_up=$(curl -sS -m 5 "http://127.0.0.1:$prom_port/api/v1/query" --data-urlencode 'query=up{job="quad"} == 1' 2>/dev/null \
    | grep -o '"service":"[a-z-]*"' | sort -u | tr '\n' ' ' || true)
  [[ $targets_up == *api* && $targets_up == *socket* && $targets_up == *worker* ]] && break
  sleep 2
done
if [[ $targets_up == *'"api"'* && $targets_up == *'"socket"'* && $targets_up == *'"worker"'* ]]; then
  pass "prometheus scrapes api, socket and worker (up == 1)"
else
  fail "prometheus targets up: ${targets_up:-none}"
fi

# `make up` again is a no-op: same containers, still healthy.
if ((up_ok)); then
  before=$($docker ps -q --no-trunc --filter "label=com.docker.compose.project=$project" | sort)
  if "$root/scripts/up.sh" >"$state/logs/up-again.log" 2>&1 \
    && [[ $before == "$($docker ps -q --no-trunc --filter "label=com.docker.compose.project=$project" | sort)" ]]; then
    pass "make up twice: second run succeeds and recreates nothing"
  else
    tail -n 20 "$state/logs/up-again.log"
    fail "make up twice: second run failed or recreated containers (log: $state/logs/up-again.log)"
  fi
else
  fail "make up twice: skipped, the first make up failed"
fi

# An admin made with the documented command: the scale and call checks log in as it.
check_password=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
admin_ok=0
if ((up_ok)) && compose run --rm -T --no-deps -e QUAD_ADMIN_PASSWORD="$check_password" migrate \
  node dist/services/cli/main.js admin create --username composecheck \
  --email compose-check@school.example --display-name "Compose Check" >"$state/logs/admin-create.log" 2>&1; then
  admin_ok=1
else
  cat "$state/logs/admin-create.log"
  fail "quad admin create through compose run (log: $state/logs/admin-create.log)"
fi
replicas_of() { compose ps -q "$1" | tr '\n' ' '; }

# --- 7. two api and two socket replicas behind the edge ---------------------------------------
scale_started=$SECONDS
log "scripts/up.sh --scale api=2 --scale socket=2 --scale worker=2"
if ((up_ok)) && interruptible "$root/scripts/up.sh" --scale api=2 --scale socket=2 --scale worker=2 >"$state/logs/up-scale.log" 2>&1 \
  && (($(compose ps -q api | grep -c .) == 2)) && (($(compose ps -q socket | grep -c .) == 2)) \
  && (($(compose ps -q worker | grep -c .) == 2)); then
  pass "make up --scale api=2 --scale socket=2 --scale worker=2: six replicas healthy in $((SECONDS - scale_started))s, no host port needed"
  scaled_ok=1
else
  tail -n 30 "$state/logs/up-scale.log"
  fail "scaling api and socket to 2 replicas (log: $state/logs/up-scale.log)"
  scaled_ok=0
fi
if ((scaled_ok && admin_ok)); then
  if EDGE_URL="http://127.0.0.1:$edge_port" API_CONTAINERS="$(replicas_of api)" SOCKET_CONTAINERS="$(replicas_of socket)" \
    QUAD_TEST_USERNAME=composecheck QUAD_TEST_PASSWORD="$check_password" \
    interruptible "$root/node_modules/.bin/tsx" "$root/test/compose/scale-check.ts" >"$state/logs/scale-check.log" 2>&1; then
    sed 's/^/  /' "$state/logs/scale-check.log"
    pass "scaled: $(tail -n 1 "$state/logs/scale-check.log")"
  else
    cat "$state/logs/scale-check.log"
    fail "scaled: traffic through the edge to every replica (log: $state/logs/scale-check.log)"
  fi
  # Prometheus finds the new replicas by DNS (every 15 s) and scrapes each.
  replicas_scraped() {
    [[ $(curl -sS -m 5 "http://127.0.0.1:$prom_port/api/v1/query" --data-urlencode 'query=count(up{job="quad",service=~"api|socket|worker"} == 1)' 2>/dev/null) == *'"value":['*',"6"]'* ]]
  }
  scraped=0
  for _ in $(seq 1 60); do
    if replicas_scraped; then scraped=1; break; fi
    sleep 1
  done
  if ((scraped)); then
    pass "prometheus scrapes both replicas of api, socket and worker (up == 1)"
  else
    fail "prometheus: not every api/socket/worker replica is up: $(curl -sS -m 5 "http://127.0.0.1:$prom_port/api/v1/query" --data-urlencode 'query=up{job="quad"}' 2>&1)"
  fi
fi

# --- 8. the optional profiles, added to the running stack -------------------------------------
# By name, so Grafana (AGPL: neither built nor run here) stays out and nothing running is
# recreated. From here on compose commands (ps, logs of a failure) see both profiles.
export COMPOSE_PROFILES=observability,media
profiles_started=$SECONDS
log "scripts/up.sh ${profile_services[*]} (profiles media and observability)"
if ((up_ok)) && interruptible "$root/scripts/up.sh" "${profile_services[@]}" >"$state/logs/up-profiles.log" 2>&1; then
  pass "make up with the media and observability profiles: ${profile_services[*]} up in $((SECONDS - profiles_started))s"
  profiles_ok=1
else
  tail -n 30 "$state/logs/up-profiles.log"
  fail "make up with the media and observability profiles (log: $state/logs/up-profiles.log)"
  profiles_ok=0
fi

prom_query() { # PromQL -> the JSON answer
  curl -sS -m 5 "http://127.0.0.1:$prom_port/api/v1/query" --data-urlencode "query=$1" 2>/dev/null || true
}
# Polls until `check` succeeds or `seconds` pass; Prometheus finds a new exporter by DNS within
# 15 s and scrapes it within 15 s more.
eventually() { # seconds command...
  local deadline=$((SECONDS + $1))
  shift
  until "$@"; do
    ((SECONDS < deadline)) || return 1
    sleep 1
  done
}

if ((profiles_ok)); then
  # LiveKit: a real call through the edge (the api at /api/, LiveKit's signalling at /livekit/;
  # test/compose/call-check.ts), by the admin made above.
  if ((admin_ok)); then
    call_started=$SECONDS
    if EDGE_URL="http://127.0.0.1:$edge_port" API_CONTAINERS="$(replicas_of api)" \
      QUAD_TEST_USERNAME=composecheck QUAD_TEST_PASSWORD="$check_password" \
      interruptible "$root/node_modules/.bin/tsx" "$root/test/compose/call-check.ts" >"$state/logs/call-check.log" 2>&1; then
      pass "media: $(tail -n 1 "$state/logs/call-check.log") ($((SECONDS - call_started))s)"
    else
      cat "$state/logs/call-check.log"
      fail "media: a call through the edge's api and LiveKit (log: $state/logs/call-check.log)"
    fi
  fi

  # The exporters: Prometheus scrapes each, and each reaches its server with its own login.
  exporters_scraped() {
    [[ $(prom_query 'sum(redis_up{job="redis", redis=~"state|cache"} == 1)') == *'"value":['*',"2"]'* ]] &&
      [[ $(prom_query 'sum(pg_up{job="postgres"} == 1)') == *'"value":['*',"1"]'* ]]
  }
  if eventually 60 exporters_scraped; then
    pass "observability: Prometheus scrapes redis_exporter for state and cache (redis_up 1) and postgres_exporter (pg_up 1)"
  else
    fail "observability: exporters not scraped: redis_up $(prom_query 'redis_up') pg_up $(prom_query 'pg_up')"
  fi

  # Alertmanager: healthy (compose), found by Prometheus, and holding the always-firing alert.
  watchdog_delivered() {
    [[ $(curl -sS -m 5 "http://127.0.0.1:$alertmanager_port/api/v2/alerts" 2>/dev/null) == *'"alertname":"QuadWatchdog"'* ]]
  }
  # Up to 150 s: Prometheus re-sends a firing alert once a minute (--rules.alert.resend-delay),
  # so a first send made before its DNS discovery found Alertmanager (15 s refresh; the compose
  # network's DNS timed out now and then on a loaded machine) is only repeated a minute later.
  if eventually 150 watchdog_delivered; then
    pass "observability: Alertmanager healthy and holding QuadWatchdog from Prometheus"
  else
    fail "observability: no QuadWatchdog in Alertmanager; Prometheus's alertmanagers: $(curl -sS -m 5 "http://127.0.0.1:$prom_port/api/v1/alertmanagers" 2>/dev/null)"
  fi

  # Jaeger: the services' traces arrive (OTEL_EXPORTER_OTLP_ENDPOINT=http://jaeger:4318).
  jaeger_has_api() {
    [[ $(curl -sS -m 5 "http://127.0.0.1:$jaeger_port/api/services" 2>/dev/null) == *'"quad-api"'* ]]
  }
  if eventually 60 jaeger_has_api; then
    pass "observability: Jaeger receives the services' traces ($(curl -sS -m 5 "http://127.0.0.1:$jaeger_port/api/services" | grep -o '"quad-[a-z]*"' | sort -u | tr '\n' ' '))"
  else
    fail "observability: Jaeger's services: $(curl -sS -m 5 "http://127.0.0.1:$jaeger_port/api/services" 2>&1)"
  fi
fi
log "optional profiles checked in $((SECONDS - profiles_started))s"

if ((failed)); then
  dump_stack
fi

# --- 9. make down -----------------------------------------------------------------------------
log "scripts/down.sh"
down_ok=1
"$root/scripts/down.sh" >"$state/logs/down.log" 2>&1 || down_ok=0
remaining=$($docker ps -a --filter "label=com.docker.compose.project=$project" --format '{{.Names}}')
if ((down_ok)) && [[ -z $remaining ]]; then
  pass "make down: no container of project $project remains"
else
  tail -n 20 "$state/logs/down.log"
  fail "make down: ok=$down_ok, remaining: ${remaining:-none}"
fi
volumes=$($docker volume ls -q --filter "label=com.docker.compose.project=$project" | tr '\n' ' ')
if [[ $volumes == *postgres-data* && $volumes == *redis-data* ]]; then
  pass "make down keeps the data volumes ($volumes)"
else
  fail "make down: data volumes missing: ${volumes:-none}"
fi

log "done in $((SECONDS - t0))s"
summary
((failed == 0))
