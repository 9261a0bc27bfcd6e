#!/usr/bin/env bash
# Benchmark of order creation: starts a release build of the gateway on a fresh database,
# creates a merchant with the CLI, and drives signed order/new requests with `octopus bench`
# from a second process. Method and results: docs/benchmarks.md.
#
#   scripts/bench.sh sqlite   [connections] [seconds] [runs] [scenario]
#   scripts/bench.sh postgres [connections] [seconds] [runs] [scenario]   (PostgreSQL on 127.0.0.1:5432)
#
# scenario: deposit (default), payout, complete, fail, completion, callback, callback-backlog, own-accounts
# (see `octopus bench --help`). own-accounts sets up a channel of the operator's own accounts
# with ACCOUNTS (default 4) Thai PromptPay accounts, each with a device the harness signs as. Payouts settle as soon as the sandbox worker sees them
# (--sandbox-payout-delay 0), under the load. The callback scenario's receiver is one host
# standing for many merchants: it may take 64 callbacks at once (HOST_CONCURRENCY; the
# gateway's default per host is 16). callback-backlog runs with the gateway's default per-host
# limit unless HOST_CONCURRENCY is set, and BACKLOG callbacks (default 12000).
#
# RISK=100000 adds that many blocklist entries and two velocity rules first (the cost of the
# merchant-safety checks, docs/benchmarks.md); RISK_RULES=0 leaves the velocity rules out, RISK_RULES=count keeps only the count rule.
#
# Each run gets a fresh database and server. BENCH_JSON=1 prints one JSON line per run.
set -euo pipefail
cd "$(dirname "$0")/.."
backend="${1:-sqlite}"
connections="${2:-64}"
seconds="${3:-10}"
runs="${4:-1}"
scenario="${5:-deposit}"

# BENCH_BIN runs another build of the gateway (to compare two commits); the harness is that
# binary's too.
if [ -z "${BENCH_BIN:-}" ]; then cargo build --release --quiet; fi
bin="${BENCH_BIN:-${CARGO_TARGET_DIR:-target}/release/octopus}"
for run in $(seq 1 "$runs"); do
work="$(mktemp -d)"
trap 'kill "${server:-0}" 2>/dev/null || true; rm -rf "$work"' EXIT

db_args=(--data-dir "$work/data")
if [ "$backend" = postgres ]; then
  psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS octopus_bench" >/dev/null 2>&1
  psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE octopus_bench" >/dev/null
  db_args+=(--database-url "postgres://postgres@127.0.0.1:5432/octopus_bench")
fi

port=$((20000 + RANDOM % 20000))
host_args=(--callback-host-concurrency "${HOST_CONCURRENCY:-64}")
if [ "$scenario" = callback-backlog ] && [ -z "${HOST_CONCURRENCY:-}" ]; then host_args=(); fi
# Only the callback-backlog and completion scenarios take --backlog and --prepared (older builds know no such flags).
scenario_args=()
if [ "$scenario" = callback-backlog ]; then scenario_args=(--backlog "${BACKLOG:-12000}"); fi
# completion: PREPARED deposits (default 60000) created and their pages fetched before the run.
if [ "$scenario" = completion ]; then scenario_args=(--prepared "${PREPARED:-60000}"); fi
# No rate limits: the harness pushes thousands of orders a second through one key from one
# address (as variables, which older builds ignore, rather than flags they would refuse).
OCTOPUS_RATE_LIMIT_API=off OCTOPUS_RATE_LIMIT_PAGES=off OCTOPUS_RATE_LIMIT_POSTBACKS=off OCTOPUS_RATE_LIMIT_DEVICES=off \
OCTOPUS_LOG=warn "$bin" serve --listen "127.0.0.1:$port" "${db_args[@]}" --sandbox-payout-delay "${PAYOUT_DELAY:-0}" --allow-private-callbacks "${host_args[@]}" >"$work/server.log" 2>&1 &
server=$!
for _ in $(seq 1 50); do
  curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break
  sleep 0.2
done

creds="$("$bin" merchant create --name "Bench Merchant" "${db_args[@]}" 2>/dev/null)"
field() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$creds" "$1"; }

device_args=()
# The sandbox takes test keys only; own accounts move real money and take live keys.
key_prefix=test_
if [ "$scenario" = own-accounts ]; then
  key_prefix=
  "$bin" channel add own-bench --kind accounts --countries TH --currencies thb --priority 50 "${db_args[@]}" >/dev/null
  for i in $(seq 1 "${ACCOUNTS:-4}"); do
    account="$("$bin" account add --channel own-bench --method promptpay --number "123-4-5678$i-0" \
      --holder "Bench $i" --currency thb --bank-code 004 --promptpay-id "081234567$i" "${db_args[@]}")"
    account_id="$(python3 -c "import json,sys; print(json.loads(sys.argv[1])['id'])" "$account")"
    device="$("$bin" device add --account "$account_id" "${db_args[@]}" 2>/dev/null)"
    device_id="$(python3 -c "import json,sys; print(json.loads(sys.argv[1])['device_id'])" "$device")"
    secret="$(python3 -c "import json,sys; print(json.loads(sys.argv[1])['secret'])" "$device")"
    device_args+=(--device "$account_id:$device_id:$secret")
  done
  sleep 1.2 # the server reads channels every second
fi

# RISK=N: N blocklist entries (payer accounts, member ids, IPs, names; none the harness's
# orders hit) and two velocity rules of the merchant that every deposit is counted against.
if [ -n "${RISK:-}" ] && [ "${RISK}" -gt 0 ]; then
  python3 - "$RISK" >"$work/blocklist.csv" <<'PY'
import random, sys
n = int(sys.argv[1]); random.seed(7)
print("kind,value,reason")
for i in range(n):
    k = i % 10
    if k < 4: print(f"payer_account,09{random.randrange(10**9):09d},bench")
    elif k < 7: print(f"member_id,blocked-member-{i},bench")
    elif k < 9: print(f"ip,10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255},bench")
    else: print(f"payer_name,blocked name {i},bench")
PY
  "$bin" blocklist import "$work/blocklist.csv" "${db_args[@]}" >/dev/null
  if [ "${RISK_RULES:-1}" != 0 ]; then
  "$bin" velocity add --merchant "$(field merchant_uid)" --subject member_id --type deposit --window 1h --max-orders 1000 "${db_args[@]}" >/dev/null
  fi
  if [ "${RISK_RULES:-1}" = 1 ]; then
  "$bin" velocity add --merchant "$(field merchant_uid)" --subject payer_account --type deposit --window 1h --max-volume 1000000000 --currency mmk "${db_args[@]}" >/dev/null
  fi
fi

[ -n "${BENCH_JSON:-}" ] || echo "run $run/$runs — backend: $backend, scenario: $scenario, connections: $connections, seconds: $seconds"
"$bin" bench --url "http://127.0.0.1:$port" \
  --key "$(field "${key_prefix}api_key")" --secret "$(field "${key_prefix}api_secret")" --merchant-uid "$(field merchant_uid)" \
  --connections "$connections" --duration "$seconds" --scenario "$scenario" "${scenario_args[@]}" "${device_args[@]}" ${BENCH_JSON:+--json}
if [ "$scenario" = callback-backlog ]; then grep -i "piling up" "$work/server.log" | head -3 || true; fi
kill "$server"; wait "$server" 2>/dev/null || true
rm -rf "$work"
done
