#!/usr/bin/env bash
# Runs every fuzz target of every module, one after the other, for the given
# time each (default 5s): `make test` runs them briefly, `make fuzz` for
# longer. For each target it prints the last progress line (executions,
# new interesting inputs). A failure prints the whole log, which names the
# failing input, saved under testdata/fuzz/<target>/ of the package.
#
# The verdict rests on exit statuses and on the files under
# testdata/fuzz/<target>/, never on what a log says:
# - the target's seed corpus runs first as a plain test: it must pass (this
#   also catches a package that does not build);
# - a fuzz run that exits 0 passes; one that leaves a new input under
#   testdata/fuzz/<target>/ has found a crasher and fails;
# - a fuzz run that exits non-zero without a new input is run once more
#   (Go's fuzzing coordinator can end a run so at the -fuzztime boundary,
#   golang/go#75804, fixed in Go 1.27), and fails if that run fails too.
#
# Usage: scripts/fuzz.sh [fuzztime] [regexp of target names]
set -euo pipefail
fuzztime=${1:-5s}
only=${2:-.}
cd "$(dirname "$0")/.."
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
inputs() { { find "$1" -type f 2>/dev/null || true; } | sort; }
# fuzz runs one target; its status: 0 passed, 1 found a crasher, 2 failed
# without one.
fuzz() {
	local mod=$1 pkg=$2 name=$3 corpus=$4 before
	before=$(inputs "$corpus")
	if (cd "$mod" && go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" -timeout 0 "$pkg" >"$log" 2>&1); then
		return 0
	fi
	if [ -n "$(comm -13 <(echo "$before") <(inputs "$corpus"))" ]; then
		return 1
	fi
	return 2
}
while IFS= read -r file; do
	dir=$(dirname "$file")
	mod=$dir
	while [ ! -f "$mod/go.mod" ]; do mod=$(dirname "$mod"); done
	pkg=.${dir#"$mod"}
	for name in $(grep -oE '^func (Fuzz[A-Za-z0-9_]+)' "$file" | awk '{print $2}'); do
		[[ $name =~ $only ]] || continue
		echo "fuzz $dir $name ($fuzztime)"
		corpus=$dir/testdata/fuzz/$name
		if ! (cd "$mod" && go test -run "^${name}\$" -count=1 "$pkg" >"$log" 2>&1); then
			echo "the seed corpus fails:"
			cat "$log"
			status=1
			continue
		fi
		verdict=0
		fuzz "$mod" "$pkg" "$name" "$corpus" || verdict=$?
		if [ "$verdict" -eq 2 ]; then
			echo "exit status non-zero without a new input (golang/go#75804?): running it once more"
			verdict=0
			fuzz "$mod" "$pkg" "$name" "$corpus" || verdict=$?
		fi
		case $verdict in
		0)
			grep -E '^fuzz: elapsed' "$log" | tail -1 || true
			grep -E '^(ok|PASS)' "$log" | tail -1 || true
			;;
		1)
			cat "$log"
			echo "FAIL: $name found a crasher, saved under $corpus"
			status=1
			;;
		*)
			cat "$log"
			echo "FAIL: $name exited non-zero twice"
			status=1
			;;
		esac
	done
done < <(grep -rl --include='*_test.go' -E '^func Fuzz' . | grep -v node_modules | sort)
exit $status
