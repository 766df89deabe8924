#!/usr/bin/env bash
# Resident memory of the agent's processes: the idle watchdog of a partition, the watchdog
# holding the latency proxy, and the peak of one-shot commands.  Runs as root in network
# and PID namespaces of its own, with a state dir under a fresh temporary directory.
#   tests/bench/agent_rss.sh BUILD_DIR
set -euo pipefail
B=$(cd "${1:?usage: $0 BUILD_DIR}" && pwd)/agent/gameday-agent
export B
exec unshare -n -p -f --mount-proc bash -c '
set -euo pipefail
ip link set lo up
S=$(mktemp -d)
trap "\"$B\" --state-dir \"$S\" revert --all 2>/dev/null; rm -rf \"$S\"" EXIT
wd_of() { "$B" --state-dir "$S" list --json 2>/dev/null |
	python3 -c "import json,sys; print([e for e in json.load(sys.stdin) if e[\"id\"]==sys.argv[1]][0][\"watchdog_pid\"])" "$1"; }
id=$("$B" --state-dir "$S" inject --ttl 1m 2>/dev/null \
	--fault "{\"type\":\"network.partition\",\"peers\":[\"192.0.2.0/24\"]}")
echo "watchdog of a partition: $(grep -E "VmRSS" /proc/$(wd_of "$id")/status | tr -s " \t" " ")"
id=$("$B" --state-dir "$S" inject --ttl 1m 2>/dev/null \
	--fault "{\"type\":\"network.latency\",\"delay\":\"10ms\",\"ports\":[9]}")
echo "watchdog holding the latency proxy: $(grep -E "VmRSS" /proc/$(wd_of "$id")/status | tr -s " \t" " ")"
/usr/bin/time -f "one-shot inject: max RSS %M kB, %e s" "$B" --state-dir "$S" inject --ttl 1m \
	--fault "{\"type\":\"network.loss\",\"percent\":10,\"ports\":[9]}" 2>&1 >/dev/null | tail -1
/usr/bin/time -f "one-shot list: max RSS %M kB, %e s" "$B" --state-dir "$S" list 2>&1 >/dev/null | tail -1
'
