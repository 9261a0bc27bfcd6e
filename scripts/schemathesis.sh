#!/usr/bin/env bash
# Fuzzes the merchant and admin APIs of a running gateway with schemathesis (from PyPI), from
# the served OpenAPI document: a fresh gateway on a free port (SQLite, or PostgreSQL in a new
# database when SCHEMATHESIS_DATABASE_URL names one: it is dropped and made again), an admin
# token for the admin API, every operation with generated and mutated inputs; fails on any
# 5xx answer. Bounded: SCHEMATHESIS_EXAMPLES examples per operation (default 15), about 20
# seconds.
#
#   OCTOPUS_BIN=target/debug/octopus scripts/schemathesis.sh
#   SCHEMATHESIS_DATABASE_URL=postgres://postgres@127.0.0.1:5432/octopus_schemathesis \
#     OCTOPUS_BIN=target/debug/octopus scripts/schemathesis.sh
set -euo pipefail
BIN="${OCTOPUS_BIN:?set OCTOPUS_BIN to the octopus binary}"
EXAMPLES="${SCHEMATHESIS_EXAMPLES:-15}"
command -v schemathesis >/dev/null || python3 -m pip install -q schemathesis >/dev/null
unset OCTOPUS_DATABASE_URL OCTOPUS_MASTER_KEY OCTOPUS_PUBLIC_URL
dir="$(mktemp -d)"
log="$dir/server.log"
db=(--data-dir "$dir")
pg_url="${SCHEMATHESIS_DATABASE_URL:-}"
pg_db="${pg_url##*/}"
pg_db="${pg_db%%\?*}"
case "$pg_db" in *[!a-z0-9_]*|"") [ -z "$pg_url" ] || { echo "schemathesis: the database name must be a-z, 0-9, _" >&2; exit 1; } ;; esac
pg_server="${pg_url%/*}/postgres"
cleanup() {
  [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$dir"
  [ -z "$pg_url" ] || psql "$pg_server" -qc "DROP DATABASE IF EXISTS $pg_db" >/dev/null 2>&1 || true
}
trap cleanup EXIT
if [ -n "$pg_url" ]; then
  psql "$pg_server" -qc "DROP DATABASE IF EXISTS $pg_db" >/dev/null
  psql "$pg_server" -qc "CREATE DATABASE $pg_db" >/dev/null
  db+=(--database-url "$pg_url")
fi
"$BIN" merchant create --name "Fuzzed shop" "${db[@]}" >/dev/null
token="$("$BIN" operator token-create --name schemathesis --role admin "${db[@]}" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')"
"$BIN" serve --listen 127.0.0.1:0 "${db[@]}" >"$log" 2>&1 &
pid=$!
base=""
for _ in $(seq 1 100); do
  base="$(sed -n 's/.*serving on \(http:\/\/[0-9.:]*\).*/\1/p' "$log" | head -n1)"
  [ -n "$base" ] && curl -sf "$base/healthz" >/dev/null && break
  sleep 0.1
done
[ -n "$base" ] || { echo "schemathesis: the gateway did not start" >&2; cat "$log" >&2; exit 1; }
backend="SQLite"
[ -z "$pg_url" ] || backend="PostgreSQL ($pg_db)"
echo "schemathesis: fuzzing $base on $backend ($EXAMPLES examples per operation)"
schemathesis run "$base/octopus/openapi.json" \
  -H "Authorization: Bearer $token" \
  --checks not_a_server_error \
  --max-examples "$EXAMPLES" \
  --phases examples,fuzzing \
  --seed 1 \
  --no-color
kill -0 "$pid" || { echo "schemathesis: the gateway died" >&2; cat "$log" >&2; exit 1; }
