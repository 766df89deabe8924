#!/usr/bin/env bash
# Playbook corpus checks for `gameday playbook validate|print`.
#
#   check_corpus.sh GAMEDAY_BINARY SOURCE_DIR
#
# - playbooks/*.json and tests/playbooks/good/*.json must be valid, and their canonical
#   form (`playbook print`) must be valid too and a fixed point (printing it again gives
#   the same bytes);
# - every tests/playbooks/bad/NAME.json must be rejected with exit status 1 (never a
#   crash), with an error line on stderr that begins with "HINT: ", where HINT is the one
#   line of NAME.hint (the JSON path the error must name);
# - cases generated here at run time: oversized files, oversized strings, deep nesting,
#   shell-injection canaries, CLI usage errors.
#
# Prints one line per failure and ends with "N passed, N failed"; exits 1 if any failed.
# SC2015: "A && pass || fail" is intended (pass always succeeds); SC2016: literal $(...) is the point.
# shellcheck disable=SC2015,SC2016
set -euo pipefail

if [[ $# -ne 2 ]]; then
	echo "usage: $0 GAMEDAY_BINARY SOURCE_DIR" >&2
	exit 2
fi
GD=$1
SRC=$2
if [[ ! -x $GD ]]; then
	echo "$0: $GD is not an executable" >&2
	exit 2
fi
GD=$(cd "$(dirname "$GD")" && pwd)/$(basename "$GD")
SRC=$(cd "$SRC" && pwd)
GOOD_DIR=$SRC/tests/playbooks/good
BAD_DIR=$SRC/tests/playbooks/bad
EXAMPLES_DIR=$SRC/playbooks

T=$(mktemp -d "${TMPDIR:-/tmp}/gd-corpus.XXXXXX")
trap 'rm -rf "$T"' EXIT

# A hung validator is a failure, not a stuck test run.
TO=()
if command -v timeout >/dev/null 2>&1; then
	TO=(timeout 60)
fi

passed=0
failed=0
pass() { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); printf 'FAIL: %s\n' "$*"; }

# gd ARGS...: runs the binary; sets rc, leaves stdout in $T/out and stderr in $T/err.
gd() {
	set +e
	${TO[@]+"${TO[@]}"} "$GD" "$@" >"$T/out" 2>"$T/err" </dev/null
	rc=$?
	set -e
}

# gd_in FILE ARGS...: same, with FILE on stdin.
gd_in() {
	local in=$1
	shift
	set +e
	${TO[@]+"${TO[@]}"} "$GD" "$@" >"$T/out" 2>"$T/err" <"$in"
	rc=$?
	set -e
}

# The first stderr line, for failure messages.
first_err() { head -n 1 "$T/err" | cut -c1-200; }

crashed() { [[ $rc -ge 124 ]]; }	# 124: timeout; >= 128: killed by a signal.

# has_err_line PATH: does stderr hold a line that begins with "PATH: "?
has_err_line() {
	local want=$1 line
	while IFS= read -r line || [[ -n $line ]]; do
		if [[ $line == "$want: "* ]]; then
			return 0
		fi
	done <"$T/err"
	return 1
}

# expect_invalid WHAT FILE HINT: validate FILE must exit 1 naming HINT.
expect_invalid() {
	local what=$1 file=$2 hint=$3
	gd playbook validate "$file"
	if crashed; then
		fail "$what: validator crashed or hung (exit $rc)"
	elif [[ $rc -ne 1 ]]; then
		fail "$what: expected exit 1, got $rc"
	elif ! has_err_line "$hint"; then
		fail "$what: no error line starting with \"$hint: \" (got: $(first_err))"
	else
		pass
	fi
}

# check_valid WHAT FILE: valid; canonical form valid; canonical form is a fixed point.
check_valid() {
	local what=$1 file=$2
	gd playbook validate "$file"
	if crashed; then
		fail "$what: validator crashed or hung (exit $rc)"
		return
	fi
	if [[ $rc -ne 0 ]]; then
		fail "$what: expected valid, exit $rc: $(first_err)"
		return
	fi
	if ! grep -q '^valid: ' "$T/out"; then
		fail "$what: validate printed no \"valid: \" line"
		return
	fi
	pass
	gd playbook print "$file"
	if [[ $rc -ne 0 ]]; then
		fail "$what: print exited $rc: $(first_err)"
		return
	fi
	cp "$T/out" "$T/canon1.json"
	gd playbook print "$file"
	if ! cmp -s "$T/out" "$T/canon1.json"; then
		fail "$what: print is not deterministic"
		return
	fi
	gd playbook validate "$T/canon1.json"
	if [[ $rc -ne 0 ]]; then
		fail "$what: its canonical form is invalid (exit $rc): $(first_err)"
		return
	fi
	gd_in "$T/canon1.json" playbook validate -
	if [[ $rc -ne 0 ]]; then
		fail "$what: print | validate - exited $rc: $(first_err)"
		return
	fi
	gd playbook print "$T/canon1.json"
	if [[ $rc -ne 0 ]]; then
		fail "$what: printing its canonical form exited $rc: $(first_err)"
		return
	fi
	if ! cmp -s "$T/out" "$T/canon1.json"; then
		fail "$what: canonical form is not a fixed point: $(diff "$T/canon1.json" "$T/out" | grep '^[<>]' | head -n 2 | tr '\n\t' '  ' | cut -c1-200)"
		return
	fi
	pass
}

# --- valid playbooks: the shipped examples and the edge cases.
shopt -s nullglob
examples=("$EXAMPLES_DIR"/*.json)
goods=("$GOOD_DIR"/*.json)
bads=("$BAD_DIR"/*.json)
shopt -u nullglob
[[ ${#examples[@]} -ge 6 ]] && pass || fail "playbooks/: expected at least 6 examples, found ${#examples[@]}"
[[ ${#goods[@]} -ge 10 ]] && pass || fail "tests/playbooks/good: expected at least 10 cases, found ${#goods[@]}"
[[ ${#bads[@]} -ge 60 ]] && pass || fail "tests/playbooks/bad: expected at least 60 cases, found ${#bads[@]}"

for f in "${examples[@]}"; do
	check_valid "playbooks/$(basename "$f")" "$f"
done
for f in "${goods[@]}"; do
	check_valid "good/$(basename "$f")" "$f"
done

# --- invalid playbooks, each with the path its error must name.
for f in "${bads[@]}"; do
	name=bad/$(basename "$f")
	hintf=${f%.json}.hint
	if [[ ! -f $hintf ]]; then
		fail "$name: no $(basename "$hintf")"
		continue
	fi
	if [[ $(wc -l <"$hintf") -ne 1 ]] || [[ -z $(head -n 1 "$hintf") ]]; then
		fail "$name: $(basename "$hintf") must hold exactly one non-empty line"
		continue
	fi
	hint=$(head -n 1 "$hintf")
	expect_invalid "$name" "$f" "$hint"
	if [[ $rc -eq 1 && -s $T/out ]]; then
		fail "$name: validate printed to stdout for an invalid playbook"
	fi
	# --json: the same verdict, as JSON on stdout.
	gd playbook validate --json "$f"
	jhint=${hint//\\/\\\\}
	jhint=${jhint//\"/\\\"}
	if crashed || [[ $rc -ne 1 ]]; then
		fail "$name: validate --json exited $rc"
	elif ! grep -qF '"valid":false' "$T/out" || ! grep -qF "\"path\":\"$jhint\"" "$T/out"; then
		fail "$name: validate --json does not report path \"$hint\""
	else
		pass
	fi
	# print must never print an invalid playbook.
	gd playbook print "$f"
	if crashed || [[ $rc -ne 1 || -s $T/out ]]; then
		fail "$name: print exited $rc or printed something"
	else
		pass
	fi
done
for h in "$BAD_DIR"/*.hint; do
	[[ -e $h ]] || continue
	[[ -f ${h%.hint}.json ]] || fail "bad/$(basename "$h"): no matching .json"
done

# --- generated at run time.
MIN=$GOOD_DIR/minimal.json
# The minimal playbook with "description": <n bytes of x> added.
with_description() {
	local n=$1 out=$2
	{
		printf '{"description": "'
		head -c "$n" /dev/zero | tr '\0' 'x'
		printf '", '
		tail -c +2 "$MIN"
	} >"$out"
}

# A 2 MiB file (twice the 1 MiB limit).
{
	printf '{"apiVersion": "gameday/v1", "description": "'
	head -c $((2 * 1024 * 1024)) /dev/zero | tr '\0' 'x'
	printf '"}\n'
} >"$T/big.json"
expect_invalid "generated: 2 MiB file" "$T/big.json" "(root)"

# The size limit itself: 1048576 bytes pass, 1048577 do not.
{
	head -c -2 "$MIN"
	head -c $((1024 * 1024 - $(stat -c %s "$MIN") + 1)) /dev/zero | tr '\0' ' '
	printf '}'
} >"$T/limit.json"
if [[ $(stat -c %s "$T/limit.json") -ne 1048576 ]]; then
	fail "generated: could not build a file of exactly 1048576 bytes"
else
	gd playbook validate "$T/limit.json"
	[[ $rc -eq 0 ]] && pass || fail "generated: a valid file of exactly 1 MiB: exit $rc: $(first_err)"
	printf ' ' >>"$T/limit.json"
	expect_invalid "generated: 1 MiB + 1 byte" "$T/limit.json" "(root)"
fi

# Strings: the description limit is 16384 bytes.
with_description 65536 "$T/desc64k.json"
expect_invalid "generated: 64 KiB description" "$T/desc64k.json" "description"
with_description 16385 "$T/desc16385.json"
expect_invalid "generated: 16385-byte description" "$T/desc16385.json" "description"
with_description 16384 "$T/desc16384.json"
gd playbook validate "$T/desc16384.json"
[[ $rc -eq 0 ]] && pass || fail "generated: 16384-byte description: exit $rc: $(first_err)"

# A 64 KiB string in every kind of string field: rejected at that field, never truncated.
big=$(head -c 65536 /dev/zero | tr '\0' 'a')
H='"apiVersion": "gameday/v1", "environment": "test", "tier": 4, "duration": "1m"'
N='"name": "big", "owner": "t"'
TG='"targets": {"tags": {}}'
F='"faults": [{"type": "cpu.burn"}]'
i=0
while IFS='|' read -r path json; do
	[[ -n $path ]] || continue
	json=${json//@H@/$H}
	json=${json//@N@/$N}
	json=${json//@T@/$TG}
	json=${json//@F@/$F}
	json=${json//@BIG@/$big}
	i=$((i + 1))
	printf '%s\n' "$json" >"$T/big-$i.json"
	expect_invalid "generated: 64 KiB string at $path" "$T/big-$i.json" "$path"
done <<'EOF'
name|{@H@, "name": "@BIG@", "owner": "t", @T@, @F@}
owner|{@H@, "name": "big", "owner": "@BIG@", @T@, @F@}
risk|{@H@, @N@, "risk": "@BIG@", @T@, @F@}
apiVersion|{"apiVersion": "@BIG@", "environment": "test", "tier": 4, "duration": "1m", @N@, @T@, @F@}
duration|{"apiVersion": "gameday/v1", "environment": "test", "tier": 4, "duration": "1@BIG@", @N@, @T@, @F@}
recovery_plan.url|{@H@, @N@, "recovery_plan": {"url": "https://example.com/@BIG@"}, @T@, @F@}
recovery_plan.steps[0]|{@H@, @N@, "recovery_plan": {"steps": ["@BIG@"]}, @T@, @F@}
targets.tags.role|{@H@, @N@, "targets": {"tags": {"role": "@BIG@"}}, @F@}
faults[0].type|{@H@, @N@, @T@, "faults": [{"type": "@BIG@"}]}
faults[0].match.comm|{@H@, @N@, @T@, "faults": [{"type": "process.kill", "match": {"comm": "@BIG@"}}]}
faults[0].match.cmdline|{@H@, @N@, @T@, "faults": [{"type": "process.kill", "match": {"cmdline": "@BIG@"}}]}
faults[0].match.pidfile|{@H@, @N@, @T@, "faults": [{"type": "process.pause", "match": {"pidfile": "/@BIG@"}}]}
faults[0].match.unit|{@H@, @N@, @T@, "faults": [{"type": "process.pause", "match": {"unit": "@BIG@.service"}}]}
faults[0].signal|{@H@, @N@, @T@, "faults": [{"type": "process.kill", "match": {"comm": "x"}, "signal": "SIG@BIG@"}]}
faults[0].path|{@H@, @N@, @T@, "faults": [{"type": "disk.fill", "path": "/var/lib/@BIG@", "size": "1GB"}]}
faults[0].size|{@H@, @N@, @T@, "faults": [{"type": "memory.hog", "size": "1@BIG@"}]}
faults[0].device|{@H@, @N@, @T@, "faults": [{"type": "network.bandwidth", "rate": "1mbit", "device": "@BIG@"}]}
faults[0].peers[0]|{@H@, @N@, @T@, "faults": [{"type": "network.partition", "peers": ["@BIG@"]}]}
faults[0].direction|{@H@, @N@, @T@, "faults": [{"type": "network.loss", "percent": 1, "direction": "@BIG@"}]}
steady_state.probes[0].url|{@H@, @N@, @T@, @F@, "steady_state": {"probes": [{"name": "p", "type": "http", "url": "http://example.com/@BIG@"}], "sla": ["p.tp90 < 1s"]}}
steady_state.probes[0].name|{@H@, @N@, @T@, @F@, "steady_state": {"probes": [{"name": "@BIG@", "type": "http", "url": "http://example.com/"}], "sla": ["p.tp90 < 1s"]}}
steady_state.probes[0].query|{@H@, @N@, @T@, @F@, "steady_state": {"probes": [{"name": "p", "type": "prometheus", "url": "http://example.com/", "query": "@BIG@"}], "sla": ["p.value < 1"]}}
steady_state.sla[0]|{@H@, @N@, @T@, @F@, "steady_state": {"probes": [{"name": "p", "type": "http", "url": "http://example.com/"}], "sla": ["p.tp90 < 1s @BIG@"]}}
schedule.timezone|{@H@, @N@, @T@, @F@, "schedule": {"timezone": "@BIG@", "windows": [{"days": ["mon"], "start": "09:00", "end": "17:00"}]}}
schedule.blackouts[0].reason|{@H@, @N@, @T@, @F@, "schedule": {"windows": [{"days": ["mon"], "start": "09:00", "end": "17:00"}], "blackouts": [{"from": "2026-12-24", "to": "2026-12-26", "reason": "@BIG@"}]}}
rehearsal.page|{@H@, @N@, @T@, @F@, "rehearsal": {"page": "https://example.com/@BIG@", "detect_within": "5s", "recover_within": "10s"}}
EOF
# ... and as a key: still exit 1, and the message stays bounded.
printf '{"%s": 1, %s\n' "$big" "$(tail -c +2 "$MIN")" >"$T/bigkey.json"
gd playbook validate "$T/bigkey.json"
if crashed || [[ $rc -ne 1 ]]; then
	fail "generated: 64 KiB key: expected exit 1, got $rc"
elif [[ $(wc -c <"$T/err") -gt 4096 ]]; then
	fail "generated: 64 KiB key: $(wc -c <"$T/err") bytes of errors, expected a bounded message"
else
	pass
fi

# Nesting: 10,000 levels of arrays, and of objects, inside a playbook.
deep_open=$(head -c 10000 /dev/zero | tr '\0' '[')
deep_close=$(head -c 10000 /dev/zero | tr '\0' ']')
printf '{"apiVersion": "gameday/v1", "targets": %s%s}\n' "$deep_open" "$deep_close" >"$T/deep.json"
expect_invalid "generated: 10000-deep arrays" "$T/deep.json" "(root)"
{
	printf '{"apiVersion": "gameday/v1", "x": '
	for ((i = 0; i < 10000; i++)); do printf '{"a":'; done
	printf '1'
	head -c 10000 /dev/zero | tr '\0' '}'
	printf '}\n'
} >"$T/deep-obj.json"
expect_invalid "generated: 10000-deep objects" "$T/deep-obj.json" "(root)"

# Many errors: the report is capped, not unbounded, and still exit 1.
{
	printf '{'
	for ((i = 0; i < 100; i++)); do printf '"unknown%d": %d, ' "$i" "$i"; done
	tail -c +2 "$MIN"
} >"$T/many.json"
expect_invalid "generated: 100 unknown keys" "$T/many.json" "unknown0"
if [[ $(wc -l <"$T/err") -gt 70 ]]; then
	fail "generated: 100 unknown keys: $(wc -l <"$T/err") error lines, expected the list to be capped"
else
	pass
fi

# Injection canaries: shell syntax in every string is data.  Nothing may create the
# canary files, whatever the verdict.  Run from inside the temporary directory so that
# relative names land there too.
mkdir "$T/canary"
C=$T/canary
cat >"$C/literal.json" <<EOF
{
  "apiVersion": "gameday/v1",
  "name": "canary-literal",
  "description": "\$(touch $C/CANARY_desc) \`touch $C/CANARY_tick\`; touch $C/CANARY_semi\\n| touch CANARY_nl\\n-rf",
  "owner": "\$(touch CANARY_owner)",
  "risk": "-rf | touch CANARY_pipe",
  "environment": "test",
  "tier": 4,
  "recovery_plan": { "url": "https://wiki.example.com/\$(touch%20CANARY_url)",
                     "steps": ["\$(touch $C/CANARY_step)", "|| touch CANARY_step2"] },
  "targets": { "tags": { "role": "\$(touch $C/CANARY_tag)", "ssh": "-oProxyCommand=touch CANARY_ssh" } },
  "faults": [
    { "type": "process.kill", "match": { "comm": "\$(touch CN)", "cmdline": "\\\\\$\\\\(touch CANARY\\\\)" } },
    { "type": "disk.fill", "path": "/var/lib/\$(touch $C/CANARY_path)/\`touch CANARY_p2\`", "size": "1MB" }
  ],
  "duration": "1m",
  "steady_state": {
    "probes": [ { "name": "p", "type": "prometheus", "url": "http://prometheus.example.com:9090",
                  "query": "up\$(touch $C/CANARY_query)" } ],
    "sla": [ "p.value > 0" ]
  }
}
EOF
cat >"$C/rejected.json" <<EOF
{
  "apiVersion": "gameday/v1",
  "name": "\$(touch $C/CANARY_name)",
  "owner": "team",
  "environment": "test",
  "tier": 4,
  "targets": { "tags": {} },
  "faults": [
    { "type": "process.kill", "match": { "unit": "\`touch CANARY_unit\`.service" } },
    { "type": "network.bandwidth", "rate": "1mbit", "device": "\$(touch CN)" },
    { "type": "disk.fill", "path": "; touch $C/CANARY_rel", "size": "1MB" }
  ],
  "duration": "1m",
  "schedule": { "timezone": "\$(touch CANARY_tz)",
                "windows": [ { "days": ["mon"], "start": "09:00", "end": "17:00" } ] }
}
EOF
(
	cd "$C"
	set +e
	${TO[@]+"${TO[@]}"} "$GD" playbook validate literal.json >"$T/out" 2>"$T/err"
	echo $? >"$T/rc-literal"
	${TO[@]+"${TO[@]}"} "$GD" playbook print literal.json >"$T/print-literal" 2>/dev/null
	${TO[@]+"${TO[@]}"} "$GD" playbook validate rejected.json >/dev/null 2>"$T/err-rejected"
	echo $? >"$T/rc-rejected"
	${TO[@]+"${TO[@]}"} "$GD" playbook validate --json rejected.json >/dev/null 2>&1
	${TO[@]+"${TO[@]}"} "$GD" playbook validate '$(touch CANARY_arg).json' >/dev/null 2>&1
	${TO[@]+"${TO[@]}"} "$GD" playbook validate "\`touch CANARY_arg2\`" >/dev/null 2>&1
	exit 0
)
rc=$(cat "$T/rc-literal")
if [[ $rc -ne 0 ]]; then
	fail "canary: literal shell text in free-text fields: expected valid, exit $rc: $(head -n 1 "$T/err")"
else
	pass
	if grep -qF "\$(touch $C/CANARY_desc)" "$T/print-literal"; then
		pass
	else
		fail "canary: print does not keep the description's text literally"
	fi
fi
rc=$(cat "$T/rc-rejected")
if [[ $rc -ne 1 ]]; then
	fail "canary: shell text in name/unit/device/path/timezone: expected exit 1, got $rc"
else
	for p in name 'faults[0].match.unit' 'faults[1].device' 'faults[2].path' schedule.timezone; do
		cp "$T/err-rejected" "$T/err"
		has_err_line "$p" && pass || fail "canary: no error at $p"
	done
fi
created=$(find "$C" \( -name "CANARY*" -o -name CN \) 2>/dev/null | head -n 5 | tr "\n" " ")
if [[ -n $created ]]; then
	fail "canary: files were created: $created"
else
	pass
fi

# --- the command line.
usage_case() {
	local what=$1 want=$2
	shift 2
	gd "$@"
	if crashed; then
		fail "cli: $what: crashed or hung (exit $rc)"
	elif [[ $rc -ne $want ]]; then
		fail "cli: $what: expected exit $want, got $rc"
	else
		pass
	fi
}
usage_case "no arguments" 2
usage_case "playbook without subcommand" 2 playbook
usage_case "playbook validate without FILE" 2 playbook validate
usage_case "playbook validate with two FILEs" 2 playbook validate "$MIN" "$MIN"
usage_case "playbook validate --bogus" 2 playbook validate --bogus "$MIN"
usage_case "playbook print without FILE" 2 playbook print
usage_case "unknown playbook subcommand" 2 playbook frobnicate "$MIN"
usage_case "unknown command" 2 frobnicate
usage_case "unknown global option" 2 --bogus playbook validate "$MIN"
usage_case "--help" 0 --help
usage_case "nonexistent file (validate)" 1 playbook validate "$T/does-not-exist.json"
usage_case "nonexistent file (print)" 1 playbook print "$T/does-not-exist.json"
usage_case "a directory" 1 playbook validate "$T"
gd_in "$MIN" playbook validate -
[[ $rc -eq 0 ]] && pass || fail "cli: validate - (stdin): exit $rc: $(first_err)"
gd playbook validate --json "$MIN"
if [[ $rc -eq 0 ]] && grep -qF '"valid":true' "$T/out"; then
	pass
else
	fail "cli: validate --json of a valid playbook: exit $rc, no \"valid\":true"
fi

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
