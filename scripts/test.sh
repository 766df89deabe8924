#!/usr/bin/env bash
# The README's test command, and what CI runs (.ci/run calls it).
#   1. installs the Debian packages the build and tests need (scripts/install-deps.sh);
#   2. builds with gcc and -Werror, runs every ctest test (unit, playbook, fuzz corpus
#      replay, integration), then the README's demo (scripts/demo.sh) on that build;
#   3. builds with clang under AddressSanitizer + UndefinedBehaviorSanitizer and runs every
#      test again (the seccomp sandbox is not enforced there: see common/sandbox.h);
#   4. builds the libFuzzer targets and fuzzes each for GD_FUZZ_SECONDS (default 20);
#   5. runs tests/checksrc.sh (banned calls, shell use).
# Build trees go to out/ (or $GD_OUT).  Ends with "gameday: N passed, N failed".
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
out=${GD_OUT:-$src/out}
fuzz_seconds=${GD_FUZZ_SECONDS:-20}
jobs=$(nproc 2>/dev/null || echo 2)
passed=0
failed=0
start=$(date +%s)

stage() { printf '\n==== %s\n' "$*"; }

# Runs ctest in build dir $1 with extra arguments; adds its counts to the totals.
run_ctest() {
	local dir=$1 log rc=0
	shift
	log=$(mktemp)
	(cd "$dir" && ctest --output-on-failure -j"$jobs" "$@") 2>&1 | tee "$log" || rc=$?
	local line
	line=$(grep -E '^[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -1 || true)
	rm -f "$log"
	if [ -z "$line" ]; then
		echo "test.sh: ctest in $dir printed no summary" >&2
		failed=$((failed + 1))
		return
	fi
	local nfail total
	nfail=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/' <<<"$line")
	total=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\2/' <<<"$line")
	passed=$((passed + total - nfail))
	failed=$((failed + nfail))
	if [ "$rc" -ne 0 ] && [ "$nfail" -eq 0 ]; then
		failed=$((failed + 1))
	fi
}

stage "dependencies"
"$src/scripts/install-deps.sh"

stage "build: gcc, -Werror"
cmake -S "$src" -B "$out/gcc" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGD_WERROR=ON \
	-DGD_BUILD_TESTS=ON >/dev/null
cmake --build "$out/gcc" -j"$jobs"

stage "tests: every label"
run_ctest "$out/gcc" -LE soak

stage "the README's demo (scripts/demo.sh), on this build"
if GD_DEMO_BUILD="$out/gcc" GD_DEMO_DIR="$out/demo-run" "$src/scripts/demo.sh" \
	>"$out/demo.log" 2>&1; then
	sed -n '/== summary/,$p' "$out/demo.log"
	passed=$((passed + 1))
else
	echo "demo: FAILED (the run was not aborted and reverted); its output:"
	tail -80 "$out/demo.log"
	failed=$((failed + 1))
fi

stage "build: clang, AddressSanitizer + UndefinedBehaviorSanitizer"
CC=clang cmake -S "$src" -B "$out/asan" -DCMAKE_BUILD_TYPE=Debug -DGD_WERROR=ON \
	-DGD_SANITIZE="address;undefined" >/dev/null
cmake --build "$out/asan" -j"$jobs"

stage "tests under sanitizers: every label"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	run_ctest "$out/asan" -L 'unit|playbook|fuzz|integration'

stage "fuzzing: libFuzzer, ${fuzz_seconds}s per target"
CC=clang cmake -S "$src" -B "$out/fuzz" -DCMAKE_BUILD_TYPE=Debug -DGD_WERROR=ON \
	-DGD_BUILD_FUZZERS=ON -DGD_SANITIZE="address;undefined" >/dev/null
cmake --build "$out/fuzz" -j"$jobs"
for f in "$src"/tests/fuzz/fuzz_*.c; do
	name=$(basename "$f" .c)
	work=$(mktemp -d)
	if "$out/fuzz/tests/fuzz/$name" -max_total_time="$fuzz_seconds" -rss_limit_mb=2048 \
		-artifact_prefix="$work/" "$work" "$src/tests/fuzz/corpus/$name" \
		>"$work/log" 2>&1; then
		echo "fuzz $name: $(grep -Eo '#[0-9]+' "$work/log" | tail -1 | tr -d '#') runs, nothing found"
		passed=$((passed + 1))
	else
		echo "fuzz $name: FAILED"
		tail -60 "$work/log"
		failed=$((failed + 1))
		ls "$work"/crash-* "$work"/leak-* "$work"/timeout-* 2>/dev/null || true
	fi
	rm -rf "$work"
done

stage "checksrc"
if "$src/tests/checksrc.sh" "$src"; then
	passed=$((passed + 1))
else
	failed=$((failed + 1))
fi

stage "done in $(($(date +%s) - start))s"
echo "gameday: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
