package jwks

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/logtoguard/logtoguard/internal/plainhttp"
)

// Defaults of [Options].
const (
	// DefaultRefreshInterval is how often the set is fetched in the
	// background. Logto publishes the next key before it signs with it only
	// for a staged rotation; an immediate rotation is picked up at once
	// through the unknown-kid refetch instead. So the interval mostly bounds
	// how long a key that Logto removed keeps verifying, and 10 minutes costs
	// Logto six conditional requests an hour per process.
	DefaultRefreshInterval = 10 * time.Minute
	// DefaultRefetchInterval is the least time between two fetches caused by
	// tokens with an unknown kid. It is short enough that a real rotation
	// during a flood of forged kids is picked up within seconds, and long
	// enough that the flood costs Logto almost nothing.
	DefaultRefetchInterval = 10 * time.Second
	// DefaultFetchTimeout bounds one fetch: discovery plus JWKS.
	DefaultFetchTimeout = 5 * time.Second
	// DefaultMaxBodyBytes bounds a discovery or JWKS response. Logto's set
	// of three RSA-4096 keys is under 3 KiB.
	DefaultMaxBodyBytes = 256 << 10
)

const (
	minBackoff = 250 * time.Millisecond
	maxBackoff = time.Minute
)

// Options configure a [Set]. Either Issuer or URL is required.
type Options struct {
	// Issuer is the expected issuer, such as https://tenant.logto.app/oidc.
	// When URL is empty the JWKS URL is read from
	// Issuer + "/.well-known/openid-configuration", whose "issuer" must equal
	// Issuer exactly, and whose "jwks_uri" must be on the issuer's host (an
	// http:// jwks_uri under an https:// issuer, as Logto reports behind a TLS
	// proxy, is upgraded to https; one that stays http must pass the same
	// rule as URL, see AllowInsecureHTTP).
	Issuer string
	// URL is the JWKS URL, such as https://tenant.logto.app/oidc/jwks. Setting
	// it skips discovery.
	URL string
	// AllowInsecureHTTP allows plain http:// to a host that is not loopback
	// for Issuer, URL, a discovered jwks_uri and redirects, such as a Logto
	// reached as http://logto:3001 on a Docker Compose network. Default
	// false: only localhost, 127.0.0.0/8 and ::1 may be reached over plain
	// http, since keys fetched over it can be replaced by anyone on the way,
	// and with them every token. A redirect from https to http is refused
	// either way.
	AllowInsecureHTTP bool
	// Client makes the requests. Default: a client that follows redirects
	// only on the same host. A given client is copied; if its CheckRedirect
	// is nil, the same-host rule is added. The https-to-http and plain-http
	// rules apply to every redirect, before the client's own CheckRedirect.
	Client *http.Client
	// RefreshInterval is how often the set is fetched in the background.
	// Default [DefaultRefreshInterval].
	RefreshInterval time.Duration
	// RefetchInterval is the least time between fetches triggered by an
	// unknown kid. Default [DefaultRefetchInterval].
	RefetchInterval time.Duration
	// FetchTimeout bounds one fetch. Default [DefaultFetchTimeout].
	FetchTimeout time.Duration
	// MaxBodyBytes bounds a response body. Default [DefaultMaxBodyBytes].
	MaxBodyBytes int64
	// Logger receives fetch failures (Warn) and skipped keys (Debug).
	// Default slog.Default().
	Logger *slog.Logger
	// OnFetch, if set, is called after every fetch attempt with its outcome
	// (nil on success). It must not block.
	OnFetch func(err error)
}

// Key is a public signing key of the set. The same *Key is kept across
// refreshes for as long as the key is published unchanged, so pointer
// equality tells whether a key is still current (see [Set.Current]).
type Key struct {
	id     string
	alg    string
	public crypto.PublicKey
}

// ID returns the key's kid.
func (k *Key) ID() string { return k.id }

// Algorithm returns the JWK "alg" parameter, empty when the JWK has none
// (Logto's RSA keys carry none).
func (k *Key) Algorithm() string { return k.alg }

// Public returns the public key: *ecdsa.PublicKey or *rsa.PublicKey.
func (k *Key) Public() crypto.PublicKey { return k.public }

// algorithms are the JWS algorithms a key set can verify, with the curve an
// ECDSA algorithm needs (nil for RSA). It is the one list: the middleware's
// allowlist and the key parser read it.
var algorithms = []struct {
	name  string
	curve elliptic.Curve
}{
	{"ES256", elliptic.P256()}, {"ES384", elliptic.P384()}, {"ES512", elliptic.P521()},
	{"RS256", nil}, {"RS384", nil}, {"RS512", nil},
	{"PS256", nil}, {"PS384", nil}, {"PS512", nil},
}

// Algorithms returns the JWS algorithms a [Key] can verify: RSA and ECDSA
// (RS*, PS*, ES*). Symmetric algorithms and "none" are never among them.
func Algorithms() []string {
	out := make([]string, len(algorithms))
	for i, a := range algorithms {
		out[i] = a.name
	}
	return out
}

// curveOf returns the curve alg needs (nil for RSA) and whether alg is one
// of [Algorithms].
func curveOf(alg string) (elliptic.Curve, bool) {
	for _, a := range algorithms {
		if a.name == alg {
			return a.curve, true
		}
	}
	return nil, false
}

// Fits reports whether the key can verify signatures of the JWS algorithm
// alg: ES256, ES384 and ES512 need an EC key on P-256, P-384 and P-521;
// RS256/384/512 and PS256/384/512 need an RSA key. A key whose JWK names an
// algorithm fits only that one.
func (k *Key) Fits(alg string) bool {
	if k.alg != "" && k.alg != alg {
		return false
	}
	curve, ok := curveOf(alg)
	if !ok {
		return false
	}
	switch pub := k.public.(type) {
	case *ecdsa.PublicKey:
		return curve != nil && pub.Curve == curve
	case *rsa.PublicKey:
		return curve == nil
	}
	return false
}

// snapshot is one fetched set; it is never modified after it is stored.
type snapshot struct {
	keys map[string]*Key
}

// Set is a self-refreshing JWKS. It is safe for concurrent use.
type Set struct {
	opts   Options
	client *http.Client
	log    *slog.Logger

	snap      atomic.Pointer[snapshot]
	ready     chan struct{}
	readyOnce sync.Once

	mu       sync.Mutex // guards the fields below
	inflight *call
	// closed is set by Close under mu before it waits: a fetch is started
	// (and counted in wg) under mu only while closed is false, so Close's
	// wait covers every fetch there will ever be.
	closed bool
	// lastRefetch is the unix-nano time of the last unknown-kid refetch.
	lastRefetch int64
	jwksURL     string
	etag        string

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	now    func() time.Time
}

type call struct {
	done chan struct{}
	err  error
}

// New validates opts and starts the background fetching. It does not wait
// for the first fetch; use [Set.WaitReady] for that. The set stops when ctx
// ends or [Set.Close] is called.
func New(ctx context.Context, opts Options) (*Set, error) {
	if opts.URL == "" && opts.Issuer == "" {
		return nil, errors.New("jwks: Issuer or URL is required")
	}
	for _, f := range []struct{ name, url string }{{"URL", opts.URL}, {"Issuer", opts.Issuer}} {
		if f.url == "" {
			continue
		}
		if err := checkURL(f.name, f.url, opts.AllowInsecureHTTP); err != nil {
			return nil, err
		}
	}
	if opts.RefreshInterval < 0 || opts.RefetchInterval < 0 || opts.FetchTimeout < 0 || opts.MaxBodyBytes < 0 {
		return nil, errors.New("jwks: intervals, timeout and size must not be negative")
	}
	if opts.RefreshInterval == 0 {
		opts.RefreshInterval = DefaultRefreshInterval
	}
	if opts.RefetchInterval == 0 {
		opts.RefetchInterval = DefaultRefetchInterval
	}
	if opts.FetchTimeout == 0 {
		opts.FetchTimeout = DefaultFetchTimeout
	}
	if opts.MaxBodyBytes == 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	s := &Set{
		opts:    opts,
		client:  safeClient(opts.Client, opts.AllowInsecureHTTP),
		log:     opts.Logger,
		ready:   make(chan struct{}),
		jwksURL: opts.URL,
		now:     time.Now,
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if ctx == nil {
		ctx = context.Background()
	}
	s.ctx, s.cancel = context.WithCancel(ctx)
	s.wg.Add(1)
	go s.run()
	return s, nil
}

func checkURL(field, raw string, allowInsecure bool) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("jwks: bad %s %q: %w", field, raw, err)
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("jwks: %s %q must be absolute http or https", field, raw)
	}
	if !allowInsecure && plainhttp.Remote(u) {
		return fmt.Errorf("jwks: %s %q is plain http to a host that is not loopback: use https, or set AllowInsecureHTTP for a Logto reached on a private network", field, raw)
	}
	return nil
}

// safeClient copies c (or makes a client) and makes redirects stay on the
// same host, so a compromised or misconfigured endpoint cannot point the set
// at keys elsewhere. Whatever the client's own CheckRedirect, a redirect
// never goes from https to http, nor to plain http on a host that is not
// loopback unless allowInsecure.
func safeClient(c *http.Client, allowInsecure bool) *http.Client {
	var out http.Client
	if c != nil {
		out = *c
	}
	next := out.CheckRedirect
	if next == nil {
		next = func(req *http.Request, via []*http.Request) error {
			if len(via) >= 5 {
				return errors.New("jwks: too many redirects")
			}
			if req.URL.Host != via[0].URL.Host {
				return fmt.Errorf("jwks: redirect to another host %q refused", req.URL.Host)
			}
			return nil
		}
	}
	out.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if req.URL.Scheme != "https" {
			for _, prev := range via {
				if prev.URL.Scheme == "https" {
					return fmt.Errorf("jwks: redirect from https to %s refused", req.URL.Redacted())
				}
			}
			if !allowInsecure && plainhttp.Remote(req.URL) {
				return fmt.Errorf("jwks: redirect to plain http on a host that is not loopback (%s) refused; set AllowInsecureHTTP to allow it", req.URL.Redacted())
			}
		}
		return next(req, via)
	}
	return &out
}

// Close stops background work and waits for it to end: once Close has
// returned, no fetch runs and none starts (Key answers from the keys in
// hand, Refresh and WaitReady return [ErrClosed]). It is safe to call more
// than once, and concurrently with any other method.
func (s *Set) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
	return nil
}

// Ready reports whether keys have been loaded at least once.
func (s *Set) Ready() bool { return s.snap.Load() != nil }

// WaitReady waits until keys are loaded or ctx ends. After [Set.Close] it
// returns [ErrClosed], even if keys were loaded.
func (s *Set) WaitReady(ctx context.Context) error {
	if ctx == nil {
		ctx = context.Background()
	}
	// Checked first: select picks at random among ready cases, and a set
	// that was ready and then closed has both.
	if s.ctx.Err() != nil {
		return ErrClosed
	}
	select {
	case <-s.ready:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("jwks: keys not loaded: %w", ctx.Err())
	case <-s.ctx.Done():
		return ErrClosed
	}
}

// Current returns the key with the given kid in the set as it is now,
// without fetching, or nil.
func (s *Set) Current(kid string) *Key {
	snap := s.snap.Load()
	if snap == nil {
		return nil
	}
	return snap.keys[kid]
}

// KIDs returns the kids of the current set.
func (s *Set) KIDs() []string {
	snap := s.snap.Load()
	if snap == nil {
		return nil
	}
	out := make([]string, 0, len(snap.keys))
	for kid := range snap.keys {
		out = append(out, kid)
	}
	return out
}

// Key returns the key with the given kid that fits the JWS algorithm alg.
// When kid is not in the set, Key fetches the set once more if an unknown-kid
// refetch is allowed now (waiting for that fetch, bounded by ctx and the
// fetch timeout; concurrent callers share it) and otherwise answers from the
// keys in hand at once.
//
// Errors: [ErrNotReady] when no keys were ever loaded, [ErrUnknownKID] when
// kid is not in the set, [ErrKeyMismatch] when the key does not fit alg.
func (s *Set) Key(ctx context.Context, kid, alg string) (*Key, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	snap := s.snap.Load()
	if snap == nil || snap.keys[kid] == nil {
		if err := s.refetch(ctx); err != nil && s.snap.Load() == nil {
			return nil, fmt.Errorf("%w: %w", ErrNotReady, err)
		}
		snap = s.snap.Load()
		if snap == nil {
			return nil, ErrNotReady
		}
	}
	k := snap.keys[kid]
	if k == nil {
		return nil, fmt.Errorf("%w: %q", ErrUnknownKID, kid)
	}
	if !k.Fits(alg) {
		return nil, fmt.Errorf("%w: key %q cannot verify %s", ErrKeyMismatch, kid, alg)
	}
	return k, nil
}

// refetch runs an unknown-kid fetch if one is allowed now or joins one that
// is in flight. It never waits for the rate window.
func (s *Set) refetch(ctx context.Context) error {
	s.mu.Lock()
	c := s.inflight
	if c == nil {
		now := s.now().UnixNano()
		if s.lastRefetch != 0 && now-s.lastRefetch < int64(s.opts.RefetchInterval) {
			s.mu.Unlock()
			return ErrRateLimited
		}
		s.lastRefetch = now
		c = s.startLocked()
	}
	s.mu.Unlock()
	select {
	case <-c.done:
		return c.err
	case <-ctx.Done():
		return ctx.Err()
	case <-s.ctx.Done():
		return ErrClosed
	}
}

// Refresh fetches the set now, after any fetch in flight, and waits for
// it. It is not rate-limited; it is meant for operators and tests.
func (s *Set) Refresh(ctx context.Context) error {
	if ctx == nil {
		ctx = context.Background()
	}
	// A fetch already in flight may have read the document before the
	// caller's change: let it end, then fetch again.
	for {
		s.mu.Lock()
		c := s.inflight
		s.mu.Unlock()
		if c == nil {
			break
		}
		select {
		case <-c.done:
		case <-ctx.Done():
			return ctx.Err()
		case <-s.ctx.Done():
			return ErrClosed
		}
	}
	c := s.start()
	select {
	case <-c.done:
		return c.err
	case <-ctx.Done():
		return ctx.Err()
	case <-s.ctx.Done():
		return ErrClosed
	}
}

// start returns the fetch in flight, starting one if there is none. The
// fetch runs on the set's own context so that a caller that gives up does
// not cancel it for the others.
func (s *Set) start() *call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.startLocked()
}

// testHookStart, when set by a test, runs as a fetch is about to start.
var testHookStart func()

func (s *Set) startLocked() *call {
	if s.inflight != nil {
		return s.inflight
	}
	c := &call{done: make(chan struct{})}
	s.inflight = c
	if s.closed || s.ctx.Err() != nil {
		c.err = ErrClosed
		s.inflight = nil
		close(c.done)
		return c
	}
	if testHookStart != nil {
		testHookStart()
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		err := s.fetch(s.ctx)
		s.mu.Lock()
		s.inflight = nil
		c.err = err
		s.mu.Unlock()
		if err == nil {
			// Ready only once the fetch is no longer in flight, so that a
			// fetch asked for after WaitReady is a new one.
			s.markReady()
		}
		close(c.done)
	}()
	return c
}

func (s *Set) run() {
	defer s.wg.Done()
	backoff := minBackoff
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-timer.C:
		}
		c := s.start()
		select {
		case <-c.done:
		case <-s.ctx.Done():
			return
		}
		wait := s.opts.RefreshInterval
		if c.err != nil {
			wait = retryWait(backoff)
			backoff = nextBackoff(backoff, s.opts.RefreshInterval)
		} else {
			backoff = minBackoff
		}
		timer.Reset(wait)
	}
}

// retryWait is how long to wait before the next try after a failed fetch:
// between backoff/2 and backoff, at random. The jitter keeps a fleet of
// restarted servers from fetching in step when Logto comes back.
func retryWait(backoff time.Duration) time.Duration {
	return backoff/2 + rand.N(backoff/2+1) //nolint:gosec // G404: jitter, not a secret: math/rand is the right tool
}

// nextBackoff doubles backoff after another failure, up to maxBackoff and
// to the refresh interval (a failing set never tries less often than a
// healthy one refreshes), but never below minBackoff.
func nextBackoff(backoff, refresh time.Duration) time.Duration {
	return min(backoff*2, maxBackoff, max(refresh, minBackoff))
}

func (s *Set) markReady() {
	s.readyOnce.Do(func() { close(s.ready) })
}

// Errors of [Set.Key] and of fetches, matched with errors.Is.
var (
	// ErrNotReady means no key set was ever loaded.
	ErrNotReady = errors.New("jwks: keys not loaded")
	// ErrUnknownKID means the kid is not in the set (after a refetch, if one
	// was allowed).
	ErrUnknownKID = errors.New("jwks: unknown kid")
	// ErrKeyMismatch means the key cannot verify the token's algorithm.
	ErrKeyMismatch = errors.New("jwks: key does not fit algorithm")
	// ErrRateLimited means an unknown-kid refetch was not allowed yet.
	ErrRateLimited = errors.New("jwks: refetch rate-limited")
	// ErrClosed means the set was closed.
	ErrClosed = errors.New("jwks: closed")
	// ErrFetch wraps every failure to load the set from the network.
	ErrFetch = errors.New("jwks: fetch failed")
)
