package middleware

import (
	"context"
	"crypto/rand"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/logtoguard/logtoguard/logtotest"
)

// cacheBench returns a cache holding one verified token, an entry for it,
// and 4096 other token-sized keys for churn.
func cacheBench(b *testing.B) (*cache, string, *cacheEntry, []string) {
	b.Helper()
	iss := logtotest.New(b)
	v, err := New(Config{Endpoint: iss.Endpoint(), Audiences: []string{"https://api.example.com"}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { v.Close() })
	if err := v.WaitReady(context.Background()); err != nil {
		b.Fatal(err)
	}
	tok := iss.M2MToken("inventory-sync", "https://api.example.com", "read:products")
	if _, err := v.Verify(context.Background(), tok); err != nil {
		b.Fatal(err)
	}
	verified, _ := v.cache.m.Load(tok)
	v0 := verified.(*cacheEntry)
	e := &cacheEntry{claims: v0.claims, set: v0.set, key: v0.key, expires: v0.claims.ExpiresAt}
	c := newCache(CacheConfig{MaxEntries: 1024})
	c.put(tok, e, time.Now())
	others := make([]string, 4096)
	for i := range others {
		others[i] = rand.Text() + tok[26:]
	}
	return c, tok, e, others
}

// churn inserts the others in turn, each evicting an entry once the cache is
// full, until stop is closed; it returns the count of inserts.
func churn(c *cache, e *cacheEntry, others []string, stop chan struct{}, wg *sync.WaitGroup) *atomic.Int64 {
	var n atomic.Int64
	wg.Go(func() {
		now := time.Now()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			c.put(others[i%len(others)], e, now)
			n.Add(1)
		}
	})
	return &n
}

// BenchmarkCacheGet is the hit path alone; BenchmarkCacheGetUnderChurn is
// the same while another goroutine inserts new tokens into the full cache as
// fast as it can. Lookups take no lock and insertions only the ring's, so
// hits barely notice.
func BenchmarkCacheGet(b *testing.B) {
	c, tok, _, _ := cacheBench(b)
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := c.get(tok, now); !ok {
			b.Fatal("miss")
		}
	}
}

func BenchmarkCacheGetUnderChurn(b *testing.B) {
	c, tok, e, others := cacheBench(b)
	now := time.Now()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	inserts := churn(c, e, others, stop, &wg)
	b.ReportAllocs()
	misses := 0
	for b.Loop() {
		if _, ok := c.get(tok, now); !ok {
			// Evicted by the churn: put it back, as a re-verification would.
			misses++
			c.put(tok, e, now)
		}
	}
	close(stop)
	wg.Wait()
	b.ReportMetric(float64(inserts.Load())/b.Elapsed().Seconds(), "inserts/s")
	b.ReportMetric(float64(misses)/float64(b.N), "misses/op")
}
