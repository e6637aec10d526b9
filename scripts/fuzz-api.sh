#!/usr/bin/env bash
# Fuzzes a live todo-api from its own OpenAPI document with schemathesis: every
# check, the examples, coverage, fuzzing and stateful phases, a fixed seed and
# a bounded number of examples. Exits non-zero on any failure.
#
#   scripts/fuzz-api.sh [path/to/todo-api]     (default: builds target/debug/todo-api)
set -euo pipefail
cd "$(dirname "$0")/.."

SCHEMATHESIS_VERSION=4.32.5
venv="${TODO_API_FUZZ_VENV:-$HOME/.cache/todo-api-schemathesis}"
if [ ! -x "$venv/bin/st" ] || ! "$venv/bin/st" --version | grep -q "$SCHEMATHESIS_VERSION"; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "schemathesis==$SCHEMATHESIS_VERSION"
fi

bin="${1:-}"
if [ -z "$bin" ]; then
  cargo build -q
  bin="${CARGO_TARGET_DIR:-target}/debug/todo-api"
fi

work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export BETTER_AUTH_SECRET="fuzz-secret-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export DATABASE_URL="sqlite:$work/fuzz.db" HOST=127.0.0.1 PORT="$port" LOG_LEVEL=warn
export TODO_API_FUZZ_USER="fuzz-user"
# Change streams are endless by design; here each ends after a second so the
# fuzzer can read it whole.
export EVENTS_MAX_SECONDS=1
# The fuzzer is one client sending thousands of requests, many with bad tokens:
# rate limits would answer most of them 429 and leave the rest unfuzzed.
export RATE_LIMIT_PER_SECOND=0 AUTH_FAILURES_PER_MINUTE=0
token=$("$bin" token --sub "$TODO_API_FUZZ_USER" --ttl 3600)

"$bin" serve > "$work/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 1 50); do curl -fs "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.2; done

# One worker: with two threads, hypothesis's ast.parse (describing its filters) can hit
# CPython 3.11's "AST constructor recursion depth mismatch" (gh-106905) and abort the run
# with a runtime error that says nothing about the API.
"$venv/bin/st" --config-file schemathesis.toml run "http://127.0.0.1:$port/openapi.json" \
  --header "Authorization: Bearer $token" \
  --checks all \
  --phases examples,coverage,fuzzing,stateful \
  --workers 1 \
  --no-color
status=$?

if grep -q " ERROR " "$work/server.log"; then
  echo "FAIL: the server logged errors during fuzzing:" >&2
  grep " ERROR " "$work/server.log" >&2
  exit 1
fi
exit $status
