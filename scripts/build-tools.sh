#!/bin/sh
# `make tools`: builds the Go programs Quad's stack can use, at pinned versions, into tools/bin
# (gitignored). Go's module and build caches make a rebuild cheap; a tool whose binary already
# matches the pinned version is skipped.
#
#   livekit-server  voice/video (compose `media`)   built from its module (see below)
#   jaeger          trace backend (compose `observability`, make dev, make test-observability)
#
# k6, which runs the load tests in loadtests/, is deliberately not built here: it is AGPL-licensed,
# so those scripts are for the user's own k6 (see `make loadtest`).
#
# Usage: scripts/build-tools.sh [livekit-server] [jaeger]   (default: all)
set -eu

LIVEKIT_VERSION=${LIVEKIT_VERSION:-v1.13.5}
JAEGER_VERSION=${JAEGER_VERSION:-v1.75.0}

root=$(cd "$(dirname "$0")/.." && pwd)
bin=$root/tools/bin
mkdir -p "$bin"
export GOBIN="$bin"
export GOFLAGS="${GOFLAGS:-} -trimpath"

log() { printf '[%s] build-tools: %s\n' "$(date +%T)" "$*"; }

# Go 1.21 or newer is needed (it fetches the newer toolchain a module asks for by itself).
# Debian 12's golang is 1.19, so without a recent go on PATH the official toolchain is fetched
# from the Go module proxy, where it is published as the module golang.org/toolchain.
GO_BOOTSTRAP_VERSION=${GO_BOOTSTRAP_VERSION:-go1.25.3}
go_is_recent() {
  command -v go >/dev/null 2>&1 || return 1
  minor=$(go env GOVERSION 2>/dev/null | sed -n 's/^go1\.\([0-9]*\).*/\1/p')
  [ -n "$minor" ] && [ "$minor" -ge 21 ]
}
if ! go_is_recent; then
  case "$(uname -m)" in x86_64) arch=amd64 ;; aarch64 | arm64) arch=arm64 ;; *) arch=unknown ;; esac
  gohome=$bin/.toolchain-$GO_BOOTSTRAP_VERSION
  if [ ! -x "$gohome/bin/go" ]; then
    command -v curl >/dev/null 2>&1 && command -v unzip >/dev/null 2>&1 || {
      echo "build-tools: needs go >= 1.21, or curl and unzip to fetch it (apt-get install curl unzip)" >&2; exit 1; }
    log "fetching $GO_BOOTSTRAP_VERSION from the Go module proxy"
    work=$(mktemp -d)
    module=golang.org/toolchain@v0.0.1-$GO_BOOTSTRAP_VERSION.linux-$arch
    curl -fsSL "${GOPROXY_URL:-https://proxy.golang.org}/golang.org/toolchain/@v/v0.0.1-$GO_BOOTSTRAP_VERSION.linux-$arch.zip" -o "$work/go.zip"
    unzip -q "$work/go.zip" -d "$work"
    # Module zips keep no file modes: make the toolchain's programs executable again.
    chmod +x "$work/$module/bin/"* "$work/$module/pkg/tool/"*/*
    mv "$work/$module" "$gohome"
    rm -rf "$work"
  fi
  export PATH="$gohome/bin:$PATH"
fi


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

# Jaeger's go.mod has `replace` directives too, so it is built the same way; its all-in-one
# binary (collector with OTLP/HTTP, query API and UI, in-memory storage) is all make dev needs.
build_jaeger() {
  if up_to_date jaeger "$JAEGER_VERSION"; then log "jaeger $JAEGER_VERSION already built"; return 0; fi
  log "building jaeger $JAEGER_VERSION (first build takes about three minutes)"
  dir=$(go mod download -json "github.com/jaegertracing/jaeger@$JAEGER_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [ -n "$dir" ] || { echo "build-tools: could not download jaeger $JAEGER_VERSION" >&2; return 1; }
  (cd "$dir" && GOFLAGS="$GOFLAGS -mod=mod" go build -o "$bin/jaeger" ./cmd/jaeger)
  echo "$JAEGER_VERSION" > "$bin/.jaeger.version"
  log "jaeger: $("$bin/jaeger" version 2>/dev/null | head -n1)"
}

tools=${*:-livekit-server jaeger}
failed=""
for tool in $tools; do
  case "$tool" in
    livekit-server) build_livekit || failed="$failed livekit-server" ;;
    jaeger) build_jaeger || failed="$failed jaeger" ;;
    *) echo "build-tools: unknown tool $tool (livekit-server, jaeger)" >&2; exit 64 ;;
  esac
done
if [ -n "$failed" ]; then
  echo "build-tools: FAILED:$failed" >&2
  exit 1
fi
log "done: $(ls "$bin" | tr '\n' ' ')"
