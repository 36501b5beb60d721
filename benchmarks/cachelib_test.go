package benchmarks_test

import (
	"context"
	"crypto/rand"
	"hash/maphash"
	mrand "math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dgraph-io/ristretto/v2"
	"github.com/hashicorp/golang-lru/v2/expirable"
	"github.com/maypok86/otter/v2"

	"github.com/logtoguard/logtoguard/middleware"
)

// The verified-token cache maps a token (about 700 bytes for Logto) to a
// small struct pointer and must expire entries. These benchmarks run the
// same workloads on logtoguard's cache, on the sharded map it used before,
// and on three well-kept cache libraries, each configured with a capacity
// and a TTL.

const (
	cacheTTL     = 10 * time.Minute
	tokenBytes   = 700
	hitKeys      = 1024 // tokens in the cache for the hit workloads
	churnCap     = 1024 // capacity for the churn workload
	churnKeys    = 8 * churnCap
	churnOps     = 1 << 16
	defaultCap   = middleware.DefaultCacheEntries
	zipfSkew     = 1.1
	zipfValueOff = 1
)

// cachedEntry is what logtoguard keeps per token: the claims and the time
// the verdict stops holding.
type cachedEntry struct {
	claims  *middleware.Claims
	expires time.Time
}

type tokenCache interface {
	get(token string) (*cachedEntry, bool)
	set(token string, e *cachedEntry)
}

// syncMapRing is the algorithm of logtoguard's middleware/cache.go (whose
// type is unexported): a sync.Map, whose lookups take no lock, the expiry
// checked on the hit, and a ring of the inserted tokens under a mutex that
// drops the token inserted longest ago when the cache is full.
type syncMapRing struct {
	m    sync.Map
	mu   sync.Mutex
	ring []string
	next int
}

func newSyncMapRing(entries int) *syncMapRing { return &syncMapRing{ring: make([]string, entries)} }

func (c *syncMapRing) get(token string) (*cachedEntry, bool) {
	v, ok := c.m.Load(token)
	if !ok {
		return nil, false
	}
	e := v.(*cachedEntry)
	if !time.Now().Before(e.expires) {
		c.m.CompareAndDelete(token, e)
		return nil, false
	}
	return e, true
}

func (c *syncMapRing) set(token string, e *cachedEntry) {
	if _, loaded := c.m.Swap(token, e); loaded {
		return
	}
	c.mu.Lock()
	oldest := c.ring[c.next]
	c.ring[c.next] = token
	c.next = (c.next + 1) % len(c.ring)
	c.mu.Unlock()
	if oldest != "" && oldest != token {
		c.m.Delete(oldest)
	}
}

// shardedMap is the algorithm logtoguard's cache had before, for
// comparison: maphash-selected shards, each a map under an RWMutex, a read
// lock per hit, and a random entry evicted when a shard is full.
type shardedMap struct {
	seed   maphash.Seed
	shards []mapShard
	mask   uint64
}

type mapShard struct {
	mu  sync.RWMutex
	m   map[string]*cachedEntry
	cap int
}

func newShardedMap(entries int) *shardedMap {
	n := 1
	for n < 8*runtime.GOMAXPROCS(0) && n < 256 {
		n <<= 1
	}
	for n > 1 && entries/n < 16 {
		n >>= 1
	}
	c := &shardedMap{seed: maphash.MakeSeed(), shards: make([]mapShard, n), mask: uint64(n - 1)}
	per := (entries + n - 1) / n
	for i := range c.shards {
		c.shards[i].m = make(map[string]*cachedEntry)
		c.shards[i].cap = per
	}
	return c
}

func (c *shardedMap) get(token string) (*cachedEntry, bool) {
	s := &c.shards[maphash.String(c.seed, token)&c.mask]
	s.mu.RLock()
	e := s.m[token]
	s.mu.RUnlock()
	if e == nil || !time.Now().Before(e.expires) {
		return nil, false
	}
	return e, true
}

func (c *shardedMap) set(token string, e *cachedEntry) {
	s := &c.shards[maphash.String(c.seed, token)&c.mask]
	s.mu.Lock()
	if len(s.m) >= s.cap {
		if _, ok := s.m[token]; !ok {
			for k := range s.m {
				delete(s.m, k)
				break
			}
		}
	}
	s.m[token] = e
	s.mu.Unlock()
}

type otterCache struct {
	c *otter.Cache[string, *cachedEntry]
}

func newOtter(capacity int) tokenCache {
	return otterCache{otter.Must(&otter.Options[string, *cachedEntry]{
		MaximumSize:      capacity,
		ExpiryCalculator: otter.ExpiryWriting[string, *cachedEntry](cacheTTL),
	})}
}

func (o otterCache) get(token string) (*cachedEntry, bool) { return o.c.GetIfPresent(token) }
func (o otterCache) set(token string, e *cachedEntry)      { o.c.Set(token, e) }

type ristrettoCache struct {
	c *ristretto.Cache[string, *cachedEntry]
}

func newRistretto(tb testing.TB, capacity int) tokenCache {
	c, err := ristretto.NewCache(&ristretto.Config[string, *cachedEntry]{
		NumCounters:        int64(10 * capacity), // ristretto's advice: 10x the entries
		MaxCost:            int64(capacity),      // cost 1 per entry
		BufferItems:        64,
		IgnoreInternalCost: true, // count entries, not bytes
	})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(c.Close)
	return ristrettoCache{c}
}

func (r ristrettoCache) get(token string) (*cachedEntry, bool) { return r.c.Get(token) }
func (r ristrettoCache) set(token string, e *cachedEntry)      { r.c.SetWithTTL(token, e, 1, cacheTTL) }

type lruCache struct {
	c *expirable.LRU[string, *cachedEntry]
}

func newLRU(capacity int) tokenCache {
	return lruCache{expirable.NewLRU[string, *cachedEntry](capacity, nil, cacheTTL)}
}

func (l lruCache) get(token string) (*cachedEntry, bool) { return l.c.Get(token) }
func (l lruCache) set(token string, e *cachedEntry)      { l.c.Add(token, e) }

var cacheLibs = []struct {
	name string
	new  func(tb testing.TB, capacity int) tokenCache
}{
	{"logtoguard", func(_ testing.TB, n int) tokenCache { return newSyncMapRing(n) }},
	{"sharded-map", func(_ testing.TB, n int) tokenCache { return newShardedMap(n) }},
	{"otter", func(_ testing.TB, n int) tokenCache { return newOtter(n) }},
	{"ristretto", newRistretto},
	{"golang-lru-expirable", func(_ testing.TB, n int) tokenCache { return newLRU(n) }},
}

// randomTokens returns n distinct strings of tokenBytes base64url
// characters, like Logto tokens.
func randomTokens(n int) []string {
	toks := make([]string, n)
	for i := range toks {
		var s []byte
		for len(s) < tokenBytes {
			s = append(s, rand.Text()...)
		}
		toks[i] = string(s[:tokenBytes])
	}
	return toks
}

func newCachedEntry() *cachedEntry {
	return &cachedEntry{claims: &middleware.Claims{Subject: "inventory-sync"}, expires: time.Now().Add(time.Hour)}
}

// fill puts every token in c and checks that c returns them all. ristretto
// applies writes through a buffer that drops them under load, so it is
// waited for and given the dropped ones again.
func fill(tb testing.TB, c tokenCache, toks []string) {
	tb.Helper()
	missing := toks
	for range 10 {
		for _, t := range missing {
			c.set(t, newCachedEntry())
		}
		settle(c)
		var still []string
		for _, t := range missing {
			if _, ok := c.get(t); !ok {
				still = append(still, t)
			}
		}
		if missing = still; len(missing) == 0 {
			return
		}
	}
	tb.Fatalf("%T: %d of %d tokens not cached after set", c, len(missing), len(toks))
}

// settle applies the writes and evictions that ristretto and otter keep in
// buffers.
func settle(c tokenCache) {
	switch c := c.(type) {
	case ristrettoCache:
		c.c.Wait()
	case otterCache:
		c.c.CleanUp()
	}
}

// BenchmarkCache compares the caches on three workloads:
//
//   - hit: hitKeys tokens cached (capacity DefaultCacheEntries), each get
//     a hit, cycling through them; serial and parallel. logtoguard-verify
//     is the whole Validator.Verify cache hit on as many real tokens.
//   - churn: capacity churnCap, gets over churnKeys tokens drawn from a
//     Zipf distribution, and a set after every miss, so the cache evicts
//     all the time; the hit ratio is reported as hit%.
func BenchmarkCache(b *testing.B) {
	toks := randomTokens(churnKeys)
	hot := toks[:hitKeys]
	for _, lib := range cacheLibs {
		c := lib.new(b, defaultCap)
		fill(b, c, hot)
		b.Run("hit/"+lib.name, func(b *testing.B) {
			b.ReportAllocs()
			defer cpuMetric(b)()
			i := 0
			for b.Loop() {
				if _, ok := c.get(hot[i%hitKeys]); !ok {
					b.Fatal("miss")
				}
				i++
			}
		})
		b.Run("hit-parallel/"+lib.name, func(b *testing.B) {
			b.ReportAllocs()
			defer cpuMetric(b)()
			b.RunParallel(func(pb *testing.PB) {
				i := mrand.IntN(hitKeys)
				for pb.Next() {
					if _, ok := c.get(hot[i%hitKeys]); !ok {
						b.Error("miss")
						return
					}
					i++
				}
			})
		})
	}
	benchVerifyHits(b)

	seq := zipfSequence(churnOps, churnKeys)
	for _, lib := range cacheLibs {
		b.Run("churn/"+lib.name, func(b *testing.B) {
			c := lib.new(b, churnCap)
			var hits, ops int
			b.ReportAllocs()
			defer cpuMetric(b)()
			i := 0
			for b.Loop() {
				t := toks[seq[i%churnOps]]
				if _, ok := c.get(t); ok {
					hits++
				} else {
					c.set(t, newCachedEntry())
				}
				ops++
				i++
			}
			b.ReportMetric(100*float64(hits)/float64(ops), "hit%")
		})
		b.Run("churn-parallel/"+lib.name, func(b *testing.B) {
			c := lib.new(b, churnCap)
			var hits, ops atomic.Int64
			b.ReportAllocs()
			defer cpuMetric(b)()
			b.RunParallel(func(pb *testing.PB) {
				var h, n int64
				i := mrand.IntN(churnOps)
				for pb.Next() {
					t := toks[seq[i%churnOps]]
					if _, ok := c.get(t); ok {
						h++
					} else {
						c.set(t, newCachedEntry())
					}
					n++
					i++
				}
				hits.Add(h)
				ops.Add(n)
			})
			b.ReportMetric(100*float64(hits.Load())/float64(ops.Load()), "hit%")
		})
	}
}

// benchVerifyHits is the hit workload through Validator.Verify: hitKeys real
// tokens, each verified once before the timer.
func benchVerifyHits(b *testing.B) {
	f := newFixture(b, "ES384")
	v := newLogtoguard(b, f, true)
	ctx := context.Background()
	genuine := make([]string, hitKeys)
	for i := range genuine {
		genuine[i] = f.token()
		if _, err := v.Verify(ctx, genuine[i]); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("hit/logtoguard-verify", func(b *testing.B) {
		b.ReportAllocs()
		defer cpuMetric(b)()
		i := 0
		for b.Loop() {
			if _, err := v.Verify(ctx, genuine[i%hitKeys]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("hit-parallel/logtoguard-verify", func(b *testing.B) {
		b.ReportAllocs()
		defer cpuMetric(b)()
		b.RunParallel(func(pb *testing.PB) {
			i := mrand.IntN(hitKeys)
			for pb.Next() {
				if _, err := v.Verify(ctx, genuine[i%hitKeys]); err != nil {
					b.Error(err)
					return
				}
				i++
			}
		})
	})
}

// zipfSequence returns n indexes in [0, keys) drawn from a Zipf
// distribution with a fixed seed: a few tokens are used often, most rarely.
func zipfSequence(n, keys int) []int {
	z := mrand.NewZipf(mrand.New(mrand.NewPCG(1, 2)), zipfSkew, zipfValueOff, uint64(keys-1))
	seq := make([]int, n)
	for i := range seq {
		seq[i] = int(z.Uint64())
	}
	return seq
}

// TestCachesKeepWhatTheyHold checks that every cache of BenchmarkCache
// returns what was set and stays within its capacity under churn, so the
// benchmarks compare caches that work.
func TestCachesKeepWhatTheyHold(t *testing.T) {
	toks := randomTokens(4 * churnCap)
	for _, lib := range cacheLibs {
		t.Run(lib.name, func(t *testing.T) {
			c := lib.new(t, churnCap)
			fill(t, c, toks[:churnCap/2])
			for _, tok := range toks {
				c.set(tok, newCachedEntry())
			}
			settle(c)
			held := 0
			for _, tok := range toks {
				if _, ok := c.get(tok); ok {
					held++
				}
			}
			// ristretto counts cost approximately; allow it 10%.
			if limit := churnCap + churnCap/10; held > limit {
				t.Errorf("%d of %d tokens held, want at most %d", held, len(toks), limit)
			}
			if held == 0 {
				t.Errorf("no token held after %d sets", len(toks))
			}
		})
	}
}
