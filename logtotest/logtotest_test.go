package logtotest

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
)

const api = "https://api.example.com"

// fetch makes a request to the issuer and returns the response with its body
// read.
func fetch(t *testing.T, method, url string, header http.Header) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

// decode splits a JWT and decodes its header and claims with nothing but
// encoding/base64 and encoding/json, to see exactly what was written.
func decode(t *testing.T, token string) (header, claims map[string]any) {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts, want 3", len(parts))
	}
	for i, dst := range []*map[string]any{&header, &claims} {
		raw, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			t.Fatalf("part %d: %v", i, err)
		}
		if err := json.Unmarshal(raw, dst); err != nil {
			t.Fatalf("part %d: %v", i, err)
		}
	}
	return header, claims
}

// keys returns a key set: the JWKS as served, parsed by jwkset, by kid.
func keys(t *testing.T, i *Issuer) map[string]any {
	t.Helper()
	resp, body := fetch(t, http.MethodGet, i.JWKSURL(), nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("JWKS status: got %d, want 200", resp.StatusCode)
	}
	var set jwkset.JWKSMarshal
	if err := json.Unmarshal(body, &set); err != nil {
		t.Fatal(err)
	}
	jwks, err := set.JWKSlice()
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string]any)
	for _, k := range jwks {
		out[k.Marshal().KID] = k.Key()
	}
	return out
}

// verify checks a token's signature against the key set with golang-jwt,
// looking the key up by kid. Claims (exp included) are not validated: the
// tests check them one by one.
func verify(token string, set map[string]any) error {
	_, err := jwt.NewParser(jwt.WithValidMethods([]string{"ES384", "RS256"}), jwt.WithoutClaimsValidation()).
		Parse(token, func(tok *jwt.Token) (any, error) {
			kid, _ := tok.Header["kid"].(string)
			if k, ok := set[kid]; ok {
				return k, nil
			}
			return nil, fmt.Errorf("no key %q in the JWKS", kid)
		})
	return err
}

func keysOf(m map[string]any) []string { return slices.Sorted(maps.Keys(m)) }

func TestThumbprintRFC7638Example(t *testing.T) {
	// RFC 7638, section 3.1.
	jwk := jwkset.JWKMarshal{
		KTY: jwkset.KtyRSA,
		E:   "AQAB",
		N:   "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
		ALG: jwkset.AlgRS256,
		KID: "2011-04-29", // not covered by the thumbprint
	}
	got, err := thumbprint(jwk)
	if err != nil {
		t.Fatal(err)
	}
	if want := "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"; got != want {
		t.Fatalf("thumbprint: got %s, want %s", got, want)
	}
	if _, err := thumbprint(jwkset.JWKMarshal{KTY: jwkset.KtyOct, K: "c2VjcmV0"}); err == nil || !strings.HasPrefix(err.Error(), "logtotest: ") {
		t.Fatalf("oct key: got %v, want a logtotest error", err)
	}
}

func TestKIDIsThumbprintOfPublishedKey(t *testing.T) {
	// The canonical JSON is rebuilt by hand from the served members, in
	// RFC 7638's order, independently of thumbprint().
	for _, rsa := range []bool{false, true} {
		k, err := NewKey(rsa)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := json.Marshal(k.jwk)
		var m map[string]string
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		var canonical string
		if rsa {
			canonical = fmt.Sprintf(`{"e":%q,"kty":"RSA","n":%q}`, m["e"], m["n"])
		} else {
			canonical = fmt.Sprintf(`{"crv":"P-384","kty":"EC","x":%q,"y":%q}`, m["x"], m["y"])
		}
		sum := sha256.Sum256([]byte(canonical))
		if want := base64.RawURLEncoding.EncodeToString(sum[:]); k.ID() != want || m["kid"] != want {
			t.Errorf("rsa=%v: KID %s, JWK kid %s, want %s", rsa, k.ID(), m["kid"], want)
		}
	}
}

func TestEndpoints(t *testing.T) {
	i := New(t)
	jwksHeaders := map[string]string{
		"Content-Type":  "application/jwk-set+json",
		"Cache-Control": "no-cache, max-age=0, must-revalidate",
	}
	tests := []struct {
		name    string
		method  string
		path    string
		status  int
		headers map[string]string
	}{
		{"discovery", http.MethodGet, "/oidc/.well-known/openid-configuration", 200, map[string]string{"Content-Type": "application/json; charset=utf-8"}},
		{"RFC 8414 metadata", http.MethodGet, "/oidc/.well-known/oauth-authorization-server", 200, map[string]string{"Content-Type": "application/json; charset=utf-8"}},
		{"JWKS", http.MethodGet, "/oidc/jwks", 200, jwksHeaders},
		{"JWKS HEAD", http.MethodHead, "/oidc/jwks", 200, jwksHeaders},
		{"JWKS POST", http.MethodPost, "/oidc/jwks", 405, map[string]string{"Allow": "GET, HEAD"}},
		{"token GET", http.MethodGet, "/oidc/token", 405, map[string]string{"Allow": "POST"}},
		{"discovery POST", http.MethodPost, "/oidc/.well-known/openid-configuration", 405, nil},
		{"root", http.MethodGet, "/", 404, nil},
		{"discovery without /oidc", http.MethodGet, "/.well-known/openid-configuration", 404, nil},
		{"JWKS with trailing slash", http.MethodGet, "/oidc/jwks/", 404, nil},
		{"introspection", http.MethodPost, "/oidc/token/introspection", 404, nil},
		{"userinfo", http.MethodGet, "/oidc/me", 404, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, _ := fetch(t, tt.method, i.Endpoint()+tt.path, nil)
			if resp.StatusCode != tt.status {
				t.Errorf("status: got %d, want %d", resp.StatusCode, tt.status)
			}
			for k, want := range tt.headers {
				if got := resp.Header.Get(k); got != want {
					t.Errorf("%s: got %q, want %q", k, got, want)
				}
			}
		})
	}
}

func TestURLs(t *testing.T) {
	i := New(t)
	if !regexp.MustCompile(`^http://127\.0\.0\.1:\d+$`).MatchString(i.Endpoint()) {
		t.Errorf("Endpoint: got %q, want http://127.0.0.1:<port>", i.Endpoint())
	}
	for name, got := range map[string]string{"Issuer": i.Issuer(), "JWKSURL": i.JWKSURL(), "TokenURL": i.TokenURL()} {
		want := map[string]string{"Issuer": "/oidc", "JWKSURL": "/oidc/jwks", "TokenURL": "/oidc/token"}[name]
		if got != i.Endpoint()+want {
			t.Errorf("%s: got %q, want %q", name, got, i.Endpoint()+want)
		}
	}
}

func TestDiscovery(t *testing.T) {
	const custom = "https://auth.example.com/oidc"
	tests := []struct {
		name     string
		opts     []Option
		issuer   func(*Issuer) string
		alg      string
		wantKeys int
	}{
		{"default", nil, func(i *Issuer) string { return i.Endpoint() + "/oidc" }, "ES384", 1},
		{"RSA", []Option{WithRSA()}, func(i *Issuer) string { return i.Endpoint() + "/oidc" }, "RS256", 1},
		{"custom domain", []Option{WithIssuer(custom)}, func(*Issuer) string { return custom }, "ES384", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			i := New(t, tt.opts...)
			var bodies [][]byte
			for _, p := range []string{"openid-configuration", "oauth-authorization-server"} {
				_, body := fetch(t, http.MethodGet, i.Endpoint()+"/oidc/.well-known/"+p, nil)
				bodies = append(bodies, body)
			}
			if string(bodies[0]) != string(bodies[1]) {
				t.Errorf("the two discovery documents differ:\n%s\n%s", bodies[0], bodies[1])
			}
			var doc struct {
				Issuer        string   `json:"issuer"`
				JWKSURI       string   `json:"jwks_uri"`
				TokenEndpoint string   `json:"token_endpoint"`
				Grants        []string `json:"grant_types_supported"`
				IDTokenAlgs   []string `json:"id_token_signing_alg_values_supported"`
			}
			if err := json.Unmarshal(bodies[0], &doc); err != nil {
				t.Fatal(err)
			}
			if want := tt.issuer(i); doc.Issuer != want || i.Issuer() != want {
				t.Errorf("issuer: got %q (Issuer() %q), want %q", doc.Issuer, i.Issuer(), want)
			}
			if doc.JWKSURI != i.JWKSURL() || doc.TokenEndpoint != i.TokenURL() {
				t.Errorf("jwks_uri %q token_endpoint %q, want %q and %q", doc.JWKSURI, doc.TokenEndpoint, i.JWKSURL(), i.TokenURL())
			}
			if !slices.Contains(doc.Grants, "client_credentials") {
				t.Errorf("grant_types_supported: got %q, want client_credentials among them", doc.Grants)
			}
			if !slices.Equal(doc.IDTokenAlgs, []string{tt.alg}) {
				t.Errorf("id_token_signing_alg_values_supported: got %q, want [%s]", doc.IDTokenAlgs, tt.alg)
			}
			_, claims := decode(t, i.M2MToken("app", api))
			if claims["iss"] != tt.issuer(i) {
				t.Errorf("iss: got %v, want %s", claims["iss"], tt.issuer(i))
			}
			if n := len(keys(t, i)); n != tt.wantKeys {
				t.Errorf("JWKS: got %d keys, want %d", n, tt.wantKeys)
			}
		})
	}
}

func TestJWKSContent(t *testing.T) {
	tests := []struct {
		name    string
		opts    []Option
		members []string
	}{
		{"EC", nil, []string{"alg", "crv", "kid", "kty", "use", "x", "y"}},
		{"RSA", []Option{WithRSA()}, []string{"e", "kid", "kty", "n", "use"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			i := New(t, tt.opts...)
			_, body := fetch(t, http.MethodGet, i.JWKSURL(), nil)
			var doc map[string][]map[string]string
			if err := json.Unmarshal(body, &doc); err != nil {
				t.Fatalf("%v in %s", err, body)
			}
			if len(doc) != 1 || len(doc["keys"]) != 1 {
				t.Fatalf("got %s, want {\"keys\":[one key]}", body)
			}
			k := doc["keys"][0]
			var names []string
			for n := range k {
				names = append(names, n)
			}
			slices.Sort(names)
			if !slices.Equal(names, tt.members) {
				t.Errorf("members: got %q, want %q (public only)", names, tt.members)
			}
			if k["use"] != "sig" || k["kid"] != i.SigningKey().ID() {
				t.Errorf("use %q kid %q, want sig and %s", k["use"], k["kid"], i.SigningKey().ID())
			}
			if tt.name == "EC" && (k["alg"] != "ES384" || k["crv"] != "P-384" || k["kty"] != "EC") {
				t.Errorf("EC key: got %v", k)
			}
			if tt.name == "RSA" && k["kty"] != "RSA" {
				t.Errorf("RSA key: got %v", k)
			}
		})
	}
}

func TestJWKSETag(t *testing.T) {
	i := New(t)
	resp, first := fetch(t, http.MethodGet, i.JWKSURL(), nil)
	etag := resp.Header.Get("ETag")
	if !regexp.MustCompile(`^"[A-Za-z0-9_-]+"$`).MatchString(etag) {
		t.Fatalf("ETag: got %q, want a quoted strong tag", etag)
	}
	tests := []struct {
		name        string
		ifNoneMatch string
		status      int
	}{
		{"same tag", etag, 304},
		{"weak form of the tag", "W/" + etag, 304},
		{"in a list", `"other", ` + etag, 304},
		{"any", "*", 304},
		{"other tag", `"other"`, 200},
		{"unquoted", strings.Trim(etag, `"`), 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := fetch(t, http.MethodGet, i.JWKSURL(), http.Header{"If-None-Match": {tt.ifNoneMatch}})
			if resp.StatusCode != tt.status {
				t.Fatalf("status: got %d, want %d", resp.StatusCode, tt.status)
			}
			if got := resp.Header.Get("ETag"); got != etag {
				t.Errorf("ETag: got %q, want %q", got, etag)
			}
			if got := resp.Header.Get("Cache-Control"); got != "no-cache, max-age=0, must-revalidate" {
				t.Errorf("Cache-Control: got %q", got)
			}
			if tt.status == 304 && len(body) != 0 {
				t.Errorf("304 with a body: %s", body)
			}
			if tt.status == 200 && string(body) != string(first) {
				t.Errorf("body changed: %s", body)
			}
		})
	}
	i.RotateKeys()
	resp, _ = fetch(t, http.MethodGet, i.JWKSURL(), http.Header{"If-None-Match": {etag}})
	if resp.StatusCode != 200 || resp.Header.Get("ETag") == etag {
		t.Errorf("after a rotation: status %d ETag %q, want 200 and a new tag", resp.StatusCode, resp.Header.Get("ETag"))
	}
}

func TestTokenEndpoint(t *testing.T) {
	i := New(t)
	const other = "https://other.example.com"
	i.AddResource(api, "read", "write", "admin")
	i.AddResourceTTL(other, 10*time.Minute, "read")
	i.AddM2MApp("app", "secret", "read", "write", "delete")
	i.AddM2MApp("app:odd", "s&c=r t", "read")

	type request struct {
		form     url.Values
		basic    []string // id, secret: encoded as RFC 6749 says
		rawBasic string   // an Authorization header as it is
		ctype    string   // default application/x-www-form-urlencoded
	}
	ok := func(v url.Values) url.Values {
		out := url.Values{"grant_type": {"client_credentials"}, "resource": {api}}
		for k, vs := range v {
			out[k] = vs
		}
		return out
	}
	tests := []struct {
		name   string
		req    request
		status int
		err    string // the error, or "" for success
		scope  string // for success: the scope granted
		aud    string
		ttl    int64
	}{
		{"intersection", request{form: ok(url.Values{"scope": {"read write admin delete"}}), basic: []string{"app", "secret"}}, 200, "", "read write", api, 3600},
		{"requested order, duplicates dropped", request{form: ok(url.Values{"scope": {"write  read write"}}), basic: []string{"app", "secret"}}, 200, "", "write read", api, 3600},
		{"no scope requested: none granted", request{form: ok(nil), basic: []string{"app", "secret"}}, 200, "", "", api, 3600},
		{"nothing granted", request{form: ok(url.Values{"scope": {"admin unknown"}}), basic: []string{"app", "secret"}}, 200, "", "", api, 3600},
		{"resource TTL", request{form: ok(url.Values{"resource": {other}, "scope": {"read write"}}), basic: []string{"app", "secret"}}, 200, "", "read", other, 600},
		{"client_secret_post", request{form: ok(url.Values{"client_id": {"app"}, "client_secret": {"secret"}, "scope": {"read"}})}, 200, "", "read", api, 3600},
		{"Basic with form-encoded credentials", request{form: ok(url.Values{"scope": {"read"}}), basic: []string{"app:odd", "s&c=r t"}}, 200, "", "read", api, 3600},
		{"Basic and the same client_id in the body", request{form: ok(url.Values{"client_id": {"app"}}), basic: []string{"app", "secret"}}, 200, "", "", api, 3600},
		{"bad secret", request{form: ok(nil), basic: []string{"app", "wrong"}}, 401, "invalid_client", "", "", 0},
		{"unknown app", request{form: ok(nil), basic: []string{"nobody", "secret"}}, 401, "invalid_client", "", "", 0},
		{"no credentials", request{form: ok(nil)}, 401, "invalid_client", "", "", 0},
		{"not Basic", request{form: ok(nil), rawBasic: "Bearer abc"}, 401, "invalid_client", "", "", 0},
		{"bad client and bad grant: client first", request{form: url.Values{"grant_type": {"password"}}, basic: []string{"app", "wrong"}}, 401, "invalid_client", "", "", 0},
		{"two mechanisms", request{form: ok(url.Values{"client_secret": {"secret"}}), basic: []string{"app", "secret"}}, 400, "invalid_request", "", "", 0},
		{"client ids differ", request{form: ok(url.Values{"client_id": {"other"}}), basic: []string{"app", "secret"}}, 400, "invalid_request", "", "", 0},
		{"grant missing", request{form: url.Values{"resource": {api}}, basic: []string{"app", "secret"}}, 400, "invalid_request", "", "", 0},
		{"grant twice", request{form: ok(url.Values{"grant_type": {"client_credentials", "client_credentials"}}), basic: []string{"app", "secret"}}, 400, "invalid_request", "", "", 0},
		{"grant password", request{form: ok(url.Values{"grant_type": {"password"}}), basic: []string{"app", "secret"}}, 400, "unsupported_grant_type", "", "", 0},
		{"grant authorization_code", request{form: ok(url.Values{"grant_type": {"authorization_code"}}), basic: []string{"app", "secret"}}, 400, "unsupported_grant_type", "", "", 0},
		{"resource missing", request{form: url.Values{"grant_type": {"client_credentials"}}, basic: []string{"app", "secret"}}, 400, "invalid_target", "", "", 0},
		{"resource empty", request{form: ok(url.Values{"resource": {""}}), basic: []string{"app", "secret"}}, 400, "invalid_target", "", "", 0},
		{"resource unknown", request{form: ok(url.Values{"resource": {"https://unknown.example.com"}}), basic: []string{"app", "secret"}}, 400, "invalid_target", "", "", 0},
		{"Management API not registered", request{form: ok(url.Values{"resource": {ManagementAPI}}), basic: []string{"app", "secret"}}, 400, "invalid_target", "", "", 0},
		{"two resources", request{form: ok(url.Values{"resource": {api, other}}), basic: []string{"app", "secret"}}, 400, "invalid_target", "", "", 0},
		{"JSON body", request{form: ok(nil), basic: []string{"app", "secret"}, ctype: "application/json"}, 400, "invalid_request", "", "", 0},
		{"organization_id", request{form: ok(url.Values{"organization_id": {"org-1"}}), basic: []string{"app", "secret"}}, 400, "invalid_request", "", "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodPost, i.TokenURL(), strings.NewReader(tt.req.form.Encode()))
			if err != nil {
				t.Fatal(err)
			}
			ctype := tt.req.ctype
			if ctype == "" {
				ctype = "application/x-www-form-urlencoded"
			}
			req.Header.Set("Content-Type", ctype)
			if tt.req.basic != nil {
				req.SetBasicAuth(url.QueryEscape(tt.req.basic[0]), url.QueryEscape(tt.req.basic[1]))
			}
			if tt.req.rawBasic != "" {
				req.Header.Set("Authorization", tt.req.rawBasic)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.status {
				t.Fatalf("status: got %d, want %d (%s)", resp.StatusCode, tt.status, body)
			}
			if got := resp.Header.Get("Content-Type"); got != "application/json; charset=utf-8" {
				t.Errorf("Content-Type: got %q", got)
			}
			if got := resp.Header.Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control: got %q, want no-store", got)
			}
			if tt.err != "" {
				var e map[string]string
				if err := json.Unmarshal(body, &e); err != nil {
					t.Fatal(err)
				}
				if e["error"] != tt.err || e["code"] != "oidc."+tt.err || e["error_description"] == "" || e["message"] == "" || len(e) != 4 {
					t.Errorf("body: got %s, want error %s with error_description, code oidc.%s and message", body, tt.err, tt.err)
				}
				challenge := resp.Header.Get("WWW-Authenticate")
				if want := `Basic realm="` + i.Issuer() + `"`; tt.err == "invalid_client" && challenge != want {
					t.Errorf("WWW-Authenticate: got %q, want %q", challenge, want)
				} else if tt.err != "invalid_client" && challenge != "" {
					t.Errorf("WWW-Authenticate: got %q, want none", challenge)
				}
				return
			}
			var r map[string]any
			if err := json.Unmarshal(body, &r); err != nil {
				t.Fatal(err)
			}
			if r["token_type"] != "Bearer" || r["expires_in"] != float64(tt.ttl) {
				t.Errorf("token_type %v expires_in %v, want Bearer and %d", r["token_type"], r["expires_in"], tt.ttl)
			}
			scope, has := r["scope"]
			if tt.scope == "" && has || tt.scope != "" && scope != tt.scope {
				t.Errorf("scope: got %v (present %v), want %q (absent when empty)", scope, has, tt.scope)
			}
			token, _ := r["access_token"].(string)
			if err := verify(token, keys(t, i)); err != nil {
				t.Fatalf("access_token does not verify with the JWKS: %v", err)
			}
			_, c := decode(t, token)
			sub := c["sub"]
			if sub != c["client_id"] || (sub != "app" && sub != "app:odd") || c["aud"] != tt.aud || c["iss"] != i.Issuer() {
				t.Errorf("claims: got %v", c)
			}
			if s, has := c["scope"]; tt.scope == "" && has || tt.scope != "" && s != tt.scope {
				t.Errorf("scope claim: got %v (present %v), want %q", s, has, tt.scope)
			}
			if got := int64(c["exp"].(float64) - c["iat"].(float64)); got != tt.ttl {
				t.Errorf("exp - iat: got %d, want %d", got, tt.ttl)
			}
		})
	}
}

// fixedClock is a clock for WithClock.
func fixedClock() (func() time.Time, time.Time) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 600, time.UTC)
	return func() time.Time { return now }, now
}

func TestTokenShape(t *testing.T) {
	for _, alg := range []string{"ES384", "RS256"} {
		t.Run(alg, func(t *testing.T) {
			clock, now := fixedClock()
			opts := []Option{WithClock(clock)}
			if alg == "RS256" {
				opts = append(opts, WithRSA())
			}
			i := New(t, opts...)
			i.AddResourceTTL("https://long.example.com", 24*time.Hour)
			set := keys(t, i)
			kid := i.SigningKey().ID()
			iat, exp := float64(now.Unix()), float64(now.Unix()+3600)
			std := func(extra map[string]any) map[string]any {
				c := map[string]any{"iat": iat, "exp": exp, "iss": i.Issuer()}
				for k, v := range extra {
					if v == nil {
						delete(c, k)
					} else {
						c[k] = v
					}
				}
				return c
			}
			tests := []struct {
				name   string
				token  string
				header map[string]any
				claims map[string]any // jti is checked apart
				noJTI  bool
			}{
				{
					name:   "M2M",
					token:  i.M2MToken("app-1", api, "read:products", "write:products"),
					header: map[string]any{"alg": alg, "typ": "at+jwt", "kid": kid},
					claims: std(map[string]any{"sub": "app-1", "client_id": "app-1", "aud": api, "scope": "read:products write:products"}),
				},
				{
					name:   "M2M without scopes: no scope claim",
					token:  i.M2MToken("app-1", api),
					header: map[string]any{"alg": alg, "typ": "at+jwt", "kid": kid},
					claims: std(map[string]any{"sub": "app-1", "client_id": "app-1", "aud": api}),
				},
				{
					name:   "M2M with the resource's TTL",
					token:  i.M2MToken("app-1", "https://long.example.com"),
					header: map[string]any{"alg": alg, "typ": "at+jwt", "kid": kid},
					claims: std(map[string]any{"sub": "app-1", "client_id": "app-1", "aud": "https://long.example.com", "exp": iat + 86400}),
				},
				{
					name:   "user",
					token:  i.UserToken("user-1", "spa", api, "read:products"),
					header: map[string]any{"alg": alg, "typ": "at+jwt", "kid": kid},
					claims: std(map[string]any{"sub": "user-1", "client_id": "spa", "aud": api, "scope": "read:products"}),
				},
				{
					name:   "organization",
					token:  i.OrganizationToken("user-1", "spa", "org-1", "read:members"),
					header: map[string]any{"alg": alg, "typ": "at+jwt", "kid": kid},
					claims: std(map[string]any{"sub": "user-1", "client_id": "spa", "aud": "urn:logto:organization:org-1", "scope": "read:members"}),
				},
				{
					name:   "organization without scopes: scope is empty",
					token:  i.OrganizationToken("user-1", "spa", "org-1"),
					header: map[string]any{"alg": alg, "typ": "at+jwt", "kid": kid},
					claims: std(map[string]any{"sub": "user-1", "client_id": "spa", "aud": "urn:logto:organization:org-1", "scope": ""}),
				},
				{
					name: "Mint: organization-level API, aud array, custom claims",
					token: i.Mint(Token{
						Subject: "user-1", ClientID: "spa", Audience: []string{api, "https://b.example.com"},
						OrganizationID: "org-1", Extra: map[string]any{"roles": []string{"admin"}},
					}),
					header: map[string]any{"alg": alg, "typ": "at+jwt", "kid": kid},
					claims: std(map[string]any{"sub": "user-1", "client_id": "spa", "aud": []any{api, "https://b.example.com"}, "organization_id": "org-1", "roles": []any{"admin"}}),
				},
				{
					name: "Mint: overrides and deletions",
					token: i.Mint(Token{
						Subject: "a", ClientID: "a", Audience: api, Issuer: "https://auth.example.com/oidc",
						IssuedAt: now.Add(-time.Minute), TTL: 90 * time.Second,
						Extra:  map[string]any{"client_id": nil, "nbf": 1, "sub": "b"},
						Header: map[string]any{"typ": "application/at+jwt", "kid": nil, "x": "y"},
					}),
					header: map[string]any{"alg": alg, "typ": "application/at+jwt", "x": "y"},
					claims: std(map[string]any{"sub": "b", "aud": api, "iss": "https://auth.example.com/oidc", "iat": iat - 60, "exp": iat + 30, "nbf": float64(1)}),
				},
				{
					name:   "Mint: zero Token",
					token:  i.Mint(Token{}),
					header: map[string]any{"alg": alg, "typ": "at+jwt", "kid": kid},
					claims: std(nil),
				},
				{
					name:   "wrong audience",
					token:  i.WrongAudienceToken("app-1"),
					header: map[string]any{"alg": alg, "typ": "at+jwt", "kid": kid},
					claims: std(map[string]any{"sub": "app-1", "client_id": "app-1", "aud": "https://default.logto.app/api", "scope": "all"}),
				},
				{
					name:   "expired",
					token:  i.ExpiredToken("app-1", api, "read:products"),
					header: map[string]any{"alg": alg, "typ": "at+jwt", "kid": kid},
					claims: std(map[string]any{"sub": "app-1", "client_id": "app-1", "aud": api, "scope": "read:products", "iat": iat - 7200, "exp": iat - 3600}),
				},
				{
					name:   "ID token",
					token:  i.IDToken("user-1", "spa"),
					header: map[string]any{"alg": alg, "typ": "JWT", "kid": kid},
					claims: std(map[string]any{"sub": "user-1", "aud": "spa"}),
					noJTI:  true,
				},
			}
			jtis := map[string]bool{}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					header, claims := decode(t, tt.token)
					if !jsonEqual(header, tt.header) {
						t.Errorf("header: got %v, want %v", header, tt.header)
					}
					jti, has := claims["jti"].(string)
					delete(claims, "jti")
					switch {
					case tt.noJTI && has:
						t.Errorf("jti: got %q, want none", jti)
					case !tt.noJTI && !regexp.MustCompile(`^[A-Za-z0-9_-]{21}$`).MatchString(jti):
						t.Errorf("jti: got %q, want 21 characters of base64url", jti)
					case !tt.noJTI && jtis[jti]:
						t.Errorf("jti %q reused", jti)
					}
					jtis[jti] = true
					if !jsonEqual(claims, tt.claims) {
						t.Errorf("claims:\n got %v\nwant %v", claims, tt.claims)
					}
					if _, hasKID := tt.header["kid"]; hasKID {
						if err := verify(tt.token, set); err != nil {
							t.Errorf("does not verify with the JWKS: %v", err)
						}
					}
				})
			}
		})
	}
}

func jsonEqual(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

func TestBrokenTokens(t *testing.T) {
	i := New(t)
	set := keys(t, i)
	t.Run("opaque", func(t *testing.T) {
		a, b := i.OpaqueToken(), i.OpaqueToken()
		for _, tok := range []string{a, b} {
			if !regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`).MatchString(tok) {
				t.Errorf("got %q, want 43 characters of base64url", tok)
			}
		}
		if a == b {
			t.Errorf("two opaque tokens are both %q", a)
		}
	})
	t.Run("expired", func(t *testing.T) {
		tok := i.ExpiredToken("app", api)
		if err := verify(tok, set); err != nil {
			t.Fatalf("signature: %v", err)
		}
		_, err := jwt.NewParser(jwt.WithLeeway(time.Minute)).Parse(tok, func(*jwt.Token) (any, error) { return set[i.SigningKey().ID()], nil })
		if !errors.Is(err, jwt.ErrTokenExpired) {
			t.Fatalf("with a minute of leeway: got %v, want expired", err)
		}
	})
	t.Run("foreign key", func(t *testing.T) {
		a, b := i.ForeignKeyToken("app", api, "read"), i.ForeignKeyToken("app", api)
		ha, ca := decode(t, a)
		hb, _ := decode(t, b)
		kid, _ := ha["kid"].(string)
		if kid == "" || kid != hb["kid"] || slices.Contains(i.KIDs(), kid) || kid == i.SigningKey().ID() {
			t.Fatalf("kids %v and %v: want one kid, not in the JWKS %q", ha["kid"], hb["kid"], i.KIDs())
		}
		if ha["alg"] != "ES384" || ha["typ"] != "at+jwt" || ca["sub"] != "app" || ca["client_id"] != "app" || ca["aud"] != api || ca["scope"] != "read" {
			t.Errorf("shape: header %v claims %v", ha, ca)
		}
		if err := verify(a, set); err == nil {
			t.Fatal("verified with the JWKS")
		}
		// Even under the JWKS's own kid, the signature does not verify.
		forged := i.Mint(Token{Subject: "app", Audience: api, Key: i.foreignKey(), Header: map[string]any{"kid": i.SigningKey().ID()}})
		if err := verify(forged, set); !errors.Is(err, jwt.ErrTokenSignatureInvalid) {
			t.Fatalf("foreign key under our kid: got %v, want an invalid signature", err)
		}
	})
	t.Run("NewKey", func(t *testing.T) {
		k, err := NewKey(false)
		if err != nil {
			t.Fatal(err)
		}
		tok := i.Mint(Token{Subject: "a", Key: k})
		if h, _ := decode(t, tok); h["kid"] != k.ID() {
			t.Fatalf("kid: got %v, want %s", h["kid"], k.ID())
		}
		if err := verify(tok, set); err == nil {
			t.Fatal("a token signed by a foreign key verified")
		}
		if err := verify(tok, map[string]any{k.ID(): k.signer.Public()}); err != nil {
			t.Fatalf("with its own key: %v", err)
		}
	})
}

func TestRotation(t *testing.T) {
	for _, rsa := range []bool{false, true} {
		t.Run(fmt.Sprintf("rsa=%v", rsa), func(t *testing.T) {
			var opts []Option
			if rsa {
				opts = append(opts, WithRSA())
			}
			i := New(t, opts...)
			k0 := i.SigningKey().ID()
			tok0 := i.M2MToken("app", api)
			check := func(step string, wantKeys []string, wantSigner string, verifies, fails []string) {
				t.Helper()
				if got := i.KIDs(); !slices.Equal(got, wantKeys) {
					t.Errorf("%s: Keys() = %q, want %q", step, got, wantKeys)
				}
				served := keys(t, i)
				if got := keysOf(served); !slices.Equal(got, slices.Sorted(slices.Values(wantKeys))) {
					t.Errorf("%s: JWKS kids %q, want %q", step, got, wantKeys)
				}
				if got := i.SigningKey().ID(); got != wantSigner {
					t.Errorf("%s: SigningKey %s, want %s", step, got, wantSigner)
				}
				tok := i.M2MToken("app", api)
				if h, _ := decode(t, tok); h["kid"] != wantSigner {
					t.Errorf("%s: new token kid %v, want %s", step, h["kid"], wantSigner)
				}
				for _, v := range verifies {
					if err := verify(v, served); err != nil {
						t.Errorf("%s: want verified: %v", step, err)
					}
				}
				for _, f := range fails {
					if err := verify(f, served); err == nil {
						t.Errorf("%s: a token verified, want it refused", step)
					}
				}
			}
			check("start", []string{k0}, k0, []string{tok0}, nil)

			i.StageRotation()
			k1 := i.KIDs()[1]
			check("staged", []string{k0, k1}, k0, []string{tok0}, nil)
			i.StageRotation() // replaces the staged key
			k1 = i.KIDs()[1]
			check("staged again", []string{k0, k1}, k0, []string{tok0}, nil)

			i.CompleteRotation()
			tok1 := i.M2MToken("app", api)
			check("completed", []string{k1, k0}, k1, []string{tok0, tok1}, nil)

			i.CompleteRotation() // nothing staged: a fresh key, k0 dropped
			k2 := i.SigningKey().ID()
			tok2 := i.M2MToken("app", api)
			check("completed unstaged", []string{k2, k1}, k2, []string{tok1, tok2}, []string{tok0})

			i.StageRotation()
			i.RotateKeys() // immediate: only the new key remains
			k3 := i.SigningKey().ID()
			tok3 := i.M2MToken("app", api)
			check("immediate", []string{k3}, k3, []string{tok3}, []string{tok1, tok2})

			i.RemoveKey("no-such-kid")
			check("remove unknown", []string{k3}, k3, []string{tok3}, nil)
			i.StageRotation()
			k4 := i.KIDs()[1]
			i.RemoveKey(k3) // the signing key: still signs, no longer published
			check("remove signing key", []string{k4}, k3, nil, []string{tok3})
			i.CompleteRotation() // an unpublished key does not become "previous"
			check("complete after removal", []string{k4}, k4, nil, []string{tok3})
			i.RemoveKey(k4)
			check("all removed", nil, k4, nil, nil)

			if n := len(slices.Compact(slices.Sorted(slices.Values([]string{k0, k1, k2, k3, k4})))); n != 5 {
				t.Errorf("%d distinct kids in 5 keys", n)
			}
			if alg, _ := decode(t, tok3); (alg["alg"] == "RS256") != rsa {
				t.Errorf("rotated key signs %v", alg["alg"])
			}
		})
	}
}

func TestFaultsAndFetchCounter(t *testing.T) {
	i := New(t)
	get := func() (*http.Response, []byte) { return fetch(t, http.MethodGet, i.JWKSURL(), nil) }
	tests := []struct {
		name   string
		set    func(on bool)
		status int
		check  func(t *testing.T, body []byte)
	}{
		{"down", i.SetJWKSDown, 503, nil},
		{"garbage", i.SetJWKSGarbage, 200, func(t *testing.T, body []byte) {
			if json.Valid(body) {
				t.Errorf("garbage body is valid JSON: %s", body)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			i.ResetJWKSFetches()
			tt.set(true)
			resp, body := get()
			if resp.StatusCode != tt.status {
				t.Errorf("status: got %d, want %d", resp.StatusCode, tt.status)
			}
			if tt.check != nil {
				tt.check(t, body)
			}
			tt.set(false)
			if resp, _ := get(); resp.StatusCode != 200 {
				t.Errorf("after recovery: status %d, want 200", resp.StatusCode)
			}
			if n := i.JWKSFetches(); n != 2 {
				t.Errorf("JWKSFetches: got %d, want 2", n)
			}
		})
	}

	t.Run("counter", func(t *testing.T) {
		i.ResetJWKSFetches()
		if n := i.JWKSFetches(); n != 0 {
			t.Fatalf("after reset: %d", n)
		}
		resp, _ := get()
		fetch(t, http.MethodGet, i.JWKSURL(), http.Header{"If-None-Match": {resp.Header.Get("ETag")}})
		fetch(t, http.MethodGet, i.Issuer()+"/.well-known/openid-configuration", nil) // not the JWKS
		if n := i.JWKSFetches(); n != 2 {
			t.Errorf("JWKSFetches after a 200 and a 304: got %d, want 2", n)
		}
	})

	t.Run("delay", func(t *testing.T) {
		i.SetJWKSDelay(150 * time.Millisecond)
		defer i.SetJWKSDelay(0)
		start := time.Now()
		if resp, _ := get(); resp.StatusCode != 200 {
			t.Errorf("status: got %d, want 200", resp.StatusCode)
		}
		if d := time.Since(start); d < 150*time.Millisecond {
			t.Errorf("answered after %v, want at least 150ms", d)
		}
	})

	t.Run("delay respects cancellation", func(t *testing.T) {
		i.SetJWKSDelay(time.Hour)
		defer i.SetJWKSDelay(0)
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, i.JWKSURL(), nil)
		if _, err := http.DefaultClient.Do(req); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("got %v, want the client's deadline", err)
		}
		// The handler has let go: Close (in Cleanup) would hang otherwise,
		// and the leak test below checks the same for Close itself.
	})
}

// serverGoroutines counts goroutines running this package's handlers or
// net/http's server side.
func serverGoroutines() int {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "net/http.(*conn).serve") || strings.Contains(g, "net/http.(*Server).Serve") || strings.Contains(g, "logtotest.(*Issuer)") {
			n++
		}
	}
	return n
}

// settledServerGoroutines waits, within a bound, for serverGoroutines to
// stay the same for a few looks in a row (an earlier test's server may
// still be returning), and returns it.
func settledServerGoroutines() int {
	n, same := serverGoroutines(), 0
	for deadline := time.Now().Add(2 * time.Second); same < 5 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
		if m := serverGoroutines(); m == n {
			same++
		} else {
			n, same = m, 0
		}
	}
	return n
}

func TestCloseLeavesNoGoroutine(t *testing.T) {
	base := settledServerGoroutines()
	i, err := Start()
	if err != nil {
		t.Fatal(err)
	}
	// Idle keep-alive connections, and a request held by a delay.
	for range 3 {
		fetch(t, http.MethodGet, i.JWKSURL(), nil)
	}
	i.SetJWKSDelay(time.Hour)
	answered := make(chan int, 1)
	go func() {
		resp, err := http.Get(i.JWKSURL())
		if err != nil {
			answered <- 0
			return
		}
		resp.Body.Close()
		answered <- resp.StatusCode
	}()
	for deadline := time.Now().Add(10 * time.Second); i.JWKSFetches() < 4; {
		if time.Now().After(deadline) {
			t.Fatal("the delayed request never reached the issuer")
		}
		time.Sleep(time.Millisecond)
	}
	// Close must not wait for the hour-long delay: the bound below only
	// tells a Close that returned from one that hangs.
	closed := make(chan struct{})
	go func() {
		i.Close()
		i.Close() // twice is fine
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close waited for a delayed request")
	}
	if status := <-answered; status != http.StatusServiceUnavailable {
		t.Errorf("the delayed request: got %d, want 503", status)
	}
	// Close has waited for every server goroutine; one may still be
	// returning from its last call.
	deadline := time.Now().Add(10 * time.Second)
	for serverGoroutines() > base && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := serverGoroutines(); n > base {
		buf := make([]byte, 1<<20)
		t.Errorf("%d server goroutines left after Close (%d before Start)\n%s", n, base, buf[:runtime.Stack(buf, true)])
	}
	if _, err := http.Get(i.JWKSURL()); err == nil {
		t.Error("the issuer still answers after Close")
	}
}

func TestNewClosesOnCleanup(t *testing.T) {
	var endpoint string
	t.Run("test", func(t *testing.T) {
		endpoint = New(t).Endpoint()
		if resp, _ := fetch(t, http.MethodGet, endpoint+"/oidc/jwks", nil); resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
	})
	if _, err := http.Get(endpoint + "/oidc/jwks"); err == nil {
		t.Fatal("the issuer still answers after its test ended")
	}
}

func TestStartErrors(t *testing.T) {
	_, err := Start(WithIssuer(""))
	if err == nil || !strings.HasPrefix(err.Error(), "logtotest: ") {
		t.Fatalf("WithIssuer(\"\"): got %v, want a logtotest error", err)
	}
}

// WithListener: the issuer serves on the caller's listener, and Close, or
// a failed Start, closes it.
func TestWithListener(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	i, err := Start(WithListener(ln))
	if err != nil {
		t.Fatal(err)
	}
	if want := "http://" + ln.Addr().String(); i.Endpoint() != want || i.Issuer() != want+"/oidc" {
		t.Errorf("Endpoint %s, Issuer %s; want %s and %s/oidc", i.Endpoint(), i.Issuer(), want, want)
	}
	if resp, _ := fetch(t, http.MethodGet, i.JWKSURL(), nil); resp.StatusCode != http.StatusOK {
		t.Errorf("JWKS on the given listener: status %d", resp.StatusCode)
	}
	i.Close()
	if _, err := ln.Accept(); err == nil {
		t.Error("the listener still accepts after Close")
	}

	ln, err = net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Start(WithListener(ln), WithRSABits(1024)); err == nil {
		t.Fatal("WithRSABits(1024): Start succeeded")
	}
	if _, err := ln.Accept(); err == nil {
		t.Error("a failed Start left the listener open")
	}
}

// WithMiddleware sees every request first, and what it passes on reaches
// the issuer's routes.
func TestWithMiddleware(t *testing.T) {
	var seen atomic.Int64
	i := New(t, WithMiddleware(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			seen.Add(1)
			if r.URL.Path == "/teapot" {
				w.WriteHeader(http.StatusTeapot)
				return
			}
			next.ServeHTTP(w, r)
		})
	}))
	if resp, _ := fetch(t, http.MethodGet, i.Endpoint()+"/teapot", nil); resp.StatusCode != http.StatusTeapot {
		t.Errorf("/teapot: status %d, want 418", resp.StatusCode)
	}
	if resp, _ := fetch(t, http.MethodGet, i.JWKSURL(), nil); resp.StatusCode != http.StatusOK {
		t.Errorf("JWKS through the middleware: status %d", resp.StatusCode)
	}
	if got := seen.Load(); got != 2 {
		t.Errorf("the middleware saw %d requests, want 2", got)
	}
}

func TestRSABits(t *testing.T) {
	modulusBytes := func(i *Issuer) int {
		t.Helper()
		_, body := fetch(t, http.MethodGet, i.JWKSURL(), nil)
		var doc struct{ Keys []struct{ N string } }
		if err := json.Unmarshal(body, &doc); err != nil || len(doc.Keys) == 0 {
			t.Fatalf("JWKS %s: %v", body, err)
		}
		n, err := base64.RawURLEncoding.DecodeString(doc.Keys[len(doc.Keys)-1].N)
		if err != nil {
			t.Fatal(err)
		}
		return len(n)
	}
	i := New(t, WithRSABits(3072))
	if got := modulusBytes(i); got != 3072/8 {
		t.Errorf("modulus: got %d bytes, want %d", got, 3072/8)
	}
	i.RotateKeys()
	if got := modulusBytes(i); got != 3072/8 {
		t.Errorf("modulus after rotation: got %d bytes, want %d", got, 3072/8)
	}
	if got := modulusBytes(New(t, WithRSA())); got != 2048/8 {
		t.Errorf("WithRSA modulus: got %d bytes, want %d", got, 2048/8)
	}
	if _, err := Start(WithRSABits(1024)); err == nil || !strings.Contains(err.Error(), "2048") {
		t.Errorf("WithRSABits(1024): got %v, want an error naming the 2048-bit minimum", err)
	}
}

func TestMintRaw(t *testing.T) {
	for _, opts := range [][]Option{nil, {WithRSA()}} {
		i := New(t, opts...)
		k := i.SigningKey()
		header := []byte(`{"alg":"` + k.Algorithm() + `","kid":"` + k.ID() + `","typ":"at+jwt","typ":"JWT"}`)
		claims := []byte(`{"sub":"a", "sub":"b"}`)
		tok := i.MintRaw(nil, header, claims)
		parts := strings.Split(tok, ".")
		if len(parts) != 3 {
			t.Fatalf("%d parts", len(parts))
		}
		for n, want := range [][]byte{header, claims} {
			if got, _ := base64.RawURLEncoding.DecodeString(parts[n]); string(got) != string(want) {
				t.Errorf("part %d: %s, want %s", n, got, want)
			}
		}
		if err := verify(tok, map[string]any{k.ID(): k.signer.Public()}); err != nil {
			t.Errorf("%s: %v", k.Algorithm(), err)
		}
		foreign, _ := NewKey(opts != nil)
		if err := verify(i.MintRaw(foreign, header, claims), map[string]any{k.ID(): k.signer.Public()}); err == nil {
			t.Errorf("%s: signed with another key, yet verified", k.Algorithm())
		}
	}
}

func TestMintPanicsOnUnencodableClaims(t *testing.T) {
	i := New(t)
	defer func() {
		if msg, _ := recover().(string); !strings.HasPrefix(msg, "logtotest: ") {
			t.Fatalf("panic: got %q, want a logtotest message", msg)
		}
	}()
	i.Mint(Token{Extra: map[string]any{"bad": func() {}}})
}

// TestConcurrentUse runs every kind of call at once, for the race detector.
// TestConcurrentUse: every method may be called from many goroutines while
// the endpoints serve (run with -race), and every answer stays right: each
// token is shaped as asked, each JWKS and token response is whole, and each
// token whose key was published verifies with it.
func TestConcurrentUse(t *testing.T) {
	i := New(t)
	i.AddResource(api, "read")
	i.AddM2MApp("app", "secret", "read")
	var (
		mu        sync.Mutex
		published = map[string]any{} // every key seen in a JWKS, by kid
		minted    []string           // every token of a published-looking key
	)
	// checkToken reports what is wrong with a token minted for app.
	checkToken := func(tok string) error {
		header, claims, err := decodeParts(tok)
		if err != nil {
			return err
		}
		if kid, _ := header["kid"].(string); kid == "" || header["alg"] != "ES384" || header["typ"] != "at+jwt" {
			return fmt.Errorf("header %v", header)
		}
		if claims["sub"] != "app" || claims["client_id"] != "app" || claims["aud"] != api || claims["scope"] != "read" {
			return fmt.Errorf("claims %v", claims)
		}
		return nil
	}
	var wg sync.WaitGroup
	for n := range 4 {
		wg.Go(func() {
			for range 10 {
				tok := i.M2MToken("app", api, "read")
				if err := checkToken(tok); err != nil {
					t.Errorf("M2MToken: %v", err)
				}
				foreign := i.ForeignKeyToken("app", api)
				if h, _, err := decodeParts(foreign); err != nil || slices.Contains(i.KIDs(), fmt.Sprint(h["kid"])) {
					t.Errorf("ForeignKeyToken: header %v, error %v, published %v", h, err, i.KIDs())
				}
				_ = i.JWKSFetches()

				set, err := getKeys(i)
				if err != nil {
					t.Errorf("JWKS: %v", err)
				}
				issued, err := requestToken(i)
				if err != nil {
					t.Errorf("token endpoint: %v", err)
				} else if err := checkToken(issued); err != nil {
					t.Errorf("token endpoint: %v", err)
				}
				mu.Lock()
				maps.Copy(published, set)
				minted = append(minted, tok, issued)
				mu.Unlock()

				switch n {
				case 0:
					i.RotateKeys()
				case 1:
					i.StageRotation()
					i.CompleteRotation()
				case 2:
					i.SetJWKSDown(false)
					i.SetJWKSGarbage(false)
					i.SetJWKSDelay(0)
					i.ResetJWKSFetches()
				case 3:
					i.AddResourceTTL(api, time.Minute, "read")
					i.AddM2MApp("app", "secret", "read")
					i.RemoveKey(i.SigningKey().ID())
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	verified := 0
	for _, tok := range minted {
		h, _, _ := decodeParts(tok)
		if _, ok := published[h["kid"].(string)]; !ok {
			continue // signed by a key removed before any JWKS showed it
		}
		if err := verify(tok, published); err != nil {
			t.Errorf("a token of a published key does not verify: %v", err)
		}
		verified++
	}
	if verified == 0 {
		t.Fatalf("none of %d tokens was signed by a key any JWKS response showed", len(minted))
	}
	// Once the goroutines are done, the issuer is consistent: after a
	// rotation, the JWKS publishes the signing key alone, and its tokens
	// verify.
	i.RotateKeys()
	set := keys(t, i)
	if got, want := keysOf(set), []string{i.SigningKey().ID()}; !slices.Equal(got, want) || !slices.Equal(i.KIDs(), want) {
		t.Fatalf("JWKS %v, KIDs %v, want %v", got, i.KIDs(), want)
	}
	if err := verify(i.M2MToken("app", api, "read"), set); err != nil {
		t.Fatalf("a token after the concurrent use: %v", err)
	}
}

// decodeParts is decode for other goroutines than the test's: it returns an
// error instead of failing the test.
func decodeParts(token string) (header, claims map[string]any, err error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, nil, fmt.Errorf("token has %d parts, want 3", len(parts))
	}
	for n, dst := range []*map[string]any{&header, &claims} {
		raw, err := base64.RawURLEncoding.DecodeString(parts[n])
		if err != nil {
			return nil, nil, fmt.Errorf("part %d: %w", n, err)
		}
		if err := json.Unmarshal(raw, dst); err != nil {
			return nil, nil, fmt.Errorf("part %d: %w", n, err)
		}
	}
	return header, claims, nil
}

// getKeys is keys for other goroutines than the test's.
func getKeys(i *Issuer) (map[string]any, error) {
	resp, err := http.Get(i.JWKSURL())
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %d, want 200", resp.StatusCode)
	}
	var set jwkset.JWKSMarshal
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, err
	}
	jwks, err := set.JWKSlice()
	if err != nil {
		return nil, err
	}
	out := make(map[string]any)
	for _, k := range jwks {
		out[k.Marshal().KID] = k.Key()
	}
	return out, nil
}

// requestToken asks the token endpoint for app's token for api.
func requestToken(i *Issuer) (string, error) {
	resp, err := http.PostForm(i.TokenURL(), url.Values{"grant_type": {"client_credentials"}, "resource": {api}, "scope": {"read"}, "client_id": {"app"}, "client_secret": {"secret"}})
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var tr struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tr); err != nil {
		return "", fmt.Errorf("status %d: %w", resp.StatusCode, err)
	}
	if resp.StatusCode != http.StatusOK || tr.TokenType != "Bearer" {
		return "", fmt.Errorf("status %d, token_type %q", resp.StatusCode, tr.TokenType)
	}
	return tr.AccessToken, nil
}
