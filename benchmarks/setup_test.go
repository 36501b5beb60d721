package benchmarks_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"

	"github.com/logtoguard/logtoguard/logtotest"
	"github.com/logtoguard/logtoguard/middleware"
)

// api is the API resource indicator every token is issued for.
const api = "https://api.example.com"

// leeway is the clock skew every library is configured to allow, as
// logtoguard does by default.
const leeway = middleware.DefaultLeeway

// algs are the algorithms of the benchmarks: Logto's default (ES384), RSA
// (RS256, Logto's other key type) and ES256.
var algs = []string{"ES384", "RS256", "ES256"}

// fixture is an issuer on 127.0.0.1 with its JWKS, and a way to mint
// Logto-shaped M2M access tokens signed with alg.
type fixture struct {
	alg     string
	issuer  string // the iss of its tokens
	jwksURL string
	pub     crypto.PublicKey // the signing key, for the floor
	// mint returns an M2M token for aud from iss (the issuer's own when
	// empty), issued at iat and living ttl.
	mint func(aud, iss string, iat time.Time, ttl time.Duration) string
}

// token is the token that every benchmark verifies: what Logto issues to an
// M2M app by the client credentials grant.
func (f *fixture) token() string { return f.mint(api, "", time.Now(), time.Hour) }

// newFixture starts the issuer for alg. ES384 and RS256 tokens come from
// logtotest; logtotest does not sign ES256, so that issuer is an httptest
// JWKS server with a P-256 key, and its tokens are signed with golang-jwt in
// the same shape.
func newFixture(tb testing.TB, alg string) *fixture {
	tb.Helper()
	switch alg {
	case "ES384", "RS256":
		var opts []logtotest.Option
		if alg == "RS256" {
			opts = append(opts, logtotest.WithRSA())
		}
		iss := logtotest.New(tb, opts...)
		f := &fixture{alg: alg, issuer: iss.Issuer(), jwksURL: iss.JWKSURL()}
		f.mint = func(aud, issuer string, iat time.Time, ttl time.Duration) string {
			return iss.Mint(logtotest.Token{
				Subject: "inventory-sync", ClientID: "inventory-sync", Audience: aud,
				Scopes: []string{"read:products", "write:products"}, Issuer: issuer,
				IssuedAt: iat, TTL: ttl,
			})
		}
		f.pub = publicKey(tb, f.jwksURL, f.token())
		return f
	case "ES256":
		return newES256Fixture(tb)
	}
	tb.Fatalf("no fixture for %s", alg)
	return nil
}

func newES256Fixture(tb testing.TB) *fixture {
	tb.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	const kid = "es256-bench"
	jwk, err := jwkset.NewJWKFromKey(&priv.PublicKey, jwkset.JWKOptions{
		Metadata: jwkset.JWKMetadataOptions{ALG: jwkset.AlgES256, KID: kid, USE: jwkset.UseSig},
	})
	if err != nil {
		tb.Fatal(err)
	}
	store := jwkset.NewMemoryStorage()
	if err := store.KeyWrite(context.Background(), jwk); err != nil {
		tb.Fatal(err)
	}
	body, err := store.JSONPublic(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/oidc/jwks" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/jwk-set+json")
		_, _ = w.Write(body)
	}))
	tb.Cleanup(srv.Close)
	f := &fixture{alg: "ES256", issuer: srv.URL + "/oidc", jwksURL: srv.URL + "/oidc/jwks", pub: &priv.PublicKey}
	f.mint = func(aud, issuer string, iat time.Time, ttl time.Duration) string {
		if issuer == "" {
			issuer = f.issuer
		}
		// Logto's claims, in Logto's order (jwt.MapClaims sorts them, which
		// changes nothing for a verifier).
		claims := jwt.MapClaims{
			"jti": rand.Text(), "sub": "inventory-sync", "iat": iat.Unix(), "exp": iat.Add(ttl).Unix(),
			"scope": "read:products write:products", "client_id": "inventory-sync",
			"iss": issuer, "aud": aud,
		}
		t := jwt.NewWithClaims(jwt.SigningMethodES256, claims)
		t.Header["typ"] = "at+jwt"
		t.Header["kid"] = kid
		s, err := t.SignedString(priv)
		if err != nil {
			panic(err)
		}
		return s
	}
	return f
}

// publicKey finds the key that signed tok in the JWKS at url.
func publicKey(tb testing.TB, url, tok string) crypto.PublicKey {
	tb.Helper()
	kf, err := keyfunc.NewDefaultOverrideCtx(tb.Context(), []string{url}, keyfunc.Override{})
	if err != nil {
		tb.Fatal(err)
	}
	parsed, _, err := jwt.NewParser().ParseUnverified(tok, jwt.MapClaims{})
	if err != nil {
		tb.Fatal(err)
	}
	key, err := kf.Keyfunc(parsed)
	if err != nil {
		tb.Fatal(err)
	}
	return key.(crypto.PublicKey)
}

// floor splits tok into what a bare signature check takes.
func floor(tb testing.TB, f *fixture, tok string) (method jwt.SigningMethod, signing string, sig []byte) {
	tb.Helper()
	i := strings.LastIndexByte(tok, '.')
	sig, err := base64.RawURLEncoding.DecodeString(tok[i+1:])
	if err != nil {
		tb.Fatal(err)
	}
	return jwt.GetSigningMethod(f.alg), tok[:i], sig
}
