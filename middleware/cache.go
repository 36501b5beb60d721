package middleware

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/logtoguard/logtoguard/jwks"
)

// Defaults of [CacheConfig].
const (
	// DefaultCacheEntries bounds the verified-token cache. An entry holds
	// the token string and its claims: 1.2 KiB for a 526-byte Logto M2M
	// token (BenchmarkCacheEntryBytes), so the default holds about 12 MiB.
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
	// MaxEntries bounds the number of tokens remembered; when full, the
	// token inserted longest ago leaves. Default DefaultCacheEntries.
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

	// clean is 1 + the version of a revocation.Versioned store at which no
	// revocation refused the token; 0 before the first check. A hit whose
	// store is still at that version needs no lookup.
	clean atomic.Uint64
}

// cache maps token strings to verdicts in a sync.Map, whose lookups take
// no lock and write no shared memory: hits scale across cores, even when
// every request presents the same token. Insertions, one per token that
// verified, go through a ring of the inserted tokens under a mutex: when
// the ring is full, the token inserted longest ago leaves the map. The map
// never holds more tokens than the ring has slots.
type cache struct {
	m      sync.Map // string -> *cacheEntry
	maxTTL time.Duration

	mu   sync.Mutex
	ring []string // tokens in the order they were inserted
	next int      // the slot of the next insertion, holding the oldest
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
	return &cache{maxTTL: ttl, ring: make([]string, entries)}
}

// get returns the claims of a token that verified before, if the verdict
// still holds at now.
func (c *cache) get(token string, now time.Time) (*cacheEntry, bool) {
	v, ok := c.m.Load(token)
	if !ok {
		return nil, false
	}
	e := v.(*cacheEntry)
	if !now.Before(e.expires) || e.set.Current(e.key.ID()) != e.key {
		c.m.CompareAndDelete(token, e)
		return nil, false
	}
	return e, true
}

func (c *cache) put(token string, e *cacheEntry, now time.Time) {
	if limit := now.Add(c.maxTTL); limit.Before(e.expires) {
		e.expires = limit
	}
	if _, loaded := c.m.Swap(token, e); loaded {
		return // the token has its slot already
	}
	c.mu.Lock()
	oldest := c.ring[c.next]
	c.ring[c.next] = token
	c.next = (c.next + 1) % len(c.ring)
	c.mu.Unlock()
	// The oldest token may have left already (expired), or been inserted
	// again since, in which case it leaves a little early.
	if oldest != "" && oldest != token {
		c.m.Delete(oldest)
	}
}

// flights lets concurrent requests that carry the same token, not yet in
// the cache, share one signature check: a fleet of machine-to-machine
// clients that start with one freshly issued token costs one check, not
// one per request.
type flights struct {
	mu sync.Mutex
	m  map[string]*flight
}

// flight is one token's check in progress; c and err are set before done
// is closed. Its check runs on ctx, which ends when every request that
// waits on the flight has gone (waiting, under flights.mu, counts them), so
// that a check no one waits for any more leaves admission control's line.
type flight struct {
	done    chan struct{}
	c       *Claims
	err     *Error
	ctx     context.Context
	cancel  context.CancelFunc
	waiting int
}

// join returns the flight in progress for token and false, or starts one
// and returns it and true: the caller then runs the check on the flight's
// ctx and calls land. Either way the request, whose context is ctx, counts
// as waiting on the flight until its ctx ends; leave undoes that (call it
// after the flight has landed too: it stops watching ctx).
func (f *flights) join(ctx context.Context, token string) (fl *flight, first bool, leave func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fl, ok := f.m[token]
	if !ok {
		if f.m == nil {
			f.m = make(map[string]*flight)
		}
		fl = &flight{done: make(chan struct{})}
		// The check is the flight's, not this request's: it goes on while
		// anyone waits, whichever of them ends first.
		fl.ctx, fl.cancel = context.WithCancel(context.WithoutCancel(ctx))
		f.m[token] = fl
	}
	fl.waiting++
	stop := context.AfterFunc(ctx, func() { f.gone(token, fl) })
	return fl, !ok, func() {
		if stop() { // ctx had not ended: this request leaves now
			f.gone(token, fl)
		}
	}
}

// gone counts one request fewer waiting on fl; the last one to go ends
// the flight's check and takes the flight out of the map, so that a later
// request with the same token starts a new one.
func (f *flights) gone(token string, fl *flight) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fl.waiting--
	if fl.waiting > 0 {
		return
	}
	if f.m[token] == fl {
		delete(f.m, token)
	}
	fl.cancel()
}

// land ends the flight of token with its outcome.
func (f *flights) land(token string, fl *flight, c *Claims, err *Error) {
	fl.c, fl.err = c, err
	f.mu.Lock()
	if f.m[token] == fl {
		delete(f.m, token)
	}
	f.mu.Unlock()
	fl.cancel()
	close(fl.done)
}
