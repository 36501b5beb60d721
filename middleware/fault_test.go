package middleware_test

// Faults of the key source, end to end: an API served over HTTP behind the
// net/http guard, whose keys come from a logtotest issuer, directly or
// through keyProxy, a JWKS endpoint that can break in the ways a network and
// the servers in front of Logto break. The jwks package's tests cover each
// fault at the key-set level; these assert what the API's callers see.

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/logtoguard/logtoguard/adapters/nethttp"
	"github.com/logtoguard/logtoguard/logtotest"
	"github.com/logtoguard/logtoguard/middleware"
)

// faultAPI is an API protected by the net/http guard, with counters of the
// validator's key fetches.
type faultAPI struct {
	iss      *logtotest.Issuer
	v        *middleware.Validator
	srv      *httptest.Server
	client   *http.Client
	fetchOK  atomic.Int64 // successful key fetches
	fetchErr atomic.Int64 // failed key fetches
}

// newFaultAPI starts the API. It trusts iss; its keys come from jwksURL, or
// through discovery on iss when jwksURL is empty. It does not wait for keys.
func newFaultAPI(t *testing.T, iss *logtotest.Issuer, jwksURL string, mod func(*middleware.Config)) *faultAPI {
	t.Helper()
	a := &faultAPI{iss: iss}
	cfg := middleware.Config{
		Endpoint:  iss.Endpoint(),
		Audiences: []string{api},
		Logger:    slog.New(slog.DiscardHandler),
		Hooks: middleware.Hooks{KeyFetch: func(_ string, err error) {
			if err != nil {
				a.fetchErr.Add(1)
			} else {
				a.fetchOK.Add(1)
			}
		}},
	}
	if jwksURL != "" {
		cfg.Endpoint, cfg.Issuers, cfg.JWKSURL = "", []string{iss.Issuer()}, jwksURL
	}
	if mod != nil {
		mod(&cfg)
	}
	v, err := middleware.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	a.v = v
	guard := nethttp.New(v)
	mux := http.NewServeMux()
	mux.Handle("GET /products", guard.Require(middleware.Scopes("read:products"))(http.HandlerFunc(
		func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "products") })))
	a.srv = httptest.NewServer(mux)
	t.Cleanup(a.srv.Close)
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	a.client = &http.Client{Transport: tr, Timeout: 10 * time.Second}
	t.Cleanup(tr.CloseIdleConnections)
	return a
}

// token returns a new token for the API, signed by the issuer's signing key.
func (a *faultAPI) token() string {
	return a.iss.M2MToken("inventory-sync", api, "read:products")
}

// tokenSignedBy returns a new token for the API signed by k.
func (a *faultAPI) tokenSignedBy(k *logtotest.Key) string {
	return a.iss.Mint(logtotest.Token{Subject: "inventory-sync", ClientID: "inventory-sync", Audience: api,
		Scopes: []string{"read:products"}, Key: k})
}

// reply is what a caller of the API sees.
type reply struct {
	status     int
	retryAfter string
	challenge  string
	body       string
}

func (r reply) String() string {
	return fmt.Sprintf("%d (Retry-After %q, WWW-Authenticate %q) %s", r.status, r.retryAfter, r.challenge, strings.TrimSpace(r.body))
}

// do sends GET /products with token. It is safe to call from any goroutine.
func (a *faultAPI) do(token string) (reply, error) {
	req, err := http.NewRequest("GET", a.srv.URL+"/products", nil)
	if err != nil {
		return reply{}, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := a.client.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return reply{}, err
	}
	return reply{resp.StatusCode, resp.Header.Get("Retry-After"), resp.Header.Get("WWW-Authenticate"), string(body)}, nil
}

// expect sends GET /products with token and fails the test unless the
// answer has status want; for 401 it must be invalid_token, for 503 it must
// carry Retry-After in seconds and no challenge.
func (a *faultAPI) expect(t *testing.T, what, token string, want int) {
	t.Helper()
	r, err := a.do(token)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if r.status != want {
		t.Fatalf("%s: got %v, want %d", what, r, want)
	}
	switch want {
	case http.StatusUnauthorized:
		if !strings.Contains(r.challenge, `error="invalid_token"`) {
			t.Fatalf("%s: got %v, want an invalid_token challenge", what, r)
		}
	case http.StatusServiceUnavailable:
		if s, err := strconv.Atoi(r.retryAfter); err != nil || s <= 0 {
			t.Fatalf("%s: got %v, want Retry-After in seconds", what, r)
		}
		if r.challenge != "" {
			t.Fatalf("%s: got %v, want no challenge with 503", what, r)
		}
	}
}

// eventually polls cond until it holds, and fails the test after a deadline
// far beyond what any interval of these tests needs.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// eventuallyStatus polls GET /products with token until it answers want.
func (a *faultAPI) eventuallyStatus(t *testing.T, what, token string, want int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		r, err := a.do(token)
		if err == nil && r.status == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s answers %d: last %v %v", what, want, r, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// proxyMode is how a keyProxy answers requests for the JWKS.
type proxyMode int32

const (
	passThrough       proxyMode = iota // the issuer's JWKS, as it is
	status500                          // 500 with a text body
	htmlPage                           // 200 with an HTML page, as a captive portal answers
	hugeBody                           // 200 with a JSON document of more than 10 MiB
	redirectOtherHost                  // 302 to the issuer's own JWKS URL, on another host
	redirectSameHost                   // 301 to another path of the proxy, which passes through
)

// hugeBodyBytes is the size of what hugeBody sends, far over the JWKS
// response limit.
const hugeBodyBytes = 10 << 20

const captivePortal = "<!DOCTYPE html>\n<html><head><title>Sign in</title></head><body><h1>Sign in to the network</h1></body></html>\n"

// keyProxy serves an issuer's JWKS at /oidc/jwks on a fixed address, and
// breaks it on demand: see proxyMode, and stop, after which the address
// refuses connections until start.
type keyProxy struct {
	addr     string
	upstream string
	client   *http.Client
	mode     atomic.Int32
	served   atomic.Int64 // requests for /oidc/jwks
	moved    atomic.Int64 // requests for /moved/jwks

	mu  sync.Mutex
	srv *http.Server
	wg  sync.WaitGroup
}

func newKeyProxy(t *testing.T, iss *logtotest.Issuer) *keyProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &keyProxy{addr: ln.Addr().String(), upstream: iss.JWKSURL(), client: &http.Client{Timeout: 5 * time.Second}}
	p.serve(ln)
	t.Cleanup(func() {
		p.stop()
		p.client.CloseIdleConnections()
	})
	return p
}

// URL is the JWKS URL to configure.
func (p *keyProxy) URL() string { return "http://" + p.addr + "/oidc/jwks" }

func (p *keyProxy) setMode(m proxyMode) { p.mode.Store(int32(m)) }

func (p *keyProxy) serve(ln net.Listener) {
	srv := &http.Server{Handler: p, ErrorLog: log.New(io.Discard, "", 0)}
	p.mu.Lock()
	p.srv = srv
	p.mu.Unlock()
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		_ = srv.Serve(ln)
	}()
}

// stop closes the listener and every connection: Logto is unreachable.
func (p *keyProxy) stop() {
	p.mu.Lock()
	srv := p.srv
	p.srv = nil
	p.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
		p.wg.Wait()
	}
}

// start listens again on the same address.
func (p *keyProxy) start(t *testing.T) {
	t.Helper()
	var ln net.Listener
	eventually(t, "the proxy listens again on "+p.addr, func() bool {
		var err error
		ln, err = net.Listen("tcp", p.addr)
		return err == nil
	})
	p.serve(ln)
}

func (p *keyProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/oidc/jwks":
		p.served.Add(1)
	case "/moved/jwks":
		p.moved.Add(1)
		p.forward(w, r)
		return
	default:
		http.NotFound(w, r)
		return
	}
	switch proxyMode(p.mode.Load()) {
	case status500:
		http.Error(w, "upstream failure", http.StatusInternalServerError)
	case htmlPage:
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, captivePortal)
	case hugeBody:
		w.Header().Set("Content-Type", "application/jwk-set+json")
		_, _ = io.WriteString(w, `{"keys":[],"padding":"`)
		chunk := bytes.Repeat([]byte("A"), 64<<10)
		for n := 0; n < hugeBodyBytes; n += len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				return // the client stopped reading
			}
		}
		_, _ = io.WriteString(w, `"}`)
	case redirectOtherHost:
		http.Redirect(w, r, p.upstream, http.StatusFound)
	case redirectSameHost:
		http.Redirect(w, r, "/moved/jwks", http.StatusMovedPermanently)
	default:
		p.forward(w, r)
	}
}

// forward answers with the issuer's JWKS, passing conditional requests on.
func (p *keyProxy) forward(w http.ResponseWriter, r *http.Request) {
	req, err := http.NewRequestWithContext(r.Context(), "GET", p.upstream, nil)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	if inm := r.Header.Get("If-None-Match"); inm != "" {
		req.Header.Set("If-None-Match", inm)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	for _, h := range []string{"Content-Type", "Cache-Control", "ETag"} {
		if v := resp.Header.Get(h); v != "" {
			w.Header().Set(h, v)
		}
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
}

// keySourceFault breaks the key source one way (on) and mends it (off).
type keySourceFault struct {
	name  string
	proxy bool // the API reads the JWKS through a keyProxy, else from the issuer through discovery
	set   func(t *testing.T, iss *logtotest.Issuer, p *keyProxy, on bool)
}

func proxyFault(name string, m proxyMode) keySourceFault {
	return keySourceFault{name, true, func(_ *testing.T, _ *logtotest.Issuer, p *keyProxy, on bool) {
		if on {
			p.setMode(m)
		} else {
			p.setMode(passThrough)
		}
	}}
}

var keySourceFaults = []keySourceFault{
	{"unreachable", true, func(t *testing.T, _ *logtotest.Issuer, p *keyProxy, on bool) {
		if on {
			p.stop()
		} else {
			p.start(t)
		}
	}},
	{"503", false, func(_ *testing.T, iss *logtotest.Issuer, _ *keyProxy, on bool) { iss.SetJWKSDown(on) }},
	proxyFault("500", status500),
	proxyFault("HTML page with 200", htmlPage),
	{"garbage JSON", false, func(_ *testing.T, iss *logtotest.Issuer, _ *keyProxy, on bool) { iss.SetJWKSGarbage(on) }},
	proxyFault("10 MiB body", hugeBody),
	{"never answers", false, func(_ *testing.T, iss *logtotest.Issuer, _ *keyProxy, on bool) {
		if on {
			iss.SetJWKSDelay(time.Hour) // FetchTimeout ends each attempt
		} else {
			iss.SetJWKSDelay(0)
		}
	}},
	proxyFault("redirect to another host", redirectOtherHost),
}

// TestFaultKeySource breaks the key source in each way, first from start-up
// and then mid-run, and checks what callers see:
//   - from start-up, every request is answered 503 with Retry-After (never
//     401: the token may be good) while the validator keeps retrying, and
//     once the source is mended the API recovers by itself, with no restart;
//   - mid-run, the last good keys keep verifying, cached or not (200), while
//     a token whose kid only the unreadable JWKS has is refused (401), not
//     answered 503; once mended, the new key is picked up and the key that
//     the rotation removed stops verifying.
//
// The redirect to another host points at the issuer's real JWKS, so only the
// refusal to follow it keeps the keys from loading.
func TestFaultKeySource(t *testing.T) {
	for _, f := range keySourceFaults {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			iss := logtotest.New(t)
			var p *keyProxy
			jwksURL := ""
			if f.proxy {
				p = newKeyProxy(t, iss)
				jwksURL = p.URL()
			}
			f.set(t, iss, p, true)
			a := newFaultAPI(t, iss, jwksURL, func(c *middleware.Config) {
				c.RefreshInterval = 100 * time.Millisecond // also caps the retry backoff near 250ms
				c.RefetchInterval = 100 * time.Millisecond
				c.FetchTimeout = 300 * time.Millisecond
			})

			// From start-up.
			a.expect(t, "with the key source broken from start-up", a.token(), http.StatusServiceUnavailable)
			eventually(t, "the validator retries in the background", func() bool { return a.fetchErr.Load() >= 2 })
			if a.v.Ready() {
				t.Fatal("Ready with the key source broken from start-up")
			}
			if n := a.fetchOK.Load(); n != 0 {
				t.Fatalf("%d key fetches succeeded with the key source broken", n)
			}
			a.expect(t, "while retrying", a.token(), http.StatusServiceUnavailable)

			f.set(t, iss, p, false)
			eventually(t, "the validator recovers by itself", a.v.Ready)
			cached := a.token()
			a.expect(t, "after recovery", cached, http.StatusOK)

			// Mid-run.
			old := iss.SigningKey()
			failed := a.fetchErr.Load()
			f.set(t, iss, p, true)
			// Every fetch from now on meets the fault; only then rotate, so
			// that no fetch can read the new set.
			eventually(t, "a key fetch meets the fault mid-run", func() bool { return a.fetchErr.Load() > failed })
			iss.RotateKeys()
			rotated := a.token()
			a.expect(t, "a token of a key the broken JWKS would publish", rotated, http.StatusUnauthorized)
			a.expect(t, "a cached token of the last good keys", cached, http.StatusOK)
			a.expect(t, "a new token of the last good keys", a.tokenSignedBy(old), http.StatusOK)
			if !a.v.Ready() {
				t.Fatal("not Ready after a failed refresh: the last good keys were dropped")
			}

			f.set(t, iss, p, false)
			a.eventuallyStatus(t, "a token of the new key after the fault ends", rotated, http.StatusOK)
			a.expect(t, "a cached token of the key the rotation removed", cached, http.StatusUnauthorized)
			a.expect(t, "a new token of the key the rotation removed", a.tokenSignedBy(old), http.StatusUnauthorized)
		})
	}
}

// TestFaultSameHostRedirect: a JWKS that moved on the same host is followed,
// at start-up and for the refetch of an immediate rotation.
func TestFaultSameHostRedirect(t *testing.T) {
	iss := logtotest.New(t)
	p := newKeyProxy(t, iss)
	p.setMode(redirectSameHost)
	a := newFaultAPI(t, iss, p.URL(), func(c *middleware.Config) {
		c.RefreshInterval = time.Hour
		c.RefetchInterval = time.Hour
	})
	eventually(t, "keys load through the redirect", a.v.Ready)
	old := a.token()
	a.expect(t, "a token after start-up", old, http.StatusOK)
	served, moved := p.served.Load(), p.moved.Load()
	iss.RotateKeys()
	a.expect(t, "the first token of the new key", a.token(), http.StatusOK)
	if got := p.served.Load() - served; got != 1 {
		t.Fatalf("%d requests for the old JWKS URL for one rotation, want 1", got)
	}
	if got := p.moved.Load() - moved; got != 1 {
		t.Fatalf("%d requests for the JWKS URL redirected to, want 1", got)
	}
	a.expect(t, "a token of the key the rotation removed", old, http.StatusUnauthorized)
}

// TestFaultImmediateRotation: after an immediate rotation, every one of many
// concurrent first requests with the new kid is accepted, for one JWKS
// fetch between them, and tokens of the removed key are refused at once,
// including one whose verdict was cached.
func TestFaultImmediateRotation(t *testing.T) {
	iss := logtotest.New(t)
	var hits atomic.Int64
	a := newFaultAPI(t, iss, "", func(c *middleware.Config) {
		c.RefreshInterval = time.Hour
		c.RefetchInterval = time.Hour
		c.Hooks.Verified = func(_ *middleware.Claims, cached bool) {
			if cached {
				hits.Add(1)
			}
		}
	})
	eventually(t, "keys load", a.v.Ready)
	oldKey := iss.SigningKey()
	old := a.token()
	a.expect(t, "a token before the rotation", old, http.StatusOK)
	a.expect(t, "the same token again", old, http.StatusOK)
	if hits.Load() != 1 {
		t.Fatalf("%d cache hits, want 1", hits.Load())
	}

	fetches := iss.JWKSFetches()
	iss.RotateKeys()
	const callers = 16
	tokens := make([]string, callers)
	for i := range tokens {
		tokens[i] = a.token()
	}
	var wg sync.WaitGroup
	begin := make(chan struct{})
	replies := make([]reply, callers)
	errs := make([]error, callers)
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-begin
			replies[i], errs[i] = a.do(tokens[i])
		}()
	}
	close(begin)
	wg.Wait()
	for i := range callers {
		if errs[i] != nil || replies[i].status != http.StatusOK {
			t.Fatalf("first request of caller %d with the new key: %v %v, want 200", i, replies[i], errs[i])
		}
	}
	if got := iss.JWKSFetches() - fetches; got != 1 {
		t.Fatalf("%d JWKS fetches for %d concurrent first tokens of a new key, want 1", got, callers)
	}
	hits.Store(0)
	a.expect(t, "the cached token of the removed key", old, http.StatusUnauthorized)
	a.expect(t, "a new token of the removed key", a.tokenSignedBy(oldKey), http.StatusUnauthorized)
	if hits.Load() != 0 {
		t.Fatalf("%d cache hits for tokens of a removed key", hits.Load())
	}
}

// TestFaultStagedRotation: a staged key is published before it signs, so
// its first token is accepted without any fetch (the unknown-kid window is
// spent); the previous key keeps verifying while it stays published; a key
// that leaves the JWKS, by a later rotation or by removal, stops verifying
// once the background refresh sees it gone, cached verdicts included.
func TestFaultStagedRotation(t *testing.T) {
	iss := logtotest.New(t)
	a := newFaultAPI(t, iss, "", func(c *middleware.Config) {
		c.RefreshInterval = 50 * time.Millisecond
		c.RefetchInterval = time.Hour
	})
	eventually(t, "keys load", a.v.Ready)
	// Spend the unknown-kid refetch: from now on only the background
	// refresh loads keys.
	a.expect(t, "a token of a key never published", iss.ForeignKeyToken("inventory-sync", api, "read:products"), http.StatusUnauthorized)

	keyA := iss.SigningKey()
	tokA := a.token()
	a.expect(t, "a token of the current key", tokA, http.StatusOK)

	iss.StageRotation()
	fetches := iss.JWKSFetches()
	// The second fetch after staging began after the first one ended, and
	// the first one began after staging.
	eventually(t, "the background refresh fetches the staged set", func() bool { return iss.JWKSFetches() >= fetches+2 })
	iss.CompleteRotation()
	keyB := iss.SigningKey()
	if keyB == keyA {
		t.Fatal("CompleteRotation did not change the signing key")
	}
	tokB := a.token()
	a.expect(t, "the first token of the staged key", tokB, http.StatusOK)
	a.expect(t, "a cached token of the previous key", tokA, http.StatusOK)
	a.expect(t, "a new token of the previous key", a.tokenSignedBy(keyA), http.StatusOK)

	// A second rotation drops A (C signs, B is previous).
	iss.CompleteRotation()
	a.eventuallyStatus(t, "the cached token of the dropped key", tokA, http.StatusUnauthorized)
	a.expect(t, "a new token of the dropped key", a.tokenSignedBy(keyA), http.StatusUnauthorized)
	a.expect(t, "a token of the previous key", tokB, http.StatusOK)

	iss.RemoveKey(keyB.ID())
	a.eventuallyStatus(t, "the cached token of a removed key", tokB, http.StatusUnauthorized)
	a.expect(t, "a token of the current key after a removal", a.token(), http.StatusOK)
}

// TestFaultUnknownKidFlood floods the API with tokens of random kids from
// many goroutines, while other callers send valid tokens and the issuer
// rotates its keys midway (CompleteRotation without a staged key: the old
// key stays published). It checks that the flood costs at most one JWKS fetch per
// refetch window, that every flood request is refused 401 and every valid
// one accepted, and that the new key is still picked up under the flood. It
// logs the p99 latency of the valid requests with and without the flood.
//
// Nothing in it depends on the machine's speed: each phase runs until its
// traffic has reached a count (and the flood for at least a few refetch
// windows), not for a fixed time, and the fetch bound is computed from the
// time the flood actually took.
func TestFaultUnknownKidFlood(t *testing.T) {
	const (
		refetch = 200 * time.Millisecond
		// The flood lasts at least this long, so that it spans several
		// refetch windows: with the rate limit off, it would cost far more
		// fetches than windows.
		minFlood   = 1250 * time.Millisecond
		flooders   = 16
		callers    = 4
		validToks  = 32
		perCaller  = 20 // valid requests each caller makes in each phase, at least
		perFlooder = 20 // flood requests each flooder makes, at least
		hangGuard  = 60 * time.Second
	)
	iss := logtotest.New(t)
	a := newFaultAPI(t, iss, "", func(c *middleware.Config) {
		c.RefreshInterval = time.Hour // only the flood fetches
		c.RefetchInterval = refetch
	})
	eventually(t, "keys load", a.v.Ready)
	valid := make([]string, validToks)
	for i := range valid {
		valid[i] = a.token()
	}
	template := strings.SplitN(valid[0], ".", 3)
	randomKid := func() string {
		b := make([]byte, 32)
		_, _ = rand.Read(b)
		header := `{"alg":"ES384","typ":"at+jwt","kid":"` + base64.RawURLEncoding.EncodeToString(b) + `"}`
		return base64.RawURLEncoding.EncodeToString([]byte(header)) + "." + template[1] + "." + template[2]
	}

	// traffic runs n goroutines calling send until stop is closed, and
	// returns the latencies of the calls whose reply check accepted, their
	// count by goroutine (readable while they run), and the first wrong
	// reply.
	var wrong atomic.Pointer[string]
	traffic := func(n int, stop <-chan struct{}, token func(g, i int) string, check func(reply) bool) (*sync.WaitGroup, [][]time.Duration, []atomic.Int64) {
		var wg sync.WaitGroup
		lat := make([][]time.Duration, n)
		done := make([]atomic.Int64, n)
		for g := range n {
			wg.Go(func() {
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					tok := token(g, i)
					begin := time.Now()
					r, err := a.do(tok)
					d := time.Since(begin)
					if err != nil || !check(r) {
						msg := fmt.Sprintf("%v %v", r, err)
						wrong.CompareAndSwap(nil, &msg)
						continue
					}
					lat[g] = append(lat[g], d)
					done[g].Add(1)
				}
			})
		}
		return &wg, lat, done
	}
	// atLeast reports whether every goroutine of done made n calls.
	atLeast := func(done []atomic.Int64, n int64) bool {
		for g := range done {
			if done[g].Load() < n {
				return false
			}
		}
		return true
	}
	// until waits, within hangGuard, for cond; it stops early on a wrong
	// reply, which the caller reports.
	until := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(hangGuard)
		for !cond() && wrong.Load() == nil {
			if time.Now().After(deadline) {
				t.Fatalf("after %v: %s", hangGuard, what)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	validToken := func(g, i int) string { return valid[(g*7+i)%len(valid)] }
	isOK := func(r reply) bool { return r.status == http.StatusOK }
	isInvalid := func(r reply) bool {
		return r.status == http.StatusUnauthorized && strings.Contains(r.challenge, `error="invalid_token"`)
	}

	// Valid traffic alone.
	stop := make(chan struct{})
	wg, quietLat, quietDone := traffic(callers, stop, validToken, isOK)
	until("the valid callers have not made their requests without flood", func() bool { return atLeast(quietDone, perCaller) })
	close(stop)
	wg.Wait()
	if w := wrong.Load(); w != nil {
		t.Fatalf("valid request without flood: got %s, want 200", *w)
	}

	// Valid traffic under a flood of random kids, with a rotation once both
	// are under way.
	fetches := iss.JWKSFetches()
	begin := time.Now()
	stop = make(chan struct{})
	floodWG, floodLat, floodDone := traffic(flooders, stop, func(int, int) string { return randomKid() }, isInvalid)
	validWG, busyLat, busyDone := traffic(callers, stop, validToken, isOK)
	until("the flood and the valid callers did not get under way", func() bool { return atLeast(floodDone, 1) && atLeast(busyDone, 1) })
	iss.CompleteRotation()
	rotatedAt := time.Now()
	newKey := a.token()
	var pickup time.Duration
	until("a token of the new key under the flood was never accepted", func() bool {
		if r, err := a.do(newKey); err == nil && r.status == http.StatusOK {
			pickup = time.Since(rotatedAt)
			return true
		}
		return false
	})
	until("the flood and the valid callers did not make their requests", func() bool {
		return time.Since(begin) >= minFlood && atLeast(floodDone, perFlooder) && atLeast(busyDone, perCaller)
	})
	close(stop)
	floodWG.Wait()
	validWG.Wait()
	elapsed := time.Since(begin)
	fetched := iss.JWKSFetches() - fetches
	if w := wrong.Load(); w != nil {
		t.Fatalf("under the flood, a request got %s (flood requests want 401 invalid_token, valid ones 200)", *w)
	}

	floodN := 0
	for _, l := range floodLat {
		floodN += len(l)
	}
	windows := int(elapsed/refetch) + 1
	t.Logf("flood: %d unknown-kid requests from %d goroutines in %v: %d JWKS fetches (at most %d refetch windows of %v); new key picked up %v after the rotation",
		floodN, flooders, elapsed.Round(time.Millisecond), fetched, windows, refetch, pickup.Round(time.Millisecond))
	quiet, busy := slices.Concat(quietLat...), slices.Concat(busyLat...)
	t.Logf("valid requests (%d callers): without flood %d, p99 %v; during flood %d, p99 %v",
		callers, len(quiet), p99(quiet), len(busy), p99(busy))
	if fetched < 1 {
		t.Fatal("the flood caused no JWKS fetch: the unknown-kid refetch never ran")
	}
	if fetched > windows {
		t.Fatalf("%d JWKS fetches in %v with a refetch window of %v: more than one per window", fetched, elapsed, refetch)
	}
}

// p99 returns the 99th percentile of d (nearest rank), 0 for none.
func p99(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := (len(s)*99+99)/100 - 1
	return s[min(max(i, 0), len(s)-1)].Round(time.Microsecond)
}
