#!/usr/bin/env bash
# Runs the self-tests of the three reference clients (Python, Node, Java) and the checks of
# the Postman collection against a real gateway: a fresh SQLite data directory in a temporary
# directory, a merchant and a viewer admin token made with the CLI, `octopus serve` on a free
# port with private callbacks allowed (the clients' callback receivers listen on 127.0.0.1).
# The collection is regenerated from the gateway's /octopus/openapi.json and must equal the
# committed clients/postman/octopus.postman_collection.json. Exits non-zero when any check
# fails or a tool is missing.
#
#   OCTOPUS_BIN=target/debug/octopus clients/run.sh      (or: clients/run.sh path/to/octopus)
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
bin="${1:-${OCTOPUS_BIN:-}}"
if [ -z "$bin" ] || [ ! -x "$bin" ]; then
  echo "clients/run.sh: give the octopus binary as OCTOPUS_BIN or the first argument (got '${bin}')" >&2
  exit 2
fi
for tool in python3 node javac java curl; do
  command -v "$tool" >/dev/null || { echo "clients/run.sh: $tool is missing" >&2; exit 2; }
done

# Everything here talks to 127.0.0.1: never through a proxy from the environment (curl and
# Python's urllib would use one).
export NO_PROXY="127.0.0.1,localhost${NO_PROXY:+,$NO_PROXY}" no_proxy="127.0.0.1,localhost${no_proxy:+,$no_proxy}"

tmp="$(mktemp -d)"
server=""
cleanup() {
  if [ -n "$server" ] && kill -0 "$server" 2>/dev/null; then
    kill "$server" 2>/dev/null || true
    # A graceful stop takes well under a second; do not hang CI if it does not come.
    for _ in $(seq 1 100); do kill -0 "$server" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

# Nothing from the caller's environment may point the gateway elsewhere (another database, a
# master key, another public URL than the one it listens on). `env` execs the binary, so the
# background job's pid below is the server's own.
gateway=(env -u OCTOPUS_DATABASE_URL -u OCTOPUS_MASTER_KEY -u OCTOPUS_MASTER_KEY_FILE
  -u OCTOPUS_PUBLIC_URL -u OCTOPUS_DEV -u OCTOPUS_DATA_DIR -u OCTOPUS_LISTEN "$bin")

"${gateway[@]}" merchant create --name "Client kit" --data-dir "$tmp/data" >"$tmp/merchant.json" 2>"$tmp/merchant.err" \
  || { cat "$tmp/merchant.err" >&2; exit 1; }
field() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$tmp/merchant.json" "$1"; }
merchant_uid="$(field merchant_uid)"
test_key="$(field test_api_key)"
test_secret="$(field test_api_secret)"
# For the Postman collection's admin request (a viewer may read orders).
"${gateway[@]}" operator token-create --name postman --role viewer --data-dir "$tmp/data" >"$tmp/token.json" 2>"$tmp/token.err" \
  || { cat "$tmp/token.err" >&2; exit 1; }
admin_token="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["token"])' "$tmp/token.json")"

"${gateway[@]}" serve --listen 127.0.0.1:0 --data-dir "$tmp/data" --allow-private-callbacks \
  >"$tmp/serve.out" 2>"$tmp/serve.err" &
server=$!

# The first line says where it listens ("Octopus is serving on http://127.0.0.1:PORT (...)").
url=""
deadline=$((SECONDS + 30))
while [ -z "$url" ]; do
  url="$(sed -n 's/^Octopus is serving on \(http[^ ]*\) .*/\1/p' "$tmp/serve.out")"
  if [ -z "$url" ]; then
    if ! kill -0 "$server" 2>/dev/null || [ $SECONDS -ge $deadline ]; then
      echo "clients/run.sh: the gateway did not start" >&2
      tail -n 20 "$tmp/serve.err" >&2
      exit 1
    fi
    sleep 0.1
  fi
done
until curl -fsS "$url/healthz" >/dev/null 2>&1; do
  if ! kill -0 "$server" 2>/dev/null || [ $SECONDS -ge $deadline ]; then
    echo "clients/run.sh: $url/healthz did not answer" >&2
    tail -n 20 "$tmp/serve.err" >&2
    exit 1
  fi
  sleep 0.1
done
echo "clients/run.sh: gateway at $url, merchant $merchant_uid, test key $test_key"

export OCTOPUS_URL="$url" OCTOPUS_API_KEY="$test_key" OCTOPUS_API_SECRET="$test_secret" \
  OCTOPUS_MERCHANT_UID="$merchant_uid" OCTOPUS_ADMIN_TOKEN="$admin_token"
vectors="$repo/vectors/signing.json"

failed=()
run() {
  local name="$1"
  shift
  echo "--- $name"
  if ! "$@"; then
    failed+=("$name")
  fi
}
run python python3 "$here/python/octopus_client.py" selftest --vectors "$vectors"
run node node "$here/node/octopus_client.js" selftest --vectors "$vectors"
if javac -d "$tmp/java" "$here/java/OctopusClient.java"; then
  run java java -cp "$tmp/java" OctopusClient selftest --vectors "$vectors"
else
  failed+=("java (javac)")
fi

# The Postman collection: generated from this gateway's OpenAPI document, it must be the
# committed one; then its pre-request script is run against the vectors and this gateway.
collection="$here/postman/octopus.postman_collection.json"
echo "--- postman"
if python3 "$here/postman/generate.py" "$url/octopus/openapi.json" -o "$tmp/postman_collection.json"; then
  if diff -u "$collection" "$tmp/postman_collection.json" >"$tmp/postman.diff"; then
    echo "ok   the committed collection is generate.py's output for $url/octopus/openapi.json"
  else
    head -n 40 "$tmp/postman.diff"
    echo "FAIL clients/postman/octopus.postman_collection.json is not generated from this gateway's document:" \
      "regenerate it from a gateway built from this tree (clients/README.md, Postman)"
    failed+=("postman (collection out of date)")
  fi
else
  failed+=("postman (generate.py)")
fi
run postman-check node "$here/postman/check.js" --collection "$collection" --vectors "$vectors"

if ! kill -0 "$server" 2>/dev/null; then
  failed+=("the gateway stopped during the run")
fi
if [ ${#failed[@]} -gt 0 ]; then
  echo "clients/run.sh: FAILED: ${failed[*]}" >&2
  echo "--- the gateway's last log lines:" >&2
  tail -n 20 "$tmp/serve.err" >&2
  exit 1
fi
echo "clients/run.sh: all three clients and the Postman collection passed"
