#!/usr/bin/env bash
# `make test-observability` (also run by .ci/run): the dashboards are what their generator
# writes, then test/observability/observability-check.ts proves every panel, one trace and
# alert delivery on a live native stack on 127.0.0.1. Builds Jaeger first when tools/bin lacks
# it (scripts/build-tools.sh; about three minutes the first time, cached after).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
started=$(date +%s)

for program in prometheus prometheus-alertmanager prometheus-redis-exporter prometheus-postgres-exporter; do
  command -v "$program" >/dev/null 2>&1 || { echo "test-observability: $program is missing: make deps" >&2; exit 1; }
done
[ -x tools/bin/jaeger ] || scripts/build-tools.sh jaeger

npx tsx dashboards/src/generate.ts --check
npx tsx test/observability/observability-check.ts
echo "test-observability: passed in $(( $(date +%s) - started ))s"
