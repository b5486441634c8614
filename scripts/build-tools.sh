#!/bin/sh
# `make tools`: builds the Go programs Quad's stack can use, at pinned versions, into tools/bin
# (gitignored). Go's module and build caches make a rebuild cheap; a tool whose binary already
# matches the pinned version is skipped.
#
#   livekit-server  voice/video (compose `media`)   built from its module (see below)
#   centrifugo      real-time peer that `npm run bench:realtime` measures Quad against (Apache-2.0)
#
# k6, which runs the load tests in loadtests/, is deliberately not built here: it is AGPL-licensed,
# so those scripts are for the user's own k6 (see `make loadtest`).
#
# Usage: scripts/build-tools.sh [livekit-server] [centrifugo]   (default: all)
set -eu

LIVEKIT_VERSION=${LIVEKIT_VERSION:-v1.13.5}
CENTRIFUGO_VERSION=${CENTRIFUGO_VERSION:-v6.9.1}

root=$(cd "$(dirname "$0")/.." && pwd)
bin=$root/tools/bin
mkdir -p "$bin"
export GOBIN="$bin"
export GOFLAGS="${GOFLAGS:-} -trimpath"

command -v go >/dev/null 2>&1 || { echo "build-tools: go is not installed (apt-get install golang, or see go.dev/doc/install)" >&2; exit 1; }

log() { printf '[%s] build-tools: %s\n' "$(date +%T)" "$*"; }

up_to_date() { [ -x "$bin/$1" ] && [ "$(cat "$bin/.$1.version" 2>/dev/null)" = "$2" ]; }

# livekit-server's go.mod carries `replace` directives (LiveKit's forks of pion), which
# `go install module@version` refuses by design. Building inside the downloaded module makes it
# the main module, so the replacements apply exactly as in LiveKit's own release builds.
build_livekit() {
  if up_to_date livekit-server "$LIVEKIT_VERSION"; then log "livekit-server $LIVEKIT_VERSION already built"; return 0; fi
  log "building livekit-server $LIVEKIT_VERSION (first build takes several minutes)"
  dir=$(go mod download -json "github.com/livekit/livekit-server@$LIVEKIT_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [ -n "$dir" ] || { echo "build-tools: could not download livekit-server $LIVEKIT_VERSION" >&2; return 1; }
  (cd "$dir" && GOFLAGS="$GOFLAGS -mod=mod" go build -o "$bin/livekit-server" ./cmd/server)
  echo "$LIVEKIT_VERSION" > "$bin/.livekit-server.version"
  log "livekit-server: $("$bin/livekit-server" --version 2>/dev/null | head -n1)"
}

# Built inside its downloaded module too, so its go.mod (and any replacements) apply as in its
# own releases; the version is stamped the way its release builds do.
build_centrifugo() {
  if up_to_date centrifugo "$CENTRIFUGO_VERSION"; then log "centrifugo $CENTRIFUGO_VERSION already built"; return 0; fi
  log "building centrifugo $CENTRIFUGO_VERSION"
  dir=$(go mod download -json "github.com/centrifugal/centrifugo/v6@$CENTRIFUGO_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [ -n "$dir" ] || { echo "build-tools: could not download centrifugo $CENTRIFUGO_VERSION" >&2; return 1; }
  (cd "$dir" && GOFLAGS="$GOFLAGS -mod=mod" go build \
    -ldflags "-X github.com/centrifugal/centrifugo/v6/internal/build.Version=${CENTRIFUGO_VERSION#v}" \
    -o "$bin/centrifugo" .)
  echo "$CENTRIFUGO_VERSION" > "$bin/.centrifugo.version"
  log "centrifugo: $("$bin/centrifugo" version 2>/dev/null | head -n1)"
}

tools=${*:-livekit-server centrifugo}
failed=""
for tool in $tools; do
  case "$tool" in
    livekit-server) build_livekit || failed="$failed livekit-server" ;;
    centrifugo) build_centrifugo || failed="$failed centrifugo" ;;
    *) echo "build-tools: unknown tool $tool (livekit-server, centrifugo)" >&2; exit 64 ;;
  esac
done
if [ -n "$failed" ]; then
  echo "build-tools: FAILED:$failed" >&2
  exit 1
fi
log "done: $(ls "$bin" | tr '\n' ' ')"
