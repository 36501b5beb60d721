// Package adaptertest is the contract every framework adapter keeps: the
// same routes built with the adapter and with adapters/nethttp, the same
// requests through both, and byte-equal answers. The gin and echo adapters'
// tests run it with their own engine.
package adaptertest

import (
	"context"
	"encoding/json"
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
	fmt.Fprint(w, Who(c, same))
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
	"/own":                 {NoDelegation: true},
	"/agents":              {Actors: []string{"support-agent"}},
	"/clients":             {Clients: []string{"spa"}},
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

// NewIssuer starts the contract's Logto-compatible issuer: the API
// resource and the inventory-sync app.
func NewIssuer(t *testing.T) *logtotest.Issuer {
	iss := logtotest.New(t)
	iss.AddResource(API, "read:products", "write:products")
	iss.AddM2MApp("inventory-sync", "secret", "read:products")
	return iss
}

// Case is one request of the contract and the answer every adapter gives,
// in HTTP's terms; an RPC adapter answers it in its own codes (see
// [Case.Code]), with Description as the status message and Challenge as
// www-authenticate metadata.
type Case struct {
	Name string
	// Route is a key of [Requirements], or "/auth".
	Route string
	// Authorization are the values of the Authorization header (gRPC:
	// authorization metadata).
	Authorization []string
	// Query is the request's raw query; only HTTP has one.
	Query string
	// Status, Challenge (WWW-Authenticate) and Body of the HTTP answer.
	Status    int
	Challenge string
	Body      string
}

// Split returns the route pattern of the case, a key of [Requirements] or
// "/auth", and the organization its {org} wildcard holds ("" when it has
// none): "/members/acme" splits into "/members/{org}" and "acme". An RPC
// adapter's test calls the method it maps the pattern to, with the
// organization in the request.
func (c Case) Split() (pattern, org string) {
	for p := range Requirements {
		before, after, ok := strings.Cut(p, "{org}")
		if !ok {
			continue
		}
		if rest, ok := strings.CutPrefix(c.Route, before); ok {
			if org, ok := strings.CutSuffix(rest, after); ok && org != "" && !strings.Contains(org, "/") {
				return p, org
			}
		}
	}
	return c.Route, ""
}

// HTTPOnly reports whether the case needs what only HTTP has (a query
// string).
func (c Case) HTTPOnly() bool { return c.Query != "" }

// Description is the error_description of the answer, "" for a 200.
func (c Case) Description() string {
	var body struct {
		Description string `json:"error_description"`
	}
	if c.Status == http.StatusOK || json.Unmarshal([]byte(c.Body), &body) != nil {
		return ""
	}
	return body.Description
}

// Code names the answer the way RPC status codes do: "OK",
// "InvalidArgument" (400), "Unauthenticated" (401), "PermissionDenied"
// (403) or "Unavailable" (503).
func (c Case) Code() string {
	switch c.Status {
	case http.StatusOK:
		return "OK"
	case http.StatusBadRequest:
		return "InvalidArgument"
	case http.StatusUnauthorized:
		return "Unauthenticated"
	case http.StatusForbidden:
		return "PermissionDenied"
	default:
		return "Unavailable"
	}
}

// Who is what every route answers when it lets a request through (Body of
// a 200 case), from the claims the adapter handed the handler; same tells
// whether every way the adapter offers to read the claims gave the same
// *Claims.
func Who(c *middleware.Claims, same bool) string {
	return fmt.Sprintf("sub=%s client_id=%s m2m=%t same=%t", c.Subject, c.ClientID, c.IsM2M(), same)
}

// Cases are the contract's requests, with tokens of iss (see [NewIssuer]).
func Cases(iss *logtotest.Issuer) []Case {

	readToken := iss.M2MToken("inventory-sync", API, "read:products")
	writeToken := iss.M2MToken("inventory-sync", API, "write:products")
	noScopeToken := iss.M2MToken("inventory-sync", API)
	bothToken := iss.M2MToken("inventory-sync", API, "read:products", "write:products")
	globexToken := iss.Mint(logtotest.Token{Subject: "user-2", ClientID: "spa", Audience: API, OrganizationID: "globex"})
	acmeToken := iss.Mint(logtotest.Token{Subject: "user-1", ClientID: "spa", Audience: API, OrganizationID: "acme"})
	// A token from Logto's token exchange: support-agent acts for user-1.
	delegatedToken := iss.DelegatedToken("user-1", "support-agent", "helpdesk", API)
	// An organization token whose organization permission is named like
	// the API's read:products.
	acmeOrgToken := iss.OrganizationToken("user-1", "spa", "acme", "read:products")
	bearer := func(tok string) []string { return []string{"Bearer " + tok} }
	const okBody = "sub=inventory-sync client_id=inventory-sync m2m=true same=true"

	return []Case{
		{
			Name:      "no token",
			Route:     "/read",
			Status:    401,
			Challenge: `Bearer realm="api"`,
			Body:      `{"error":"unauthorized","error_description":"a bearer token is required"}` + "\n",
		},
		{
			Name:          "lowercase scheme",
			Route:         "/read",
			Authorization: []string{"bearer " + readToken},
			Status:        200,
			Body:          okBody,
		},
		{
			Name:          "two Authorization headers",
			Route:         "/read",
			Authorization: []string{"Bearer " + readToken, "Bearer " + readToken},
			Status:        400,
			Challenge:     `Bearer realm="api", error="invalid_request", error_description="more than one Authorization header"`,
			Body:          `{"error":"invalid_request","error_description":"more than one Authorization header"}` + "\n",
		},
		{
			Name:      "token in the query string",
			Route:     "/read",
			Query:     "access_token=" + readToken,
			Status:    400,
			Challenge: `Bearer realm="api", error="invalid_request", error_description="tokens in the query string are not accepted: send Authorization: Bearer <token>"`,
			Body:      `{"error":"invalid_request","error_description":"tokens in the query string are not accepted: send Authorization: Bearer \u003ctoken\u003e"}` + "\n",
		},
		{
			Name:          "Basic scheme",
			Route:         "/read",
			Authorization: []string{"Basic aW52ZW50b3J5LXN5bmM6c2VjcmV0"},
			Status:        401,
			Challenge:     `Bearer realm="api"`,
			Body:          `{"error":"unauthorized","error_description":"a bearer token is required"}` + "\n",
		},
		{
			Name:          "M2M token with the scope",
			Route:         "/read",
			Authorization: bearer(readToken),
			Status:        200,
			Body:          okBody,
		},
		{
			Name:          "missing scope",
			Route:         "/read",
			Authorization: bearer(writeToken),
			Status:        403,
			Challenge:     `Bearer realm="api", error="insufficient_scope", error_description="the token lacks the scopes: read:products", scope="read:products"`,
			Body:          `{"error":"insufficient_scope","error_description":"the token lacks the scopes: read:products"}` + "\n",
		},
		{
			Name:          "Require with the scope",
			Route:         "/write",
			Authorization: bearer(writeToken),
			Status:        200,
			Body:          okBody,
		},
		{
			Name:          "Require without the scope",
			Route:         "/write",
			Authorization: bearer(readToken),
			Status:        403,
			Challenge:     `Bearer realm="api", error="insufficient_scope", error_description="the token lacks the scopes: write:products", scope="write:products"`,
			Body:          `{"error":"insufficient_scope","error_description":"the token lacks the scopes: write:products"}` + "\n",
		},
		{
			Name:      "Require without a token",
			Route:     "/write",
			Status:    401,
			Challenge: `Bearer realm="api"`,
			Body:      `{"error":"unauthorized","error_description":"a bearer token is required"}` + "\n",
		},
		{
			Name:          "any-of met by one scope",
			Route:         "/any",
			Authorization: bearer(writeToken),
			Status:        200,
			Body:          okBody,
		},
		{
			Name:          "any-of met by none",
			Route:         "/any",
			Authorization: bearer(noScopeToken),
			Status:        403,
			Challenge:     `Bearer realm="api", error="insufficient_scope", error_description="the token needs one of the scopes: read:products write:products", scope="read:products write:products"`,
			Body:          `{"error":"insufficient_scope","error_description":"the token needs one of the scopes: read:products write:products"}` + "\n",
		},
		{
			Name:          "two scopes, both held",
			Route:         "/both",
			Authorization: bearer(bothToken),
			Status:        200,
			Body:          okBody,
		},
		{
			Name:          "two scopes, one held",
			Route:         "/both",
			Authorization: bearer(readToken),
			Status:        403,
			Challenge:     `Bearer realm="api", error="insufficient_scope", error_description="the token lacks the scopes: write:products", scope="read:products write:products"`,
			Body:          `{"error":"insufficient_scope","error_description":"the token lacks the scopes: write:products"}` + "\n",
		},
		{
			// The other one: a check of the first (or the last) scope
			// alone fails one of these two rows.
			Name:          "two scopes, the other one held",
			Route:         "/both",
			Authorization: bearer(writeToken),
			Status:        403,
			Challenge:     `Bearer realm="api", error="insufficient_scope", error_description="the token lacks the scopes: read:products", scope="read:products write:products"`,
			Body:          `{"error":"insufficient_scope","error_description":"the token lacks the scopes: read:products"}` + "\n",
		},
		{
			Name:          "two scopes, none held",
			Route:         "/both",
			Authorization: bearer(noScopeToken),
			Status:        403,
			Challenge:     `Bearer realm="api", error="insufficient_scope", error_description="the token lacks the scopes: read:products write:products", scope="read:products write:products"`,
			Body:          `{"error":"insufficient_scope","error_description":"the token lacks the scopes: read:products write:products"}` + "\n",
		},
		{
			Name:          "Check passes",
			Route:         "/check",
			Authorization: bearer(acmeToken),
			Status:        200,
			Body:          "sub=user-1 client_id=spa m2m=false same=true",
		},
		{
			Name:          "Check refuses",
			Route:         "/check",
			Authorization: bearer(globexToken),
			Status:        403,
			Challenge:     `Bearer realm="api", error="insufficient_scope", error_description="organization mismatch"`,
			Body:          `{"error":"insufficient_scope","error_description":"organization mismatch"}` + "\n",
		},
		{
			Name:          "Check refuses a token without an organization",
			Route:         "/check",
			Authorization: bearer(readToken),
			Status:        403,
			Challenge:     `Bearer realm="api", error="insufficient_scope", error_description="organization mismatch"`,
			Body:          `{"error":"insufficient_scope","error_description":"organization mismatch"}` + "\n",
		},
		{
			Name:          "Organization passes",
			Route:         "/members/acme",
			Authorization: bearer(acmeToken),
			Status:        200,
			Body:          "sub=user-1 client_id=spa m2m=false same=true",
		},
		{
			Name:          "Organization refuses another organization",
			Route:         "/members/globex",
			Authorization: bearer(acmeToken),
			Status:        403,
			Challenge:     `Bearer realm="api", error="insufficient_scope", error_description="the token is not for organization 'globex'"`,
			Body:          `{"error":"insufficient_scope","error_description":"the token is not for organization 'globex'"}` + "\n",
		},
		{
			// Organization IDs are compared as they are: "ACME" is not
			// "acme".
			Name:          "Organization refuses the organization in another case",
			Route:         "/members/ACME",
			Authorization: bearer(acmeToken),
			Status:        403,
			Challenge:     `Bearer realm="api", error="insufficient_scope", error_description="the token is not for organization 'ACME'"`,
			Body:          `{"error":"insufficient_scope","error_description":"the token is not for organization 'ACME'"}` + "\n",
		},
		{
			Name:          "AppIDs passes a listed app",
			Route:         "/sync",
			Authorization: bearer(readToken),
			Status:        200,
			Body:          okBody,
		},
		{
			Name:          "AppIDs refuses a user",
			Route:         "/sync",
			Authorization: bearer(acmeToken),
			Status:        403,
			Challenge:     `Bearer realm="api", error="insufficient_scope", error_description="this route accepts machine-to-machine apps only"`,
			Body:          `{"error":"insufficient_scope","error_description":"this route accepts machine-to-machine apps only"}` + "\n",
		},
		{
			Name:          "AppIDs refuses an unlisted app",
			Route:         "/sync",
			Authorization: bearer(iss.M2MToken("billing", API)),
			Status:        403,
			Challenge:     `Bearer realm="api", error="insufficient_scope", error_description="the app 'billing' may not use this route"`,
			Body:          `{"error":"insufficient_scope","error_description":"the app 'billing' may not use this route"}` + "\n",
		},
		{
			Name:          "User passes a user",
			Route:         "/me",
			Authorization: bearer(acmeToken),
			Status:        200,
			Body:          "sub=user-1 client_id=spa m2m=false same=true",
		},
		{
			Name:          "NoDelegation passes the user's own token",
			Route:         "/own",
			Authorization: bearer(acmeToken),
			Status:        200,
			Body:          "sub=user-1 client_id=spa m2m=false same=true",
		},
		{
			Name:          "NoDelegation refuses a delegated token",
			Route:         "/own",
			Authorization: bearer(delegatedToken),
			Status:        403,
			Challenge:     `Bearer realm="api", error="insufficient_scope", error_description="this route accepts only the subject's own tokens, not one acting for it (act 'support-agent')"`,
			Body:          `{"error":"insufficient_scope","error_description":"this route accepts only the subject's own tokens, not one acting for it (act 'support-agent')"}` + "\n",
		},
		{
			Name:          "Actors passes a listed actor",
			Route:         "/agents",
			Authorization: bearer(delegatedToken),
			Status:        200,
			Body:          "sub=user-1 client_id=helpdesk m2m=false same=true",
		},
		{
			Name:          "Actors refuses an unlisted actor",
			Route:         "/agents",
			Authorization: bearer(iss.DelegatedToken("user-1", "other-agent", "helpdesk", API)),
			Status:        403,
			Challenge:     `Bearer realm="api", error="insufficient_scope", error_description="the actor 'other-agent' may not act for others on this route"`,
			Body:          `{"error":"insufficient_scope","error_description":"the actor 'other-agent' may not act for others on this route"}` + "\n",
		},
		{
			Name:          "Clients passes a listed client's user token",
			Route:         "/clients",
			Authorization: bearer(acmeToken),
			Status:        200,
			Body:          "sub=user-1 client_id=spa m2m=false same=true",
		},
		{
			Name:          "Clients refuses an unlisted app",
			Route:         "/clients",
			Authorization: bearer(readToken),
			Status:        403,
			Challenge:     `Bearer realm="api", error="insufficient_scope", error_description="the client 'inventory-sync' may not use this route"`,
			Body:          `{"error":"insufficient_scope","error_description":"the client 'inventory-sync' may not use this route"}` + "\n",
		},
		{
			Name:          "User refuses an app",
			Route:         "/me",
			Authorization: bearer(readToken),
			Status:        403,
			Challenge:     `Bearer realm="api", error="insufficient_scope", error_description="this route accepts users' tokens only"`,
			Body:          `{"error":"insufficient_scope","error_description":"this route accepts users' tokens only"}` + "\n",
		},
		{
			Name:          "organization token on its organization's route",
			Route:         "/orgs/acme/products",
			Authorization: bearer(acmeOrgToken),
			Status:        200,
			Body:          "sub=user-1 client_id=spa m2m=false same=true",
		},
		{
			Name:          "organization token on another organization's route",
			Route:         "/orgs/globex/products",
			Authorization: bearer(acmeOrgToken),
			Status:        403,
			Challenge:     `Bearer realm="api", error="insufficient_scope", error_description="the token is not for organization 'globex'"`,
			Body:          `{"error":"insufficient_scope","error_description":"the token is not for organization 'globex'"}` + "\n",
		},
		{
			Name:          "organization token on its organization's route in another case",
			Route:         "/orgs/ACME/products",
			Authorization: bearer(acmeOrgToken),
			Status:        403,
			Challenge:     `Bearer realm="api", error="insufficient_scope", error_description="the token is not for organization 'ACME'"`,
			Body:          `{"error":"insufficient_scope","error_description":"the token is not for organization 'ACME'"}` + "\n",
		},
		{
			Name:          "organization token on a route that names no organization",
			Route:         "/read",
			Authorization: bearer(acmeOrgToken),
			Status:        403,
			Challenge:     `Bearer realm="api", error="insufficient_scope", error_description="an organization token is accepted only on routes for its organization"`,
			Body:          `{"error":"insufficient_scope","error_description":"an organization token is accepted only on routes for its organization"}` + "\n",
		},
		{
			Name:          "expired token",
			Route:         "/read",
			Authorization: bearer(iss.ExpiredToken("inventory-sync", API, "read:products")),
			Status:        401,
			Challenge:     `Bearer realm="api", error="invalid_token", error_description="the token has expired"`,
			Body:          `{"error":"invalid_token","error_description":"the token has expired"}` + "\n",
		},
		{
			// /write has Require alone: the authentication error is its
			// answer, not a missing token.
			Name:          "Require alone, expired token",
			Route:         "/write",
			Authorization: bearer(iss.ExpiredToken("inventory-sync", API, "write:products")),
			Status:        401,
			Challenge:     `Bearer realm="api", error="invalid_token", error_description="the token has expired"`,
			Body:          `{"error":"invalid_token","error_description":"the token has expired"}` + "\n",
		},
		{
			Name:          "Require alone, two Authorization headers",
			Route:         "/write",
			Authorization: []string{"Bearer " + writeToken, "Bearer " + writeToken},
			Status:        400,
			Challenge:     `Bearer realm="api", error="invalid_request", error_description="more than one Authorization header"`,
			Body:          `{"error":"invalid_request","error_description":"more than one Authorization header"}` + "\n",
		},
		{
			Name:          "ID token",
			Route:         "/read",
			Authorization: bearer(iss.IDToken("user-1", "spa")),
			Status:        401,
			Challenge:     `Bearer realm="api", error="invalid_token", error_description="the token is not an access token (typ 'JWT', want at+jwt): is it an ID token? Send the access token requested with resource=<your API identifier>"`,
			Body:          `{"error":"invalid_token","error_description":"the token is not an access token (typ 'JWT', want at+jwt): is it an ID token? Send the access token requested with resource=\u003cyour API identifier\u003e"}` + "\n",
		},
		{
			Name:          "opaque token",
			Route:         "/read",
			Authorization: bearer(iss.OpaqueToken()),
			Status:        401,
			Challenge:     `Bearer realm="api", error="invalid_token", error_description="token is opaque, not a JWT: request the access token with resource=<your API identifier>"`,
			Body:          `{"error":"invalid_token","error_description":"token is opaque, not a JWT: request the access token with resource=\u003cyour API identifier\u003e"}` + "\n",
		},
		{
			Name:          "foreign key",
			Route:         "/read",
			Authorization: bearer(iss.ForeignKeyToken("inventory-sync", API, "read:products")),
			Status:        401,
			Challenge:     `Bearer realm="api", error="invalid_token", error_description="the token is signed with a key the issuer does not publish"`,
			Body:          `{"error":"invalid_token","error_description":"the token is signed with a key the issuer does not publish"}` + "\n",
		},
		{
			Name:          "Authenticate alone",
			Route:         "/auth",
			Authorization: bearer(readToken),
			Status:        200,
			Body:          okBody,
		},
		{
			Name:          "Authenticate alone lets an organization token through",
			Route:         "/auth",
			Authorization: bearer(acmeOrgToken),
			Status:        200,
			Body:          "sub=user-1 client_id=spa m2m=false same=true",
		},
		{
			Name:      "Authenticate alone without a token",
			Route:     "/auth",
			Status:    401,
			Challenge: `Bearer realm="api"`,
			Body:      `{"error":"unauthorized","error_description":"a bearer token is required"}` + "\n",
		},
		{
			Name:          "organization token on a Check route",
			Route:         "/check",
			Authorization: bearer(acmeOrgToken),
			Status:        403,
			Challenge:     `Bearer realm="api", error="insufficient_scope", error_description="an organization token is accepted only on routes for its organization"`,
			Body:          `{"error":"insufficient_scope","error_description":"an organization token is accepted only on routes for its organization"}` + "\n",
		},
	}
}

// Run sends every request of the contract through engine and through
// Reference, and checks both answers: status, challenge and body.
func Run(t *testing.T, engine Engine) {
	iss := NewIssuer(t)
	v := NewValidator(t, iss, true)
	for _, tt := range Cases(iss) {
		t.Run(tt.Name, func(t *testing.T) {
			rec := serveBoth(t, engine, v, func() *http.Request {
				r := httptest.NewRequest(http.MethodGet, tt.Route, nil)
				r.URL.RawQuery = tt.Query
				for _, a := range tt.Authorization {
					r.Header.Add("Authorization", a)
				}
				return r
			})
			if rec.Code != tt.Status {
				t.Errorf("status: got %d, want %d", rec.Code, tt.Status)
			}
			if got := rec.Header().Get("WWW-Authenticate"); got != tt.Challenge {
				t.Errorf("WWW-Authenticate:\n got %s\nwant %s", got, tt.Challenge)
			}
			if got := rec.Body.String(); got != tt.Body {
				t.Errorf("body:\n got %s\nwant %s", got, tt.Body)
			}
		})
	}
}

// KeysNeverLoadedRoutes are the routes [RunKeysNeverLoaded] asks: /read,
// behind Authenticate and Require, and /write, behind Require alone.
var KeysNeverLoadedRoutes = []string{"/read", "/write"}

// RunKeysNeverLoaded checks the answer when Logto is unreachable from the
// start, so the validator has no keys: 503 with Retry-After and no
// challenge, from both, on every route of [KeysNeverLoadedRoutes].
func RunKeysNeverLoaded(t *testing.T, engine Engine) {
	iss := logtotest.New(t)
	iss.AddResource(API, "read:products", "write:products")
	iss.AddM2MApp("inventory-sync", "secret", "read:products", "write:products")
	iss.SetJWKSDown(true)
	v := NewValidator(t, iss, false)
	token := iss.M2MToken("inventory-sync", API, "read:products", "write:products")
	for _, route := range KeysNeverLoadedRoutes {
		t.Run(route, func(t *testing.T) { keysNeverLoaded(t, engine, v, route, token) })
	}
}

func keysNeverLoaded(t *testing.T, engine Engine, v *middleware.Validator, route, token string) {
	rec := serveBoth(t, engine, v, func() *http.Request {
		r := httptest.NewRequest(http.MethodGet, route, nil)
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
