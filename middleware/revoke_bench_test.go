package middleware_test

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/logtoguard/logtoguard/logtotest"
	"github.com/logtoguard/logtoguard/middleware"
	"github.com/logtoguard/logtoguard/revocation"
)

// BenchmarkCacheHitRevocations is BenchmarkCacheHit with the revocation
// check that follows every hit, the store holding 0 or 100,000 entries
// (none of them the token's): an M2M token (one ID to look up, its sub being
// its client_id) and a user's organization token (three: sub, client_id and
// the organization). benchmarks/README.md compares it with the hit before
// revocations existed (scripts/bench-revocation.sh).
func BenchmarkCacheHitRevocations(b *testing.B) {
	iss := logtotest.New(b)
	tokens := []struct{ name, token string }{
		{"m2m", iss.M2MToken("inventory-sync", api, "read:products", "write:products")},
		{"user-org", iss.OrganizationToken("user-00000001", "spa-000000000001", "org-000000000001", "read:products")},
	}
	for _, n := range []int{0, 100_000} {
		store := revocation.NewMemory(revocation.MemoryConfig{MaxEntries: n + 1})
		fillRevocations(b, store, n)
		runtime.GC() // the fill's garbage, not the hits', to collect
		v := newValidator(b, iss, func(c *middleware.Config) { c.Revocations = store; c.AcceptOrganizationTokens = true })
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

// fillRevocations records n entries shaped as Logto's events make them:
// mostly suspended users, then removed members, organizations and apps.
func fillRevocations(tb testing.TB, s revocation.Store, n int) {
	tb.Helper()
	now := time.Now()
	for i := range n {
		e := revocation.Entry{At: now, Until: now.Add(25 * time.Hour), Reason: "user suspended"}
		switch i % 10 {
		case 0, 1, 2, 3, 4, 5:
			e.Kind, e.Subject = revocation.Subject, fmt.Sprintf("u%011d", i)
		case 6, 7:
			e.Kind, e.Subject, e.Organization = revocation.Member, fmt.Sprintf("u%011d", i), fmt.Sprintf("org%09d", i%500)
		case 8:
			e.Kind, e.Organization = revocation.Organization, fmt.Sprintf("org%09d", i)
		default:
			e.Kind, e.Client = revocation.Client, fmt.Sprintf("app%017d", i)
		}
		if err := s.Revoke(context.Background(), e); err != nil {
			tb.Fatal(err)
		}
	}
}
