#!/usr/bin/env bash
# The project's test command (README "Run the tests"). Starts (or installs)
# PostgreSQL, MariaDB, Redis and Chromium on this machine, then runs every
# test with the race detector. Server-backed tests skip with a message when a
# server is missing, except under CI=true, where they fail.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/services.sh
go test -race -count=1 -timeout 20m ./...
