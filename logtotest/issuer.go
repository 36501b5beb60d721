package logtotest

import (
	"crypto/elliptic"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Issuer is a Logto tenant for tests: it serves discovery, the JWKS and the
// client-credentials token endpoint on 127.0.0.1, and mints tokens shaped
// exactly like Logto's. All its methods are safe for concurrent use.
type Issuer struct {
	endpoint string // http://127.0.0.1:port
	issuer   string // the iss claim and the discovery issuer
	now      func() time.Time
	keys     keySpec

	srv       *httptest.Server
	done      chan struct{} // closed by Close: ends JWKS delays
	closeOnce sync.Once

	fetches atomic.Int64

	mu               sync.Mutex
	current          *Key // signs tokens
	currentPublished bool // false after RemoveKey(current)
	next             *Key // staged, published, signs nothing yet
	previous         *Key // signed until the last CompleteRotation
	foreign          *Key // never published
	resources        map[string]resource
	apps             map[string]app
	jwksDown         bool
	jwksGarbage      bool
	jwksDelay        time.Duration
}

// Option configures an [Issuer] in [New] and [Start].
type Option func(*options)

type options struct {
	keys       keySpec
	now        func() time.Time
	issuer     *string
	listener   net.Listener
	middleware func(http.Handler) http.Handler
}

// WithRSA makes the issuer sign RS256 with RSA keys, as a tenant does after a
// rotation to RSA in the Logto console, instead of ES384 with EC P-384 keys
// (Logto's default). Logto's RSA keys have 4096 bits; these have 2048 so that
// tests start fast (see [WithRSABits]). Rotations generate keys of the same
// type and size.
func WithRSA() Option { return WithRSABits(defaultRSABits) }

// WithRSABits is [WithRSA] with keys of the given size, such as 4096 to
// measure verification with keys as large as Logto's. Sizes below 2048 bits
// make [Start] fail: verifiers refuse such keys.
func WithRSABits(bits int) Option {
	return func(o *options) { o.keys = keySpec{rsaBits: bits} }
}

// WithCurve makes the issuer sign with EC keys on curve, each with its
// curve's algorithm as Logto does: P-256 ES256, P-384 ES384 (the default),
// P-521 ES512. Rotations generate keys on the same curve. Another curve
// makes [Start] fail.
func WithCurve(curve elliptic.Curve) Option {
	return func(o *options) { o.keys = keySpec{curve: curve} }
}

// WithClock sets the time used for iat and exp, such as a fake clock shared
// with the verifier under test. Default time.Now.
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithIssuer sets the issuer that tokens carry in iss and that discovery
// reports, instead of [Issuer.Endpoint] + "/oidc". It simulates a Logto
// custom domain: a tenant reached through auth.example.com issues
// https://auth.example.com/oidc with the same keys as its default domain.
// The server still listens on 127.0.0.1, and [Issuer.JWKSURL] and
// [Issuer.TokenURL] still point there. To mint for the default domain as
// well, set [Token].Issuer to [Issuer.Endpoint] + "/oidc".
func WithIssuer(iss string) Option { return func(o *options) { o.issuer = &iss } }

// WithListener makes the issuer serve on ln instead of a new listener on a
// free port of 127.0.0.1, for a program that wants a fixed address
// (logtoguard dev listens on 127.0.0.1:3001). [Issuer.Endpoint] is
// http:// + ln's address; [Issuer.Close] closes ln, and so does [Start]
// when it fails. Listen on a loopback address: the issuer mints tokens for
// whoever asks.
func WithListener(ln net.Listener) Option { return func(o *options) { o.listener = ln } }

// WithMiddleware wraps the issuer's handler in mw, which sees every request
// before the issuer does: to log requests, or to serve routes of its own
// beside Logto's (logtoguard dev serves one that mints tokens).
func WithMiddleware(mw func(http.Handler) http.Handler) Option {
	return func(o *options) { o.middleware = mw }
}

// New starts an issuer on 127.0.0.1, like httptest.NewServer, and closes it
// when the test ends (t.Cleanup). It fails the test if the issuer cannot
// start.
func New(t testing.TB, opts ...Option) *Issuer {
	t.Helper()
	i, err := Start(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(i.Close)
	return i
}

// Start is [New] for code that is not a test, such as a demo program or a
// local issuer to develop against: it starts an issuer on 127.0.0.1 (or on
// the listener of [WithListener]), and the caller must call [Issuer.Close].
//
//	iss, err := logtotest.Start()
//	if err != nil {
//		log.Fatal(err)
//	}
//	defer iss.Close()
//	iss.AddResource("https://api.example.com", "read:products")
//	iss.AddM2MApp("inventory-sync", "its-secret", "read:products")
//	fmt.Println("LOGTO_ENDPOINT=" + iss.Endpoint())
//
// The command logtoguard dev is such a program, ready to run: an issuer on
// 127.0.0.1:3001 until stopped, which prints an M2M app and tokens.
func Start(opts ...Option) (*Issuer, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	i, err := start(o)
	if err != nil && o.listener != nil {
		_ = o.listener.Close()
	}
	return i, err
}

func start(o options) (*Issuer, error) {
	if o.issuer != nil && *o.issuer == "" {
		return nil, errors.New("logtotest: WithIssuer: the issuer is empty")
	}
	if o.now == nil {
		o.now = time.Now
	}
	if o.keys.rsaBits != 0 && o.keys.rsaBits < defaultRSABits {
		return nil, fmt.Errorf("logtotest: WithRSABits(%d): RSA keys need at least %d bits", o.keys.rsaBits, defaultRSABits)
	}
	if _, _, ok := curveAlgorithm(o.keys.curve); o.keys.rsaBits == 0 && !ok {
		return nil, fmt.Errorf("logtotest: WithCurve(%s): Logto signs with P-256, P-384 or P-521 keys only", curveName(o.keys.curve))
	}
	key, err := o.keys.generate()
	if err != nil {
		return nil, err
	}
	i := &Issuer{
		now:              o.now,
		keys:             o.keys,
		done:             make(chan struct{}),
		current:          key,
		currentPublished: true,
		resources:        make(map[string]resource),
		apps:             make(map[string]app),
	}
	// httptest.Server listens on 127.0.0.1 and, on Close, waits for the
	// requests in flight and closes idle connections.
	h := i.handler()
	if o.middleware != nil {
		h = o.middleware(h)
	}
	i.srv = httptest.NewUnstartedServer(h)
	if o.listener != nil {
		_ = i.srv.Listener.Close()
		i.srv.Listener = o.listener
	}
	i.srv.Config.ReadHeaderTimeout = 10 * time.Second
	i.srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	// Set before the server starts: its handlers read them, and a request
	// that arrives over the network is no happens-before edge for the race
	// detector.
	i.endpoint = "http://" + i.srv.Listener.Addr().String()
	i.issuer = i.endpoint + "/oidc"
	if o.issuer != nil {
		i.issuer = *o.issuer
	}
	i.srv.Start()
	if i.srv.URL != i.endpoint {
		i.srv.Close()
		return nil, fmt.Errorf("logtotest: the server listens on %s, not %s", i.srv.URL, i.endpoint)
	}
	return i, nil
}

// Close stops the issuer. Requests in flight finish (a JWKS request held by
// [Issuer.SetJWKSDelay] is answered 503 at once), idle connections are
// closed, and Close returns when every server goroutine has ended. Calling
// Close again does nothing.
func (i *Issuer) Close() {
	i.closeOnce.Do(func() {
		close(i.done)
		i.srv.Close()
	})
}

// Endpoint returns the Logto endpoint, http://127.0.0.1:port: what an API
// configures as its Logto endpoint.
func (i *Issuer) Endpoint() string { return i.endpoint }

// Issuer returns the issuer that tokens carry in iss: [Issuer.Endpoint] +
// "/oidc", or the one set by [WithIssuer].
func (i *Issuer) Issuer() string { return i.issuer }

// JWKSURL returns the URL of the JWKS, [Issuer.Endpoint] + "/oidc/jwks".
func (i *Issuer) JWKSURL() string { return i.endpoint + "/oidc/jwks" }

// TokenURL returns the URL of the token endpoint, [Issuer.Endpoint] +
// "/oidc/token".
func (i *Issuer) TokenURL() string { return i.endpoint + "/oidc/token" }

// handler routes the endpoints. Other paths answer 404 and other methods 405
// (with Allow), as http.ServeMux does.
func (i *Issuer) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /oidc/.well-known/openid-configuration", i.serveDiscovery)
	mux.HandleFunc("GET /oidc/.well-known/oauth-authorization-server", i.serveDiscovery)
	mux.HandleFunc("GET /oidc/jwks", i.serveJWKS)
	mux.HandleFunc("POST /oidc/token", i.serveToken)
	return mux
}

// writeJSON writes v as a JSON response.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "logtotest: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
