package revocation_test

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/logtoguard/logtoguard/revocation"
)

// filled returns a store holding n entries shaped as Logto's events make
// them: mostly suspended users, then removed members, organizations and
// apps. IDs are Logto-sized (12 to 21 characters).
func filled(tb testing.TB, n int) *revocation.Memory {
	tb.Helper()
	now := time.Now()
	m := revocation.NewMemory(revocation.MemoryConfig{MaxEntries: n + 1})
	for i := range n {
		e := revocation.Entry{At: now, Until: now.Add(25 * time.Hour), Reason: "user suspended"}
		switch i % 10 {
		case 0, 1, 2, 3, 4, 5:
			e.Kind, e.Subject = revocation.Subject, fmt.Sprintf("u%011d", i)
		case 6, 7:
			e.Kind, e.Subject, e.Organization = revocation.Member, fmt.Sprintf("u%011d", i), fmt.Sprintf("org%09d", i%500)
			e.Reason = "removed from the organization"
		case 8:
			e.Kind, e.Organization, e.Reason = revocation.Organization, fmt.Sprintf("org%09d", i), "organization deleted"
		default:
			e.Kind, e.Client, e.Reason = revocation.Client, fmt.Sprintf("app%018d", i), "application deleted"
		}
		if err := m.Revoke(context.Background(), e); err != nil {
			tb.Fatal(err)
		}
	}
	return m
}

// BenchmarkMemoryRevoked is the lookup of a token that no entry refuses,
// as nearly every request's is, with 0 and 100,000 entries held.
func BenchmarkMemoryRevoked(b *testing.B) {
	for _, n := range []int{0, 100_000} {
		b.Run(fmt.Sprint("entries=", n), func(b *testing.B) {
			m := filled(b, n)
			tok := revocation.Token{Subject: "u99999999999", Client: "web00000000000000000", Organization: "org000000007", IssuedAt: time.Now()}
			b.ReportAllocs()
			for b.Loop() {
				if _, ok := m.Revoked(tok); ok {
					b.Fatal("refused")
				}
			}
		})
	}
}

// BenchmarkMemoryRevoke is a webhook's write into a store of 100,000
// entries.
func BenchmarkMemoryRevoke(b *testing.B) {
	m := filled(b, 100_000)
	m2 := revocation.NewMemory(revocation.MemoryConfig{MaxEntries: 200_000})
	for _, e := range m.Entries() {
		if err := m2.Revoke(context.Background(), e); err != nil {
			b.Fatal(err)
		}
	}
	now := time.Now()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		e := revocation.Entry{Kind: revocation.Subject, Subject: fmt.Sprintf("x%011d", i%50_000), At: now, Until: now.Add(time.Hour)}
		if err := m2.Revoke(context.Background(), e); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkMemoryBytes reports the heap a store of 100,000 entries holds
// (bytes/entry); the time per op is that of filling it.
func BenchmarkMemoryBytes(b *testing.B) {
	const n = 100_000
	var perEntry float64
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		m := filled(b, n)
		runtime.GC()
		runtime.ReadMemStats(&after)
		perEntry = float64(after.HeapAlloc-before.HeapAlloc) / n
		runtime.KeepAlive(m)
	}
	b.ReportMetric(perEntry, "bytes/entry")
	b.ReportMetric(perEntry*n/(1<<20), "MiB/100k")
}
