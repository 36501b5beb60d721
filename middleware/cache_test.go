package middleware

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

func cacheLen(c *cache) int {
	n := 0
	c.m.Range(func(any, any) bool { n++; return true })
	return n
}

// TestCacheBound: the cache never keeps more tokens than MaxEntries, and
// makes room by dropping the token inserted longest ago.
func TestCacheBound(t *testing.T) {
	c := newCache(CacheConfig{MaxEntries: 8})
	now := time.Now()
	for i := range 100 {
		c.put(fmt.Sprintf("token-%03d", i), &cacheEntry{expires: now.Add(time.Hour)}, now)
		if n := cacheLen(c); n > 8 {
			t.Fatalf("after %d insertions: %d entries, want at most 8", i+1, n)
		}
	}
	for i := 92; i < 100; i++ {
		if _, ok := c.m.Load(fmt.Sprintf("token-%03d", i)); !ok {
			t.Errorf("token-%03d, among the last 8 inserted, is gone", i)
		}
	}
	// Inserting a token that is there takes no new slot.
	for range 20 {
		c.put("token-099", &cacheEntry{expires: now.Add(time.Hour)}, now)
	}
	if _, ok := c.m.Load("token-092"); !ok {
		t.Error("re-inserting a present token evicted another")
	}
}

// TestCacheBoundConcurrent: under concurrent insertions the bound holds once
// they end, whatever their interleaving (run with -race).
func TestCacheBoundConcurrent(t *testing.T) {
	c := newCache(CacheConfig{MaxEntries: 64})
	now := time.Now()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				// Overlapping tokens between goroutines: the same token
				// is inserted concurrently, as two requests with one new
				// token would.
				c.put(fmt.Sprintf("token-%d", (g*250+i)%1500), &cacheEntry{expires: now.Add(time.Hour)}, now)
			}
		})
	}
	wg.Wait()
	if n := cacheLen(c); n > 64 {
		t.Fatalf("%d entries, want at most 64", n)
	}
}
