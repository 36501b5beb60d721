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
#   MUTANTS_WORKERS              mutants tested at once (default 2: a package's
#                                tests run mostly one at a time, so two workers
#                                keep two cores busy)
#   MUTANTS_TIMEOUT_COEFFICIENT  a mutant's test run may take this many times
#                                the unmutated run (default 10: a mutant's run
#                                builds its package again, which for a small
#                                package takes longer than its tests)
#   MUTANTS_BUDGET               a bound on each package's run (default 40m); a
#                                run that reaches it reports what it tested
#   MUTANTS_EXCLUDE              a regexp of files to leave out (gremlins'
#                                --exclude-files), to split a long run
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
workers=${MUTANTS_WORKERS:-2}
coefficient=${MUTANTS_TIMEOUT_COEFFICIENT:-10}
# gremlins times the unmutated run to set the mutants' timeout: a cached
# test result would make that time, and so the timeout, next to nothing.
# go vet runs with make test; here it would only slow each mutant down.
export GOFLAGS="-count=1 -vet=off${GOFLAGS:+ $GOFLAGS}"
budget=${MUTANTS_BUDGET:-40m}
pkgs=("$@")
if [ ${#pkgs[@]} -eq 0 ]; then
	# The core's packages that decide who gets in, and every adapter.
	read -r -a pkgs <<<"${MUTANTS_PKGS:-middleware jwks scopes $(ls -d adapters/*/ | tr '\n' ' ')}"
fi
core=$(awk '/^module /{print $2; exit}' go.mod)
goversion=$(awk '/^go /{print $2; exit}' go.mod)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0
killed_all=0 lived_all=0 timedout_all=0 notcovered_all=0
for pkg in "${pkgs[@]}"; do
	pkg=${pkg#./} pkg=${pkg%/}
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
	exclude=()
	if [ -n "${MUTANTS_EXCLUDE:-}" ]; then
		exclude=(--exclude-files "$MUTANTS_EXCLUDE")
	fi
	# The log streams one line per mutant tested: the counts come from
	# those lines, so that a run stopped by the budget still reports what
	# it tested.
	rc=0
	(cd "$dir" && TMPDIR=$tmp timeout --kill-after=30s "$budget" "$gremlins" unleash --workers "$workers" \
		--timeout-coefficient "$coefficient" "${exclude[@]}" "$target") >"$log" 2>&1 || rc=$?
	count() { grep -cE "^ *$1 " "$log" || true; }
	killed=$(count KILLED) lived=$(count LIVED) timedout=$(count 'TIMED OUT') notcovered=$(count 'NOT COVERED')
	if [ "$rc" -eq 124 ]; then
		echo "  the budget of $budget ran out: the counts below are of the mutants tested by then"
		status=1
	elif [ "$rc" -ne 0 ] || ! grep -q '^Mutation testing completed' "$log"; then
		echo "gremlins failed on $pkg (exit status $rc):"
		cat "$log"
		status=1
		continue
	fi
	grep -E '^ *(LIVED|TIMED OUT|NOT VIABLE)' "$log" | sed 's/^ */  /' || true
	echo "  killed $killed, lived $lived, timed out $timedout (caught: a hang fails go test), not covered $notcovered;" \
		"efficacy $(awk "BEGIN{n=$killed+$lived; printf \"%.2f\", n ? 100*$killed/n : 100}")%"
	killed_all=$((killed_all + killed)) lived_all=$((lived_all + lived))
	timedout_all=$((timedout_all + timedout)) notcovered_all=$((notcovered_all + notcovered))
done
if [ $((killed_all + lived_all)) -gt 0 ]; then
	echo "== all: killed $killed_all, lived $lived_all, timed out $timedout_all, not covered $notcovered_all;" \
		"efficacy $(awk "BEGIN{printf \"%.2f\", 100*$killed_all/($killed_all+$lived_all)}")%"
fi
exit $status
