#!/bin/sh
# Starts redis-server for one of Quad's two Redis roles with the ACL users rendered from
# users.acl.template. Used unchanged by docker compose, `make dev` and the test harness, so
# the three run the same users and rules.
#
# Usage: start-redis.sh state|cache [extra redis-server arguments...]
# Reads: REDIS_ADMIN_PASSWORD REDIS_API_PASSWORD REDIS_SOCKET_PASSWORD REDIS_WORKER_PASSWORD
#        REDIS_KEY_PREFIX (default quad:), REDIS_ACL_DIR (a private directory for the rendered
#        file: a tmpfs in compose, the data directory in `make dev`, a temp dir in tests),
#        REDIS_EXPORTER_PASSWORD (optional: enables the `exporter` user of redis_exporter)
set -eu

role=${1:-}
case "$role" in
  state|cache) shift ;;
  *) echo "usage: $0 state|cache [redis-server args...]" >&2; exit 64 ;;
esac

here=$(cd "$(dirname "$0")" && pwd)
prefix=${REDIS_KEY_PREFIX:-quad:}

missing=""
for name in REDIS_ADMIN_PASSWORD REDIS_API_PASSWORD REDIS_SOCKET_PASSWORD REDIS_WORKER_PASSWORD REDIS_ACL_DIR; do
  eval "value=\${$name:-}"
  [ -n "$value" ] || missing="$missing $name"
done
if [ -n "$missing" ]; then
  echo "start-redis.sh: missing required variable(s):$missing (Redis never runs without passwords)" >&2
  exit 78
fi
# The prefix becomes an ACL key pattern: keep it to characters that are not glob syntax.
case "$prefix" in
  *[!A-Za-z0-9:_.-]*|"") echo "start-redis.sh: REDIS_KEY_PREFIX may only contain A-Z a-z 0-9 : _ . -" >&2; exit 78 ;;
esac

hash() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }

exporter_auth=off
if [ -n "${REDIS_EXPORTER_PASSWORD:-}" ]; then exporter_auth="on #$(hash "$REDIS_EXPORTER_PASSWORD")"; fi

acl_dir=$REDIS_ACL_DIR
umask 077
mkdir -p "$acl_dir"
sed -e "s/{{PREFIX}}/$prefix/g" \
    -e "s/{{ADMIN_HASH}}/$(hash "$REDIS_ADMIN_PASSWORD")/" \
    -e "s/{{API_HASH}}/$(hash "$REDIS_API_PASSWORD")/" \
    -e "s/{{SOCKET_HASH}}/$(hash "$REDIS_SOCKET_PASSWORD")/" \
    -e "s/{{WORKER_HASH}}/$(hash "$REDIS_WORKER_PASSWORD")/" \
    -e "s/{{EXPORTER_AUTH}}/$exporter_auth/" \
    -e '/^#/d' -e '/^$/d' \
    "$here/users.acl.template" > "$acl_dir/users.acl"

exec redis-server "$here/$role.conf" --aclfile "$acl_dir/users.acl" "$@"
