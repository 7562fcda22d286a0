#!/usr/bin/env bash
# The benchmark of docs/benchmarks.md, in one run: Baton's Socket.IO service,
# the official Node socket.io 4.8.1 server (bench/node/server.js, same pub/sub
# API) and Baton's legacy service, each started in its own process and driven
# by `baton bench run` from another one, on one workload; then the codec
# micro-benchmarks. The results replace the generated section of
# docs/benchmarks.md; raw JSON, logs and profiles stay in bench-out/.
#
# Knobs (environment):
#   BENCH_CONNS=10000   idle connections for the memory reading
#   BENCH_SUBS=5000     subscribers of the fan-out channel
#   BENCH_ONLY="..."    subset of: baton-socketio node-socketio baton-legacy
#   BENCH_REPEAT=2      rounds over all servers, interleaved; the report keeps,
#                       per server, the round with the least CPU taken by other
#                       processes (the machine is shared)
#   BENCH_PIN=1         pin each server to CPU 1 and the load generator to CPU 0
#   BENCH_PROFILE=1     save pprof heap/CPU profiles of Baton's servers
#                       (skews their numbers a little; off by default)
#   BENCH_MICRO=1       run the codec micro-benchmarks (0: skip them)
#   BENCH_DOC=path      document to update ("" prints the results instead)
#   BENCH_ARGS="..."    extra flags for `baton bench run`
set -euo pipefail
cd "$(dirname "$0")/.."

conns=${BENCH_CONNS:-10000}
subs=${BENCH_SUBS:-5000}
only=${BENCH_ONLY:-baton-socketio node-socketio baton-legacy}
repeat=${BENCH_REPEAT:-2}
pin=${BENCH_PIN:-1}
profile=${BENCH_PROFILE:-0}
doc=${BENCH_DOC-docs/benchmarks.md}
out=bench-out

[ -d interop/node_modules/socket.io ] || bash scripts/deps.sh

# Each side holds one socket per connection plus a few; raise the soft limit
# as far as the hard limit allows.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
need=$((conns + 512))
if [ "$(ulimit -n)" -lt "$need" ]; then
	echo "bench: open-file limit $(ulimit -n) < $need; raise it (ulimit -Hn) or lower BENCH_CONNS" >&2
	exit 1
fi

mkdir -p "$out"
# Two benchmarks at once would share the CPUs and skew each other: wait for
# any other run on this checkout to finish.
exec 9>"$out/.lock"
if command -v flock >/dev/null && ! flock -n 9; then
	echo "bench: another benchmark is running here; waiting for it" >&2
	flock -w 1800 9
fi
[ "$profile" = 1 ] && rm -f "$out"/*.pprof
go build -o "$out/baton" ./cmd/baton
go build -o "$out/freeport" ./scripts/freeport

server_cpu=() client_cpu=() notes=""
if [ "$pin" = 1 ] && command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
	server_cpu=(taskset -c 1)
	client_cpu=(taskset -c 0)
	notes="Each server was pinned to CPU 1 and the load generator to CPU 0 (taskset), so a server gets one core (Go: GOMAXPROCS=1)."
else
	notes="Servers and load generator were not pinned and share all CPUs."
fi

has_pprof=0
"$out/baton" serve --help 2>/dev/null | grep -q -- '--pprof' && has_pprof=1

server_pid=""
stop_server() {
	if [ -n "$server_pid" ]; then
		kill "$server_pid" 2>/dev/null || true
		wait "$server_pid" 2>/dev/null || true
		server_pid=""
	fi
}
trap stop_server EXIT

# bench_one NAME ROUND LABEL PROTO SERVER-COMMAND...
# The GC URL is the Node peer's /debug/gc, or for Baton's servers pprof's
# heap?gc=1 when `baton serve` has --pprof.
bench_one() {
	local name=$1 round=$2 label=$3 proto=$4; shift 4
	local port pport=""
	{ read -r port; read -r pport; } < <("$out/freeport" -n 2)
	local cmd=("$@") extra=()
	case $name in
	node-*)
		cmd+=("127.0.0.1:$port")
		extra+=(--gc-url "http://127.0.0.1:$port/debug/gc")
		;;
	baton-*)
		cmd+=("127.0.0.1:$port")
		if [ "$has_pprof" = 1 ]; then
			cmd+=(--pprof "127.0.0.1:$pport")
			extra+=(--gc-url "http://127.0.0.1:$pport/debug/pprof/heap?gc=1")
			[ "$profile" = 1 ] && extra+=(--pprof-url "http://127.0.0.1:$pport" --profile-dir "$out")
		fi
		;;
	esac
	echo "== round $round, $label: ${cmd[*]}" >&2
	"${server_cpu[@]}" "${cmd[@]}" >"$out/$name.log" 2>&1 &
	server_pid=$!
	# shellcheck disable=SC2086 # BENCH_ARGS is a list of flags
	"${client_cpu[@]}" "$out/baton" bench run --name "$label" --proto "$proto" \
		--addr "127.0.0.1:$port" --pid "$server_pid" --conns "$conns" --subs "$subs" \
		"${extra[@]}" ${BENCH_ARGS:-} -o "$out/$name-$round.json"
	stop_server
	results+=("$out/$name-$round.json")
}

rm -f "$out"/*.json
results=()
for round in $(seq 1 "$repeat"); do
	for target in $only; do
		case $target in
		baton-socketio)
			bench_one baton-socketio "$round" "Baton Socket.IO" socketio "$out/baton" serve --socketio ;;
		node-socketio)
			bench_one node-socketio "$round" "Node socket.io 4.8.1" socketio node --expose-gc bench/node/server.js ;;
		baton-legacy)
			bench_one baton-legacy "$round" "Baton legacy WS" legacy "$out/baton" serve --legacy ;;
		*)
			echo "bench: unknown target $target" >&2; exit 1 ;;
		esac
	done
done

report=("$out/baton" bench report --command "make bench" --notes "$notes")
if [ "${BENCH_MICRO:-1}" = 1 ]; then
	echo "== codec micro-benchmarks" >&2
	go test -run='^$' -bench=. -benchmem ./internal/wire/... | tee "$out/micro.txt" >&2
	report+=(--micro "$out/micro.txt")
fi

if [ -n "$doc" ]; then
	"${report[@]}" --doc "$doc" "${results[@]}"
	echo "== results written to $doc" >&2
else
	"${report[@]}" "${results[@]}"
fi
