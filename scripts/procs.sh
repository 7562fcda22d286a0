# Sourced by the benchmark scripts: the child processes they start, and
# waiting for a port. The caller sets $tmp (removed on exit) and $script_name
# (used in messages), and appends each child's pid to pids.

pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT

# wait_port PORT: until something listens on 127.0.0.1:PORT (15 s).
wait_port() {
	for _ in $(seq 150); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.1
	done
	echo "$script_name: nothing listens on port $1" >&2
	return 1
}

# gateway_yaml FILE EDGE ADMIN TOKEN BLUE GREEN MOVES CONCURRENCY [LINE...]:
# writes the benchmarks' gateway configuration (legacy blue, Socket.IO
# green, weight 0, an in-memory rollout store) to FILE, plus any extra
# YAML lines.
gateway_yaml() {
	local file=$1 edge=$2 adm=$3 token=$4 blue=$5 green=$6 moves=$7 conc=$8
	shift 8
	{
		cat <<YAML
listen: 127.0.0.1:$edge
admin: { listen: 127.0.0.1:$adm, token: $token }
identity: { query: user }
backends:
  blue:  { url: ws://127.0.0.1:$blue/ws, protocol: legacy }
  green: { url: http://127.0.0.1:$green/socket.io/, protocol: socketio }
routing: { weight: 0 }
handover: { moves_per_second: $moves, concurrency: $conc }
rollout: { store: { kind: memory } }
log: { level: warn }
YAML
		for line in "$@"; do echo "$line"; done
	} >"$file"
}
