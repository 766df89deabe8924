#!/usr/bin/env bash
# Installs every Debian package that the build, the tests and the demo need.
# Idempotent and quick when everything is there: it asks dpkg first and runs apt-get only
# for what is missing.  Needs root (or sudo) only when something is missing.
set -euo pipefail

PACKAGES=(
	# Toolchain.
	build-essential cmake pkg-config clang libclang-rt-14-dev clang-tidy
	# Libraries (DESIGN §1), -dev packages.
	libcurl4-openssl-dev libcjson-dev libssh2-1-dev libsqlite3-dev libseccomp-dev
	libmicrohttpd-dev libnftables-dev libnl-3-dev libnl-route-3-dev libssl-dev
	# What the tests and the demo run: namespaces, nftables, real servers.
	iproute2 nftables util-linux procps tzdata python3 sqlite3 curl openssl
	prometheus prometheus-alertmanager openssh-server openssh-client
	# The dashboard test (docs/dashboard.md): Debian's Chromium, driven headless.
	chromium fonts-dejavu-core
)

# The dashboard test's npm packages (playwright-core, no browser download): npm ci when
# tests/dashboard/node_modules is missing or older than its lock file.
dash="$(cd "$(dirname "$0")/.." && pwd)/tests/dashboard"
if [ ! -f "$dash/node_modules/.package-lock.json" ] ||
	[ "$dash/package-lock.json" -nt "$dash/node_modules/.package-lock.json" ]; then
	if command -v npm >/dev/null; then
		echo "install-deps: npm ci in tests/dashboard"
		(cd "$dash" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund \
			--loglevel=error) ||
			echo "install-deps: npm ci failed; ctl_test_dashboard will be skipped" >&2
	else
		echo "install-deps: no npm; ctl_test_dashboard will be skipped" >&2
	fi
fi

missing=()
for p in "${PACKAGES[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
		missing+=("$p")
	fi
done
if [ ${#missing[@]} -eq 0 ]; then
	echo "install-deps: all ${#PACKAGES[@]} packages present"
	exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
	SUDO="sudo"
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Services installed here must not start on their own: tests start what they need.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
	$SUDO chmod 755 "$policy"
	created_policy=1
fi
cleanup() { if [ "$created_policy" = 1 ]; then $SUDO rm -f "$policy"; fi; }
trap cleanup EXIT
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
