#!/bin/sh
# Creates (or updates the password of) postgres_exporter's own role: it may log in and read
# the statistics views (pg_monitor), nothing else: no table of Quad's is readable to it.
# Idempotent. Run as a superuser through the usual libpq variables (PGHOST, PGPORT, PGUSER,
# PGPASSWORD, PGDATABASE); used by compose's `postgres-exporter-role`, make dev and
# make test-observability.
#
# Reads: POSTGRES_EXPORTER_PASSWORD
set -eu
: "${POSTGRES_EXPORTER_PASSWORD:?POSTGRES_EXPORTER_PASSWORD is not set; run scripts/ensure-env.sh}"
psql -v ON_ERROR_STOP=1 -q -v password="$POSTGRES_EXPORTER_PASSWORD" <<'SQL'
SELECT format('CREATE ROLE quad_exporter LOGIN PASSWORD %L', :'password')
  WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'quad_exporter') \gexec
ALTER ROLE quad_exporter WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'password';
GRANT pg_monitor TO quad_exporter;
SQL
