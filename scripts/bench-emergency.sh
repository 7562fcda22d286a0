#!/usr/bin/env bash
# The emergency-rollback timing of docs/benchmarks.md (rollout issue: every
# session back on blue within 1 s for 10,000 sessions), every part in its own
# process on 127.0.0.1:
#   blue     `baton serve --legacy B --broker redis://R`
#   green    `baton serve --socketio G --broker redis://R` (one broker: seqs agree)
#   gateway  `baton gateway --config F` (rollout store in memory)
#   driver   `baton gwbench emergency` (raw legacy WebSocket clients, publisher,
#            admin API calls)
# The result replaces the emergency section of docs/benchmarks.md; the raw
# JSON and logs stay in bench-out/emergency/.
#
# Knobs (environment):
#   EMERGENCY_SESSIONS=10000   sessions (fitted down to the open-file limit)
#   EMERGENCY_REDIS=127.0.0.1:6399  Redis address (default $BATON_REDIS_ADDR)
#   EMERGENCY_PIN=1            gateway on CPU 1; backends and driver on CPU 0
#   EMERGENCY_DOC=path         document to update ("" prints the JSON only)
#   EMERGENCY_ARGS="..."       extra flags for `baton gwbench emergency`
set -euo pipefail
cd "$(dirname "$0")/.."

sessions=${EMERGENCY_SESSIONS:-10000}
redis=${EMERGENCY_REDIS:-${BATON_REDIS_ADDR:-127.0.0.1:6399}}
pin=${EMERGENCY_PIN:-1}
doc=${EMERGENCY_DOC-docs/benchmarks.md}
out=bench-out/emergency
token=emergency-$$
move_conc=1024 # the gateway's unpaced concurrency (gateway.UnpacedConcurrency)

# During a rollout the gateway holds three sockets per session moved to
# green (client, green upstream, idle blue standby) plus one per move in
# flight; the hard limit may not be raisable (containers): run with as many
# sessions as fit, in steps of 500.
need=$((3 * sessions + move_conc + 256))
[ "$(ulimit -Hn)" -lt "$need" ] && { ulimit -Hn "$need" 2>/dev/null || true; }
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [ "$(ulimit -n)" -lt "$need" ]; then
	fit=$(( ($(ulimit -n) - move_conc - 256) / 3 / 500 * 500 ))
	echo "bench-emergency: open-file limit $(ulimit -n) < $need: running $fit sessions instead of $sessions" >&2
	sessions=$fit
fi

mkdir -p "$out"
exec 9>bench-out/.lock
if command -v flock >/dev/null && ! flock -n 9; then
	echo "bench-emergency: another benchmark is running here; waiting for it" >&2
	flock -w 1800 9
fi
go build -o "$out/baton" ./cmd/baton
go build -o "$out/freeport" ./scripts/freeport
tmp=$(mktemp -d)

gw_cpu=() other_cpu=()
if [ "$pin" = 1 ] && command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
	gw_cpu=(taskset -c 1)
	other_cpu=(taskset -c 0)
fi

script_name=bench-emergency
# shellcheck source=procs.sh
source scripts/procs.sh

# One call, so that no two of them can be the same port.
{ read -r blue; read -r green; read -r edge; read -r adm; } < <("$out/freeport" -n 4)
"${other_cpu[@]}" "$out/baton" serve --legacy "127.0.0.1:$blue" --broker "redis://$redis" >"$out/blue.log" 2>&1 &
blue_pid=$!; pids+=("$blue_pid")
"${other_cpu[@]}" "$out/baton" serve --socketio "127.0.0.1:$green" --broker "redis://$redis" >"$out/green.log" 2>&1 &
green_pid=$!; pids+=("$green_pid")
gateway_yaml "$tmp/gateway.yaml" "$edge" "$adm" "$token" "$blue" "$green" 100000 "$move_conc"
cp "$tmp/gateway.yaml" "$out/gateway.yaml"
"${gw_cpu[@]}" "$out/baton" gateway --config "$tmp/gateway.yaml" >"$out/gateway.log" 2>&1 &
gateway_pid=$!; pids+=("$gateway_pid")
for p in "$blue" "$green" "$edge" "$adm"; do wait_port "$p"; done

cmdline="bash scripts/bench-emergency.sh   # EMERGENCY_SESSIONS=${EMERGENCY_SESSIONS:-10000} → $sessions sessions"
doc_args=() notes=()
if [ "${#gw_cpu[@]}" -gt 0 ]; then
	notes+=("The gateway was pinned to CPU 1 (so it ran with GOMAXPROCS=1 on a core of its own), blue, green and the driver to CPU 0 (taskset); Redis was not pinned.")
else
	notes+=("Processes were not pinned and share all CPUs.")
fi
notes+=("Gateway configuration: $out/gateway.yaml; the emergency rollback is unpaced (gateway.UnpacedConcurrency = $move_conc moves in flight).")
if [ -n "$doc" ]; then
	doc_args=(--doc "$doc" --command "$cmdline")
	for n in "${notes[@]}"; do doc_args+=(--note "$n"); done
fi
echo "== driver: $sessions sessions" >&2
"${other_cpu[@]}" "$out/baton" gwbench emergency \
	--gateway "127.0.0.1:$edge" --admin "http://127.0.0.1:$adm" --token "$token" \
	--publish-url "http://127.0.0.1:$blue/api/v1/publish" \
	--gateway-pid "$gateway_pid" --blue-pid "$blue_pid" --green-pid "$green_pid" \
	--sessions "$sessions" ${EMERGENCY_ARGS:-} -o "$out/result.json" "${doc_args[@]}"
[ -n "$doc" ] && echo "== results written to $doc" >&2
cat "$out/result.json"
