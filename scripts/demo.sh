#!/usr/bin/env bash
# The README's demo: a real Game Day on this one machine.
#
#   1. installs the Debian packages (scripts/install-deps.sh) and builds (out/demo);
#   2. re-runs itself in new network, PID, mount and UTS namespaces, so that everything it
#      starts and creates (processes, bridge, network namespaces, mounts) is gone when it
#      ends, on Ctrl-C too;
#   3. builds three hosts as network namespaces on a bridge (web 10.99.0.11, db 10.99.0.12,
#      cache 10.99.0.13), each with a gameday-agent; the two-tier sample service
#      (examples/shop) on web and db; gamedayd and a real Prometheus on the bridge side
#      (10.99.0.1, 127.0.0.1:9090);
#   4. runs playbooks/demo-checkout-latency.json: 300 ms more on every new connection to the
#      db tier; the web tier waits 250 ms for the db, so checkouts fail, the checkout SLAs
#      trip and the SLA guard rolls the fault back by itself;
#   5. prints what happened: time to abort, time to revert, availability during the run in
#      percent and in nines, where the run's report (HTML and Markdown) and the audit log are.
#
# Run as root: sudo ./scripts/demo.sh.  GD_DEMO_DIR (default /tmp/gameday-demo) keeps the
# controller's state (its SQLite file holds the audit log) and every log after the demo.
# GD_DEMO_BUILD names a build tree that is already built (scripts/test.sh runs the demo on
# its own build that way); without it the demo builds into out/demo.  Exit 0 when the run
# was aborted by the SLA guard and every fault reverted, as it should be.
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
bin=${GD_DEMO_BUILD:-$src/out/demo}
dir=${GD_DEMO_DIR:-/tmp/gameday-demo}
net=10.99.0

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

if [ "${1:-}" != "--inside" ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "demo: run as root (sudo $0): it creates network namespaces" >&2
		exit 2
	fi
	say "installing dependencies"
	"$src/scripts/install-deps.sh"
	if [ -z "${GD_DEMO_BUILD:-}" ]; then
		say "building into $bin"
		cmake -S "$src" -B "$bin" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGD_BUILD_TESTS=OFF \
			>/dev/null
		cmake --build "$bin" -j"$(nproc 2>/dev/null || echo 2)" --target gamedayd gameday \
			gameday-agent gameday-shop
	fi
	rm -rf "$dir"
	mkdir -p -m 700 "$dir"
	# Everything below runs in namespaces of its own: nothing outlives the demo.
	exec unshare --net --pid --fork --mount-proc --mount --uts "$0" --inside
fi

# ---- Inside the demo's namespaces: this shell is pid 1 of its own PID namespace. ----

pids=()
cleanup() {
	trap - EXIT INT TERM
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'echo; echo "demo: interrupted; cleaning up"; exit 130' INT TERM

G="$bin/controller/cli/gameday --url http://$net.1:7070"
export GAMEDAY_TOKEN

# Waits (up to $2 seconds) for a TCP port to accept: $1 is "host/port".
wait_port() {
	for _ in $(seq 1 $(($2 * 10))); do
		if (exec 3<>"/dev/tcp/$1") 2>/dev/null; then return 0; fi
		sleep 0.1
	done
	echo "demo: nothing listens on $1 after $2 s (logs in $dir)" >&2
	exit 1
}

say "three hosts as network namespaces on a bridge"
mkdir -p /run/netns && mount -t tmpfs -o mode=755 demo-netns /run/netns
ip link set lo up
ip link add gd0 type bridge
ip addr add "$net.1/24" dev gd0
ip link set gd0 up
i=11
for h in web db cache; do
	ip netns add "gd-$h"
	ip link add "v-$h" type veth peer name eth0 netns "gd-$h"
	ip link set "v-$h" master gd0 up
	ip -n "gd-$h" addr add "$net.$i/24" dev eth0
	ip -n "gd-$h" link set eth0 up
	ip -n "gd-$h" link set lo up
	echo "  $h: $net.$i"
	i=$((i + 1))
done

say "gamedayd on $net.1:7070, tokens, enrolment"
mkdir -p -m 700 "$dir/state"
ctl=$bin/controller/gamedayd
$ctl token create --state-dir "$dir/state" --user demo --role operator >"$dir/operator.token"
# One single-use enrolment token per host.
$ctl enroll-token create --state-dir "$dir/state" --count 3 >"$dir/enroll.tokens"
n=1
for h in web db cache; do
	sed -n "${n}p" "$dir/enroll.tokens" >"$dir/enroll-$h.token"
	n=$((n + 1))
done
chmod 600 "$dir"/*.token*
$ctl --state-dir "$dir/state" --listen "$net.1:7070" 2>"$dir/gamedayd.log" &
pids+=($!)
wait_port "$net.1/7070" 10
GAMEDAY_TOKEN=$(cat "$dir/operator.token")

say "the sample shop: web on $net.11:8080 calls db on $net.12:5432 (waits 250 ms at most)"
shop=$bin/examples/shop/gameday-shop
ip netns exec gd-db "$shop" db --listen "$net.12:5432" 2>"$dir/shop-db.log" &
pids+=($!)
ip netns exec gd-web "$shop" web --listen "$net.11:8080" --db "$net.12:5432" \
	--db-timeout 250ms 2>"$dir/shop-web.log" &
pids+=($!)
wait_port "$net.12/5432" 10
wait_port "$net.11/8080" 10

say "Prometheus on 127.0.0.1:9090, scraping both tiers every second"
cat >"$dir/prometheus.yml" <<EOF
global: { scrape_interval: 1s, scrape_timeout: 1s }
scrape_configs:
  - job_name: shop
    static_configs: [ { targets: ["$net.11:8080", "$net.12:5432"] } ]
EOF
prometheus --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/prometheus" \
	--web.listen-address=127.0.0.1:9090 >"$dir/prometheus.log" 2>&1 &
pids+=($!)
wait_port "127.0.0.1/9090" 30

say "an agent on each host"
agent=$bin/agent/gameday-agent
for h in web db cache; do
	mkdir -p -m 700 "$dir/agent-$h"
	ip netns exec "gd-$h" unshare --uts -- sh -c 'hostname "$1"; shift; exec "$@"' sh "$h" \
		"$agent" --controller "http://$net.1:7070" --token-file "$dir/enroll-$h.token" \
		--tags "role=$h,service=shop" --state-dir "$dir/agent-$h" --lease 10s \
		2>"$dir/agent-$h.log" &
	pids+=($!)
done
for _ in $(seq 1 100); do
	[ "$($G agents --json 2>/dev/null | grep -o '"state":"ok"' | wc -l)" -eq 3 ] && break
	sleep 0.1
done
$G agents

say "the playbook: 300 ms on every new connection to the db tier"
$G playbook validate "$src/playbooks/demo-checkout-latency.json"
$G playbook apply "$src/playbooks/demo-checkout-latency.json"
id=$($G run start demo-checkout-latency --reason "README demo: does checkout survive a slow database?")
echo "run $id: preflight watches the steady state for 5 s, then the fault goes in"

say "run watch $id (live; the SLA guard aborts after 3 breaches in a row)"
$G run watch "$id" || true

say "what happened"
$G run show "$id" | tee "$dir/run.txt"
$G run show --json "$id" >"$dir/run.json"
state=$(grep -m1 -o '"state":[[:space:]]*"[a-z_]*"' "$dir/run.json" | cut -d'"' -f4)
$G report "$id" --format html >"$dir/report.html"
$G report "$id" --format md >"$dir/report.md"
echo
$G audit verify
say "summary of run $id: $state"
grep -E '^(faults in place to abort|first breach to abort|abort to last verified revert|availability of checkout)' \
	"$dir/run.txt" | sed 's/^/  /'
echo "  report: $dir/report.html (one self-contained page with the charts; open it in a"
echo "    browser) and $dir/report.md (for a postmortem)"
echo "  audit log: the audit table of $dir/state/gameday.db, a hash chain that"
echo "    'gameday audit verify' checked above; logs and the run as JSON are in $dir"
[ "$state" = "aborted" ]
