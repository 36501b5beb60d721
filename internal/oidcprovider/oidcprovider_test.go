package oidcprovider

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

func startServer(t *testing.T, opts Options) *Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := Start(ctx, opts)
	if err != nil {
		t.Fatalf("Start(%+v): %v", opts, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func getJSON(t *testing.T, url string, into any) http.Header {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading body: %v", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: status %d, body %s", url, resp.StatusCode, body)
	}
	if err := json.Unmarshal(body, into); err != nil {
		t.Fatalf("GET %s: %v in %s", url, err, body)
	}
	return resp.Header
}

// decodeJWT splits a compact JWS and decodes its header and payload, without verifying it.
func decodeJWT(t *testing.T, token string) (header, payload map[string]any) {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("access token has %d parts, want 3: %q", len(parts), token)
	}
	decode := func(name, seg string) map[string]any {
		raw, err := base64.RawURLEncoding.DecodeString(seg)
		if err != nil {
			t.Fatalf("JWT %s: %v", name, err)
		}
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatalf("JWT %s: %v in %s", name, err, raw)
		}
		return m
	}
	return decode("header", parts[0]), decode("payload", parts[1])
}

func fixtureKid(t *testing.T, name string) string {
	t.Helper()
	p, err := KeyPath(name)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var jwk struct {
		Kid string `json:"kid"`
	}
	if err := json.Unmarshal(raw, &jwk); err != nil {
		t.Fatal(err)
	}
	if jwk.Kid == "" {
		t.Fatalf("fixture %s has no kid", name)
	}
	return jwk.Kid
}

func TestECKeyDefault(t *testing.T) {
	t.Parallel()
	checkServer(t, Options{}, KeyECP384, "ES384")
}

func TestRSAKey(t *testing.T) {
	t.Parallel()
	checkServer(t, Options{Key: KeyRSA}, KeyRSA, "RS256")
}

func checkServer(t *testing.T, opts Options, key, wantAlg string) {
	s := startServer(t, opts)
	ctx := context.Background()

	if !strings.HasPrefix(s.URL, "http://127.0.0.1:") || s.Issuer != s.URL+"/oidc" {
		t.Fatalf("URL %q, Issuer %q", s.URL, s.Issuer)
	}

	t.Run("discovery", func(t *testing.T) {
		var doc struct {
			Issuer        string `json:"issuer"`
			JWKSURI       string `json:"jwks_uri"`
			TokenEndpoint string `json:"token_endpoint"`
		}
		getJSON(t, s.Issuer+"/.well-known/openid-configuration", &doc)
		if doc.Issuer != s.Issuer {
			t.Errorf("issuer %q, want %q", doc.Issuer, s.Issuer)
		}
		if doc.JWKSURI != s.JWKSURL || doc.JWKSURI != s.Issuer+"/jwks" {
			t.Errorf("jwks_uri %q, want %q", doc.JWKSURI, s.Issuer+"/jwks")
		}
		if doc.TokenEndpoint != s.TokenURL || doc.TokenEndpoint != s.Issuer+"/token" {
			t.Errorf("token_endpoint %q, want %q", doc.TokenEndpoint, s.Issuer+"/token")
		}
	})

	t.Run("jwks", func(t *testing.T) {
		var set struct {
			Keys []map[string]any `json:"keys"`
		}
		h := getJSON(t, s.JWKSURL, &set)
		if ct := h.Get("Content-Type"); !strings.HasPrefix(ct, "application/jwk-set+json") {
			t.Errorf("Content-Type %q", ct)
		}
		if cc := h.Get("Cache-Control"); cc != "no-cache, max-age=0, must-revalidate" {
			t.Errorf("Cache-Control %q", cc)
		}
		if len(set.Keys) != 1 {
			t.Fatalf("JWKS has %d keys, want 1: %v", len(set.Keys), set.Keys)
		}
		k := set.Keys[0]
		for _, private := range []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"} {
			if _, ok := k[private]; ok {
				t.Errorf("JWKS key has private member %q", private)
			}
		}
		if k["kid"] != fixtureKid(t, key) {
			t.Errorf("JWKS kid %v, want %s", k["kid"], fixtureKid(t, key))
		}
		if k["use"] != "sig" {
			t.Errorf("JWKS use %v, want sig", k["use"])
		}
		switch wantAlg {
		case "ES384":
			if k["kty"] != "EC" || k["crv"] != "P-384" || k["alg"] != "ES384" {
				t.Errorf("JWKS key %v, want EC P-384 with alg ES384", k)
			}
		case "RS256":
			if _, ok := k["alg"]; k["kty"] != "RSA" || ok {
				t.Errorf("JWKS key %v, want RSA without alg", k)
			}
		}

		req, _ := http.NewRequest(http.MethodGet, s.JWKSURL, nil)
		req.Header.Set("If-None-Match", h.Get("ETag"))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if h.Get("ETag") == "" || resp.StatusCode != http.StatusNotModified {
			t.Errorf("ETag %q, If-None-Match answered %d, want 304", h.Get("ETag"), resp.StatusCode)
		}
	})

	t.Run("client credentials", func(t *testing.T) {
		tr, err := s.ClientCredentials(ctx, DefaultClientID, DefaultClientSecret, DefaultResource, "read:products delete:everything")
		if err != nil {
			t.Fatal(err)
		}
		if tr.Status != http.StatusOK {
			t.Fatalf("status %d, body %s", tr.Status, tr.Body)
		}
		if tr.TokenType != "Bearer" || tr.ExpiresIn != 3600 || tr.Scope != "read:products" {
			t.Errorf("token_type %q expires_in %d scope %q, want Bearer 3600 read:products", tr.TokenType, tr.ExpiresIn, tr.Scope)
		}
		header, claims := decodeJWT(t, tr.AccessToken)
		if header["alg"] != wantAlg || header["typ"] != "at+jwt" {
			t.Errorf("header %v, want alg %s typ at+jwt", header, wantAlg)
		}
		if kid, _ := header["kid"].(string); kid == "" || kid != fixtureKid(t, key) {
			t.Errorf("kid %v, want %s", header["kid"], fixtureKid(t, key))
		}
		if len(header) != 3 {
			t.Errorf("header has members beyond alg, typ, kid: %v", header)
		}
		if claims["sub"] != DefaultClientID || claims["client_id"] != DefaultClientID {
			t.Errorf("sub %v client_id %v, want %s", claims["sub"], claims["client_id"], DefaultClientID)
		}
		if claims["aud"] != DefaultResource {
			t.Errorf("aud %v, want %s", claims["aud"], DefaultResource)
		}
		if claims["iss"] != s.Issuer {
			t.Errorf("iss %v, want %s", claims["iss"], s.Issuer)
		}
		if claims["scope"] != "read:products" {
			t.Errorf("scope claim %v", claims["scope"])
		}
		if _, ok := claims["nbf"]; ok {
			t.Errorf("token has nbf: %v", claims)
		}
		for _, name := range []string{"jti", "sub", "iat", "exp", "scope", "client_id", "iss", "aud"} {
			if _, ok := claims[name]; !ok {
				t.Errorf("claim %s missing: %v", name, claims)
			}
		}
		if len(claims) != 8 {
			t.Errorf("claims beyond jti sub iat exp scope client_id iss aud: %v", claims)
		}
		iat, _ := claims["iat"].(float64)
		exp, _ := claims["exp"].(float64)
		if exp-iat != 3600 {
			t.Errorf("exp - iat = %v, want 3600", exp-iat)
		}
	})

	t.Run("errors", func(t *testing.T) {
		for _, tc := range []struct {
			name, secret, resource string
			status                 int
			code                   string
		}{
			{"no resource", DefaultClientSecret, "", http.StatusBadRequest, "invalid_target"},
			{"unknown resource", DefaultClientSecret, "https://unknown.example.com", http.StatusBadRequest, "invalid_target"},
			{"bad secret", "wrong", DefaultResource, http.StatusUnauthorized, "invalid_client"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				tr, err := s.ClientCredentials(ctx, DefaultClientID, tc.secret, tc.resource, "read:products")
				if err != nil {
					t.Fatal(err)
				}
				if tr.Status != tc.status || tr.Error != tc.code {
					t.Fatalf("status %d error %q, want %d %q; body %s", tr.Status, tr.Error, tc.status, tc.code, tr.Body)
				}
				if tr.AccessToken != "" {
					t.Errorf("an access token came with the error: %s", tr.Body)
				}
				var logto struct{ Code, Message string }
				if err := json.Unmarshal(tr.Body, &logto); err != nil || logto.Code != "oidc."+tc.code || logto.Message == "" {
					t.Errorf("Logto-style code/message missing: %s", tr.Body)
				}
				if tc.status == http.StatusUnauthorized && !strings.HasPrefix(tr.Header.Get("WWW-Authenticate"), "Basic") {
					t.Errorf("WWW-Authenticate %q, want Basic", tr.Header.Get("WWW-Authenticate"))
				}
			})
		}
	})
}

func TestScopesAndTTLFromConfig(t *testing.T) {
	t.Parallel()
	s := startServer(t, Options{Config: `{
		"clients":[{"client_id":"reader","client_secret":"r","scopes":["read:products"]}],
		"resources":[
			{"indicator":"https://api.example.com","scopes":["read:products","write:products"],"ttl":120},
			{"indicator":"https://other.example.com","scopes":["read:orders"]}
		]}`})
	ctx := context.Background()

	for _, tc := range []struct {
		name, resource, scope, want string
		ttl                         int
	}{
		{"granted and requested", "https://api.example.com", "read:products write:products", "read:products", 120},
		{"requested but not granted", "https://api.example.com", "write:products", "", 120},
		{"nothing requested", "https://api.example.com", "", "", 120},
		{"resource scope the client lacks", "https://other.example.com", "read:orders", "", 3600},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr, err := s.ClientCredentials(ctx, "reader", "r", tc.resource, tc.scope)
			if err != nil {
				t.Fatal(err)
			}
			if tr.Status != http.StatusOK {
				t.Fatalf("status %d, body %s", tr.Status, tr.Body)
			}
			if tr.Scope != tc.want || tr.ExpiresIn != tc.ttl {
				t.Errorf("scope %q expires_in %d, want %q %d", tr.Scope, tr.ExpiresIn, tc.want, tc.ttl)
			}
			_, claims := decodeJWT(t, tr.AccessToken)
			scope, has := claims["scope"]
			if tc.want == "" && has {
				t.Errorf("scope claim %v present, want it left out", scope)
			}
			if tc.want != "" && scope != tc.want {
				t.Errorf("scope claim %v, want %q", scope, tc.want)
			}
			if claims["aud"] != tc.resource || claims["sub"] != "reader" {
				t.Errorf("aud %v sub %v", claims["aud"], claims["sub"])
			}
		})
	}
}

func TestRotationKeys(t *testing.T) {
	t.Parallel()
	s := startServer(t, Options{Key: KeyECP384Next, ExtraKeys: []string{KeyECP384}})

	var set struct {
		Keys []struct {
			Kid string `json:"kid"`
			D   string `json:"d"`
		} `json:"keys"`
	}
	getJSON(t, s.JWKSURL, &set)
	if len(set.Keys) != 2 || set.Keys[0].Kid != fixtureKid(t, KeyECP384Next) || set.Keys[1].Kid != fixtureKid(t, KeyECP384) {
		t.Fatalf("JWKS %+v, want the next key then the current one", set.Keys)
	}
	for _, k := range set.Keys {
		if k.D != "" {
			t.Errorf("JWKS key %s has a private part", k.Kid)
		}
	}

	tr, err := s.ClientCredentials(context.Background(), DefaultClientID, DefaultClientSecret, DefaultResource, "write:products")
	if err != nil {
		t.Fatal(err)
	}
	if tr.Status != http.StatusOK {
		t.Fatalf("status %d, body %s", tr.Status, tr.Body)
	}
	header, _ := decodeJWT(t, tr.AccessToken)
	if header["kid"] != fixtureKid(t, KeyECP384Next) || header["alg"] != "ES384" {
		t.Errorf("header %v, want kid of %s and ES384", header, KeyECP384Next)
	}
}

func TestStartReportsServerErrors(t *testing.T) {
	t.Parallel()
	_, err := Start(context.Background(), Options{Config: `{"clients":[{"client_id":"no-secret"}]}`})
	if err == nil {
		t.Fatal("Start succeeded with a client without a secret")
	}
	if !strings.Contains(err.Error(), "needs client_id and client_secret") {
		t.Errorf("error does not carry the server's stderr: %v", err)
	}

	for _, tt := range []struct {
		name string
		opts Options
		want string
	}{
		{"key outside keys/", Options{Key: "../server.mjs"}, `invalid key fixture name "../server.mjs"`},
		{"missing key", Options{Key: "missing.json"}, "missing.json does not exist"},
		{"extra key outside keys/", Options{ExtraKeys: []string{"../package.json"}}, `invalid key fixture name "../package.json"`},
	} {
		s, err := Start(context.Background(), tt.opts)
		if err == nil {
			s.Close()
			t.Errorf("%s: Start succeeded", tt.name)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Start = %q, want it to contain %q", tt.name, err, tt.want)
		}
	}
}

func TestCloseIsIdempotent(t *testing.T) {
	t.Parallel()
	s, err := Start(context.Background(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if s.cmd.ProcessState == nil || !s.cmd.ProcessState.Exited() {
		t.Fatalf("process state after Close: %v", s.cmd.ProcessState)
	}
	if _, err := http.Get(s.JWKSURL); err == nil {
		t.Error("server still answers after Close")
	}
}
