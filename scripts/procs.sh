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
