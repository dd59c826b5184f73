#!/usr/bin/env bash
# Measures the passkeys demo over HTTP, as a user starts it, on each store
# combination, with the load tool driving it from another process:
#
#   bash scripts/bench-demo.sh [rounds] [seconds] [users] > results.txt
#
# Combinations: memory (-db ""), PostgreSQL + Redis, MariaDB + Redis and
# SQLite (a file in a temporary directory), each with device-bound passkeys
# (-synced 0: a counter write per login) and synced ones (-synced 1).
# Rounds are interleaved (every combination once per round) so that other
# work on the machine hits them alike. The demo runs with its default flags
# except -rate-limit off (every simulated user comes from 127.0.0.1, which
# the default per-client budget would throttle) and -addr/-origin; the
# PostgreSQL, MariaDB and Redis servers are the ones scripts/services.sh
# sets up. Each run prints the load tool's one-line summary (JSON in
# $OUT_DIR, default a temporary directory).
set -euo pipefail
rounds=${1:-3}
seconds=${2:-10}
users=${3:-32}
cd "$(dirname "$0")/.."
work=$(mktemp -d)
out=${OUT_DIR:-$work}
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

go build -o "$work/passkeys" ./examples/passkeys
go build -o "$work/load" ./cmd/webauthnkit-load

pg=${WEBAUTHNKIT_POSTGRES_DSN:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}
my=${WEBAUTHNKIT_MYSQL_DSN:-root@tcp(127.0.0.1:3306)/test}
rd=${WEBAUTHNKIT_REDIS_ADDR:-127.0.0.1:6379}

declare -A flags=(
  [memory]="-db="
  [postgres+redis]="-postgres=$pg -redis=$rd"
  [mariadb+redis]="-mysql=$my -redis=$rd"
  [sqlite]="-db=$work/bench.db"
)
order=(memory postgres+redis mariadb+redis sqlite)

port=18480
# One prefix per invocation (tables and keys of earlier runs may be in
# clear or under another keyring); every run of this invocation shares it
# and the keyring, as instances of one deployment would.
prefix="bench_$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')_"
for round in $(seq 1 "$rounds"); do
  for synced in 0 1; do
    for name in "${order[@]}"; do
      port=$((port + 1))
      # shellcheck disable=SC2086
      "$work/passkeys" -addr "127.0.0.1:$port" -origin "http://localhost:$port" \
        -rate-limit off -store-prefix "$prefix" -webauthn-secret-file "$work/secret" \
        -secret-file "$work/session-secret" -keyring-file "$work/keyring" ${flags[$name]} >"$work/demo.log" 2>&1 &
      demo=$!
      for _ in $(seq 1 100); do
        curl -fs "http://127.0.0.1:$port/" >/dev/null 2>&1 && break
        sleep 0.1
      done
      json="$out/$name-synced$synced-r$round.json"
      "$work/load" -target "http://127.0.0.1:$port/passkeys" -origin "http://localhost:$port" \
        -users "$users" -duration "${seconds}s" -synced "$synced" -q -json "$json" >"$work/run.txt" 2>&1 || {
        echo "run failed: $name synced=$synced round=$round" >&2; cat "$work/run.txt" >&2; tail -20 "$work/demo.log" >&2; }
      kill "$demo"; wait "$demo" 2>/dev/null || true
      rm -f "$work"/bench.db*
      printf '%s\tsynced=%s\tround=%s\t%s\n' "$name" "$synced" "$round" \
        "$(grep -E 'logins +[0-9]+ in|login +latency' "$work/run.txt" | tr -s ' ' | tr '\n' ' ')"
    done
  done
done
