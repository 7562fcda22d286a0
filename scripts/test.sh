#!/usr/bin/env bash
# The whole suite: installs dependencies, starts a throwaway redis-server on a
# free loopback port, then runs lint, the dashboard's JavaScript tests and
# every Go test with the race detector.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/deps.sh

workdir=$(mktemp -d)
redis_pid=""
cleanup() {
	[ -n "$redis_pid" ] && kill "$redis_pid" 2>/dev/null || true
	rm -rf "$workdir"
}
trap cleanup EXIT

port=$(go run ./scripts/freeport)
redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no \
	--dir "$workdir" --daemonize no --loglevel warning >"$workdir/redis.log" 2>&1 &
redis_pid=$!
for _ in $(seq 1 50); do
	redis-cli -p "$port" ping >/dev/null 2>&1 && break
	sleep 0.1
done
redis-cli -p "$port" ping >/dev/null

export BATON_REDIS_ADDR="127.0.0.1:$port"
export BATON_REQUIRE_REDIS=1
export BATON_REQUIRE_NODE=1
export BATON_REQUIRE_CHROMIUM=1
ulimit -n 65536 2>/dev/null || true

bash scripts/lint.sh
bash scripts/test-js.sh
go test -race -count=1 -timeout 15m ./...
# The race detector changes allocations and stack sizes, so the tests that
# measure them skip under it (testenv.Race); their packages run once more
# without it.
mapfile -t unraced < <(grep -rl 'testenv\.Race' --include='*_test.go' internal | xargs -n1 dirname | sort -u | sed 's|^|./|')
if [ ${#unraced[@]} -gt 0 ]; then
	go test -count=1 -timeout 5m "${unraced[@]}"
fi
