#!/usr/bin/env bash
# The cost of the revocation check on a verified-token cache hit, against
# the hit before revocations existed, in one run: BenchmarkCacheHitRevocations
# (middleware/revoke_bench_test.go) here, and the same benchmark on BASE
# (default 9867c43, the last commit without revocations), where there is no
# store, so its entries=0 and entries=100000 rows are both the plain hit.
# The two test binaries run in turn, COUNT rounds (default 6), so that load
# from elsewhere on the machine falls on both alike; benchstat compares them
# (go install golang.org/x/perf/cmd/benchstat@latest).
#
# Both report cpu-ns/op beside sec/op: the CPU time of the process per
# operation, which load from elsewhere inflates much less.
#
# Usage: scripts/bench-revocation.sh   (COUNT=10 BENCHTIME=2s to lengthen)
set -euo pipefail
base=${BASE:-9867c43}
count=${COUNT:-6}
benchtime=${BENCHTIME:-1s}
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

mkdir "$tmp/base"
git -C "$root" archive "$base" | tar -x -C "$tmp/base"
cat >"$tmp/base/middleware/revoke_bench_test.go" <<'GO'
package middleware_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/logtoguard/logtoguard/logtotest"
	"github.com/logtoguard/logtoguard/middleware"
)

// BenchmarkCacheHitRevocations before revocations: the same tokens and
// names, no store (entries is only a name here).
func BenchmarkCacheHitRevocations(b *testing.B) {
	iss := logtotest.New(b)
	tokens := []struct{ name, token string }{
		{"m2m", iss.M2MToken("inventory-sync", api, "read:products", "write:products")},
		{"user-org", iss.OrganizationToken("user-00000001", "spa-000000000001", "org-000000000001", "read:products")},
	}
	for _, n := range []int{0, 100_000} {
		v := newValidator(b, iss, func(c *middleware.Config) { c.AcceptOrganizationTokens = true })
		for _, tok := range tokens {
			b.Run(fmt.Sprintf("token=%s/entries=%d", tok.name, n), func(b *testing.B) {
				ctx := context.Background()
				if _, err := v.Verify(ctx, tok.token); err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				defer cpuMetric(b)()
				for b.Loop() {
					if _, err := v.Verify(ctx, tok.token); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
GO
# cpuMetric, as middleware/cpu_unix_test.go has it now.
cp "$root/middleware/cpu_unix_test.go" "$root/middleware/cpu_other_test.go" "$tmp/base/middleware/"
(cd "$tmp/base" && go test -c -o "$tmp/before.test" ./middleware)
(cd "$root" && go test -c -o "$tmp/after.test" ./middleware)
for i in $(seq "$count"); do
	for which in before after; do
		(cd "$root/middleware" && "$tmp/$which.test" -test.run '^$' -test.bench '^BenchmarkCacheHitRevocations$' \
			-test.benchmem -test.count 1 -test.benchtime "$benchtime") | grep -E '^(Benchmark|goos|goarch|pkg|cpu)' >>"$tmp/$which.txt"
	done
	echo "round $i of $count" >&2
done
bs=$(command -v benchstat || echo "$(go env GOPATH)/bin/benchstat")
if [ -x "$bs" ]; then
	(cd "$tmp" && "$bs" before.txt after.txt)
else
	echo "benchstat not installed (go install golang.org/x/perf/cmd/benchstat@latest); raw results:"
	cat "$tmp/before.txt" "$tmp/after.txt"
fi
