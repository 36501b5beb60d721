package redisstore

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/logtoguard/logtoguard/revocation"
)

// applied is an entry a replica applied, and when.
type applied struct {
	subject string
	at      time.Time
}

// BenchmarkPropagation measures how long a revocation takes to reach the
// other replicas: three replicas on one redis-server over loopback, each
// operation one Revoke on the first, timed from Revoke's return (when a
// webhook receiver answers 2xx) to the moment the later of the other two
// applied the entry to its local copy, after which its Revoked refuses the
// token (checked). It reports the median, the 99th percentile and the
// maximum; run it with -benchtime 1000x for 1,000 revocations
// (benchmarks/README.md). A replica may apply the entry before Revoke has
// returned on the first (Redis publishes before it answers): that counts
// as 0.
func BenchmarkPropagation(b *testing.B) {
	srv := startRedis(b)
	var others [2]chan applied
	stores := []*Store{newTestStore(b, srv.Addr(), Config{}, nil)}
	for i := range others {
		ch := make(chan applied, 1024)
		others[i] = ch
		stores = append(stores, newTestStore(b, srv.Addr(), Config{}, func(e revocation.Entry) {
			ch <- applied{e.Subject, time.Now()}
		}))
	}
	waitReady(b, stores...)
	ctx := context.Background()
	lat := make([]time.Duration, 0, b.N)
	now := time.Now()
	b.ResetTimer()
	for i := range b.N {
		sub := "user-" + strconv.Itoa(i)
		e := revocation.Entry{Kind: revocation.Subject, Subject: sub, At: now, Until: now.Add(time.Hour)}
		if err := stores[0].Revoke(ctx, e); err != nil {
			b.Fatal(err)
		}
		returned := time.Now()
		var last time.Time
		for j, ch := range others {
			select {
			case a := <-ch:
				if a.subject != sub {
					b.Fatalf("replica %d applied %s, want %s", j+1, a.subject, sub)
				}
				if a.at.After(last) {
					last = a.at
				}
			case <-time.After(waitFor):
				b.Fatalf("replica %d: %s not applied after %s", j+1, sub, waitFor)
			}
			if !revoked(stores[j+1], sub) {
				b.Fatalf("replica %d applied %s but does not refuse its token", j+1, sub)
			}
		}
		lat = append(lat, max(last.Sub(returned), 0))
	}
	b.StopTimer()
	slices.Sort(lat)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(percentile(lat, 50)), "p50-ms")
	b.ReportMetric(ms(percentile(lat, 99)), "p99-ms")
	b.ReportMetric(ms(lat[len(lat)-1]), "max-ms")
}

// percentile is the p-th percentile of sorted (nearest rank).
func percentile(sorted []time.Duration, p int) time.Duration {
	i := (len(sorted)*p + 99) / 100
	return sorted[max(i-1, 0)]
}

// BenchmarkRevoked is the request path's cost: Revoked of a token nobody
// revoked and of one revoked, on a store holding 1,000 entries, against
// the bare revocation.Memory it answers from, and with Redis killed (the
// same: Revoked never touches Redis).
func BenchmarkRevoked(b *testing.B) {
	srv := startRedis(b)
	s := newTestStore(b, srv.Addr(), Config{}, nil)
	waitReady(b, s)
	mem := revocation.NewMemory(revocation.MemoryConfig{})
	now := time.Now()
	for i := range 1000 {
		e := revocation.Entry{Kind: revocation.Subject, Subject: "user-" + strconv.Itoa(i), At: now, Until: now.Add(time.Hour)}
		if err := s.Revoke(context.Background(), e); err != nil {
			b.Fatal(err)
		}
		if err := mem.Revoke(context.Background(), e); err != nil {
			b.Fatal(err)
		}
	}
	clean := revocation.Token{Subject: "someone-else", Client: "app", IssuedAt: now.Add(-time.Minute)}
	revokedTok := revocation.Token{Subject: "user-500", Client: "app", IssuedAt: now.Add(-time.Minute)}
	run := func(b *testing.B, st revocation.Store, tok revocation.Token, want bool) {
		b.ReportAllocs()
		for b.Loop() {
			if _, ok := st.Revoked(tok); ok != want {
				b.Fatalf("Revoked = %v, want %v", ok, want)
			}
		}
	}
	for _, tc := range []struct {
		name string
		tok  revocation.Token
		want bool
	}{{"not-revoked", clean, false}, {"revoked", revokedTok, true}} {
		b.Run(tc.name+"/redisstore", func(b *testing.B) { run(b, s, tc.tok, tc.want) })
		b.Run(tc.name+"/memory", func(b *testing.B) { run(b, mem, tc.tok, tc.want) })
	}
	srv.Kill()
	eventually(b, "the store notices Redis is gone", func() bool { return !s.Ready() })
	b.Run("not-revoked/redisstore-redis-down", func(b *testing.B) { run(b, s, clean, false) })
	b.Run("revoked/redisstore-redis-down", func(b *testing.B) { run(b, s, revokedTok, true) })
}
