#!/usr/bin/env bash
# Benchmark of the console's order search and CSV export on a million orders: makes a fresh
# database (SQLite in a temporary data dir, or a new PostgreSQL database `octopus_bench_search`
# on 127.0.0.1:5432), creates 20 merchants with the CLI, writes ORDERS (default 1,000,000)
# realistic orders straight into it (scripts/bench_search.py fill), starts the release gateway
# on it with an admin token, and times the admin API (scripts/bench_search.py measure):
# REQUESTS (default 500) requests per query kind, CONCURRENCY (default 4) at once, then the
# CSV export of about 100,000 and of all orders with the server's memory sampled.
# Method and results: docs/benchmarks.md, "Console search".
#
#   scripts/bench-search.sh sqlite
#   scripts/bench-search.sh postgres
#
# ONLY=export,deep,... runs only the query kinds whose names contain one of the words.
# KEEP=1 keeps the work dir (the SQLite database, or the master key of the kept PostgreSQL
# database) and prints it; REUSE=DIR measures again on it without filling. BENCH_BIN runs
# another build.
set -euo pipefail
cd "$(dirname "$0")/.."
backend="${1:-sqlite}"
orders="${ORDERS:-1000000}"

if [ -z "${BENCH_BIN:-}" ]; then cargo build --release --quiet -p octopus; fi
bin="${BENCH_BIN:-${CARGO_TARGET_DIR:-target}/release/octopus}"
pg_url="postgres://postgres@127.0.0.1:5432/octopus_bench_search"

if [ -n "${REUSE:-}" ]; then work="$REUSE"; else work="$(mktemp -d)"; fi
cleanup() {
  kill "${server:-0}" 2>/dev/null || true
  if [ -z "${KEEP:-}" ] && [ -z "${REUSE:-}" ]; then
    rm -rf "$work"
    [ "$backend" != postgres ] || psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS octopus_bench_search" >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT

db_args=(--data-dir "$work/data")
fill_target=(--sqlite "$work/data/octopus.db")
if [ "$backend" = postgres ]; then
  db_args+=(--database-url "$pg_url")
  fill_target=(--postgres "$pg_url")
fi

if [ -z "${REUSE:-}" ]; then
  if [ "$backend" = postgres ]; then
    psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS octopus_bench_search" >/dev/null 2>&1
    psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE octopus_bench_search" >/dev/null
  fi
  # Twenty merchants through the CLI (each with its test book), then their ids.
  echo "[" >"$work/merchants.json"
  for i in $(seq 1 20); do
    creds="$("$bin" merchant create --name "Merchant $(printf %02d "$i")" "${db_args[@]}" 2>/dev/null)"
    [ "$i" = 1 ] || echo "," >>"$work/merchants.json"
    echo "$creds" >>"$work/merchants.json"
  done
  echo "]" >>"$work/merchants.json"
  ids_sql="SELECT m.uid, m.id, t.id FROM merchants m JOIN merchants t ON t.live_id = m.id ORDER BY m.id"
  if [ "$backend" = postgres ]; then
    psql -h 127.0.0.1 -U postgres -d octopus_bench_search -XAt -F $'\t' -c "$ids_sql" >"$work/ids.tsv"
  else
    sqlite3 -separator $'\t' "$work/data/octopus.db" "$ids_sql" >"$work/ids.tsv"
  fi
  python3 - "$work/merchants.json" "$work/ids.tsv" <<'PY'
import json, sys
merchants = json.load(open(sys.argv[1]))
ids = {uid: (int(a), int(b)) for uid, a, b in (line.split("\t") for line in open(sys.argv[2]).read().splitlines())}
for m in merchants:
    m["id"], m["test_id"] = ids[m["merchant_uid"]]
json.dump(merchants, open(sys.argv[1], "w"))
PY
  echo "filling $orders orders ($backend)"
  python3 scripts/bench_search.py fill "${fill_target[@]}" --merchants "$work/merchants.json" --orders "$orders"
fi

token="$("$bin" operator token-create --name "bench-$RANDOM" --role viewer "${db_args[@]}" 2>/dev/null |
  python3 -c "import json,sys; print(json.load(sys.stdin)['token'])")"
port=$((20000 + RANDOM % 20000))
start_server() {
  # No rate limits: the harness sends thousands of requests a second from one address.
  OCTOPUS_RATE_LIMIT_API=off OCTOPUS_RATE_LIMIT_PAGES=off OCTOPUS_RATE_LIMIT_POSTBACKS=off OCTOPUS_RATE_LIMIT_DEVICES=off \
  OCTOPUS_LOG=warn "$bin" serve --listen "127.0.0.1:$port" "${db_args[@]}" >>"$work/server.log" 2>&1 &
  server=$!
  for _ in $(seq 1 100); do
    curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break
    sleep 0.2
  done
}
stop_server() { kill "$server"; wait "$server" 2>/dev/null || true; }
measure() {
  python3 scripts/bench_search.py measure "${fill_target[@]}" --url "http://127.0.0.1:$port" --token "$token" \
    --pid "$server" --requests "${REQUESTS:-500}" --concurrency "${CONCURRENCY:-4}" ${ONLY:+--only "$ONLY"} "$@"
}

# The machine's load says whether the numbers were measured alone.
echo "backend: $backend, orders: $orders, build: $("$bin" --version 2>/dev/null || echo "$bin"), load: $(cut -d' ' -f1-3 /proc/loadavg)"
# The searches, then the exports on a server of their own (its memory before is its own).
start_server
measure --part search
stop_server
start_server
measure --part export
stop_server
echo "load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
[ -z "${KEEP:-}" ] || echo "kept: $work ($backend)"
