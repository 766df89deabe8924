#!/usr/bin/env bash
# Greps the C sources for calls we never make (STYLE.md "Untrusted input", DESIGN.md
# invariant 6): no shell, no exec of other programs, no unbounded string functions.
# Test code may exec (it starts the binaries under test); fuzz and unit tests may not
# need to, but they are not shipped, so tests/ is checked only for the shell.
set -euo pipefail
src=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$src"
status=0

shipped=$(git ls-files -- '*.c' '*.h' 2>/dev/null | grep -v '^tests/' || true)
if [ -z "$shipped" ]; then
	shipped=$(find common controller agent -name '*.[ch]')
fi

check() {
	local what=$1 pattern=$2 files=$3
	local hits
	# Strip // and /* */ comments on one line and string literals before matching.
	hits=$(for f in $files; do
		sed -E 's://.*$::; s:/\*.*\*/::g; s:"([^"\\]|\\.)*":"":g' "$f" |
			grep -nE "$pattern" | sed "s|^|$f:|"
	done || true)
	if [ -n "$hits" ]; then
		echo "checksrc: $what:"
		echo "$hits"
		status=1
	fi
}

check "shell or program execution (DESIGN.md invariant 6)" \
	'\b(system|popen|execl|execlp|execle|execv|execvp|execvpe|execve|fexecve|posix_spawnp?)[[:space:]]*\(' \
	"$shipped"
check "unbounded or unsafe string functions" \
	'\b(sprintf|vsprintf|strcpy|strcat|gets|strtok|atoi|atol|atoll)[[:space:]]*\(' "$shipped"
check "tests must not use a shell either" '\b(system|popen)[[:space:]]*\(' \
	"$(git ls-files -- 'tests/*.c' 2>/dev/null || true)"

if [ "$status" -eq 0 ]; then
	echo "checksrc: $(echo "$shipped" | wc -w) files clean"
fi
exit "$status"
