// Package adaptertest is the contract every framework adapter keeps: the
// same routes built with the adapter and with adapters/nethttp, the same
// requests through both, and byte-equal answers. The gin and echo adapters'
// tests run it with their own engine.
package adaptertest

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/logtoguard/logtoguard/adapters/nethttp"
	"github.com/logtoguard/logtoguard/logtotest"
	"github.com/logtoguard/logtoguard/middleware"
)

// API is the audience of the contract's tokens.
const API = "https://api.example.com"

// Engine builds, with the adapter under test, the routes that Reference
// builds with net/http, each writing [WriteWho] when it lets the request
// through:
//
//	GET /read                  Authenticate, then Require(Scopes("read:products"))
//	GET /write                 Require(Scopes("write:products"))
//	GET /both                  Require(Scopes("read:products", "write:products"))
//	GET /any                   Require{AnyScopes: read:products, write:products}
//	GET /auth                  Authenticate alone
//	GET /check                 Require{Check: [InAcme]}
//	GET /members/{org}         Require{Organization: "org"}
//	GET /sync                  Require{AppIDs: inventory-sync}
//	GET /me                    Require{User: true}
//	GET /orgs/{org}/products   Require{Organization: "org", Scopes: read:products}
//
// [Requirements] holds the requirements by route.
type Engine func(v *middleware.Validator) http.Handler

// NewValidator returns a validator that trusts iss, optionally once its keys
// are loaded.
func NewValidator(t *testing.T, iss *logtotest.Issuer, wait bool) *middleware.Validator {
	t.Helper()
	v, err := middleware.New(middleware.Config{
		Endpoint:  iss.Endpoint(),
		Audiences: []string{API},
		// Organization tokens pass Verify, so the routes' requirements
		// alone keep them out of routes that name no organization.
		AcceptOrganizationTokens: true,
		Logger:                   slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatalf("middleware.New: %v", err)
	}
	t.Cleanup(func() { v.Close() })
	if wait {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := v.WaitReady(ctx); err != nil {
			t.Fatalf("WaitReady: %v", err)
		}
	}
	return v
}

// WriteWho is every engine's protected handler: it writes what it learned
// from the claims through the plain http.ResponseWriter, so that the
// responses of the adapter and of net/http can be compared byte for byte.
// same tells whether every way the adapter offers to read the claims gave
// the same *Claims.
func WriteWho(w http.ResponseWriter, c *middleware.Claims, same bool) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	fmt.Fprintf(w, "sub=%s client_id=%s m2m=%t same=%t", c.Subject, c.ClientID, c.IsM2M(), same)
}

// InAcme is the Check of /check: the token must speak for organization
// acme. It returns the bare sentinel, as a user's own check may.
func InAcme(c *middleware.Claims) error {
	if id, ok := c.Organization(); ok && id == "acme" {
		return nil
	}
	return middleware.ErrOrganization
}

// Requirements are the contract's routes (in net/http's pattern syntax; an
// adapter spells {org} its own way) and what each requires. /read also sits
// behind Authenticate, and /auth has Authenticate alone.
var Requirements = map[string]middleware.Requirement{
	"/read":                middleware.Scopes("read:products"),
	"/write":               middleware.Scopes("write:products"),
	"/both":                middleware.Scopes("read:products", "write:products"),
	"/any":                 {AnyScopes: []string{"read:products", "write:products"}},
	"/check":               {Check: InAcme},
	"/members/{org}":       {Organization: "org"},
	"/sync":                {AppIDs: []string{"inventory-sync"}},
	"/me":                  {User: true},
	"/orgs/{org}/products": {Organization: "org", Scopes: []string{"read:products"}},
}

// ColonParams spells a path of [Requirements] as gin and echo do:
// /members/{org} becomes /members/:org.
func ColonParams(path string) string { return strings.ReplaceAll(path, "{org}", ":org") }

// Reference serves the contract's routes with the net/http adapter.
func Reference(v *middleware.Validator) *http.ServeMux {
	guard := nethttp.New(v)
	who := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		claims, ok := middleware.ClaimsFromContext(r.Context())
		if !ok {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		WriteWho(w, claims, true)
	})
	mux := http.NewServeMux()
	for path, req := range Requirements {
		h := guard.Require(req)(who)
		if path == "/read" {
			h = guard.Authenticate(h)
		}
		mux.Handle("GET "+path, h)
	}
	mux.Handle("GET /auth", guard.Authenticate(who))
	return mux
}

// serveBoth runs the request built by newReq through the adapter's engine
// and the net/http reference, fails the test unless their status, headers
// and body are identical, and returns the adapter's response.
func serveBoth(t *testing.T, engine Engine, v *middleware.Validator, newReq func() *http.Request) *httptest.ResponseRecorder {
	t.Helper()
	got, want := httptest.NewRecorder(), httptest.NewRecorder()
	engine(v).ServeHTTP(got, newReq())
	Reference(v).ServeHTTP(want, newReq())
	if got.Code != want.Code {
		t.Errorf("status: adapter %d, net/http %d", got.Code, want.Code)
	}
	gh, wh := got.Result().Header, want.Result().Header
	for k := range wh {
		if fmt.Sprint(gh.Values(k)) != fmt.Sprint(wh.Values(k)) {
			t.Errorf("header %s: adapter %q, net/http %q", k, gh.Values(k), wh.Values(k))
		}
	}
	for k := range gh {
		if _, ok := wh[k]; !ok {
			t.Errorf("header %s: adapter %q, net/http has none", k, gh.Values(k))
		}
	}
	if got.Body.String() != want.Body.String() {
		t.Errorf("body: adapter %q, net/http %q", got.Body, want.Body)
	}
	return got
}

// Run sends every request of the contract through engine and through
// Reference, and checks both answers: status, challenge and body.
func Run(t *testing.T, engine Engine) {
	iss := logtotest.New(t)
	iss.AddResource(API, "read:products", "write:products")
	iss.AddM2MApp("inventory-sync", "secret", "read:products")
	v := NewValidator(t, iss, true)

	readToken := iss.M2MToken("inventory-sync", API, "read:products")
	writeToken := iss.M2MToken("inventory-sync", API, "write:products")
	noScopeToken := iss.M2MToken("inventory-sync", API)
	bothToken := iss.M2MToken("inventory-sync", API, "read:products", "write:products")
	globexToken := iss.Mint(logtotest.Token{Subject: "user-2", ClientID: "spa", Audience: API, OrganizationID: "globex"})
	acmeToken := iss.Mint(logtotest.Token{Subject: "user-1", ClientID: "spa", Audience: API, OrganizationID: "acme"})
	// An organization token whose organization permission is named like
	// the API's read:products.
	acmeOrgToken := iss.OrganizationToken("user-1", "spa", "acme", "read:products")
	bearer := func(tok string) func(*http.Request) {
		return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) }
	}
	const okBody = "sub=inventory-sync client_id=inventory-sync m2m=true same=true"

	tests := []struct {
		name      string
		target    string
		setup     func(*http.Request)
		status    int
		challenge string
		body      string
	}{
		{
			name:      "no token",
			target:    "/read",
			status:    401,
			challenge: `Bearer realm="api"`,
			body:      `{"error":"unauthorized","error_description":"a bearer token is required"}` + "\n",
		},
		{
			name:   "lowercase scheme",
			target: "/read",
			setup:  func(r *http.Request) { r.Header.Set("Authorization", "bearer "+readToken) },
			status: 200,
			body:   okBody,
		},
		{
			name:   "two Authorization headers",
			target: "/read",
			setup: func(r *http.Request) {
				r.Header.Add("Authorization", "Bearer "+readToken)
				r.Header.Add("Authorization", "Bearer "+readToken)
			},
			status:    400,
			challenge: `Bearer realm="api", error="invalid_request", error_description="more than one Authorization header"`,
			body:      `{"error":"invalid_request","error_description":"more than one Authorization header"}` + "\n",
		},
		{
			name:      "token in the query string",
			target:    "/read?access_token=" + readToken,
			status:    400,
			challenge: `Bearer realm="api", error="invalid_request", error_description="tokens in the query string are not accepted: send Authorization: Bearer <token>"`,
			body:      `{"error":"invalid_request","error_description":"tokens in the query string are not accepted: send Authorization: Bearer \u003ctoken\u003e"}` + "\n",
		},
		{
			name:      "Basic scheme",
			target:    "/read",
			setup:     func(r *http.Request) { r.SetBasicAuth("inventory-sync", "secret") },
			status:    401,
			challenge: `Bearer realm="api"`,
			body:      `{"error":"unauthorized","error_description":"a bearer token is required"}` + "\n",
		},
		{
			name:   "M2M token with the scope",
			target: "/read",
			setup:  bearer(readToken),
			status: 200,
			body:   okBody,
		},
		{
			name:      "missing scope",
			target:    "/read",
			setup:     bearer(writeToken),
			status:    403,
			challenge: `Bearer realm="api", error="insufficient_scope", error_description="the token lacks the scopes: read:products", scope="read:products"`,
			body:      `{"error":"insufficient_scope","error_description":"the token lacks the scopes: read:products"}` + "\n",
		},
		{
			name:   "Require with the scope",
			target: "/write",
			setup:  bearer(writeToken),
			status: 200,
			body:   okBody,
		},
		{
			name:      "Require without the scope",
			target:    "/write",
			setup:     bearer(readToken),
			status:    403,
			challenge: `Bearer realm="api", error="insufficient_scope", error_description="the token lacks the scopes: write:products", scope="write:products"`,
			body:      `{"error":"insufficient_scope","error_description":"the token lacks the scopes: write:products"}` + "\n",
		},
		{
			name:      "Require without a token",
			target:    "/write",
			status:    401,
			challenge: `Bearer realm="api"`,
			body:      `{"error":"unauthorized","error_description":"a bearer token is required"}` + "\n",
		},
		{
			name:   "any-of met by one scope",
			target: "/any",
			setup:  bearer(writeToken),
			status: 200,
			body:   okBody,
		},
		{
			name:      "any-of met by none",
			target:    "/any",
			setup:     bearer(noScopeToken),
			status:    403,
			challenge: `Bearer realm="api", error="insufficient_scope", error_description="the token needs one of the scopes: read:products write:products", scope="read:products write:products"`,
			body:      `{"error":"insufficient_scope","error_description":"the token needs one of the scopes: read:products write:products"}` + "\n",
		},
		{
			name:   "two scopes, both held",
			target: "/both",
			setup:  bearer(bothToken),
			status: 200,
			body:   okBody,
		},
		{
			name:      "two scopes, one held",
			target:    "/both",
			setup:     bearer(readToken),
			status:    403,
			challenge: `Bearer realm="api", error="insufficient_scope", error_description="the token lacks the scopes: write:products", scope="read:products write:products"`,
			body:      `{"error":"insufficient_scope","error_description":"the token lacks the scopes: write:products"}` + "\n",
		},
		{
			name:      "two scopes, none held",
			target:    "/both",
			setup:     bearer(noScopeToken),
			status:    403,
			challenge: `Bearer realm="api", error="insufficient_scope", error_description="the token lacks the scopes: read:products write:products", scope="read:products write:products"`,
			body:      `{"error":"insufficient_scope","error_description":"the token lacks the scopes: read:products write:products"}` + "\n",
		},
		{
			name:   "Check passes",
			target: "/check",
			setup:  bearer(acmeToken),
			status: 200,
			body:   "sub=user-1 client_id=spa m2m=false same=true",
		},
		{
			name:      "Check refuses",
			target:    "/check",
			setup:     bearer(globexToken),
			status:    403,
			challenge: `Bearer realm="api", error="insufficient_scope", error_description="organization mismatch"`,
			body:      `{"error":"insufficient_scope","error_description":"organization mismatch"}` + "\n",
		},
		{
			name:      "Check refuses a token without an organization",
			target:    "/check",
			setup:     bearer(readToken),
			status:    403,
			challenge: `Bearer realm="api", error="insufficient_scope", error_description="organization mismatch"`,
			body:      `{"error":"insufficient_scope","error_description":"organization mismatch"}` + "\n",
		},
		{
			name:   "Organization passes",
			target: "/members/acme",
			setup:  bearer(acmeToken),
			status: 200,
			body:   "sub=user-1 client_id=spa m2m=false same=true",
		},
		{
			name:      "Organization refuses another organization",
			target:    "/members/globex",
			setup:     bearer(acmeToken),
			status:    403,
			challenge: `Bearer realm="api", error="insufficient_scope", error_description="the token is not for organization 'globex'"`,
			body:      `{"error":"insufficient_scope","error_description":"the token is not for organization 'globex'"}` + "\n",
		},
		{
			name:   "AppIDs passes a listed app",
			target: "/sync",
			setup:  bearer(readToken),
			status: 200,
			body:   okBody,
		},
		{
			name:      "AppIDs refuses a user",
			target:    "/sync",
			setup:     bearer(acmeToken),
			status:    403,
			challenge: `Bearer realm="api", error="insufficient_scope", error_description="this route accepts machine-to-machine apps only"`,
			body:      `{"error":"insufficient_scope","error_description":"this route accepts machine-to-machine apps only"}` + "\n",
		},
		{
			name:      "AppIDs refuses an unlisted app",
			target:    "/sync",
			setup:     bearer(iss.M2MToken("billing", API)),
			status:    403,
			challenge: `Bearer realm="api", error="insufficient_scope", error_description="the app 'billing' may not use this route"`,
			body:      `{"error":"insufficient_scope","error_description":"the app 'billing' may not use this route"}` + "\n",
		},
		{
			name:   "User passes a user",
			target: "/me",
			setup:  bearer(acmeToken),
			status: 200,
			body:   "sub=user-1 client_id=spa m2m=false same=true",
		},
		{
			name:      "User refuses an app",
			target:    "/me",
			setup:     bearer(readToken),
			status:    403,
			challenge: `Bearer realm="api", error="insufficient_scope", error_description="this route accepts users' tokens only"`,
			body:      `{"error":"insufficient_scope","error_description":"this route accepts users' tokens only"}` + "\n",
		},
		{
			name:   "organization token on its organization's route",
			target: "/orgs/acme/products",
			setup:  bearer(acmeOrgToken),
			status: 200,
			body:   "sub=user-1 client_id=spa m2m=false same=true",
		},
		{
			name:      "organization token on another organization's route",
			target:    "/orgs/globex/products",
			setup:     bearer(acmeOrgToken),
			status:    403,
			challenge: `Bearer realm="api", error="insufficient_scope", error_description="the token is not for organization 'globex'"`,
			body:      `{"error":"insufficient_scope","error_description":"the token is not for organization 'globex'"}` + "\n",
		},
		{
			name:      "organization token on a route that names no organization",
			target:    "/read",
			setup:     bearer(acmeOrgToken),
			status:    403,
			challenge: `Bearer realm="api", error="insufficient_scope", error_description="an organization token is accepted only on routes for its organization"`,
			body:      `{"error":"insufficient_scope","error_description":"an organization token is accepted only on routes for its organization"}` + "\n",
		},
		{
			name:      "expired token",
			target:    "/read",
			setup:     bearer(iss.ExpiredToken("inventory-sync", API, "read:products")),
			status:    401,
			challenge: `Bearer realm="api", error="invalid_token", error_description="the token has expired"`,
			body:      `{"error":"invalid_token","error_description":"the token has expired"}` + "\n",
		},
		{
			name:      "ID token",
			target:    "/read",
			setup:     bearer(iss.IDToken("user-1", "spa")),
			status:    401,
			challenge: `Bearer realm="api", error="invalid_token", error_description="the token is not an access token (typ 'JWT', want at+jwt): is it an ID token? Send the access token requested with resource=<your API identifier>"`,
			body:      `{"error":"invalid_token","error_description":"the token is not an access token (typ 'JWT', want at+jwt): is it an ID token? Send the access token requested with resource=\u003cyour API identifier\u003e"}` + "\n",
		},
		{
			name:      "opaque token",
			target:    "/read",
			setup:     bearer(iss.OpaqueToken()),
			status:    401,
			challenge: `Bearer realm="api", error="invalid_token", error_description="token is opaque, not a JWT: request the access token with resource=<your API identifier>"`,
			body:      `{"error":"invalid_token","error_description":"token is opaque, not a JWT: request the access token with resource=\u003cyour API identifier\u003e"}` + "\n",
		},
		{
			name:      "foreign key",
			target:    "/read",
			setup:     bearer(iss.ForeignKeyToken("inventory-sync", API, "read:products")),
			status:    401,
			challenge: `Bearer realm="api", error="invalid_token", error_description="the token is signed with a key the issuer does not publish"`,
			body:      `{"error":"invalid_token","error_description":"the token is signed with a key the issuer does not publish"}` + "\n",
		},
		{
			name:   "Authenticate alone",
			target: "/auth",
			setup:  bearer(readToken),
			status: 200,
			body:   okBody,
		},
		{
			name:   "Authenticate alone lets an organization token through",
			target: "/auth",
			setup:  bearer(acmeOrgToken),
			status: 200,
			body:   "sub=user-1 client_id=spa m2m=false same=true",
		},
		{
			name:      "Authenticate alone without a token",
			target:    "/auth",
			status:    401,
			challenge: `Bearer realm="api"`,
			body:      `{"error":"unauthorized","error_description":"a bearer token is required"}` + "\n",
		},
		{
			name:      "organization token on a Check route",
			target:    "/check",
			setup:     bearer(acmeOrgToken),
			status:    403,
			challenge: `Bearer realm="api", error="insufficient_scope", error_description="an organization token is accepted only on routes for its organization"`,
			body:      `{"error":"insufficient_scope","error_description":"an organization token is accepted only on routes for its organization"}` + "\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := serveBoth(t, engine, v, func() *http.Request {
				r := httptest.NewRequest(http.MethodGet, tt.target, nil)
				if tt.setup != nil {
					tt.setup(r)
				}
				return r
			})
			if rec.Code != tt.status {
				t.Errorf("status: got %d, want %d", rec.Code, tt.status)
			}
			if got := rec.Header().Get("WWW-Authenticate"); got != tt.challenge {
				t.Errorf("WWW-Authenticate:\n got %s\nwant %s", got, tt.challenge)
			}
			if got := rec.Body.String(); got != tt.body {
				t.Errorf("body:\n got %s\nwant %s", got, tt.body)
			}
		})
	}
}

// RunKeysNeverLoaded: Logto is unreachable from the start, so the validator
// has no keys: 503 with Retry-After and no challenge, from both.
func RunKeysNeverLoaded(t *testing.T, engine Engine) {
	iss := logtotest.New(t)
	iss.AddResource(API, "read:products")
	iss.AddM2MApp("inventory-sync", "secret", "read:products")
	iss.SetJWKSDown(true)
	v := NewValidator(t, iss, false)
	token := iss.M2MToken("inventory-sync", API, "read:products")

	rec := serveBoth(t, engine, v, func() *http.Request {
		r := httptest.NewRequest(http.MethodGet, "/read", nil)
		r.Header.Set("Authorization", "Bearer "+token)
		return r
	})
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("status: got %d, want 503", rec.Code)
	}
	if got := rec.Header().Get("Retry-After"); got == "" {
		t.Error("Retry-After: got none, want one")
	}
	if got := rec.Header().Values("WWW-Authenticate"); len(got) != 0 {
		t.Errorf("WWW-Authenticate: got %q, want none", got)
	}
	const body = `{"error":"temporarily_unavailable","error_description":"the issuer's signing keys could not be loaded yet"}` + "\n"
	if got := rec.Body.String(); got != body {
		t.Errorf("body:\n got %s\nwant %s", got, body)
	}
}
