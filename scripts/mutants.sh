#!/usr/bin/env bash
# Mutation testing of the code that decides who gets in: gremlins changes
# the code one small step at a time (a condition negated, a boundary moved,
# an operator swapped) and runs the package's tests against each change. A
# change that no test notices ("LIVED") is a hole in the tests, or an
# equivalent change (RELEASING.md lists those known to be).
#
# Usage: scripts/mutants.sh [package dir...] (default: $MUTANTS_PKGS)
# Environment:
#   GREMLINS                     the gremlins binary (make mutants installs bin/gremlins-<version>)
#   MUTANTS_WORKERS              mutants tested at once (default 1: the tests of
#                                one package already use every core)
#   MUTANTS_TIMEOUT_COEFFICIENT  a mutant's test run may take this many times
#                                the unmutated run (default 10: a mutant's run
#                                builds its package again, which for a small
#                                package takes longer than its tests)
#   MUTANTS_BUDGET               a bound on each package's run (default 40m)
#
# Packages of the core module are tested in place; an adapter in its own
# module is copied to a temporary directory with a go.work that points its
# requirement of the core at this checkout (gremlins copies a module, and
# the repository's go.work would not follow it). Tests run without -race:
# each mutant would otherwise cost ten times as much.
#
# It prints each package's efficacy (killed / (killed + lived)) and every
# mutant that lived, then the totals; it exits non-zero if a run failed,
# not because mutants lived (the efficacy is read, not enforced).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
gremlins=${GREMLINS:-$(ls "$root"/bin/gremlins-* 2>/dev/null | tail -1)}
if [ ! -x "$gremlins" ]; then
	echo "gremlins not found: run make mutants, which installs it into bin/" >&2
	exit 1
fi
workers=${MUTANTS_WORKERS:-1}
coefficient=${MUTANTS_TIMEOUT_COEFFICIENT:-10}
# gremlins times the unmutated run to set the mutants' timeout: a cached
# test result would make that time, and so the timeout, next to nothing.
# go vet runs with make test; here it would only slow each mutant down.
export GOFLAGS="-count=1 -vet=off${GOFLAGS:+ $GOFLAGS}"
budget=${MUTANTS_BUDGET:-40m}
pkgs=("$@")
if [ ${#pkgs[@]} -eq 0 ]; then
	read -r -a pkgs <<<"${MUTANTS_PKGS:-middleware jwks scopes adapters/nethttp adapters/ginguard adapters/echoguard}"
fi
core=$(awk '/^module /{print $2; exit}' go.mod)
goversion=$(awk '/^go /{print $2; exit}' go.mod)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0
killed_all=0 lived_all=0 timedout_all=0 notcovered_all=0
for pkg in "${pkgs[@]}"; do
	pkg=${pkg#./}
	log=$tmp/$(echo "$pkg" | tr / _).log
	echo "== $pkg"
	if [ -f "$pkg/go.mod" ]; then
		# Its own module: a copy beside a go.work of its own. Its
		# siblings' requirements (v0.1.0, not published) point here.
		work=$tmp/$(basename "$pkg")
		mkdir -p "$work"
		cp -R "$pkg/." "$work/"
		{
			echo "go $goversion"
			echo "use ."
			grep -oE "^\s+$core(/[^ ]+)? v0\.1\.0" "$pkg/go.mod" | while read -r mod _; do
				echo "replace $mod v0.1.0 => $root${mod#"$core"}"
			done
		} >"$work/go.work"
		dir=$work target=.
	else
		dir=$root target=./$pkg
	fi
	if (cd "$dir" && timeout "$budget" "$gremlins" unleash --workers "$workers" \
		--timeout-coefficient "$coefficient" "$target") >"$log" 2>&1; then
		:
	else
		echo "gremlins failed or ran out of its $budget on $pkg:"
		cat "$log"
		status=1
		continue
	fi
	grep -E '^ *(LIVED|TIMED OUT|NOT VIABLE)' "$log" | sed 's/^ */  /' || true
	grep -E '^(Killed|Timed out|Test efficacy|Mutator coverage)' "$log" | sed 's/^/  /'
	read -r killed lived notcovered < <(sed -nE 's/^Killed: ([0-9]+), Lived: ([0-9]+), Not covered: ([0-9]+).*/\1 \2 \3/p' "$log")
	timedout=$(sed -nE 's/^Timed out: ([0-9]+),.*/\1/p' "$log")
	killed_all=$((killed_all + killed)) lived_all=$((lived_all + lived))
	timedout_all=$((timedout_all + ${timedout:-0})) notcovered_all=$((notcovered_all + notcovered))
done
if [ $((killed_all + lived_all)) -gt 0 ]; then
	echo "== all: killed $killed_all, lived $lived_all, timed out $timedout_all, not covered $notcovered_all;" \
		"efficacy $(awk "BEGIN{printf \"%.2f\", 100*$killed_all/($killed_all+$lived_all)}")%"
fi
exit $status
