package echoguard_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/logtoguard/logtoguard/adapters/echoguard"
	"github.com/logtoguard/logtoguard/adapters/nethttp"
	"github.com/logtoguard/logtoguard/logtotest"
	"github.com/logtoguard/logtoguard/middleware"
	"github.com/logtoguard/logtoguard/scopes"
)

const api = "https://api.example.com"

// newValidator returns a validator that trusts iss, optionally once its keys
// are loaded.
func newValidator(t *testing.T, iss *logtotest.Issuer, wait bool) *middleware.Validator {
	t.Helper()
	v, err := middleware.New(middleware.Config{
		Endpoint:  iss.Endpoint(),
		Audiences: []string{api},
		Logger:    slog.New(slog.DiscardHandler),
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

// writeWho is every engine's protected handler: it writes what it learned
// from the claims through the plain http.ResponseWriter, so that the
// responses of echo and net/http can be compared byte for byte.
func writeWho(w http.ResponseWriter, c *middleware.Claims, same bool) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	fmt.Fprintf(w, "sub=%s client_id=%s m2m=%t same=%t", c.Subject, c.ClientID, c.IsM2M(), same)
}

// sameOrg is a RequireFunc check: the token must speak for the organization
// the route addresses.
func sameOrg(c *middleware.Claims, org string) error {
	if id, ok := c.Organization(); ok && id == org {
		return nil
	}
	return middleware.ErrOrganization
}

// echoEngine serves the test routes with echoguard.
func echoEngine(v *middleware.Validator) *echo.Echo {
	guard := echoguard.New(v)
	who := func(c echo.Context) error {
		claims, ok := echoguard.Claims(c)
		fromCtx, ok2 := middleware.ClaimsFromContext(c.Request().Context())
		raw, _ := c.Get(echoguard.ClaimsKey).(*middleware.Claims)
		if !ok || !ok2 || raw == nil {
			return c.NoContent(http.StatusInternalServerError)
		}
		writeWho(c.Response(), claims, claims == fromCtx && claims == raw)
		return nil
	}
	e := echo.New()
	e.GET("/read", who, guard.Authenticate(), guard.RequireScopes(scopes.All("read:products")))
	e.GET("/write", who, guard.Require(scopes.All("write:products")))
	e.GET("/any", who, guard.Authenticate(), guard.RequireScopes(scopes.Any("read:products", "write:products")))
	e.GET("/unguarded", who, guard.RequireScopes(scopes.All("read:products")))
	e.GET("/orgs/:org", who, guard.Authenticate(), guard.RequireFunc(func(claims *middleware.Claims, c echo.Context) error {
		return sameOrg(claims, c.Param("org"))
	}))
	e.GET("/members/:org", who, guard.Authenticate(), guard.RequireOrganization(echoguard.Param("org")))
	e.GET("/sync", who, guard.Authenticate(), guard.RequireM2M("inventory-sync"))
	e.GET("/me", who, guard.Authenticate(), guard.RequireUser())
	return e
}

// netHTTPMux serves the same routes with the net/http adapter, the reference.
func netHTTPMux(v *middleware.Validator) *http.ServeMux {
	guard := nethttp.New(v)
	who := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		claims, ok := middleware.ClaimsFromContext(r.Context())
		if !ok {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		writeWho(w, claims, true)
	})
	mux := http.NewServeMux()
	mux.Handle("GET /read", guard.Authenticate(guard.RequireScopes(scopes.All("read:products"))(who)))
	mux.Handle("GET /write", guard.Require(scopes.All("write:products"))(who))
	mux.Handle("GET /any", guard.Authenticate(guard.RequireScopes(scopes.Any("read:products", "write:products"))(who)))
	mux.Handle("GET /unguarded", guard.RequireScopes(scopes.All("read:products"))(who))
	mux.Handle("GET /orgs/{org}", guard.Authenticate(guard.RequireFunc(func(claims *middleware.Claims, r *http.Request) error {
		return sameOrg(claims, r.PathValue("org"))
	})(who)))
	mux.Handle("GET /members/{org}", guard.Authenticate(guard.RequireOrganization(nethttp.PathValue("org"))(who)))
	mux.Handle("GET /sync", guard.Authenticate(guard.RequireM2M("inventory-sync")(who)))
	mux.Handle("GET /me", guard.Authenticate(guard.RequireUser()(who)))
	return mux
}

// serveBoth runs the request built by newReq through the echo engine and the
// net/http reference, fails the test unless their status, headers and body
// are identical, and returns echo's response.
func serveBoth(t *testing.T, v *middleware.Validator, newReq func() *http.Request) *httptest.ResponseRecorder {
	t.Helper()
	got, want := httptest.NewRecorder(), httptest.NewRecorder()
	echoEngine(v).ServeHTTP(got, newReq())
	netHTTPMux(v).ServeHTTP(want, newReq())
	if got.Code != want.Code {
		t.Errorf("status: echo %d, net/http %d", got.Code, want.Code)
	}
	gh, wh := got.Result().Header, want.Result().Header
	for k := range wh {
		if fmt.Sprint(gh.Values(k)) != fmt.Sprint(wh.Values(k)) {
			t.Errorf("header %s: echo %q, net/http %q", k, gh.Values(k), wh.Values(k))
		}
	}
	for k := range gh {
		if _, ok := wh[k]; !ok {
			t.Errorf("header %s: echo %q, net/http has none", k, gh.Values(k))
		}
	}
	if got.Body.String() != want.Body.String() {
		t.Errorf("body: echo %q, net/http %q", got.Body, want.Body)
	}
	return got
}

func TestGuard(t *testing.T) {
	iss := logtotest.New(t)
	iss.AddResource(api, "read:products", "write:products")
	iss.AddM2MApp("inventory-sync", "secret", "read:products")
	v := newValidator(t, iss, true)

	readToken := iss.M2MToken("inventory-sync", api, "read:products")
	writeToken := iss.M2MToken("inventory-sync", api, "write:products")
	noScopeToken := iss.M2MToken("inventory-sync", api)
	acmeToken := iss.Mint(logtotest.Token{Subject: "user-1", ClientID: "spa", Audience: api, OrganizationID: "acme"})
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
			name:   "RequireFunc passes",
			target: "/orgs/acme",
			setup:  bearer(acmeToken),
			status: 200,
			body:   "sub=user-1 client_id=spa m2m=false same=true",
		},
		{
			name:      "RequireFunc refuses",
			target:    "/orgs/globex",
			setup:     bearer(acmeToken),
			status:    403,
			challenge: `Bearer realm="api", error="insufficient_scope", error_description="organization mismatch"`,
			body:      `{"error":"insufficient_scope","error_description":"organization mismatch"}` + "\n",
		},
		{
			name:      "RequireFunc without an organization",
			target:    "/orgs/acme",
			setup:     bearer(readToken),
			status:    403,
			challenge: `Bearer realm="api", error="insufficient_scope", error_description="organization mismatch"`,
			body:      `{"error":"insufficient_scope","error_description":"organization mismatch"}` + "\n",
		},
		{
			name:   "RequireOrganization passes",
			target: "/members/acme",
			setup:  bearer(acmeToken),
			status: 200,
			body:   "sub=user-1 client_id=spa m2m=false same=true",
		},
		{
			name:      "RequireOrganization refuses another organization",
			target:    "/members/globex",
			setup:     bearer(acmeToken),
			status:    403,
			challenge: `Bearer realm="api", error="insufficient_scope", error_description="the token is not for organization 'globex'"`,
			body:      `{"error":"insufficient_scope","error_description":"the token is not for organization 'globex'"}` + "\n",
		},
		{
			name:   "RequireM2M passes a listed app",
			target: "/sync",
			setup:  bearer(readToken),
			status: 200,
			body:   okBody,
		},
		{
			name:      "RequireM2M refuses a user",
			target:    "/sync",
			setup:     bearer(acmeToken),
			status:    403,
			challenge: `Bearer realm="api", error="insufficient_scope", error_description="this route accepts machine-to-machine apps only"`,
			body:      `{"error":"insufficient_scope","error_description":"this route accepts machine-to-machine apps only"}` + "\n",
		},
		{
			name:      "RequireM2M refuses an unlisted app",
			target:    "/sync",
			setup:     bearer(iss.M2MToken("billing", api)),
			status:    403,
			challenge: `Bearer realm="api", error="insufficient_scope", error_description="the app 'billing' may not use this route"`,
			body:      `{"error":"insufficient_scope","error_description":"the app 'billing' may not use this route"}` + "\n",
		},
		{
			name:   "RequireUser passes a user",
			target: "/me",
			setup:  bearer(acmeToken),
			status: 200,
			body:   "sub=user-1 client_id=spa m2m=false same=true",
		},
		{
			name:      "RequireUser refuses an app",
			target:    "/me",
			setup:     bearer(readToken),
			status:    403,
			challenge: `Bearer realm="api", error="insufficient_scope", error_description="this route accepts users' tokens only"`,
			body:      `{"error":"insufficient_scope","error_description":"this route accepts users' tokens only"}` + "\n",
		},
		{
			name:      "expired token",
			target:    "/read",
			setup:     bearer(iss.ExpiredToken("inventory-sync", api, "read:products")),
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
			setup:     bearer(iss.ForeignKeyToken("inventory-sync", api, "read:products")),
			status:    401,
			challenge: `Bearer realm="api", error="invalid_token", error_description="the token is signed with a key the issuer does not publish"`,
			body:      `{"error":"invalid_token","error_description":"the token is signed with a key the issuer does not publish"}` + "\n",
		},
		{
			name:      "RequireScopes without Authenticate",
			target:    "/unguarded",
			setup:     bearer(readToken),
			status:    401,
			challenge: `Bearer realm="api"`,
			body:      `{"error":"unauthorized","error_description":"a bearer token is required"}` + "\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := serveBoth(t, v, func() *http.Request {
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

// TestKeysNeverLoaded: Logto is unreachable from the start, so the validator
// has no keys: 503 with Retry-After and no challenge.
func TestKeysNeverLoaded(t *testing.T) {
	iss := logtotest.New(t)
	iss.AddResource(api, "read:products")
	iss.AddM2MApp("inventory-sync", "secret", "read:products")
	iss.SetJWKSDown(true)
	v := newValidator(t, iss, false)
	token := iss.M2MToken("inventory-sync", api, "read:products")

	rec := serveBoth(t, v, func() *http.Request {
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

// TestClaims covers the accessor on contexts that Authenticate never saw.
func TestClaims(t *testing.T) {
	want := &middleware.Claims{Subject: "user-1", ClientID: "spa"}
	tests := []struct {
		name  string
		setup func(echo.Context)
		want  *middleware.Claims
	}{
		{"nothing", func(echo.Context) {}, nil},
		{"under ClaimsKey", func(c echo.Context) { c.Set(echoguard.ClaimsKey, want) }, want},
		{"wrong type under ClaimsKey", func(c echo.Context) { c.Set(echoguard.ClaimsKey, "user-1") }, nil},
		{"nil under ClaimsKey", func(c echo.Context) { c.Set(echoguard.ClaimsKey, (*middleware.Claims)(nil)) }, nil},
		{"request context", func(c echo.Context) {
			c.SetRequest(c.Request().WithContext(middleware.WithClaims(c.Request().Context(), want)))
		}, want},
		{"no request", func(c echo.Context) { c.SetRequest(nil) }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := echo.New().NewContext(httptest.NewRequest(http.MethodGet, "/", nil), httptest.NewRecorder())
			tt.setup(c)
			got, ok := echoguard.Claims(c)
			if got != tt.want || ok != (tt.want != nil) {
				t.Errorf("Claims: got %v, %t; want %v, %t", got, ok, tt.want, tt.want != nil)
			}
		})
	}
}

// TestRejectionReturnsNil: a rejection is a complete response, so no
// middleware hands echo an error that a custom HTTPErrorHandler or a logger
// would turn into a second response or a server error.
func TestRejectionReturnsNil(t *testing.T) {
	iss := logtotest.New(t)
	v := newValidator(t, iss, true)
	guard := echoguard.New(v)
	tests := []struct {
		name       string
		middleware echo.MiddlewareFunc
	}{
		{"Authenticate", guard.Authenticate()},
		{"RequireScopes", guard.RequireScopes(scopes.All("read:products"))},
		{"RequireFunc", guard.RequireFunc(func(*middleware.Claims, echo.Context) error { return nil })},
		{"Require", guard.Require(scopes.All("read:products"))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			c := echo.New().NewContext(httptest.NewRequest(http.MethodGet, "/", nil), rec)
			called := false
			err := tt.middleware(func(echo.Context) error { called = true; return nil })(c)
			if err != nil {
				t.Errorf("error: got %v, want nil", err)
			}
			if called {
				t.Error("next was called")
			}
			if rec.Code != http.StatusUnauthorized || !c.Response().Committed {
				t.Errorf("response: got %d (committed %t), want 401 committed", rec.Code, c.Response().Committed)
			}
		})
	}
}
