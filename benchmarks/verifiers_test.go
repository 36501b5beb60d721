package benchmarks_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	auth0jwks "github.com/auth0/go-jwt-middleware/v2/jwks"
	auth0 "github.com/auth0/go-jwt-middleware/v2/validator"
	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/golang-jwt/jwt/v5"
	echojwt "github.com/labstack/echo-jwt/v4"
	"github.com/labstack/echo/v4"
	"github.com/lestrrat-go/httprc/v3"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
	jwxjwt "github.com/lestrrat-go/jwx/v3/jwt"

	"github.com/logtoguard/logtoguard/middleware"
)

// Each constructor below configures one library for the same checks: the
// signature with a key fetched from f's JWKS, iss, aud, exp (with leeway)
// and the algorithm allowlist {f.alg}. It returns a function that verifies
// one raw token, after a first verification of a good token that warms the
// library's key cache.

func newLogtoguard(tb testing.TB, f *fixture, cache bool) *middleware.Validator {
	tb.Helper()
	v, err := middleware.New(middleware.Config{
		Issuers:    []string{f.issuer},
		JWKSURL:    f.jwksURL,
		Audiences:  []string{api},
		Algorithms: []string{f.alg},
		Cache:      middleware.CacheConfig{Disabled: !cache},
	})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = v.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := v.WaitReady(ctx); err != nil {
		tb.Fatal(err)
	}
	return v
}

func logtoguardVerify(tb testing.TB, f *fixture, cache bool) func(string) error {
	v := newLogtoguard(tb, f, cache)
	return func(tok string) error {
		_, err := v.Verify(context.Background(), tok)
		return err
	}
}

func newAuth0(tb testing.TB, f *fixture) *auth0.Validator {
	tb.Helper()
	issuer, err := url.Parse(f.issuer)
	if err != nil {
		tb.Fatal(err)
	}
	jwksURL, err := url.Parse(f.jwksURL)
	if err != nil {
		tb.Fatal(err)
	}
	provider := auth0jwks.NewCachingProvider(issuer, 5*time.Minute, auth0jwks.WithCustomJWKSURI(jwksURL))
	v, err := auth0.New(provider.KeyFunc, auth0.SignatureAlgorithm(f.alg), f.issuer, []string{api},
		auth0.WithAllowedClockSkew(leeway))
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

func auth0Verify(tb testing.TB, f *fixture) func(string) error {
	v := newAuth0(tb, f)
	return func(tok string) error {
		_, err := v.ValidateToken(context.Background(), tok)
		return err
	}
}

// newKeyfunc is keyfunc's default: a JWKS refreshed in the background and
// refetched on an unknown kid.
func newKeyfunc(tb testing.TB, f *fixture) keyfunc.Keyfunc {
	tb.Helper()
	kf, err := keyfunc.NewDefaultCtx(tb.Context(), []string{f.jwksURL})
	if err != nil {
		tb.Fatal(err)
	}
	return kf
}

// newParser is golang-jwt configured for the same checks.
func newParser(f *fixture) *jwt.Parser {
	return jwt.NewParser(
		jwt.WithValidMethods([]string{f.alg}),
		jwt.WithIssuer(f.issuer),
		jwt.WithAudience(api),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(leeway),
	)
}

func golangJWTVerify(tb testing.TB, f *fixture) func(string) error {
	kf := newKeyfunc(tb, f)
	p := newParser(f)
	return func(tok string) error {
		_, err := p.ParseWithClaims(tok, &jwt.RegisteredClaims{}, kf.Keyfunc)
		return err
	}
}

// echoJWTConfig is echo-jwt with keyfunc's KeyFunc. Its default
// ParseTokenFunc checks neither iss nor aud, so ParseTokenFunc is the same
// golang-jwt parser as above.
func echoJWTConfig(tb testing.TB, f *fixture) echojwt.Config {
	kf := newKeyfunc(tb, f)
	p := newParser(f)
	return echojwt.Config{
		KeyFunc: kf.Keyfunc,
		ParseTokenFunc: func(_ echo.Context, auth string) (any, error) {
			return p.ParseWithClaims(auth, &jwt.RegisteredClaims{}, kf.Keyfunc)
		},
	}
}

// echoJWTVerify runs echo-jwt's middleware on one echo context that carries
// the token: its header extraction, parsing and c.Set of the token. The
// function it returns is not safe for concurrent use.
func echoJWTVerify(tb testing.TB, f *fixture) func(string) error {
	mw := echojwt.WithConfig(echoJWTConfig(tb, f))
	e := echo.New()
	h := mw(func(echo.Context) error { return nil })
	var c echo.Context
	var last string
	return func(tok string) error {
		if c == nil || tok != last {
			req := httptest.NewRequest(http.MethodGet, "/products", nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			c, last = e.NewContext(req, httptest.NewRecorder()), tok
		}
		return h(c)
	}
}

// goOIDCVerify is go-oidc's IDTokenVerifier over a RemoteKeySet. ClientID
// is the API: go-oidc checks that aud contains it, which is the audience
// check (SkipClientIDCheck would skip it).
func goOIDCVerify(tb testing.TB, f *fixture) func(string) error {
	ctx := tb.Context()
	keys := oidc.NewRemoteKeySet(ctx, f.jwksURL)
	v := oidc.NewVerifier(f.issuer, keys, &oidc.Config{ClientID: api, SupportedSigningAlgs: []string{f.alg}})
	return func(tok string) error {
		_, err := v.Verify(ctx, tok)
		return err
	}
}

// jwxVerify is jwx v3 with its jwk.Cache. Logto's RSA keys carry no alg,
// which jwx needs to pick the algorithm: for them it infers it from the key.
func jwxVerify(tb testing.TB, f *fixture) func(string) error {
	tb.Helper()
	ctx := tb.Context()
	c, err := jwk.NewCache(ctx, httprc.NewClient())
	if err != nil {
		tb.Fatal(err)
	}
	if err := c.Register(ctx, f.jwksURL); err != nil {
		tb.Fatal(err)
	}
	set, err := c.CachedSet(f.jwksURL)
	if err != nil {
		tb.Fatal(err)
	}
	var sub []any
	if f.alg == "RS256" {
		sub = append(sub, jws.WithInferAlgorithmFromKey(true))
	}
	opts := []jwxjwt.ParseOption{
		jwxjwt.WithKeySet(set, sub...),
		jwxjwt.WithIssuer(f.issuer),
		jwxjwt.WithAudience(api),
		jwxjwt.WithAcceptableSkew(leeway),
		jwxjwt.WithRequiredClaim("exp"),
	}
	return func(tok string) error {
		_, err := jwxjwt.ParseString(tok, opts...)
		return err
	}
}

// floorVerify is the bare signature check with the already-parsed key.
func floorVerify(tb testing.TB, f *fixture) func(string) error {
	return func(tok string) error {
		method, signing, sig := floor(tb, f, tok)
		return method.Verify(signing, sig, f.pub)
	}
}

type library struct {
	name string
	new  func(testing.TB, *fixture) func(string) error
	// signatureOnly: checks nothing but the signature.
	signatureOnly bool
}

var libraries = []library{
	{name: "logtoguard-hit", new: func(tb testing.TB, f *fixture) func(string) error { return logtoguardVerify(tb, f, true) }},
	{name: "logtoguard-miss", new: func(tb testing.TB, f *fixture) func(string) error { return logtoguardVerify(tb, f, false) }},
	{name: "auth0", new: auth0Verify},
	{name: "golang-jwt", new: golangJWTVerify},
	{name: "echo-jwt", new: echoJWTVerify},
	{name: "go-oidc", new: goOIDCVerify},
	{name: "jwx", new: jwxVerify},
	{name: "floor", new: floorVerify, signatureOnly: true},
}

// TestLibrariesAgree proves that every library is configured for the same
// checks: each accepts the benchmark's token and refuses a token for another
// audience, from another issuer (signed by the same key), and one that
// expired an hour ago.
func TestLibrariesAgree(t *testing.T) {
	for _, alg := range algs {
		f := newFixture(t, alg)
		now := time.Now()
		bad := map[string]string{
			"wrong audience": f.mint("https://other.example.com", "", now, time.Hour),
			"wrong issuer":   f.mint(api, "https://evil.example.com/oidc", now, time.Hour),
			"expired":        f.mint(api, "", now.Add(-2*time.Hour), time.Hour),
		}
		for _, lib := range libraries {
			t.Run(fmt.Sprintf("%s/%s", alg, lib.name), func(t *testing.T) {
				verify := lib.new(t, f)
				tok := f.token()
				for range 2 { // the second one is a cache hit where there is a cache
					if err := verify(tok); err != nil {
						t.Fatalf("good token: got %v, want nil", err)
					}
				}
				if lib.signatureOnly {
					return
				}
				for name, tok := range bad {
					if err := verify(tok); err == nil {
						t.Errorf("%s: got nil, want an error", name)
					}
				}
			})
		}
	}
}
