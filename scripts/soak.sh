#!/usr/bin/env bash
# The soak under faults (issue 14), for longer than the suite's minute: three gateway nodes on
# one PostgreSQL database behind a load balancer, three merchants' deposits, payouts and
# completions through the sandbox and the Paykassma simulator, while the simulator answers
# 5xx, times out and repeats or delays its postbacks, the merchants' callback endpoint fails
# and recovers, and nodes are SIGKILLed and replaced at random. It ends with the checks of
# crates/octopus/tests/api/soak.rs (every acknowledged order there, completions credited once,
# callbacks acknowledged or scheduled, ledger verify, balances equal to a replay) and prints
# its report (the line starting REPORT; docs/benchmarks.md keeps the last one).
#
# Usage: scripts/soak.sh [SECONDS]   (default 600; OCTOPUS_SOAK_SEED=N repeats a run's chaos)
# Needs PostgreSQL at OCTOPUS_TEST_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-600}"
export OCTOPUS_TEST_DATABASE_URL="${OCTOPUS_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/octopus-target}"
echo "soak: $seconds s under faults (then the checks)"
OCTOPUS_SOAK_SECS="$seconds" cargo test -p octopus --test api soak:: -- --nocapture --test-threads 1
