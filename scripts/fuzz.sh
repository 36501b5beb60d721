#!/usr/bin/env bash
# Runs every fuzz target of every module for the given time (default 5s).
set -euo pipefail
fuzztime=${1:-5s}
cd "$(dirname "$0")/.."
status=0
while IFS= read -r file; do
	dir=$(dirname "$file")
	mod=$dir
	while [ ! -f "$mod/go.mod" ]; do mod=$(dirname "$mod"); done
	rel=${dir#"$mod"}
	for name in $(grep -oE '^func (Fuzz[A-Za-z0-9_]+)' "$file" | awk '{print $2}'); do
		echo "fuzz $dir $name ($fuzztime)"
		if ! (cd "$mod" && go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" ".${rel}" >/tmp/fuzz.$$.log 2>&1); then
			cat /tmp/fuzz.$$.log
			status=1
		else
			grep -E '^(ok|PASS)' /tmp/fuzz.$$.log | tail -1
		fi
	done
done < <(grep -rl --include='*_test.go' -E '^func Fuzz' . | grep -v node_modules | sort)
rm -f /tmp/fuzz.$$.log
exit $status
