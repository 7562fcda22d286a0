#!/usr/bin/env bash
# Installs what the test suite needs on a fresh Debian machine: redis-server
# and chromium (the dashboard's browser test) from apt, and the npm packages
# for the interop tests from their lockfile.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_install() {
	local missing=()
	for pkg in "$@"; do
		dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	local sudo=""
	[ "$(id -u)" -ne 0 ] && sudo="sudo"
	echo "installing: ${missing[*]}"
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
[ -x /usr/bin/chromium ] || need+=(chromium)
[ ${#need[@]} -eq 0 ] || apt_install "${need[@]}"

if [ -f interop/package-lock.json ]; then
	stamp=interop/node_modules/.lock-sha
	want=$(sha256sum interop/package-lock.json | cut -d' ' -f1)
	if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
		(cd interop && npm ci --no-audit --no-fund --loglevel=error)
		echo "$want" >"$stamp"
	fi
fi
