package nethttp_test

import (
	"context"
	"fmt"
	"io"
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

const api = "https://api.example.com"

func setup(t testing.TB) (*logtotest.Issuer, *httptest.Server) {
	t.Helper()
	iss := logtotest.New(t)
	v, err := middleware.New(middleware.Config{Endpoint: iss.Endpoint(), Audiences: []string{api},
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := v.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	g := nethttp.New(v)
	who := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := middleware.ClaimsFromContext(r.Context())
		fmt.Fprintf(w, "%v %s %v", ok, c.Subject, c.IsM2M())
	})
	mux := http.NewServeMux()
	mux.Handle("GET /read", g.Require(middleware.Scopes("read:products"))(who))
	mux.Handle("GET /any", g.Require(middleware.Requirement{AnyScopes: []string{"read:products", "admin"}})(who))
	mux.Handle("GET /auth", g.Authenticate(who))
	mux.Handle("GET /authread", g.Authenticate(g.Require(middleware.Scopes("read:products"))(who)))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return iss, srv
}

func TestGuard(t *testing.T) {
	iss, srv := setup(t)
	read := iss.M2MToken("app-1", api, "read:products")
	tests := []struct {
		name      string
		path      string
		auth      []string
		status    int
		challenge string
		body      string
	}{
		{"no token", "/read", nil, 401, `Bearer realm="api"`, ""},
		{"ok", "/read", []string{"Bearer " + read}, 200, "", "true app-1 true"},
		{"lowercase scheme", "/auth", []string{"bearer " + read}, 200, "", "true app-1 true"},
		{"any-of", "/any", []string{"Bearer " + read}, 200, "", "true app-1 true"},
		{"missing scope", "/read", []string{"Bearer " + iss.M2MToken("app-2", api)}, 403,
			`Bearer realm="api", error="insufficient_scope", error_description="the token lacks the scopes: read:products", scope="read:products"`, ""},
		{"two headers", "/read", []string{"Bearer " + read, "Bearer " + read}, 400,
			`Bearer realm="api", error="invalid_request", error_description="more than one Authorization header"`, ""},
		{"expired", "/auth", []string{"Bearer " + iss.ExpiredToken("app-1", api)}, 401,
			`Bearer realm="api", error="invalid_token", error_description="the token has expired"`, ""},
		{"Require behind Authenticate", "/authread", []string{"Bearer " + read}, 200, "", "true app-1 true"},
		{"Require behind Authenticate, no token", "/authread", nil, 401, `Bearer realm="api"`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", srv.URL+tt.path, nil)
			for _, a := range tt.auth {
				req.Header.Add("Authorization", a)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d (%s)", resp.StatusCode, tt.status, body)
			}
			if got := resp.Header.Get("WWW-Authenticate"); got != tt.challenge {
				t.Fatalf("WWW-Authenticate %q, want %q", got, tt.challenge)
			}
			if tt.body != "" && string(body) != tt.body {
				t.Fatalf("body %q, want %q", body, tt.body)
			}
			if tt.status != 200 && !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
				t.Fatalf("Content-Type %q", resp.Header.Get("Content-Type"))
			}
		})
	}
}

func ExampleGuard_Require() {
	logto, _ := logtotest.Start()
	defer logto.Close()
	v, _ := middleware.New(middleware.Config{Endpoint: logto.Endpoint(), Audiences: []string{api}})
	defer v.Close()

	guard := nethttp.New(v)
	mux := http.NewServeMux()
	mux.Handle("GET /products", guard.Require(middleware.Scopes("read:products"))(http.HandlerFunc(
		func(w http.ResponseWriter, r *http.Request) {
			claims, _ := middleware.ClaimsFromContext(r.Context())
			fmt.Fprintln(w, "hello", claims.Subject)
		})))

	for _, scope := range []string{"read:products", "write:products"} {
		r := httptest.NewRequest("GET", "/products", nil)
		r.Header.Set("Authorization", "Bearer "+logto.M2MToken("inventory-sync", api, scope))
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, r)
		fmt.Print(rec.Code, " ", rec.Body.String())
	}
	// Output:
	// 200 hello inventory-sync
	// 403 {"error":"insufficient_scope","error_description":"the token lacks the scopes: read:products"}
}

func ExampleGuard_Require_organization() {
	logto, _ := logtotest.Start()
	defer logto.Close()
	v, _ := middleware.New(middleware.Config{Endpoint: logto.Endpoint(), Audiences: []string{api}})
	defer v.Close()

	// Members of an organization, for tokens of an organization-level API
	// resource (organization_id) issued for that organization.
	guard := nethttp.New(v)
	mux := http.NewServeMux()
	mux.Handle("GET /orgs/{org}/members", guard.Require(middleware.Requirement{Organization: "org"})(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintln(w, "members of", r.PathValue("org"))
		})))

	token := logto.Mint(logtotest.Token{Subject: "user-1", ClientID: "spa", Audience: api, OrganizationID: "org-a"})
	for _, org := range []string{"org-a", "org-b"} {
		r := httptest.NewRequest("GET", "/orgs/"+org+"/members", nil)
		r.Header.Set("Authorization", "Bearer "+token)
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, r)
		fmt.Print(rec.Code, " ", rec.Body.String())
	}
	// Output:
	// 200 members of org-a
	// 403 {"error":"insufficient_scope","error_description":"the token is not for organization 'org-b'"}
}

func ExampleGuard_Require_m2m() {
	logto, _ := logtotest.Start()
	defer logto.Close()
	v, _ := middleware.New(middleware.Config{Endpoint: logto.Endpoint(), Audiences: []string{api}})
	defer v.Close()

	// Only the inventory-sync app may call the sync endpoint.
	guard := nethttp.New(v)
	mux := http.NewServeMux()
	mux.Handle("POST /sync", guard.Require(middleware.Requirement{AppIDs: []string{"inventory-sync"}})(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			claims, _ := middleware.ClaimsFromContext(r.Context())
			appID, _ := claims.AppID()
			fmt.Fprintln(w, "sync by", appID)
		})))

	for _, token := range []string{
		logto.M2MToken("inventory-sync", api),
		logto.UserToken("user-1", "spa", api),
	} {
		r := httptest.NewRequest("POST", "/sync", nil)
		r.Header.Set("Authorization", "Bearer "+token)
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, r)
		fmt.Print(rec.Code, " ", rec.Body.String())
	}
	// Output:
	// 200 sync by inventory-sync
	// 403 {"error":"insufficient_scope","error_description":"this route accepts machine-to-machine apps only"}
}
