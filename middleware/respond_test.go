package middleware_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/logtoguard/logtoguard/middleware"
)

func TestWriteError(t *testing.T) {
	v, err := middleware.New(middleware.Config{Endpoint: "http://127.0.0.1:1", Audiences: []string{api}, Realm: "shop"})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	withMeta, err := middleware.New(middleware.Config{Endpoint: "http://127.0.0.1:1", Audiences: []string{api},
		ResourceMetadataURL: "https://api.example.com/.well-known/oauth-protected-resource"})
	if err != nil {
		t.Fatal(err)
	}
	defer withMeta.Close()

	tests := []struct {
		name       string
		v          *middleware.Validator
		err        error
		status     int
		challenge  string
		body       string
		retryAfter string
	}{
		{"no token", v, &middleware.Error{Kind: middleware.ErrNoToken}, 401, `Bearer realm="shop"`,
			`{"error":"unauthorized","error_description":"a bearer token is required"}`, ""},
		{"bare sentinel", v, middleware.ErrNoToken, 401, `Bearer realm="shop"`,
			`{"error":"unauthorized","error_description":"a bearer token is required"}`, ""},
		{"invalid request", v, &middleware.Error{Kind: middleware.ErrInvalidRequest, Description: "more than one Authorization header"}, 400,
			`Bearer realm="shop", error="invalid_request", error_description="more than one Authorization header"`,
			`{"error":"invalid_request","error_description":"more than one Authorization header"}`, ""},
		{"expired", v, &middleware.Error{Kind: middleware.ErrExpired, Description: "the token has expired", Detail: "secret detail"}, 401,
			`Bearer realm="shop", error="invalid_token", error_description="the token has expired"`,
			`{"error":"invalid_token","error_description":"the token has expired"}`, ""},
		{"quotes and control characters", v, &middleware.Error{Kind: middleware.ErrAudience, Description: "aud \"x\\y\"\r\nSet-Cookie: a=b\x00é"}, 401,
			`Bearer realm="shop", error="invalid_token", error_description="aud 'xy'Set-Cookie: a=b"`,
			`{"error":"invalid_token","error_description":"aud 'xy'Set-Cookie: a=b"}`, ""},
		{"sentinel without description", v, middleware.ErrSignature, 401,
			`Bearer realm="shop", error="invalid_token", error_description="invalid signature"`,
			`{"error":"invalid_token","error_description":"invalid signature"}`, ""},
		{"unknown error", v, errors.New("boom: internal"), 401,
			`Bearer realm="shop", error="invalid_token", error_description="the token could not be verified"`,
			`{"error":"invalid_token","error_description":"the token could not be verified"}`, ""},
		{"scope all-of", v, &middleware.ScopeError{Required: "read:products write:products", Missing: []string{"write:products"}}, 403,
			`Bearer realm="shop", error="insufficient_scope", error_description="the token lacks the scopes: write:products", scope="read:products write:products"`,
			`{"error":"insufficient_scope","error_description":"the token lacks the scopes: write:products"}`, ""},
		{"scope any-of", v, &middleware.ScopeError{Required: "a b", Missing: []string{"a", "b"}, AnyOf: true}, 403,
			`Bearer realm="shop", error="insufficient_scope", error_description="the token needs one of the scopes: a b", scope="a b"`,
			`{"error":"insufficient_scope","error_description":"the token needs one of the scopes: a b"}`, ""},
		{"organization", v, &middleware.Error{Kind: middleware.ErrOrganization, Description: "the token is not for organization o2"}, 403,
			`Bearer realm="shop", error="insufficient_scope", error_description="the token is not for organization o2"`,
			`{"error":"insufficient_scope","error_description":"the token is not for organization o2"}`, ""},
		{"keys unavailable", v, &middleware.Error{Kind: middleware.ErrKeysUnavailable, Description: "the issuer's signing keys could not be loaded yet"}, 503, "",
			`{"error":"temporarily_unavailable","error_description":"the issuer's signing keys could not be loaded yet"}`, "5"},
		{"resource metadata on 401", withMeta, middleware.ErrNoToken, 401,
			`Bearer realm="api", resource_metadata="https://api.example.com/.well-known/oauth-protected-resource"`,
			`{"error":"unauthorized","error_description":"a bearer token is required"}`, ""},
		{"resource metadata on 403", withMeta, &middleware.ScopeError{Required: "a", Missing: []string{"a"}}, 403,
			`Bearer realm="api", error="insufficient_scope", error_description="the token lacks the scopes: a", scope="a", resource_metadata="https://api.example.com/.well-known/oauth-protected-resource"`,
			`{"error":"insufficient_scope","error_description":"the token lacks the scopes: a"}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			tt.v.WriteError(rec, httptest.NewRequest(http.MethodGet, "/", nil), tt.err)
			if rec.Code != tt.status {
				t.Errorf("status %d, want %d", rec.Code, tt.status)
			}
			if got := rec.Header().Get("WWW-Authenticate"); got != tt.challenge {
				t.Errorf("WWW-Authenticate\n got %s\nwant %s", got, tt.challenge)
			}
			if got := rec.Header().Get("Retry-After"); got != tt.retryAfter {
				t.Errorf("Retry-After %q, want %q", got, tt.retryAfter)
			}
			if got := rec.Header().Get("Content-Type"); got != "application/json" {
				t.Errorf("Content-Type %q", got)
			}
			var body any
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatalf("body %q: %v", rec.Body, err)
			}
			if b1, _ := json.Marshal(body); string(b1) != mustCompact(tt.body) {
				t.Errorf("body\n got %s\nwant %s", b1, tt.body)
			}
		})
	}
}

func mustCompact(s string) string {
	var v any
	_ = json.Unmarshal([]byte(s), &v)
	b, _ := json.Marshal(v)
	return string(b)
}

// TestRejectDescription: an *Error that says nothing still gets a
// description, and a long one is cut to 300 characters.
func TestRejectDescription(t *testing.T) {
	v, err := middleware.New(middleware.Config{Endpoint: "http://127.0.0.1:1", Audiences: []string{api}})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	if r := v.Reject(&middleware.Error{}); r.Status != 401 || r.Error != "invalid_token" || r.Description != "invalid token" {
		t.Errorf("an empty *Error: got %+v, want 401 invalid_token with the description %q", r, "invalid token")
	}
	long := strings.Repeat("a", 400)
	if r := v.Reject(&middleware.Error{Kind: middleware.ErrMalformed, Description: long}); r.Description != long[:300] {
		t.Errorf("a description of 400 characters became %d characters, want 300", len(r.Description))
	}
}
