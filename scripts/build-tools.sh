#!/bin/sh
# `make tools`: builds the Go programs Quad's stack can use, at pinned versions, into tools/bin
# (gitignored). Go's module and build caches make a rebuild cheap; a tool whose binary already
# matches the pinned version is skipped.
#
#   livekit-server  voice/video (compose `media`)   built from its module (see below)
#   jaeger          trace backend (compose `observability`, make dev, make test-observability)
#   centrifugo      real-time peer that `npm run bench:realtime` measures Quad against (Apache-2.0)
#
# k6, which runs the load tests in loadtests/, is deliberately not built here: it is AGPL-licensed,
# so those scripts are for the user's own k6 (see `make loadtest`).
#
# Usage: scripts/build-tools.sh [livekit-server] [jaeger] [centrifugo]   (default: all)
set -eu

LIVEKIT_VERSION=${LIVEKIT_VERSION:-v1.13.5}
JAEGER_VERSION=${JAEGER_VERSION:-v1.75.0}
CENTRIFUGO_VERSION=${CENTRIFUGO_VERSION:-v6.9.1}

root=$(cd "$(dirname "$0")/.." && pwd)
bin=$root/tools/bin
mkdir -p "$bin"
export GOBIN="$bin"
export GOFLAGS="${GOFLAGS:-} -trimpath"

log() { printf '[%s] build-tools: %s\n' "$(date +%T)" "$*"; }

# livekit-server needs a recent Go (its go.mod says which); Debian's golang-go is far older and
# too old to switch toolchains by itself. Without a Go that is new enough, the pinned toolchain
# is fetched once from the Go module proxy (golang.org/toolchain is an ordinary module there,
# as `GOTOOLCHAIN=auto` would fetch it) into tools/go.
GO_TOOLCHAIN_VERSION=${GO_TOOLCHAIN_VERSION:-1.26.8}
go_is_recent() {
  version=$("$1" env GOVERSION 2>/dev/null | sed -n 's/^go\([0-9]*\)\.\([0-9]*\).*/\1 \2/p')
  [ -n "$version" ] || return 1
  set -- $version
  [ "$1" -gt 1 ] || [ "$2" -ge 26 ]
}
ensure_go() {
  if command -v go >/dev/null 2>&1 && go_is_recent go; then return 0; fi
  toolchain=$root/tools/go/golang.org/toolchain@v0.0.1-go$GO_TOOLCHAIN_VERSION.linux-amd64
  if [ ! -x "$toolchain/bin/go" ]; then
    [ "$(uname -sm)" = "Linux x86_64" ] || { echo "build-tools: no Go >= 1.26 here; install one (go.dev/doc/install)" >&2; exit 1; }
    command -v curl >/dev/null 2>&1 && command -v unzip >/dev/null 2>&1 ||
      { echo "build-tools: no Go >= 1.26, and curl or unzip is missing to fetch one" >&2; exit 1; }
    log "fetching Go $GO_TOOLCHAIN_VERSION from the Go module proxy into tools/go"
    mkdir -p "$root/tools/go"
    zip=$root/tools/go/toolchain.zip
    curl -fsSL "https://proxy.golang.org/golang.org/toolchain/@v/v0.0.1-go$GO_TOOLCHAIN_VERSION.linux-amd64.zip" -o "$zip"
    unzip -q -o "$zip" -d "$root/tools/go"
    rm -f "$zip"
    chmod +x "$toolchain/bin/"* "$toolchain/pkg/tool/"*/* 2>/dev/null || true
  fi
  PATH=$toolchain/bin:$PATH
  export PATH GOTOOLCHAIN=local
}

up_to_date() { [ -x "$bin/$1" ] && [ "$(cat "$bin/.$1.version" 2>/dev/null)" = "$2" ]; }

# Each tool is built inside its downloaded module, which makes it the main module: livekit-server's
# and Jaeger's go.mod carry `replace` directives (LiveKit's forks of pion, for one), which
# `go install module@version` refuses by design; as the main module the replacements apply
# exactly as in the tools' own release builds.
#   build_module_tool NAME PINNED_VERSION MODULE PACKAGE VERSION_ARG [go build flags...]
# (no `version` variable here: go_is_recent, called by ensure_go, sets one)
build_module_tool() {
  tool_name=$1 tool_pin=$2 tool_module=$3 tool_package=$4 tool_version_arg=$5
  shift 5
  if up_to_date "$tool_name" "$tool_pin"; then log "$tool_name $tool_pin already built"; return 0; fi
  ensure_go
  log "building $tool_name $tool_pin with $(go version) (a first build takes minutes)"
  dir=$(go mod download -json "$tool_module@$tool_pin" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [ -n "$dir" ] || { echo "build-tools: could not download $tool_name $tool_pin" >&2; return 1; }
  (cd "$dir" && GOFLAGS="$GOFLAGS -mod=mod" go build "$@" -o "$bin/$tool_name" "$tool_package")
  echo "$tool_pin" > "$bin/.$tool_name.version"
  log "$tool_name: $("$bin/$tool_name" "$tool_version_arg" 2>/dev/null | head -n1)"
}

build_livekit() {
  build_module_tool livekit-server "$LIVEKIT_VERSION" github.com/livekit/livekit-server ./cmd/server --version
}

# Jaeger's all-in-one binary (collector with OTLP/HTTP, query API and UI, in-memory storage) is
# all make dev needs.
build_jaeger() {
  build_module_tool jaeger "$JAEGER_VERSION" github.com/jaegertracing/jaeger ./cmd/jaeger version
}

# The version is stamped the way Centrifugo's release builds do.
build_centrifugo() {
  build_module_tool centrifugo "$CENTRIFUGO_VERSION" github.com/centrifugal/centrifugo/v6 . version \
    -ldflags "-X github.com/centrifugal/centrifugo/v6/internal/build.Version=${CENTRIFUGO_VERSION#v}"
}

tools=${*:-livekit-server jaeger centrifugo}
failed=""
for tool in $tools; do
  case "$tool" in
    livekit-server) build_livekit || failed="$failed livekit-server" ;;
    jaeger) build_jaeger || failed="$failed jaeger" ;;
    centrifugo) build_centrifugo || failed="$failed centrifugo" ;;
    *) echo "build-tools: unknown tool $tool (livekit-server, jaeger, centrifugo)" >&2; exit 64 ;;
  esac
done
if [ -n "$failed" ]; then
  echo "build-tools: FAILED:$failed" >&2
  exit 1
fi
log "done: $(ls "$bin" | tr '\n' ' ')"
