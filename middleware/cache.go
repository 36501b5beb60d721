package middleware

import (
	"hash/maphash"
	"runtime"
	"sync"
	"time"

	"github.com/logtoguard/logtoguard/jwks"
)

// Defaults of [CacheConfig].
const (
	// DefaultCacheEntries bounds the verified-token cache. An entry holds
	// the token string and its claims: 1.1 KiB for a 526-byte Logto M2M
	// token (BenchmarkCacheEntryBytes), so the default holds about 11 MiB.
	// Only tokens the issuer signed get in; each is at most
	// Config.MaxTokenBytes.
	DefaultCacheEntries = 10_000
	// DefaultCacheMaxTTL bounds how long a verdict is reused, whatever the
	// token's exp: Logto tokens cannot be revoked, but a key removed from
	// the JWKS is noticed at once, and this bounds everything else.
	DefaultCacheMaxTTL = 10 * time.Minute
)

// CacheConfig configures the verified-token cache. A token that verified is
// remembered, keyed by the exact token string, so that the next request
// with it costs a map lookup instead of a signature check. Each hit checks
// again that the token has not expired (with the same leeway) and that the
// key that signed it is still in its issuer's key set. Failures are never
// cached, so only tokens Logto signed can take space.
type CacheConfig struct {
	// Disabled turns the cache off.
	Disabled bool
	// MaxEntries bounds the number of tokens remembered; when full, a random
	// entry is evicted. Default DefaultCacheEntries.
	MaxEntries int
	// MaxTTL bounds how long one verdict is reused. Default
	// DefaultCacheMaxTTL.
	MaxTTL time.Duration
}

type cacheEntry struct {
	claims  *Claims
	set     *jwks.Set
	key     *jwks.Key
	expires time.Time // exp + leeway, or sooner by MaxTTL
}

type cacheShard struct {
	mu  sync.RWMutex
	m   map[string]*cacheEntry
	cap int
}

// cache is a sharded map: hits take one shard's read lock, so they scale
// across cores.
type cache struct {
	seed   maphash.Seed
	shards []cacheShard
	mask   uint64
	maxTTL time.Duration
}

func newCache(cfg CacheConfig) *cache {
	if cfg.Disabled {
		return nil
	}
	entries := cfg.MaxEntries
	if entries <= 0 {
		entries = DefaultCacheEntries
	}
	ttl := cfg.MaxTTL
	if ttl <= 0 {
		ttl = DefaultCacheMaxTTL
	}
	n := 1
	for n < 8*runtime.GOMAXPROCS(0) && n < 256 {
		n <<= 1
	}
	for n > 1 && entries/n < 16 {
		n >>= 1
	}
	c := &cache{seed: maphash.MakeSeed(), shards: make([]cacheShard, n), mask: uint64(n - 1), maxTTL: ttl}
	per := (entries + n - 1) / n
	for i := range c.shards {
		c.shards[i].m = make(map[string]*cacheEntry)
		c.shards[i].cap = per
	}
	return c
}

func (c *cache) shard(token string) *cacheShard {
	return &c.shards[maphash.String(c.seed, token)&c.mask]
}

// get returns the claims of a token that verified before, if the verdict
// still holds at now.
func (c *cache) get(token string, now time.Time) (*Claims, bool) {
	s := c.shard(token)
	s.mu.RLock()
	e := s.m[token]
	s.mu.RUnlock()
	if e == nil {
		return nil, false
	}
	if !now.Before(e.expires) || e.set.Current(e.key.ID()) != e.key {
		s.mu.Lock()
		if s.m[token] == e {
			delete(s.m, token)
		}
		s.mu.Unlock()
		return nil, false
	}
	return e.claims, true
}

func (c *cache) put(token string, e *cacheEntry, now time.Time) {
	if limit := now.Add(c.maxTTL); limit.Before(e.expires) {
		e.expires = limit
	}
	s := c.shard(token)
	s.mu.Lock()
	if len(s.m) >= s.cap {
		if _, ok := s.m[token]; !ok {
			// Map iteration starts at a random place: this evicts a random
			// entry in constant time, so churn never slows the hit path.
			for k := range s.m {
				delete(s.m, k)
				break
			}
		}
	}
	s.m[token] = e
	s.mu.Unlock()
}
