package middleware_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/logtoguard/logtoguard/logtotest"
	"github.com/logtoguard/logtoguard/middleware"
)

// orgValidator returns a function that verifies a token with a validator
// of iss that accepts organization tokens, failing the test on an error.
func orgValidator(t *testing.T, iss *logtotest.Issuer) func(string) *middleware.Claims {
	v := newValidator(t, iss, func(c *middleware.Config) { c.AcceptOrganizationTokens = true })
	return func(tok string) *middleware.Claims {
		t.Helper()
		c, err := v.Verify(context.Background(), tok)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
}

func TestAuthorizeOrganizationAndClient(t *testing.T) {
	iss := logtotest.New(t)
	verify := orgValidator(t, iss)
	m2m := verify(iss.M2MToken("app-1", api))
	user := verify(iss.UserToken("user-1", "spa", api, "read:products"))
	orgToken := verify(iss.OrganizationToken("user-1", "spa", "org-a", "read:members"))
	orgAPI := verify(iss.Mint(logtotest.Token{Subject: "user-1", ClientID: "spa", Audience: api, OrganizationID: "org-a"}))
	authorize := func(c *middleware.Claims, req middleware.Requirement) error { return middleware.Authorize(c, req, nil) }
	orgAPIM2M := verify(iss.Mint(logtotest.Token{Subject: "app-1", ClientID: "app-1", Audience: api, OrganizationID: "org-a"}))

	org := []struct {
		name   string
		c      *middleware.Claims
		org    string
		ok     bool
		inDesc string
	}{
		{"organization token", orgToken, "org-a", true, ""},
		{"organization-level API token", orgAPI, "org-a", true, ""},
		{"organization-level API token of an M2M app", orgAPIM2M, "org-a", true, ""},
		{"organization token, other organization", orgToken, "org-b", false, `organization "org-b"`},
		{"API token, other organization", orgAPI, "org-b", false, `organization "org-b"`},
		{"prefix of the organization", orgAPI, "org", false, ""},
		// Organization IDs are compared as they are, case included.
		{"organization token, the organization in upper case", orgToken, "ORG-A", false, ""},
		{"API token, the organization in another case", orgAPI, "Org-a", false, ""},
		{"plain API token", user, "org-a", false, "request a token with organization_id"},
		{"M2M token without organization", m2m, "org-a", false, "organization_id"},
		{"no organization in the request", orgAPI, "", false, "names no organization"},
	}
	for _, tt := range org {
		t.Run("organization/"+tt.name, func(t *testing.T) {
			err := middleware.Authorize(tt.c, middleware.Requirement{Organization: "org"}, func(name string) string {
				if name != "org" {
					t.Errorf("value(%q), want value(\"org\")", name)
				}
				return tt.org
			})
			if tt.ok {
				if err != nil {
					t.Fatalf("got %v, want nil", err)
				}
				return
			}
			var e *middleware.Error
			if !errors.Is(err, middleware.ErrOrganization) || !errors.As(err, &e) || errors.Is(err, middleware.ErrInvalidToken) {
				t.Fatalf("got %v, want an *Error of ErrOrganization only", err)
			}
			if !strings.Contains(e.Description, tt.inDesc) {
				t.Errorf("description %q, want it to contain %q", e.Description, tt.inDesc)
			}
		})
	}

	client := []struct {
		name  string
		check func() error
		ok    bool
	}{
		{"M2M required, M2M token", func() error { return authorize(m2m, middleware.Requirement{M2M: true}) }, true},
		{"M2M required, user token", func() error { return authorize(user, middleware.Requirement{M2M: true}) }, false},
		{"listed app", func() error { return authorize(m2m, middleware.Requirement{AppIDs: []string{"app-0", "app-1"}}) }, true},
		{"listed app, M2M set too", func() error {
			return authorize(m2m, middleware.Requirement{M2M: true, AppIDs: []string{"app-1"}})
		}, true},
		{"unlisted app", func() error { return authorize(m2m, middleware.Requirement{AppIDs: []string{"app-2"}}) }, false},
		{"user token whose client is listed", func() error { return authorize(user, middleware.Requirement{AppIDs: []string{"spa"}}) }, false},
		{"user required, user token", func() error { return authorize(user, middleware.Requirement{User: true}) }, true},
		{"user required, M2M token", func() error { return authorize(m2m, middleware.Requirement{User: true}) }, false},
	}
	for _, tt := range client {
		t.Run("client/"+tt.name, func(t *testing.T) {
			err := tt.check()
			if tt.ok != (err == nil) {
				t.Fatalf("got %v, want ok=%v", err, tt.ok)
			}
			if err != nil && (!errors.Is(err, middleware.ErrClient) || errors.Is(err, middleware.ErrInvalidToken)) {
				t.Fatalf("got %v, want ErrClient only", err)
			}
		})
	}
}

func TestReason(t *testing.T) {
	iss := logtotest.New(t)
	v := newValidator(t, iss, nil)
	reasonOf := func(tok string) string {
		_, err := v.Verify(context.Background(), tok)
		return middleware.Reason(err)
	}
	tests := []struct {
		got, want string
	}{
		{reasonOf(""), "no_token"},
		{reasonOf(iss.ExpiredToken("app-1", api)), "expired"},
		{reasonOf(iss.OpaqueToken()), "opaque_token"},
		{reasonOf(iss.IDToken("user-1", "spa")), "token_type"},
		{reasonOf(iss.WrongAudienceToken("app-1")), "audience"},
		{reasonOf(iss.ForeignKeyToken("app-1", api)), "unknown_key"},
		{reasonOf("a.b.c"), "malformed"},
		{middleware.Reason(middleware.Authorize(&middleware.Claims{}, middleware.Scopes("x"), nil)), "insufficient_scope"},
		{middleware.Reason(middleware.Authorize(&middleware.Claims{}, middleware.Requirement{Organization: "org"}, nil)), "organization"},
		{middleware.Reason(middleware.Authorize(&middleware.Claims{}, middleware.Requirement{M2M: true}, nil)), "client"},
		{middleware.Reason(middleware.Authorize(nil, middleware.Requirement{}, nil)), "no_token"},
		{middleware.Reason(fmt.Errorf("wrapped: %w", middleware.ErrKeysUnavailable)), "keys_unavailable"},
		{middleware.Reason(middleware.ErrInvalidRequest), "invalid_request"},
		{middleware.Reason(errors.New("something else")), "other"},
		{middleware.Reason(nil), "other"},
	}
	for i, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%d: got %q, want %q", i, tt.got, tt.want)
		}
	}
}

// TestAuthorizeOrganizationTokens: an organization token meets a
// requirement only where the requirement names its organization; other
// tokens are unaffected.
func TestAuthorizeOrganizationTokens(t *testing.T) {
	iss := logtotest.New(t)
	verify := orgValidator(t, iss)
	orgToken := verify(iss.OrganizationToken("user-1", "spa", "org-a", "read:products"))
	orgAPI := verify(iss.Mint(logtotest.Token{Subject: "user-1", ClientID: "spa", Audience: api, OrganizationID: "org-a", Scopes: []string{"read:products"}}))
	plain := verify(iss.UserToken("user-1", "spa", api, "read:products"))
	if !orgToken.IsOrganizationToken() || orgAPI.IsOrganizationToken() || plain.IsOrganizationToken() {
		t.Fatal("IsOrganizationToken: want true only for the organization token")
	}
	read := middleware.Scopes("read:products")
	inOrg := middleware.Requirement{Organization: "org", Scopes: []string{"read:products"}}
	orgA := func(string) string { return "org-a" }
	orgB := func(string) string { return "org-b" }
	tests := []struct {
		name  string
		req   middleware.Requirement
		value func(string) string
		c     *middleware.Claims
		want  error
	}{
		{"organization token, route without organization", read, orgA, orgToken, middleware.ErrOrganization},
		{"organization token, no requirement at all", middleware.Requirement{}, nil, orgToken, middleware.ErrOrganization},
		{"organization token, M2M route", middleware.Requirement{User: true}, nil, orgToken, middleware.ErrOrganization},
		{"organization token, route for another organization", inOrg, orgB, orgToken, middleware.ErrOrganization},
		{"organization token, route for its organization", inOrg, orgA, orgToken, nil},
		{"organization token, its organization, scope it lacks", middleware.Requirement{Organization: "org", Scopes: []string{"write:products"}}, orgA, orgToken, middleware.ErrInsufficientScope},
		{"organization-level API token, route without organization", read, nil, orgAPI, nil},
		{"API token", read, nil, plain, nil},
		{"API token lacking the scope", middleware.Scopes("write:products"), nil, plain, middleware.ErrInsufficientScope},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := middleware.Authorize(tt.c, tt.req, tt.value)
			if (tt.want == nil) != (err == nil) || (tt.want != nil && !errors.Is(err, tt.want)) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
}

// TestAuthorizeScopes covers all-of, any-of and both together, and which
// requirement the ScopeError names.
func TestAuthorizeScopes(t *testing.T) {
	c := &middleware.Claims{Subject: "u", ClientID: "spa", Scopes: []string{"a", "b"}}
	tests := []struct {
		name     string
		req      middleware.Requirement
		required string // "" when the requirement is met
		anyOf    bool
		missing  []string
	}{
		{"all held", middleware.Scopes("a", "b"), "", false, nil},
		{"one of two lacking", middleware.Scopes("a", "c"), "a c", false, []string{"c"}},
		{"two lacking", middleware.Scopes("c", "d"), "c d", false, []string{"c", "d"}},
		{"any-of met", middleware.Requirement{AnyScopes: []string{"c", "b"}}, "", false, nil},
		{"any-of unmet", middleware.Requirement{AnyScopes: []string{"c", "d"}}, "c d", true, []string{"c", "d"}},
		{"all-of and any-of met", middleware.Requirement{Scopes: []string{"a"}, AnyScopes: []string{"b", "z"}}, "", false, nil},
		{"all-of met, any-of unmet", middleware.Requirement{Scopes: []string{"a"}, AnyScopes: []string{"y", "z"}}, "y z", true, []string{"y", "z"}},
		{"all-of unmet first", middleware.Requirement{Scopes: []string{"x"}, AnyScopes: []string{"y", "z"}}, "x", false, []string{"x"}},
		{"no scopes required", middleware.Requirement{}, "", false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := middleware.Authorize(c, tt.req, nil)
			if tt.required == "" {
				if err != nil {
					t.Fatalf("got %v, want nil", err)
				}
				return
			}
			var se *middleware.ScopeError
			if !errors.As(err, &se) {
				t.Fatalf("got %v, want a *ScopeError", err)
			}
			if se.Required != tt.required || se.AnyOf != tt.anyOf || strings.Join(se.Missing, " ") != strings.Join(tt.missing, " ") {
				t.Errorf("got %+v, want Required %q AnyOf %t Missing %v", se, tt.required, tt.anyOf, tt.missing)
			}
		})
	}
}

// TestAuthorizeCheck: Check runs last, only on claims that met the rest,
// and its error comes back as it is.
func TestAuthorizeCheck(t *testing.T) {
	c := &middleware.Claims{Subject: "u", ClientID: "spa", Scopes: []string{"a"}}
	mine := &middleware.Error{Kind: middleware.ErrClient, Description: "pro plan only"}
	calls := 0
	check := func(*middleware.Claims) error { calls++; return mine }
	if err := middleware.Authorize(c, middleware.Requirement{Scopes: []string{"b"}, Check: check}, nil); !errors.Is(err, middleware.ErrInsufficientScope) || calls != 0 {
		t.Fatalf("scope lacking: got %v after %d calls, want ErrInsufficientScope and no call", err, calls)
	}
	if err := middleware.Authorize(c, middleware.Requirement{Scopes: []string{"a"}, Check: check}, nil); err != mine || calls != 1 {
		t.Fatalf("got %v after %d calls, want the check's error after 1", err, calls)
	}
	if err := middleware.Authorize(nil, middleware.Requirement{Check: check}, nil); !errors.Is(err, middleware.ErrNoToken) || calls != 1 {
		t.Fatalf("nil claims: got %v, want ErrNoToken and no call", err)
	}
}

func TestRequirementValidate(t *testing.T) {
	tests := []struct {
		name string
		req  middleware.Requirement
		ok   bool
	}{
		{"zero", middleware.Requirement{}, true},
		{"everything that fits together", middleware.Requirement{Scopes: []string{"a"}, AnyScopes: []string{"b"}, AppIDs: []string{"x"}, Organization: "org"}, true},
		{"empty scope", middleware.Scopes(""), false},
		{"scope with a space", middleware.Scopes("a b"), false},
		{"scope with a quote", middleware.Requirement{AnyScopes: []string{`a"`}}, false},
		{"empty App ID", middleware.Requirement{AppIDs: []string{""}}, false},
		{"user alone", middleware.Requirement{User: true, Scopes: []string{"a"}}, true},
		{"M2M with App IDs", middleware.Requirement{M2M: true, AppIDs: []string{"x"}}, true},
		{"user and M2M", middleware.Requirement{User: true, M2M: true}, false},
		{"user and App IDs", middleware.Requirement{User: true, AppIDs: []string{"x"}}, false},
		{"organization in braces", middleware.Requirement{Organization: "{org}"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.req.Validate()
			if (err == nil) != tt.ok {
				t.Fatalf("got %v, want ok=%t", err, tt.ok)
			}
			if err != nil && !strings.HasPrefix(err.Error(), "middleware: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
			defer func() {
				if r := recover(); (r == nil) != tt.ok {
					t.Errorf("MustValidate: recovered %v, want a panic only for an invalid requirement", r)
				}
			}()
			tt.req.MustValidate()
		})
	}
}

// BenchmarkAuthorize is the per-request cost of a route's requirement on a
// token that meets it: every request behind Require pays it.
func BenchmarkAuthorize(b *testing.B) {
	c := &middleware.Claims{Subject: "app-1", ClientID: "app-1", Scopes: []string{"read:products", "write:products"}}
	req := middleware.Requirement{Scopes: []string{"read:products"}, AnyScopes: []string{"admin", "write:products"}}
	b.ReportAllocs()
	for b.Loop() {
		if err := middleware.Authorize(c, req, nil); err != nil {
			b.Fatal(err)
		}
	}
}
