#!/usr/bin/env bash
# Runs every native fuzz target in the module for FUZZTIME each (default 2m).
# Usage: make fuzz  |  FUZZTIME=30s bash scripts/fuzz.sh [package-pattern]
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-2m}
pattern=${1:-./...}
status=0
for pkg in $(go list "$pattern"); do
	dir=$(go list -f '{{.Dir}}' "$pkg")
	targets=$(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u || true)
	for target in $targets; do
		echo "== $pkg $target ($fuzztime)"
		if ! go test "$pkg" -run='^$' -fuzz="^${target}\$" -fuzztime="$fuzztime"; then
			status=1
		fi
	done
done
exit $status
