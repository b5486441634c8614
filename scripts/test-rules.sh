#!/usr/bin/env bash
# Part of `make test`: checks Prometheus's alert rules (config/prometheus/rules) and runs their
# unit tests with promtool (Debian package prometheus), then that every alert has a test that
# expects it to fire and a runbook paragraph in docs/operations.md.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
rules=$root/config/prometheus/rules

command -v promtool >/dev/null 2>&1 || { echo "test-rules: promtool is missing (package prometheus: make deps)" >&2; exit 1; }

promtool check rules "$rules"/*-alerts.yml
promtool test rules "$rules"/*.test.yml

missing=0
for alert in $(sed -n 's/^ *- alert: *\([A-Za-z0-9]*\).*/\1/p' "$rules"/*-alerts.yml); do
  # A test that only expects silence proves nothing about firing: look for an exp_labels entry
  # under an `alertname: <alert>` evaluation.
  if ! awk -v alert="$alert" '
      /alertname:/ { current = $2 }
      /exp_labels:/ && current == alert { found = 1 }
      END { exit found ? 0 : 1 }' "$rules"/*.test.yml; then
    echo "test-rules: alert $alert has no test in which it fires" >&2
    missing=1
  fi
  anchor=$(tr '[:upper:]' '[:lower:]' <<<"$alert")
  if ! grep -q "^### $alert\$" "$root/docs/operations.md"; then
    echo "test-rules: alert $alert has no runbook paragraph (### $alert) in docs/operations.md" >&2
    missing=1
  fi
  if ! grep -q "runbook_url: docs/operations.md#$anchor\$" "$rules"/*-alerts.yml; then
    echo "test-rules: alert $alert has no runbook_url docs/operations.md#$anchor" >&2
    missing=1
  fi
done
exit "$missing"
