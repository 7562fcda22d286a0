#!/usr/bin/env bash
# The gateway benchmark of docs/benchmarks.md, in one run, every part in its
# own process on 127.0.0.1:
#   backend  `baton serve --legacy B --socketio G` (blue legacy and green
#            Socket.IO over one in-memory broker, so seqs agree on both)
#   gateway  `baton gwbench gateway --config F --pprof P` (= `baton gateway`
#            plus a pprof listener for GC before memory readings and profiles)
#   nginx    Debian's nginx as a plain WebSocket reverse proxy to blue
#            (generated config in a temp dir, foreground, one process)
#   driver   `baton gwbench run` (raw legacy WebSocket clients, publisher,
#            admin API calls)
# The results replace the gateway section of docs/benchmarks.md; the raw JSON,
# logs and profiles stay in bench-out/gateway/.
#
# Knobs (environment):
#   GWBENCH_SESSIONS=10000     sessions for memory and handover (the issue's figure; where the open-file
#                              limit is lower, as many as fit, in hundreds: 9,800 under a hard limit of 20,000)
#   GWBENCH_MOVES=100000       handover.moves_per_second of the gateway
#   GWBENCH_MOVE_CONC=32       handover.concurrency of the gateway (on 2 cores more in flight lengthens pauses, same rate)
#   GWBENCH_STRESS_RATE=5      messages/s per session of the extra stress move (0: none)
#   GWBENCH_PREPARED=1         one more move blue→green, its connections prepared ahead (0: none)
#   GWBENCH_NGINX=1            include the peer proxy (NGINX: apt-get install nginx-light)
#   GWBENCH_PEER=nginx         the peer: nginx, or relay (`baton gwbench relay`, a Go proxy that only
#                              copies bytes: which part of the gateway's cost is Go's own)
#   GWBENCH_SIO=1              also measure Socket.IO clients (latency and fan-out): through the gateway
#                              at weight 100 (green) and direct to green
#   GWBENCH_PIN=1              proxy (gateway or NGINX) on CPU 1; backend and
#                              driver on CPU 0
#   GWBENCH_PROFILE=1          save gateway CPU/heap profiles and the backend's CPU over the handover (pprof)
#   GWBENCH_DOC=path           document to update ("" prints instead)
#   GWBENCH_ARGS="..."         extra flags for `baton gwbench run`
#   GWBENCH_GW_ENV="K=V ..."   extra environment for the gateway process only (GOGC=off, GODEBUG=...)
set -euo pipefail
cd "$(dirname "$0")/.."

sessions=${GWBENCH_SESSIONS:-10000}
moves=${GWBENCH_MOVES:-100000}
move_conc=${GWBENCH_MOVE_CONC:-32}
stress_rate=${GWBENCH_STRESS_RATE:-5}
prepared_args=()
[ "${GWBENCH_PREPARED:-1}" = 1 ] && prepared_args=(--prepared)
use_nginx=${GWBENCH_NGINX:-1}
use_sio=${GWBENCH_SIO:-1}
peer=${GWBENCH_PEER:-nginx}
case "$peer" in nginx | relay) ;; *) echo "bench-gateway: GWBENCH_PEER is nginx or relay, not $peer" >&2; exit 1 ;; esac
peer_label=NGINX
[ "$peer" = relay ] && peer_label="The Go relay"
pin=${GWBENCH_PIN:-1}
profile=${GWBENCH_PROFILE:-1}
doc=${GWBENCH_DOC-docs/benchmarks.md}
out=bench-out/gateway
token=gwbench-$$

# The gateway holds two sockets per session (client and upstream) plus one
# more per move in flight, NGINX two per proxied connection: raise the limit
# past that. Where the hard limit cannot be raised (containers), run with as
# many sessions as fit, and say so in the notes.
need=$((2 * sessions + move_conc + 256))
[ "$(ulimit -Hn)" -lt "$need" ] && { ulimit -Hn "$need" 2>/dev/null || true; }
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
limit_note=""
if [ "$(ulimit -n)" -lt "$need" ]; then
	fit=$(( ($(ulimit -n) - move_conc - 256) / 2 / 100 * 100 ))
	if [ "$fit" -lt 1000 ]; then
		echo "bench-gateway: open-file limit $(ulimit -n) < $need; raise it or lower GWBENCH_SESSIONS" >&2
		exit 1
	fi
	echo "bench-gateway: open-file limit $(ulimit -n) (hard, not raisable here) < $need: running $fit sessions instead of $sessions" >&2
	limit_note="The open-file limit is $(ulimit -n) per process here and cannot be raised (hard limit of the container), and the gateway needs two sockets per session plus one per move in flight: the memory and handover phases ran with $fit sessions instead of $sessions."
	sessions=$fit
fi
# A session prepared ahead of a move holds three sockets at the gateway
# (client, upstream, prepared): the prepared moves run on as many as fit.
prepared_sessions=$(( ($(ulimit -n) - move_conc - 256) / 3 / 100 * 100 ))
if [ "${GWBENCH_PREPARED:-1}" = 1 ] && [ "$prepared_sessions" -lt "$sessions" ]; then
	prepared_args+=(--prepared-sessions "$prepared_sessions")
	limit_note="${limit_note:+$limit_note }The moves with connections prepared ahead, and the one beside them, ran on $prepared_sessions of those sessions: a prepared session holds three sockets at the gateway."
fi
# NGINX holds a little more than two descriptors per proxied connection
# (2.13 measured here), so under the same limit its memory reading may
# take fewer sessions than the gateway's.
nginx_sessions=$sessions
nginx_fit=$(( ($(ulimit -n) - 64) * 100 / 215 / 100 * 100 ))
if [ "$use_nginx" = 1 ] && [ "$nginx_fit" -lt "$nginx_sessions" ]; then
	nginx_sessions=$nginx_fit
	limit_note="${limit_note:+$limit_note }$peer_label's memory was read at $nginx_sessions sessions, as many as fit its descriptors."
fi

mkdir -p "$out"
# Share scripts/bench.sh's lock: two benchmarks at once would skew each other.
exec 9>bench-out/.lock
if command -v flock >/dev/null && ! flock -n 9; then
	echo "bench-gateway: another benchmark is running here; waiting for it" >&2
	flock -w 1800 9
fi
rm -f "$out"/*.pprof
go build -o "$out/baton" ./cmd/baton
go build -o "$out/freeport" ./scripts/freeport
tmp=$(mktemp -d)

proxy_cpu=() other_cpu=() notes=()
[ -n "$limit_note" ] && notes+=("$limit_note")
if [ "$pin" = 1 ] && command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
	proxy_cpu=(taskset -c 1)
	other_cpu=(taskset -c 0)
	notes+=("The proxy under test (gateway or NGINX) was pinned to CPU 1 and the backend and the driver to CPU 0 (taskset), so the gateway runs with GOMAXPROCS=1 on a core of its own; direct runs leave CPU 1 idle.")
else
	notes+=("Processes were not pinned and share all CPUs.")
fi

script_name=bench-gateway
# shellcheck source=procs.sh
source scripts/procs.sh

# One call, so that no two of them can be the same port.
{ read -r blue; read -r green; read -r edge; read -r adm; read -r pprof; read -r nport; read -r bpprof; } < <("$out/freeport" -n 7)
sio_args=()
[ "$use_sio" = 1 ] && sio_args=(--direct-socketio "127.0.0.1:$green")

echo "== backend: blue legacy :$blue, green socketio :$green" >&2
"${other_cpu[@]}" "$out/baton" serve --legacy "127.0.0.1:$blue" --socketio "127.0.0.1:$green" --pprof "127.0.0.1:$bpprof" >"$out/backend.log" 2>&1 &
backend_pid=$!; pids+=("$backend_pid")

gateway_yaml "$tmp/gateway.yaml" "$edge" "$adm" "$token" "$blue" "$green" "$moves" "$move_conc" \
	"health: { probe: { disabled: true } }"
cp "$tmp/gateway.yaml" "$out/gateway.yaml"
echo "== gateway: edge :$edge, admin :$adm, pprof :$pprof" >&2
env ${GWBENCH_GW_ENV:-} "${proxy_cpu[@]}" "$out/baton" gwbench gateway --config "$tmp/gateway.yaml" --pprof "127.0.0.1:$pprof" >"$out/gateway.log" 2>&1 &
gateway_pid=$!; pids+=("$gateway_pid")

nginx_args=()
if [ "$use_nginx" = 1 ] && [ "$peer" = relay ]; then
	echo "== Go relay: :$nport → blue" >&2
	"${proxy_cpu[@]}" "$out/baton" gwbench relay --listen "127.0.0.1:$nport" --upstream "127.0.0.1:$blue" >"$out/relay.log" 2>&1 &
	nginx_pid=$!; pids+=("$nginx_pid")
	nginx_args=(--nginx "127.0.0.1:$nport" --nginx-pid "$nginx_pid" --peer-name "Go relay")
	notes+=("The peer is \`baton gwbench relay\` instead of NGINX: a Go proxy that copies bytes between each client and blue with read(2) and write(2), parsing nothing, to show which part of the gateway's cost is Go's own.")
elif [ "$use_nginx" = 1 ]; then
	if ! command -v nginx >/dev/null; then
		echo "bench-gateway: nginx not found (apt-get install nginx-light), or GWBENCH_NGINX=0" >&2
		exit 1
	fi
	mkdir -p "$tmp/nginx"
	# A plain WebSocket reverse proxy: one worker process in the foreground,
	# default buffers, no access log.
	cat >"$tmp/nginx/nginx.conf" <<NGINX
daemon off;
master_process off;
worker_rlimit_nofile $(ulimit -n);
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log warn;
events { worker_connections $(ulimit -n); }
http {
	access_log off;
	client_body_temp_path $tmp/nginx/body;
	proxy_temp_path $tmp/nginx/proxy;
	fastcgi_temp_path $tmp/nginx/fastcgi;
	uwsgi_temp_path $tmp/nginx/uwsgi;
	scgi_temp_path $tmp/nginx/scgi;
	server {
		listen 127.0.0.1:$nport;
		location / {
			proxy_pass http://127.0.0.1:$blue;
			proxy_http_version 1.1;
			proxy_set_header Upgrade \$http_upgrade;
			proxy_set_header Connection "upgrade";
			proxy_read_timeout 1h;
			proxy_send_timeout 1h;
		}
	}
}
NGINX
	cp "$tmp/nginx/nginx.conf" "$out/nginx.conf"
	echo "== nginx $(nginx -v 2>&1 | sed 's/.*\///'): :$nport → blue" >&2
	"${proxy_cpu[@]}" nginx -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" >"$out/nginx.log" 2>&1 &
	nginx_pid=$!; pids+=("$nginx_pid")
	nginx_args=(--nginx "127.0.0.1:$nport" --nginx-pid "$nginx_pid")
	notes+=("NGINX $(nginx -v 2>&1 | sed 's/.*\///') (Debian) with one worker in the foreground (master_process off), default proxy buffers, proxying /ws to blue.")
fi

for p in "$blue" "$green" "$edge" "$adm" "$pprof" "$bpprof" ${nginx_args:+"$nport"}; do wait_port "$p"; done

prof_args=()
[ "$profile" = 1 ] && prof_args=(--pprof-url "http://127.0.0.1:$pprof" --backend-pprof-url "http://127.0.0.1:$bpprof" --profile-dir "$out")
echo "== driver" >&2
# shellcheck disable=SC2086 # GWBENCH_ARGS is a list of flags
"${other_cpu[@]}" "$out/baton" gwbench run \
	--gateway "127.0.0.1:$edge" --gateway-pid "$gateway_pid" \
	--direct "127.0.0.1:$blue" --backend-pid "$backend_pid" \
	--publish-url "http://127.0.0.1:$blue/api/v1/publish" \
	--admin "http://127.0.0.1:$adm" --token "$token" \
	--gc-url "http://127.0.0.1:$pprof/debug/pprof/heap?gc=1" \
	--vars-url "http://127.0.0.1:$pprof/debug/vars" \
	--sessions "$sessions" --nginx-sessions "$nginx_sessions" --stress-rate "$stress_rate" "${prepared_args[@]}" "${nginx_args[@]}" "${sio_args[@]}" "${prof_args[@]}" \
	${GWBENCH_ARGS:-} -o "$out/result.json"

notes+=("Gateway configuration: $out/gateway.yaml (handover.moves_per_second $moves, concurrency $move_conc); clients speak the legacy protocol at the edge, blue is legacy and green Socket.IO.")
report=("$out/baton" gwbench report --command "bash scripts/bench-gateway.sh")
for n in "${notes[@]}"; do report+=(--note "$n"); done
if [ -n "$doc" ]; then
	"${report[@]}" --doc "$doc" "$out/result.json"
	echo "== results written to $doc" >&2
else
	"${report[@]}" "$out/result.json"
fi
