package middleware_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/logtoguard/logtoguard/middleware"
)

// The claims and header fuzz targets sign what the fuzzer writes with a key
// the tenant publishes, so that every input passes the signature and reaches
// the decoding and the checks of claims and header. The issuer is a fixed
// string (the keys are fetched from an explicit JWKS URL) and the clock is
// fixed, so that an input found once fails the same way again.

const (
	fuzzIssuer = "https://fuzz.logto.app/oidc"
	fuzzKID    = "r-es384"
)

// fuzzNow is the fixed clock of the fuzz targets: 2026-01-01T00:00:00Z.
var fuzzNow = time.Unix(1_767_225_600, 0)

// fuzzValidator trusts fuzzIssuer, whose keys are r's.
func fuzzValidator(f *testing.F) (*middleware.Validator, *rawTenant) {
	r := newRawTenant(f)
	v, err := middleware.New(middleware.Config{
		Issuers:         []string{fuzzIssuer},
		JWKSURL:         r.srv.URL + "/oidc/jwks",
		Audiences:       []string{api},
		Now:             func() time.Time { return fuzzNow },
		Logger:          slog.New(slog.DiscardHandler),
		RefetchInterval: time.Hour,
		Cache:           middleware.CacheConfig{Disabled: true},
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { v.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := v.WaitReady(ctx); err != nil {
		f.Fatal(err)
	}
	return v, r
}

// checkRejection holds every error of Verify to the package's classes and
// checks that its RFC 6750 challenge stays a well-formed header, whatever
// the token held.
func checkRejection(t *testing.T, v *middleware.Validator, c *middleware.Claims, err error) {
	t.Helper()
	if c != nil {
		t.Fatal("claims returned with an error")
	}
	if !errors.Is(err, middleware.ErrInvalidToken) && !errors.Is(err, middleware.ErrKeysUnavailable) {
		t.Fatalf("error outside the classes: %v", err)
	}
	var e *middleware.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %T is not a *middleware.Error", err)
	}
	w := httptest.NewRecorder()
	v.WriteError(w, httptest.NewRequest(http.MethodGet, "/", nil), err)
	if w.Code != http.StatusUnauthorized && w.Code != http.StatusServiceUnavailable {
		t.Fatalf("status %d for %v", w.Code, err)
	}
	for _, h := range w.Result().Header["Www-Authenticate"] {
		for i := 0; i < len(h); i++ {
			if h[i] < 0x20 || h[i] > 0x7e {
				t.Fatalf("challenge %q holds byte %#x", h, h[i])
			}
		}
		if strings.Count(h, `"`)%2 != 0 {
			t.Fatalf("challenge %q has unbalanced quotes", h)
		}
	}
}

// fuzzClaimsSeeds are claim sets shaped like Logto's, and their near misses.
var fuzzClaimsSeeds = []string{
	`{"jti":"G2wcoRBSyVgrm0Rl3wK1U","sub":"app-1","iat":1767225600,"exp":1767229200,"scope":"read:products write:products","client_id":"app-1","iss":"https://fuzz.logto.app/oidc","aud":"https://api.example.com"}`,
	`{"jti":"x","sub":"user-1","iat":1767225600,"exp":1767229200,"scope":"read:products","client_id":"spa","iss":"https://fuzz.logto.app/oidc","aud":["https://other.example.com","https://api.example.com"],"organization_id":"org-1","act":{"sub":"support-1"},"roles":["admin"]}`,
	`{"sub":"app-1","exp":1767225570,"iss":"https://fuzz.logto.app/oidc","aud":"https://api.example.com"}`,
	`{"sub":"app-1","exp":1767225571.5,"nbf":1767225630,"iat":1767225630,"iss":"https://fuzz.logto.app/oidc","aud":"https://api.example.com"}`,
	`{"sub":"app-1","exp":"1767229200","iss":"https://fuzz.logto.app/oidc","aud":"https://api.example.com"}`,
	`{"sub":"app-1","exp":1e19,"iss":"https://fuzz.logto.app/oidc","aud":"https://api.example.com"}`,
	`{"sub":"app-1","exp":1767229200,"iss":"https://fuzz.logto.app/oidc","AUD":"https://api.example.com"}`,
	`{"sub":"app-1","exp":1767229200,"iss":"https://evil.example.com/oidc","iss":"https://fuzz.logto.app/oidc","aud":"https://api.example.com"}`,
	`{"sub":"app-1","exp":1767229200,"iss":"https://fuzz.logto.app/oidc/","aud":"https://default.logto.app/api","scope":"all"}`,
	`{"sub":"app-1","exp":1767229200,"iss":["https://fuzz.logto.app/oidc"],"aud":[1],"scope":["a"]}`,
	`{"sub":"user-1","exp":1767229200,"iss":"https://fuzz.logto.app/oidc","aud":"urn:logto:organization:org-1","scope":""}`,
	`{"sub":"app-1","exp":null,"iat":null,"nbf":null,"iss":"https://fuzz.logto.app/oidc","aud":null}`,
	`{"x":[[[[[[[[[[]]]]]]]]]],"sub":"\u0000","exp":1767229200,"iss":"https://fuzz.logto.app/oidc","aud":"https://api.example.com"}`,
	`{"sub":"user-1","client_id":"helpdesk","exp":1767229200,"iss":"https://fuzz.logto.app/oidc","aud":"https://api.example.com","act":{"sub":"a","act":{"sub":"b"}}}`,
	`{"sub":"user-1","exp":1767229200,"iss":"https://fuzz.logto.app/oidc","aud":"https://api.example.com","act":{"sub":"a","sub":"b"}}`,
	`{"sub":"user-1","exp":1767229200,"iss":"https://fuzz.logto.app/oidc","aud":"https://api.example.com","act":{"Sub":"a"}}`,
	`{"sub":"user-1","exp":1767229200,"iss":"https://fuzz.logto.app/oidc","aud":"https://api.example.com","act":null}`,
	`{"sub":"user-1","exp":1767229200,"iss":"https://fuzz.logto.app/oidc","aud":"https://api.example.com","act":"a"}`,
	`{"sub":"user-1","exp":1767229200,"iss":"https://fuzz.logto.app/oidc","aud":"https://api.example.com","act":{"sub":"a","act":null}}`,
	`{"sub":"user-1","exp":1767229200,"iss":"https://fuzz.logto.app/oidc","aud":"https://api.example.com","act":{"sub":"a","act":{"sub":"b","act":{"sub":"c","act":[]}}}}`,
	`{"sub":"https://c.example/m","client_id":"https://c.example/m","exp":1767229200,"iss":"https://fuzz.logto.app/oidc","aud":"https://api.example.com"}`,
	`null`, `[]`, `1`, `"x"`, `{}`, ``, `{"sub":"a"}{"sub":"b"}`,
}

// FuzzClaims signs arbitrary claims JSON with the tenant's key: nothing may
// panic, every error is one of the classes, and a token accepted has claims
// that meet every check: trusted issuer, this API in aud, not expired, not
// issued or valid in the future, a subject, and the raw claims as signed.
func FuzzClaims(f *testing.F) {
	v, r := fuzzValidator(f)
	header := seg(rHeader(nil))
	for _, s := range fuzzClaimsSeeds {
		f.Add([]byte(s))
	}
	leeway := middleware.DefaultLeeway
	f.Fuzz(func(t *testing.T, claims []byte) {
		token := signParts(jwt.SigningMethodES384, r.es384, header, seg(claims))
		c, err := v.Verify(context.Background(), token)
		if err != nil {
			checkRejection(t, v, c, err)
			return
		}
		switch {
		case c.Issuer != fuzzIssuer:
			t.Fatalf("accepted issuer %q", c.Issuer)
		case !slices.Contains(c.Audience, api):
			t.Fatalf("accepted audience %q", c.Audience)
		case c.Subject == "":
			t.Fatal("accepted without a subject")
		case !fuzzNow.Before(c.ExpiresAt.Add(leeway)):
			t.Fatalf("accepted exp %v at %v", c.ExpiresAt, fuzzNow)
		case c.IssuedAt.IsZero():
			t.Fatal("accepted without iat")
		case c.IssuedAt.After(fuzzNow.Add(leeway)):
			t.Fatalf("accepted iat %v at %v", c.IssuedAt, fuzzNow)
		case c.KeyID != fuzzKID:
			t.Fatalf("accepted kid %q", c.KeyID)
		}
		raw, err := c.Raw()
		if err != nil || string(raw) != string(claims) {
			t.Fatalf("Raw = %q, %v; signed %q", raw, err, claims)
		}
		var all map[string]any
		if err := c.Decode(&all); err != nil {
			t.Fatalf("Decode of accepted claims: %v", err)
		}
		// nbf is checked but not kept in Claims: read it as the validator did.
		var times struct {
			NotBefore *jwt.NumericDate `json:"nbf"`
		}
		if err := json.Unmarshal(claims, &times); err == nil && times.NotBefore != nil && times.NotBefore.After(fuzzNow.Add(leeway)) {
			t.Fatalf("accepted nbf %v at %v", times.NotBefore, fuzzNow)
		}
		// act: absent, or an object whose sub is the actor; never a token
		// whose act was dropped on the way. encoding/json keeps the last
		// of duplicate members, which Verify refuses anyway.
		var act struct {
			Act *json.RawMessage `json:"act"`
		}
		_ = json.Unmarshal(claims, &act)
		var actor struct {
			Sub   *string         `json:"sub"`
			Prior json.RawMessage `json:"act"` // null too
		}
		switch {
		case act.Act == nil && c.Actor != "":
			t.Fatalf("actor %q without act", c.Actor)
		case act.Act != nil && (json.Unmarshal(*act.Act, &actor) != nil || actor.Sub == nil || *actor.Sub != c.Actor || c.Actor == ""):
			t.Fatalf("act %s accepted as actor %q", *act.Act, c.Actor)
		case len(actor.Prior) > 0 && actor.Prior[0] != '{':
			t.Fatalf("act %s accepted with a prior actor that is not an object", *act.Act)
		case c.IsM2M() && strings.Contains(c.ClientID, "://"):
			t.Fatalf("a URL client ID %q taken for an M2M app", c.ClientID)
		}
		_, _ = c.Organization()
	})
}

// fuzzHeaderSeeds are JOSE headers: Logto's, and the attacks of the attack
// suite.
var fuzzHeaderSeeds = []string{
	`{"alg":"ES384","typ":"at+jwt","kid":"r-es384"}`,
	`{"alg":"ES384","typ":"application/at+jwt","kid":"r-es384"}`,
	`{"alg":"ES384","typ":"AT+JWT","kid":"r-es384"}`,
	`{"alg":"ES384","typ":"JWT","kid":"r-es384"}`,
	`{"alg":"ES384","kid":"r-es384"}`,
	`{"alg":"none","typ":"at+jwt","kid":"r-es384"}`,
	`{"alg":"HS256","typ":"at+jwt","kid":"r-es384"}`,
	`{"alg":"ES256","typ":"at+jwt","kid":"r-p384"}`,
	`{"alg":"RS256","typ":"at+jwt","kid":"r-rsa"}`,
	`{"alg":"ES384","typ":"at+jwt","kid":"r-es384","crit":["b64"],"b64":false}`,
	`{"alg":"ES384","typ":"at+jwt","kid":"r-es384","crit":["exp"]}`,
	`{"alg":"ES384","typ":"at+jwt","kid":"r-es384","jku":"http://127.0.0.1:1/jwks","x5u":"http://127.0.0.1:1/x"}`,
	`{"alg":"ES384","typ":"at+jwt","kid":"r-es384","jwk":{"kty":"EC","crv":"P-384","x":"AA","y":"AA"}}`,
	`{"alg":"none","alg":"ES384","typ":"at+jwt","kid":"x","kid":"r-es384"}`,
	`{"alg":"ES384","typ":"at+jwt","kid":1}`,
	`{"alg":"ES384","typ":"at+jwt","kid":"../../etc/passwd"}`,
	`{"alg":"ES384","typ":"at+jwt","kid":"r-es384","enc":"A256GCM"}`,
	`null`, `[]`, `{}`, `1`, ``,
}

// FuzzHeader signs valid claims under an arbitrary header with the tenant's
// ES384 key: nothing may panic, every error is one of the classes, and a
// token accepted has a header that names ES384, an access-token typ, the
// signing key's kid, and no crit.
func FuzzHeader(f *testing.F) {
	v, r := fuzzValidator(f)
	claims := seg([]byte(fuzzClaimsSeeds[0]))
	for _, s := range fuzzHeaderSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, header []byte) {
		token := signParts(jwt.SigningMethodES384, r.es384, seg(header), claims)
		c, err := v.Verify(context.Background(), token)
		if err != nil {
			checkRejection(t, v, c, err)
			return
		}
		// encoding/json, as the parser reads the header.
		var h map[string]any
		if err := json.Unmarshal(header, &h); err != nil {
			t.Fatalf("accepted a header that is not a JSON object: %v", err)
		}
		typ, _ := h["typ"].(string)
		_, crit := h["crit"]
		switch {
		case h["alg"] != "ES384":
			t.Fatalf("accepted alg %v", h["alg"])
		case !strings.EqualFold(typ, "at+jwt") && !strings.EqualFold(typ, "application/at+jwt"):
			t.Fatalf("accepted typ %v", h["typ"])
		case h["kid"] != fuzzKID || c.KeyID != fuzzKID:
			t.Fatalf("accepted kid %v (claims say %q)", h["kid"], c.KeyID)
		case crit:
			t.Fatalf("accepted crit %v", h["crit"])
		case c.Subject != "app-1" || c.Issuer != fuzzIssuer:
			t.Fatalf("accepted with claims %+v", c)
		}
	})
}
