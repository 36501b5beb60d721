#!/usr/bin/env bash
# Runs every fuzz target of every module, one after the other, for the given
# time each (default 5s): `make test` runs them briefly, `make fuzz` for
# longer. For each target it prints the last progress line (executions,
# new interesting inputs). A failure prints the whole log, which names the
# failing input, saved under testdata/fuzz/<target>/ of the package.
#
# Go's fuzzing coordinator can end a run with "context deadline exceeded"
# at the -fuzztime boundary without any failing input (golang/go#75804,
# fixed in Go 1.27): a run that ends so and writes no input is reported as
# that flake, not as a failure.
set -euo pipefail
fuzztime=${1:-5s}
cd "$(dirname "$0")/.."
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
count_inputs() { { find "$1" -type f 2>/dev/null || true; } | wc -l; }
while IFS= read -r file; do
	dir=$(dirname "$file")
	mod=$dir
	while [ ! -f "$mod/go.mod" ]; do mod=$(dirname "$mod"); done
	rel=${dir#"$mod"}
	for name in $(grep -oE '^func (Fuzz[A-Za-z0-9_]+)' "$file" | awk '{print $2}'); do
		echo "fuzz $dir $name ($fuzztime)"
		inputs=$(count_inputs "$dir/testdata/fuzz/$name")
		if (cd "$mod" && go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" -timeout 0 ".${rel}" >"$log" 2>&1); then
			grep -E '^fuzz: elapsed' "$log" | tail -1 || true
			grep -E '^(ok|PASS)' "$log" | tail -1
		elif [ "$(count_inputs "$dir/testdata/fuzz/$name")" -eq "$inputs" ] &&
			grep -qx '    context deadline exceeded' "$log" && ! grep -q 'Failing input written' "$log"; then
			grep -E '^fuzz: elapsed' "$log" | tail -1 || true
			echo "flake: context deadline exceeded at the end of -fuzztime, no failing input (golang/go#75804)"
		else
			cat "$log"
			status=1
		fi
	done
done < <(grep -rl --include='*_test.go' -E '^func Fuzz' . | grep -v node_modules | sort)
exit $status
