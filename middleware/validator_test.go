package middleware_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/logtoguard/logtoguard/logtotest"
	"github.com/logtoguard/logtoguard/middleware"
)

const api = "https://api.example.com"

// clock is a settable test clock.
type clock struct{ ns atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.ns.Store(time.Now().UnixNano())
	return c
}
func (c *clock) Now() time.Time      { return time.Unix(0, c.ns.Load()) }
func (c *clock) Add(d time.Duration) { c.ns.Add(int64(d)) }

func newValidator(t testing.TB, iss *logtotest.Issuer, mod func(*middleware.Config)) *middleware.Validator {
	t.Helper()
	cfg := middleware.Config{Endpoint: iss.Endpoint(), Audiences: []string{api}}
	if mod != nil {
		mod(&cfg)
	}
	v, err := middleware.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := v.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestNewConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  middleware.Config
		want string
	}{
		{"no audience", middleware.Config{Endpoint: "https://t.logto.app"}, "Audiences is required"},
		{"empty audience", middleware.Config{Endpoint: "https://t.logto.app", Audiences: []string{""}}, "empty audience"},
		{"no issuer", middleware.Config{Audiences: []string{api}}, "Endpoint or Issuers is required"},
		{"relative endpoint", middleware.Config{Endpoint: "t.logto.app", Audiences: []string{api}}, "absolute"},
		{"endpoint with /oidc", middleware.Config{Endpoint: "https://t.logto.app/oidc", Audiences: []string{api}}, "must not include /oidc"},
		{"endpoint and issuers", middleware.Config{Endpoint: "https://t.logto.app", Issuers: []string{"https://auth.example.com/oidc"}, Audiences: []string{api}},
			"Endpoint \"https://t.logto.app\" and Issuers are both set"},
		{"tenant endpoint and issuers", middleware.Config{Endpoint: "https://t.logto.app", Audiences: []string{api},
			Tenants: []middleware.Tenant{{Endpoint: "https://u.logto.app", Issuers: []string{"https://auth.example.com/oidc"}}}}, "are both set"},
		{"issuer with slash", middleware.Config{Issuers: []string{"https://t.logto.app/oidc/"}, Audiences: []string{api}}, "must not end with a slash"},
		{"management audience", middleware.Config{Endpoint: "https://t.logto.app", Audiences: []string{"https://t.logto.app/api"}}, "Management API"},
		{"default management audience", middleware.Config{Endpoint: "http://localhost:3001", Audiences: []string{"https://default.logto.app/api"}}, "Management API"},
		{"organization audience", middleware.Config{Endpoint: "https://t.logto.app", Audiences: []string{"urn:logto:organization:o1"}}, "AcceptOrganizationTokens"},
		{"HS256", middleware.Config{Endpoint: "https://t.logto.app", Audiences: []string{api}, Algorithms: []string{"HS256"}}, "cannot be allowed"},
		{"none", middleware.Config{Endpoint: "https://t.logto.app", Audiences: []string{api}, Algorithms: []string{"none"}}, "cannot be allowed"},
		{"EdDSA", middleware.Config{Endpoint: "https://t.logto.app", Audiences: []string{api}, Algorithms: []string{"EdDSA"}}, "cannot be allowed"},
		{"bad realm", middleware.Config{Endpoint: "https://t.logto.app", Audiences: []string{api}, Realm: `a"b`}, "Realm"},
		{"bad jwks", middleware.Config{Endpoint: "https://t.logto.app", Audiences: []string{api}, JWKSURL: "/jwks"}, "absolute"},
		{"negative size", middleware.Config{Endpoint: "https://t.logto.app", Audiences: []string{api}, MaxTokenBytes: -1}, "negative"},
		{"JWKS URL without an issuer, beside tenants", middleware.Config{JWKSURL: "https://t.logto.app/oidc/jwks", Audiences: []string{api},
			Tenants: []middleware.Tenant{{Endpoint: "https://u.logto.app"}}}, "Endpoint or Issuers is required"},
		{"negative admission queue", middleware.Config{Endpoint: "https://t.logto.app", Audiences: []string{api},
			Admission: middleware.AdmissionConfig{MaxQueue: -1}}, "Admission"},
		{"same issuer twice", middleware.Config{Endpoint: "https://t.logto.app", Audiences: []string{api},
			Tenants: []middleware.Tenant{{Endpoint: "https://t.logto.app"}}}, "configured twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := middleware.New(tt.cfg)
			if err == nil {
				v.Close()
				t.Fatal("got nil error")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %q, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestNewDoesNotWaitForLogto(t *testing.T) {
	begin := time.Now()
	v, err := middleware.New(middleware.Config{Endpoint: "http://127.0.0.1:1", Audiences: []string{api}})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	if d := time.Since(begin); d > time.Second {
		t.Fatalf("New took %v with Logto unreachable", d)
	}
	if v.Ready() {
		t.Fatal("Ready with Logto unreachable")
	}
}

func TestVerifyM2M(t *testing.T) {
	for _, rsa := range []bool{false, true} {
		name := "ES384"
		var opts []logtotest.Option
		if rsa {
			name = "RS256"
			opts = append(opts, logtotest.WithRSA())
		}
		t.Run(name, func(t *testing.T) {
			iss := logtotest.New(t, opts...)
			v := newValidator(t, iss, nil)
			tok := iss.M2MToken("app-1", api, "read:products", "write:products")
			c, err := v.Verify(context.Background(), tok)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if c.Subject != "app-1" || c.ClientID != "app-1" || !c.IsM2M() {
				t.Fatalf("got sub %q client_id %q IsM2M %v", c.Subject, c.ClientID, c.IsM2M())
			}
			if id, ok := c.AppID(); !ok || id != "app-1" {
				t.Fatalf("AppID = %q, %v", id, ok)
			}
			if c.Issuer != iss.Issuer() || len(c.Audience) != 1 || c.Audience[0] != api {
				t.Fatalf("got iss %q aud %q", c.Issuer, c.Audience)
			}
			if !c.HasScope("read:products") || !c.HasScope("write:products") || c.HasScope("read") {
				t.Fatalf("scopes %q", c.Scopes)
			}
			if c.JWTID == "" || c.KeyID != iss.SigningKey().ID() || c.ExpiresAt.IsZero() || c.IssuedAt.IsZero() {
				t.Fatalf("jti %q kid %q exp %v iat %v", c.JWTID, c.KeyID, c.ExpiresAt, c.IssuedAt)
			}
			if d := c.ExpiresAt.Sub(c.IssuedAt); d != time.Hour {
				t.Fatalf("lifetime %v, want 1h", d)
			}
		})
	}
}

func TestVerifyUserAndCustomClaims(t *testing.T) {
	iss := logtotest.New(t)
	v := newValidator(t, iss, nil)
	tok := iss.Mint(logtotest.Token{
		Subject: "user-1", ClientID: "spa-app", Audience: api, Scopes: []string{"read:products"},
		OrganizationID: "org-1",
		Extra:          map[string]any{"roles": []string{"admin"}, "act": map[string]any{"sub": "support-1"}},
	})
	c, err := v.Verify(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if c.IsM2M() {
		t.Fatal("a user token is M2M")
	}
	if _, ok := c.AppID(); ok {
		t.Fatal("a user token has an App ID")
	}
	if org, ok := c.Organization(); !ok || org != "org-1" || c.OrganizationID != "org-1" {
		t.Fatalf("organization %q %v", org, ok)
	}
	var extra struct {
		Roles []string `json:"roles"`
		Act   struct {
			Sub string `json:"sub"`
		} `json:"act"`
	}
	if err := c.Decode(&extra); err != nil {
		t.Fatal(err)
	}
	if len(extra.Roles) != 1 || extra.Roles[0] != "admin" || extra.Act.Sub != "support-1" {
		t.Fatalf("custom claims %+v", extra)
	}
}

func TestVerifyAudienceArray(t *testing.T) {
	iss := logtotest.New(t)
	v := newValidator(t, iss, nil)
	ok := iss.Mint(logtotest.Token{Subject: "a", ClientID: "a", Audience: []string{"https://other.example.com", api}})
	if _, err := v.Verify(context.Background(), ok); err != nil {
		t.Fatalf("aud array with ours: %v", err)
	}
	bad := iss.Mint(logtotest.Token{Subject: "a", ClientID: "a", Audience: []string{"https://other.example.com", "https://api.example.com/"}})
	if _, err := v.Verify(context.Background(), bad); !errors.Is(err, middleware.ErrAudience) {
		t.Fatalf("aud array without ours: %v", err)
	}
}

// b64 encodes JSON for hand-made token parts.
func b64(v any) string {
	raw, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(raw)
}

func TestVerifyRejects(t *testing.T) {
	clk := newClock()
	iss := logtotest.New(t, logtotest.WithClock(clk.Now))
	v := newValidator(t, iss, func(c *middleware.Config) { c.Now = clk.Now; c.Leeway = 30 * time.Second })
	now := clk.Now()
	m2m := func(mod func(*logtotest.Token)) string {
		spec := logtotest.Token{Subject: "app-1", ClientID: "app-1", Audience: api, Scopes: []string{"read:products"}}
		mod(&spec)
		return iss.Mint(spec)
	}
	valid := iss.M2MToken("app-1", api, "read:products")
	parts := strings.Split(valid, ".")

	tests := []struct {
		name  string
		token string
		want  error
		desc  string // a part of the description
	}{
		{"empty", "", middleware.ErrNoToken, ""},
		{"opaque", iss.OpaqueToken(), middleware.ErrOpaqueToken, "resource="},
		{"JWE", "a.b.c.d.e", middleware.ErrMalformed, "encrypted"},
		{"two parts", parts[0] + "." + parts[1], middleware.ErrMalformed, "three"},
		{"four parts", valid + ".x", middleware.ErrMalformed, "three"},
		{"bad characters", parts[0] + "." + parts[1] + ".a+b/c=", middleware.ErrMalformed, "base64url"},
		{"padding", valid + "=", middleware.ErrMalformed, "base64url"},
		{"empty signature", parts[0] + "." + parts[1] + ".", middleware.ErrMalformed, "empty part"},
		{"empty header", "." + parts[1] + "." + parts[2], middleware.ErrMalformed, "empty part"},
		{"too large", valid[:len(valid)-10] + strings.Repeat("A", 20000), middleware.ErrMalformed, "larger than"},
		{"header not JSON", "bm90IGpzb24." + parts[1] + "." + parts[2], middleware.ErrMalformed, ""},
		{"expired", iss.ExpiredToken("app-1", api, "read:products"), middleware.ErrExpired, "expired"},
		{"expired beyond leeway", m2m(func(s *logtotest.Token) { s.IssuedAt = now.Add(-2 * time.Hour); s.TTL = time.Hour - 31*time.Second }), middleware.ErrExpired, ""},
		{"iat in the future", m2m(func(s *logtotest.Token) { s.IssuedAt = now.Add(31 * time.Second) }), middleware.ErrNotYetValid, "iat"},
		{"nbf in the future", m2m(func(s *logtotest.Token) { s.Extra = map[string]any{"nbf": now.Add(time.Minute).Unix()} }), middleware.ErrNotYetValid, "nbf"},
		{"no exp", m2m(func(s *logtotest.Token) { s.Extra = map[string]any{"exp": nil} }), middleware.ErrMalformed, "exp"},
		{"exp a string", m2m(func(s *logtotest.Token) { s.Extra = map[string]any{"exp": "tomorrow"} }), middleware.ErrMalformed, ""},
		{"exp a bool", m2m(func(s *logtotest.Token) { s.Extra = map[string]any{"exp": true} }), middleware.ErrMalformed, ""},
		{"exp an array", m2m(func(s *logtotest.Token) { s.Extra = map[string]any{"exp": []int64{now.Add(time.Hour).Unix()}} }), middleware.ErrMalformed, ""},
		{"exp out of float range", m2m(func(s *logtotest.Token) { s.Extra = map[string]any{"exp": json.RawMessage("1e309")} }), middleware.ErrMalformed, ""},
		{"exp after year 9999", m2m(func(s *logtotest.Token) { s.Extra = map[string]any{"exp": json.RawMessage("1e15")} }), middleware.ErrMalformed, ""},
		{"iat a string", m2m(func(s *logtotest.Token) { s.Extra = map[string]any{"iat": "now"} }), middleware.ErrMalformed, ""},
		{"nbf an object", m2m(func(s *logtotest.Token) { s.Extra = map[string]any{"nbf": map[string]any{}} }), middleware.ErrMalformed, ""},
		{"aud a number", m2m(func(s *logtotest.Token) { s.Extra = map[string]any{"aud": 1} }), middleware.ErrMalformed, ""},
		{"aud with a number", m2m(func(s *logtotest.Token) { s.Extra = map[string]any{"aud": []any{api, 1}} }), middleware.ErrMalformed, ""},
		{"aud empty array", m2m(func(s *logtotest.Token) { s.Extra = map[string]any{"aud": []string{}} }), middleware.ErrAudience, "no audience"},
		{"no sub", m2m(func(s *logtotest.Token) { s.Extra = map[string]any{"sub": nil} }), middleware.ErrMalformed, "sub"},
		{"sub a number", m2m(func(s *logtotest.Token) { s.Extra = map[string]any{"sub": 1} }), middleware.ErrMalformed, ""},
		{"scope an array", m2m(func(s *logtotest.Token) { s.Extra = map[string]any{"scope": []string{"read:products"}} }), middleware.ErrMalformed, ""},
		{"iss an array", m2m(func(s *logtotest.Token) { s.Extra = map[string]any{"iss": []string{iss.Issuer()}} }), middleware.ErrMalformed, ""},
		{"aud an object", m2m(func(s *logtotest.Token) { s.Extra = map[string]any{"aud": map[string]any{"x": api}} }), middleware.ErrMalformed, ""},
		{"wrong audience", m2m(func(s *logtotest.Token) { s.Audience = "https://other.example.com" }), middleware.ErrAudience, "other.example.com"},
		{"no audience", m2m(func(s *logtotest.Token) { s.Extra = map[string]any{"aud": nil} }), middleware.ErrAudience, "no audience"},
		{"management API", iss.WrongAudienceToken("app-1"), middleware.ErrAudience, "Management API"},
		{"other issuer", m2m(func(s *logtotest.Token) { s.Issuer = "https://evil.example.com/oidc" }), middleware.ErrIssuer, "not trusted"},
		{"issuer with slash", m2m(func(s *logtotest.Token) { s.Issuer = iss.Issuer() + "/" }), middleware.ErrIssuer, ""},
		{"ID token", iss.IDToken("user-1", "spa-app"), middleware.ErrTokenType, "ID token"},
		{"typ JWT", m2m(func(s *logtotest.Token) { s.Header = map[string]any{"typ": "JWT"} }), middleware.ErrTokenType, "is it an ID token?"},
		{"no typ", m2m(func(s *logtotest.Token) { s.Header = map[string]any{"typ": nil} }), middleware.ErrTokenType, "is it an ID token?"},
		{"typ a number", m2m(func(s *logtotest.Token) { s.Header = map[string]any{"typ": 1} }), middleware.ErrTokenType, ""},
		{"no kid", m2m(func(s *logtotest.Token) { s.Header = map[string]any{"kid": nil} }), middleware.ErrMalformed, "kid"},
		{"crit header", m2m(func(s *logtotest.Token) { s.Header = map[string]any{"crit": []string{"b64"}, "b64": false} }), middleware.ErrMalformed, "crit"},
		{"foreign key", iss.ForeignKeyToken("app-1", api, "read:products"), middleware.ErrUnknownKey, ""},
		{"alg none", b64(map[string]any{"alg": "none", "typ": "at+jwt", "kid": iss.SigningKey().ID()}) + "." + parts[1] + ".AA", middleware.ErrAlgorithm, "none"},
		{"alg HS256", b64(map[string]any{"alg": "HS256", "typ": "at+jwt", "kid": iss.SigningKey().ID()}) + "." + parts[1] + "." + parts[2], middleware.ErrAlgorithm, "HS256"},
		{"alg ES256 with a P-384 key", b64(map[string]any{"alg": "ES256", "typ": "at+jwt", "kid": iss.SigningKey().ID()}) + "." + parts[1] + "." + parts[2], middleware.ErrUnknownKey, "fit"},
		{"alg RS256 with an EC key", b64(map[string]any{"alg": "RS256", "typ": "at+jwt", "kid": iss.SigningKey().ID()}) + "." + parts[1] + "." + parts[2], middleware.ErrUnknownKey, "fit"},
		{"payload swapped", parts[0] + "." + b64(map[string]any{"iss": iss.Issuer(), "sub": "admin", "client_id": "admin", "aud": api, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "scope": "all"}) + "." + parts[2], middleware.ErrSignature, "signature"},
		{"signature zero", parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(make([]byte, 96)), middleware.ErrSignature, ""},
		{"signature truncated", parts[0] + "." + parts[1] + "." + parts[2][:20], middleware.ErrSignature, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := v.Verify(context.Background(), tt.token)
			if c != nil || !errors.Is(err, tt.want) {
				t.Fatalf("Verify = %v, %v; want %v", c, err, tt.want)
			}
			var e *middleware.Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T is not a *middleware.Error", err)
			}
			if tt.want != middleware.ErrNoToken && !errors.Is(err, middleware.ErrInvalidToken) {
				t.Fatalf("%v does not match ErrInvalidToken", err)
			}
			if !strings.Contains(e.Description, tt.desc) {
				t.Fatalf("description %q does not contain %q", e.Description, tt.desc)
			}
			if strings.Contains(e.Description, tt.token) && tt.token != "" {
				t.Fatal("the description holds the token")
			}
		})
	}
}

// TestDuplicateMembers: a header or claims set with a member twice is
// refused before any key is fetched, whichever copy would be the good one;
// duplicates inside a custom claim's object are the claim's business.
// TestTokenTypeHint: the ID-token hint is given for typ JWT or no typ
// (what an ID token carries), not for another typ.
func TestTokenTypeHint(t *testing.T) {
	iss := logtotest.New(t)
	v := newValidator(t, iss, nil)
	tok := iss.Mint(logtotest.Token{Subject: "app-1", ClientID: "app-1", Audience: api, Header: map[string]any{"typ": "dpop+jwt"}})
	_, err := v.Verify(context.Background(), tok)
	var e *middleware.Error
	if !errors.Is(err, middleware.ErrTokenType) || !errors.As(err, &e) {
		t.Fatalf("got %v, want ErrTokenType", err)
	}
	if strings.Contains(e.Description, "ID token") {
		t.Fatalf("description %q: the ID-token hint for typ dpop+jwt", e.Description)
	}
}

func TestDuplicateMembers(t *testing.T) {
	iss := logtotest.New(t)
	v := newValidator(t, iss, func(c *middleware.Config) { c.Cache.Disabled = true })
	k := iss.SigningKey()
	header := `{"alg":"` + k.Algorithm() + `","typ":"at+jwt","kid":"` + k.ID() + `"}`
	iat := time.Now().Unix()
	claims := func(extra string) string {
		return fmt.Sprintf(`{"sub":"app-1","client_id":"app-1","iss":%q,"aud":%q,"iat":%d,"exp":%d%s}`, iss.Issuer(), api, iat, iat+3600, extra)
	}
	ctx := context.Background()
	if _, err := v.Verify(ctx, iss.MintRaw(nil, []byte(header), []byte(claims(`,"custom":{"a":1,"a":2}`)))); err != nil {
		t.Fatalf("well-formed token: %v", err)
	}
	tests := []struct {
		name, header, claims, member string
	}{
		{"alg twice", `{"alg":"none","alg":"` + k.Algorithm() + `","typ":"at+jwt","kid":"` + k.ID() + `"}`, claims(""), "alg"},
		{"kid twice", `{"alg":"` + k.Algorithm() + `","typ":"at+jwt","kid":"other","kid":"` + k.ID() + `"}`, claims(""), "kid"},
		{"typ twice", `{"alg":"` + k.Algorithm() + `","typ":"JWT","typ":"at+jwt","kid":"` + k.ID() + `"}`, claims(""), "typ"},
		{"aud twice", header, claims(`,"aud":"https://other.example.com"`), "aud"},
		{"aud twice, good one last", header, `{"aud":"https://other.example.com",` + claims("")[1:], "aud"},
		{"iss twice", header, claims(`,"iss":"https://evil.example.com/oidc"`), "iss"},
		{"exp twice", header, claims(`,"exp":1`), "exp"},
		{"sub twice", header, claims(`,"sub":"admin"`), "sub"},
		{"scope twice", header, claims(`,"scope":"","scope":"admin"`), "scope"},
		{"aud in capitals", header, strings.Replace(claims(""), `"aud"`, `"AUD"`, 1), "AUD"},
		{"scope with a long s", header, strings.Replace(claims(`,"scope":"admin"`), `"scope"`, `"ſcope"`, 1), "ſcope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := iss.JWKSFetches()
			_, err := v.Verify(ctx, iss.MintRaw(nil, []byte(tt.header), []byte(tt.claims)))
			var e *middleware.Error
			if !errors.Is(err, middleware.ErrMalformed) || !errors.As(err, &e) || !strings.Contains(e.Description, `member "`+tt.member+`"`) {
				t.Fatalf("got %v, want ErrMalformed naming %q", err, tt.member)
			}
			if iss.JWKSFetches() != before {
				t.Error("a key fetch happened")
			}
		})
	}
}

func TestVerifyLeeway(t *testing.T) {
	clk := newClock()
	iss := logtotest.New(t, logtotest.WithClock(clk.Now))
	v := newValidator(t, iss, func(c *middleware.Config) { c.Now = clk.Now; c.Cache.Disabled = true })
	tok := iss.M2MToken("app-1", api)
	clk.Add(time.Hour + 29*time.Second) // expired, but within the default 30s leeway
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Fatalf("within leeway: %v", err)
	}
	clk.Add(2 * time.Second)
	if _, err := v.Verify(context.Background(), tok); !errors.Is(err, middleware.ErrExpired) {
		t.Fatalf("beyond leeway: %v", err)
	}

	// A server a little behind Logto's clock accepts a token just issued.
	clk2 := newClock()
	iss2 := logtotest.New(t, logtotest.WithClock(func() time.Time { return clk2.Now().Add(10 * time.Second) }))
	v2 := newValidator(t, iss2, func(c *middleware.Config) { c.Now = clk2.Now })
	if _, err := v2.Verify(context.Background(), iss2.M2MToken("app-1", api)); err != nil {
		t.Fatalf("iat 10s ahead: %v", err)
	}
	// With no leeway it is refused.
	v3 := newValidator(t, iss2, func(c *middleware.Config) { c.Now = clk2.Now; c.Leeway = -1 })
	if _, err := v3.Verify(context.Background(), iss2.M2MToken("app-1", api)); !errors.Is(err, middleware.ErrNotYetValid) {
		t.Fatalf("iat 10s ahead without leeway: %v", err)
	}
}

// TestVerifyNumericDates: NumericDates may carry a fraction (RFC 7519,
// section 2), which is dropped; the lifetime is checked on whole seconds.
func TestVerifyNumericDates(t *testing.T) {
	clk := newClock()
	iss := logtotest.New(t, logtotest.WithClock(clk.Now))
	v := newValidator(t, iss, func(c *middleware.Config) { c.Now = clk.Now; c.Cache.Disabled = true; c.Leeway = -1 })
	exp := clk.Now().Add(time.Hour).Unix()
	tok := iss.Mint(logtotest.Token{Subject: "app-1", ClientID: "app-1", Audience: api, Extra: map[string]any{
		"exp": json.RawMessage(fmt.Sprintf("%d.75", exp)),
		"iat": json.RawMessage(fmt.Sprintf("%d.5", clk.Now().Unix())),
	}})
	c, err := v.Verify(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if c.ExpiresAt.Unix() != exp || c.IssuedAt.Unix() != clk.Now().Unix() {
		t.Errorf("ExpiresAt %v IssuedAt %v, want %d and %d", c.ExpiresAt, c.IssuedAt, exp, clk.Now().Unix())
	}
	clk.Add(time.Hour - time.Second)
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Errorf("one second before exp: %v", err)
	}
	clk.Add(time.Second)
	if _, err := v.Verify(context.Background(), tok); !errors.Is(err, middleware.ErrExpired) {
		t.Errorf("at exp: %v, want ErrExpired", err)
	}
}

// TestVerifyNumericDateRange: exp, iat and nbf may be any number of
// seconds within the years 0 to 9999, ends included; one second beyond
// either end is malformed. (An iat in the year 0 parses, and is then
// refused by MaxTokenLifetime as expired.)
func TestVerifyNumericDateRange(t *testing.T) {
	const maxDate = 253402300799 // 9999-12-31T23:59:59Z
	iss := logtotest.New(t)
	v := newValidator(t, iss, func(c *middleware.Config) { c.Cache.Disabled = true })
	tests := []struct {
		claim string
		value int64
		ok    bool
	}{
		{"exp", maxDate, true},
		{"exp", maxDate + 1, false},
		{"iat", -maxDate, false},
		{"iat", -maxDate - 1, false},
		{"nbf", -maxDate, true},
		{"nbf", -maxDate - 1, false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s=%d", tt.claim, tt.value), func(t *testing.T) {
			tok := iss.Mint(logtotest.Token{Subject: "app-1", ClientID: "app-1", Audience: api, Extra: map[string]any{tt.claim: tt.value}})
			_, err := v.Verify(context.Background(), tok)
			if tt.ok && err != nil {
				t.Fatalf("got %v, want the token accepted", err)
			}
			want := middleware.ErrMalformed
			if tt.claim == "iat" && tt.value == -maxDate {
				want = middleware.ErrExpired
			}
			if !tt.ok && !errors.Is(err, want) {
				t.Fatalf("got %v, want %v", err, want)
			}
		})
	}
}

func TestVerifyTypeVariants(t *testing.T) {
	iss := logtotest.New(t)
	v := newValidator(t, iss, nil)
	skip := newValidator(t, iss, func(c *middleware.Config) { c.SkipTypeCheck = true })
	for _, typ := range []string{"at+jwt", "AT+JWT", "application/at+jwt", "Application/AT+JWT"} {
		tok := iss.Mint(logtotest.Token{Subject: "a", ClientID: "a", Audience: api, Header: map[string]any{"typ": typ}})
		if _, err := v.Verify(context.Background(), tok); err != nil {
			t.Errorf("typ %q: %v", typ, err)
		}
	}
	id := iss.IDToken("user-1", "spa")
	if _, err := skip.Verify(context.Background(), id); !errors.Is(err, middleware.ErrAudience) {
		t.Errorf("ID token with SkipTypeCheck: %v, want the audience check to refuse it", err)
	}
	jwtTyp := iss.Mint(logtotest.Token{Subject: "a", ClientID: "a", Audience: api, Header: map[string]any{"typ": "JWT"}})
	if _, err := skip.Verify(context.Background(), jwtTyp); err != nil {
		t.Errorf("typ JWT with SkipTypeCheck: %v", err)
	}
}

func TestAlgorithmAllowlist(t *testing.T) {
	iss := logtotest.New(t, logtotest.WithRSA())
	v := newValidator(t, iss, func(c *middleware.Config) { c.Algorithms = []string{"ES384"} })
	if _, err := v.Verify(context.Background(), iss.M2MToken("a", api)); !errors.Is(err, middleware.ErrAlgorithm) {
		t.Fatalf("RS256 with an ES384-only allowlist: %v", err)
	}
}

func TestIssuerCheckedBeforeKeyFetch(t *testing.T) {
	iss := logtotest.New(t)
	v := newValidator(t, iss, nil)
	iss.ResetJWKSFetches()
	for _, tok := range []string{
		iss.Mint(logtotest.Token{Subject: "a", ClientID: "a", Audience: api, Issuer: "https://evil.example.com/oidc", Header: map[string]any{"kid": "random-1"}}),
		iss.Mint(logtotest.Token{Subject: "a", ClientID: "a", Audience: "https://other.example.com", Header: map[string]any{"kid": "random-2"}}),
		iss.Mint(logtotest.Token{Subject: "a", ClientID: "a", Audience: api, Header: map[string]any{"kid": "random-3", "typ": "JWT"}}),
		iss.Mint(logtotest.Token{Subject: "a", ClientID: "a", Audience: api, Header: map[string]any{"kid": "random-4", "alg": "HS256"}}),
	} {
		if _, err := v.Verify(context.Background(), tok); err == nil {
			t.Fatal("accepted")
		}
	}
	if n := iss.JWKSFetches(); n != 0 {
		t.Fatalf("%d key fetches for tokens refused before the key lookup", n)
	}
}

func TestRotation(t *testing.T) {
	iss := logtotest.New(t)
	v := newValidator(t, iss, func(c *middleware.Config) { c.RefetchInterval = time.Hour })
	old := iss.M2MToken("app-1", api)
	if _, err := v.Verify(context.Background(), old); err != nil {
		t.Fatal(err)
	}
	// Immediate rotation: the new key signs at once, the old one is gone.
	iss.RotateKeys()
	fresh := iss.M2MToken("app-1", api)
	if _, err := v.Verify(context.Background(), fresh); err != nil {
		t.Fatalf("first token after an immediate rotation: %v", err)
	}
	// The refetch replaced the whole set: the old token is refused, cached
	// or not.
	if _, err := v.Verify(context.Background(), old); !errors.Is(err, middleware.ErrUnknownKey) {
		t.Fatalf("token of a removed key: %v", err)
	}
}

func TestStagedRotation(t *testing.T) {
	iss := logtotest.New(t)
	v := newValidator(t, iss, func(c *middleware.Config) { c.RefetchInterval = time.Hour })
	old := iss.M2MToken("app-1", api)
	iss.StageRotation()
	iss.CompleteRotation()
	if _, err := v.Verify(context.Background(), iss.M2MToken("app-1", api)); err != nil {
		t.Fatalf("token of the next key: %v", err)
	}
	if _, err := v.Verify(context.Background(), old); err != nil {
		t.Fatalf("token of the previous key, still published: %v", err)
	}
}

func TestKeysUnavailable(t *testing.T) {
	iss := logtotest.New(t)
	iss.SetJWKSDown(true)
	v, err := middleware.New(middleware.Config{Endpoint: iss.Endpoint(), Audiences: []string{api}})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	_, err = v.Verify(context.Background(), iss.M2MToken("app-1", api))
	if !errors.Is(err, middleware.ErrKeysUnavailable) || errors.Is(err, middleware.ErrInvalidToken) {
		t.Fatalf("Verify with keys never loaded: %v", err)
	}
	iss.SetJWKSDown(false)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := v.WaitReady(ctx); err != nil {
		t.Fatalf("no recovery: %v", err)
	}
	if _, err := v.Verify(context.Background(), iss.M2MToken("app-1", api)); err != nil {
		t.Fatal(err)
	}
	// Down again: the last good keys keep working.
	iss.SetJWKSDown(true)
	if _, err := v.Verify(context.Background(), iss.M2MToken("app-2", api)); err != nil {
		t.Fatalf("with the JWKS down mid-run: %v", err)
	}
}

func TestCustomDomainIssuers(t *testing.T) {
	iss := logtotest.New(t)
	custom := "https://auth.example.com/oidc"
	v := newValidator(t, iss, func(c *middleware.Config) {
		c.Endpoint = ""
		c.Issuers = []string{iss.Issuer(), custom}
	})
	for _, i := range []string{iss.Issuer(), custom} {
		tok := iss.Mint(logtotest.Token{Subject: "a", ClientID: "a", Audience: api, Issuer: i})
		c, err := v.Verify(context.Background(), tok)
		if err != nil || c.Issuer != i {
			t.Fatalf("issuer %q: %v", i, err)
		}
	}
}

func TestTenantsKeepTheirKeys(t *testing.T) {
	for _, primary := range []string{"Endpoint", "Issuers"} {
		t.Run(primary, func(t *testing.T) { testTenantsKeepTheirKeys(t, primary) })
	}
}

// testTenantsKeepTheirKeys: tenant A configured by Endpoint or by Issuers
// beside Tenants, tenant B among the Tenants.
func testTenantsKeepTheirKeys(t *testing.T, primary string) {
	a, b := logtotest.New(t), logtotest.New(t)
	v := newValidator(t, a, func(c *middleware.Config) {
		if primary == "Issuers" {
			c.Endpoint, c.Issuers = "", []string{a.Issuer()}
		}
		c.Tenants = []middleware.Tenant{{Endpoint: b.Endpoint()}}
	})
	if _, err := v.Verify(context.Background(), a.M2MToken("app-a", api)); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(context.Background(), b.M2MToken("app-b", api)); err != nil {
		t.Fatal(err)
	}
	// Signed by tenant B's key, claiming tenant A.
	forged := b.Mint(logtotest.Token{Subject: "app-b", ClientID: "app-b", Audience: api, Issuer: a.Issuer()})
	if _, err := v.Verify(context.Background(), forged); !errors.Is(err, middleware.ErrUnknownKey) {
		t.Fatalf("tenant B's key for tenant A's issuer: %v", err)
	}
}

func TestOrganizationTokens(t *testing.T) {
	iss := logtotest.New(t)
	v := newValidator(t, iss, nil)
	org := iss.OrganizationToken("user-1", "app", "org-1", "read:members")
	if _, err := v.Verify(context.Background(), org); !errors.Is(err, middleware.ErrAudience) {
		t.Fatalf("organization token without AcceptOrganizationTokens: %v", err)
	}
	v2 := newValidator(t, iss, func(c *middleware.Config) { c.AcceptOrganizationTokens = true })
	c, err := v2.Verify(context.Background(), org)
	if err != nil {
		t.Fatal(err)
	}
	if id, ok := c.Organization(); !ok || id != "org-1" || !c.HasScope("read:members") {
		t.Fatalf("organization %q %v, scopes %q", id, ok, c.Scopes)
	}
}

// TestOrganizationAudienceShape: AcceptOrganizationTokens opens the door to
// urn:logto:organization:<id> with a non-empty id, and to nothing else that
// looks like it: another urn:, the prefix without its last colon or with an
// empty id, or another word in the prefix are still the wrong audience.
func TestOrganizationAudienceShape(t *testing.T) {
	iss := logtotest.New(t)
	v := newValidator(t, iss, func(c *middleware.Config) { c.AcceptOrganizationTokens = true })
	mint := func(aud any) string {
		return iss.Mint(logtotest.Token{Subject: "user-1", ClientID: "spa", Audience: aud, Scopes: []string{"read:members"}})
	}
	if _, err := v.Verify(context.Background(), mint(middleware.OrganizationAudiencePrefix+"org-1")); err != nil {
		t.Fatalf("organization token: %v", err)
	}
	for _, aud := range []any{
		"urn:example:api",
		"urn:logto:api",
		"urn:logto:organizations:org-1",
		"urn:logto:organization",
		middleware.OrganizationAudiencePrefix,
		[]string{middleware.OrganizationAudiencePrefix},
		[]string{middleware.OrganizationAudiencePrefix, "https://other.example.com"},
		"URN:LOGTO:ORGANIZATION:org-1",
	} {
		t.Run(fmt.Sprint(aud), func(t *testing.T) {
			if _, err := v.Verify(context.Background(), mint(aud)); !errors.Is(err, middleware.ErrAudience) {
				t.Fatalf("aud %q: got %v, want ErrAudience", aud, err)
			}
		})
	}
}

// TestCacheMaxTTL: a verdict is reused no longer than Cache.MaxTTL (default
// DefaultCacheMaxTTL), even when the token lives longer.
func TestCacheMaxTTL(t *testing.T) {
	for _, tt := range []struct {
		name   string
		maxTTL time.Duration
		want   time.Duration
	}{
		{"configured", time.Minute, time.Minute},
		{"default", 0, middleware.DefaultCacheMaxTTL},
	} {
		t.Run(tt.name, func(t *testing.T) {
			clk := newClock()
			iss := logtotest.New(t, logtotest.WithClock(clk.Now))
			var hits, misses atomic.Int64
			v := newValidator(t, iss, func(c *middleware.Config) {
				c.Now = clk.Now
				c.Cache.MaxTTL = tt.maxTTL
				c.Hooks.Verified = func(_ *middleware.Claims, cached bool) {
					if cached {
						hits.Add(1)
					} else {
						misses.Add(1)
					}
				}
			})
			tok := iss.Mint(logtotest.Token{Subject: "app-1", ClientID: "app-1", Audience: api, TTL: 24 * time.Hour})
			verify := func(wantHits, wantMisses int64) {
				t.Helper()
				if _, err := v.Verify(context.Background(), tok); err != nil {
					t.Fatal(err)
				}
				if hits.Load() != wantHits || misses.Load() != wantMisses {
					t.Fatalf("hits %d misses %d, want %d and %d", hits.Load(), misses.Load(), wantHits, wantMisses)
				}
			}
			verify(0, 1)
			clk.Add(tt.want - time.Second)
			verify(1, 1) // still within MaxTTL: a hit
			clk.Add(time.Second)
			verify(1, 2) // MaxTTL reached: verified again
			clk.Add(tt.want - time.Second)
			verify(2, 2) // the new verdict is reused for MaxTTL again
		})
	}
}

func TestCache(t *testing.T) {
	clk := newClock()
	iss := logtotest.New(t, logtotest.WithClock(clk.Now))
	var hits, misses atomic.Int64
	v := newValidator(t, iss, func(c *middleware.Config) {
		c.Now = clk.Now
		c.Hooks.Verified = func(_ *middleware.Claims, cached bool) {
			if cached {
				hits.Add(1)
			} else {
				misses.Add(1)
			}
		}
	})
	tok := iss.M2MToken("app-1", api, "read:products")
	first, err := v.Verify(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	second, err := v.Verify(context.Background(), tok)
	if err != nil || second != first {
		t.Fatalf("second Verify: %v, same claims %v", err, second == first)
	}
	if hits.Load() != 1 || misses.Load() != 1 {
		t.Fatalf("hits %d misses %d, want 1 and 1", hits.Load(), misses.Load())
	}
	// Every hit checks expiry again.
	clk.Add(time.Hour + 31*time.Second)
	if _, err := v.Verify(context.Background(), tok); !errors.Is(err, middleware.ErrExpired) {
		t.Fatalf("cached token after exp: %v", err)
	}
	// The expired entry was not served as a hit.
	if hits.Load() != 1 {
		t.Fatalf("hits %d after expiry", hits.Load())
	}
}

// TestCacheHitAllocatesNothing: a token in the cache is answered from
// memory before any decoding (README: no allocation), up to a token of
// exactly MaxTokenBytes.
func TestCacheHitAllocatesNothing(t *testing.T) {
	iss := logtotest.New(t)
	tok := iss.M2MToken("app-1", api, "read:products")
	for _, limit := range []int{middleware.DefaultMaxTokenBytes, len(tok)} {
		t.Run(fmt.Sprint(limit), func(t *testing.T) {
			v := newValidator(t, iss, func(c *middleware.Config) { c.MaxTokenBytes = limit })
			if _, err := v.Verify(context.Background(), tok); err != nil {
				t.Fatal(err)
			}
			var err error
			allocs := testing.AllocsPerRun(100, func() { _, err = v.Verify(context.Background(), tok) })
			if err != nil {
				t.Fatal(err)
			}
			if allocs != 0 {
				t.Fatalf("a cache hit allocated %v times, want 0", allocs)
			}
		})
	}
}

func TestCacheDisabled(t *testing.T) {
	iss := logtotest.New(t)
	var hits atomic.Int64
	v := newValidator(t, iss, func(c *middleware.Config) {
		c.Cache.Disabled = true
		c.Hooks.Verified = func(_ *middleware.Claims, cached bool) {
			if cached {
				hits.Add(1)
			}
		}
	})
	tok := iss.M2MToken("app-1", api)
	for i := 0; i < 3; i++ {
		if _, err := v.Verify(context.Background(), tok); err != nil {
			t.Fatal(err)
		}
	}
	if hits.Load() != 0 {
		t.Fatalf("%d cache hits with the cache disabled", hits.Load())
	}
}

func TestCacheDropsVerdictsOfRemovedKeys(t *testing.T) {
	iss := logtotest.New(t)
	v := newValidator(t, iss, func(c *middleware.Config) { c.RefetchInterval = time.Hour })
	tok := iss.M2MToken("app-1", api)
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	iss.RotateKeys()
	// Any fetch of the new set (here: the unknown-kid refetch of the first
	// token of the new key) must end the old verdict.
	if _, err := v.Verify(context.Background(), iss.M2MToken("app-1", api)); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(context.Background(), tok); !errors.Is(err, middleware.ErrUnknownKey) {
		t.Fatalf("cached verdict of a removed key: %v", err)
	}
}

func TestConcurrentVerify(t *testing.T) {
	iss := logtotest.New(t)
	v := newValidator(t, iss, func(c *middleware.Config) { c.Cache.MaxEntries = 32 })
	tokens := make([]string, 64)
	for i := range tokens {
		tokens[i] = iss.M2MToken("app-"+string(rune('a'+i%26)), api, "read:products")
	}
	bad := iss.ExpiredToken("app-1", api)
	var wg sync.WaitGroup
	var failures atomic.Int64
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				if _, err := v.Verify(context.Background(), tokens[(g*7+i)%len(tokens)]); err != nil {
					failures.Add(1)
				}
				if _, err := v.Verify(context.Background(), bad); err == nil {
					failures.Add(1)
				}
			}
		}(g)
	}
	wg.Wait()
	if failures.Load() != 0 {
		t.Fatalf("%d wrong verdicts under concurrency", failures.Load())
	}
}

func TestHooksAndLogsNeverSeeTheToken(t *testing.T) {
	iss := logtotest.New(t)
	var logs strings.Builder
	var mu sync.Mutex
	var rejected []error
	v := newValidator(t, iss, func(c *middleware.Config) {
		c.Logger = newTestLogger(&logs, &mu)
		c.Hooks.Rejected = func(err error) { mu.Lock(); rejected = append(rejected, err); mu.Unlock() }
	})
	tok := iss.Mint(logtotest.Token{Subject: "app-1", ClientID: "app-1", Audience: "https://wrong.example.com"})
	_, _ = v.Verify(context.Background(), tok)
	mu.Lock()
	defer mu.Unlock()
	if len(rejected) != 1 || !errors.Is(rejected[0], middleware.ErrAudience) {
		t.Fatalf("Rejected hook saw %v", rejected)
	}
	out := logs.String()
	for _, want := range []string{"expected one of [" + api + "]", "received [https://wrong.example.com]", "client_id=app-1"} {
		if !strings.Contains(out, want) {
			t.Errorf("log %q lacks %q", out, want)
		}
	}
	for _, part := range strings.Split(tok, ".") {
		if strings.Contains(out, part) {
			t.Fatal("the log holds part of the token")
		}
	}
}

// TestVerifyNilContext: a nil context is taken as context.Background(),
// also on the way that waits for a key refetch.
func TestVerifyNilContext(t *testing.T) {
	iss := logtotest.New(t)
	v := newValidator(t, iss, nil)
	var nilCtx context.Context
	if _, err := v.Verify(nilCtx, iss.M2MToken("app-1", api)); err != nil {
		t.Fatalf("genuine token: %v", err)
	}
	unknownKID := iss.Mint(logtotest.Token{Subject: "app-1", ClientID: "app-1", Audience: api, Header: map[string]any{"kid": "rotated"}})
	if _, err := v.Verify(nilCtx, unknownKID); !errors.Is(err, middleware.ErrUnknownKey) {
		t.Fatalf("unknown kid: got %v, want ErrUnknownKey", err)
	}
}
