package middleware_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/logtoguard/logtoguard/logtotest"
	"github.com/logtoguard/logtoguard/middleware"
	"github.com/logtoguard/logtoguard/scopes"
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
		{"plain API token", user, "org-a", false, "request a token with organization_id"},
		{"M2M token without organization", m2m, "org-a", false, "organization_id"},
		{"no organization in the request", orgAPI, "", false, "names no organization"},
		{"no claims", nil, "org-a", false, ""},
	}
	for _, tt := range org {
		t.Run("organization/"+tt.name, func(t *testing.T) {
			err := middleware.AuthorizeOrganization(tt.c, tt.org)
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
		{"M2M required, M2M token", func() error { return middleware.AuthorizeM2M(m2m) }, true},
		{"M2M required, user token", func() error { return middleware.AuthorizeM2M(user) }, false},
		{"M2M required, no claims", func() error { return middleware.AuthorizeM2M(nil) }, false},
		{"listed app", func() error { return middleware.AuthorizeM2M(m2m, "app-0", "app-1") }, true},
		{"unlisted app", func() error { return middleware.AuthorizeM2M(m2m, "app-2") }, false},
		{"user token whose client is listed", func() error { return middleware.AuthorizeM2M(user, "spa") }, false},
		{"user required, user token", func() error { return middleware.AuthorizeUser(user) }, true},
		{"user required, M2M token", func() error { return middleware.AuthorizeUser(m2m) }, false},
		{"user required, no claims", func() error { return middleware.AuthorizeUser(nil) }, false},
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
		{middleware.Reason(middleware.Authorize(&middleware.Claims{}, scopes.All("x"))), "insufficient_scope"},
		{middleware.Reason(middleware.AuthorizeOrganization(nil, "o")), "organization"},
		{middleware.Reason(middleware.AuthorizeM2M(nil)), "client"},
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

// TestAuthorizeScopes: an organization token meets a scope requirement only
// on a route that authorized its organization; other tokens are unaffected.
func TestAuthorizeScopes(t *testing.T) {
	iss := logtotest.New(t)
	verify := orgValidator(t, iss)
	orgToken := verify(iss.OrganizationToken("user-1", "spa", "org-a", "read:products"))
	orgAPI := verify(iss.Mint(logtotest.Token{Subject: "user-1", ClientID: "spa", Audience: api, OrganizationID: "org-a", Scopes: []string{"read:products"}}))
	plain := verify(iss.UserToken("user-1", "spa", api, "read:products"))
	if !orgToken.IsOrganizationToken() || orgAPI.IsOrganizationToken() || plain.IsOrganizationToken() {
		t.Fatal("IsOrganizationToken: want true only for the organization token")
	}
	req := scopes.All("read:products")
	background := context.Background()
	orgA := middleware.WithAuthorizedOrganization(background, "org-a")
	orgB := middleware.WithAuthorizedOrganization(background, "org-b")
	tests := []struct {
		name string
		ctx  context.Context
		c    *middleware.Claims
		want error
	}{
		{"organization token, route without organization", background, orgToken, middleware.ErrOrganization},
		{"organization token, route for another organization", orgB, orgToken, middleware.ErrOrganization},
		{"organization token, route for its organization", orgA, orgToken, nil},
		{"organization-level API token, route without organization", background, orgAPI, nil},
		{"API token", background, plain, nil},
		{"API token lacking the scope", background, plain, middleware.ErrInsufficientScope},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := req
			if tt.want == middleware.ErrInsufficientScope {
				r = scopes.All("write:products")
			}
			err := middleware.AuthorizeScopes(tt.ctx, tt.c, r)
			if (tt.want == nil) != (err == nil) || (tt.want != nil && !errors.Is(err, tt.want)) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
}
