package nethttp_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/logtoguard/logtoguard/adapters/nethttp"
	"github.com/logtoguard/logtoguard/logtotest"
	"github.com/logtoguard/logtoguard/middleware"
)

// serve starts an API on 127.0.0.1 protected by a validator of cfg, with the
// routes that routes adds.
func serve(t *testing.T, cfg middleware.Config, routes func(*http.ServeMux, *nethttp.Guard, *middleware.Validator)) *httptest.Server {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
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
	mux := http.NewServeMux()
	routes(mux, nethttp.New(v), v)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// call makes a GET with the token and returns the status, the challenge and
// the body.
func call(t *testing.T, url, token string) (int, string, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("WWW-Authenticate"), string(body)
}

func echoSubject(w http.ResponseWriter, r *http.Request) {
	c, _ := middleware.ClaimsFromContext(r.Context())
	fmt.Fprint(w, c.Subject)
}

func TestOrganizationAndClientRoutes(t *testing.T) {
	iss := logtotest.New(t)
	srv := serve(t, middleware.Config{Endpoint: iss.Endpoint(), Audiences: []string{api}, AcceptOrganizationTokens: true},
		func(mux *http.ServeMux, g *nethttp.Guard, _ *middleware.Validator) {
			members := g.Require(middleware.Requirement{Organization: "org", Scopes: []string{"read:members"}})
			mux.Handle("GET /orgs/{org}/members", members(http.HandlerFunc(echoSubject)))
			mux.Handle("GET /internal/sync", g.Require(middleware.Requirement{AppIDs: []string{"inventory-sync"}})(http.HandlerFunc(echoSubject)))
			mux.Handle("GET /machines", g.Require(middleware.Requirement{M2M: true})(http.HandlerFunc(echoSubject)))
			mux.Handle("GET /me", g.Require(middleware.Requirement{User: true})(http.HandlerFunc(echoSubject)))
		})
	orgToken := iss.OrganizationToken("user-1", "spa", "org-a", "read:members")
	orgAPIToken := iss.Mint(logtotest.Token{Subject: "user-1", ClientID: "spa", Audience: api, OrganizationID: "org-a", Scopes: []string{"read:members"}})
	plain := iss.UserToken("user-1", "spa", api, "read:members")
	m2m := iss.M2MToken("inventory-sync", api)
	other := iss.M2MToken("billing", api)

	forbidden := func(desc string) string {
		return `Bearer realm="api", error="insufficient_scope", error_description="` + desc + `"`
	}
	tests := []struct {
		name, path, token string
		status            int
		challenge, body   string
	}{
		{"organization token", "/orgs/org-a/members", orgToken, 200, "", "user-1"},
		{"organization-level API token", "/orgs/org-a/members", orgAPIToken, 200, "", "user-1"},
		{"other organization", "/orgs/org-b/members", orgToken, 403, forbidden(`the token is not for organization 'org-b'`), ""},
		{"other organization, API token", "/orgs/org-b/members", orgAPIToken, 403, forbidden(`the token is not for organization 'org-b'`), ""},
		{"API token without organization", "/orgs/org-a/members", plain, 403,
			forbidden(`the token is not for organization 'org-a': request a token with organization_id (an organization token or an organization-level API resource)`), ""},
		{"organization without scope", "/orgs/org-a/members", iss.OrganizationToken("user-1", "spa", "org-a"), 403,
			`Bearer realm="api", error="insufficient_scope", error_description="the token lacks the scopes: read:members", scope="read:members"`, ""},
		{"organization, no token", "/orgs/org-a/members", "", 401, `Bearer realm="api"`, ""},
		{"listed app", "/internal/sync", m2m, 200, "", "inventory-sync"},
		{"unlisted app", "/internal/sync", other, 403, forbidden(`the app 'billing' may not use this route`), ""},
		{"user on an app route", "/internal/sync", plain, 403, forbidden("this route accepts machine-to-machine apps only"), ""},
		{"any app", "/machines", other, 200, "", "billing"},
		{"user route", "/me", plain, 200, "", "user-1"},
		{"app on a user route", "/me", m2m, 403, forbidden("this route accepts users' tokens only"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, challenge, body := call(t, srv.URL+tt.path, tt.token)
			if status != tt.status || challenge != tt.challenge {
				t.Fatalf("got %d %q, want %d %q (%s)", status, challenge, tt.status, tt.challenge, body)
			}
			if tt.body != "" && body != tt.body {
				t.Fatalf("body %q, want %q", body, tt.body)
			}
		})
	}
}

// TestCommonMistakes: each of the mistakes that Logto users make most gets a
// description that says what to do, and a log line with the detail.
func TestCommonMistakes(t *testing.T) {
	iss := logtotest.New(t)
	custom := logtotest.New(t, logtotest.WithIssuer("https://auth.example.com/oidc"))
	var mu sync.Mutex
	var logs strings.Builder
	logger := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return logs.Write(p)
	}), nil))
	srv := serve(t, middleware.Config{Endpoint: iss.Endpoint(), Audiences: []string{api}, Logger: logger},
		func(mux *http.ServeMux, g *nethttp.Guard, _ *middleware.Validator) {
			mux.Handle("GET /", g.Authenticate(http.HandlerFunc(echoSubject)))
		})
	tests := []struct {
		name, token string
		desc        string // in error_description
		log         string // in the log line
	}{
		{"opaque token", iss.OpaqueToken(), "token is opaque, not a JWT: request the access token with resource=<your API identifier>", ""},
		{"audience mismatch", iss.M2MToken("app-1", "https://other.example.com"), "the token's audience 'https://other.example.com' is not this API",
			"expected one of [" + api + "], received [https://other.example.com]"},
		{"ID token", iss.IDToken("user-1", "spa"), "is it an ID token? Send the access token requested with resource=<your API identifier>", "typ"},
		{"Management API token", iss.WrongAudienceToken("app-1"), "the token is for Logto's Management API, not this API", logtotest.ManagementAPI},
		{"another issuer", custom.M2MToken("app-1", api), "the token's issuer 'https://auth.example.com/oidc' is not trusted by this API: if it is your Logto tenant on a custom domain, add it to the trusted issuers",
			"trusted issuers: " + iss.Issuer()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mu.Lock()
			logs.Reset()
			mu.Unlock()
			status, challenge, _ := call(t, srv.URL, tt.token)
			if status != 401 || !strings.Contains(challenge, `error="invalid_token"`) || !strings.Contains(challenge, tt.desc) {
				t.Fatalf("got %d %q, want 401 invalid_token with %q", status, challenge, tt.desc)
			}
			mu.Lock()
			line := logs.String()
			mu.Unlock()
			if !strings.Contains(line, "token rejected") || !strings.Contains(line, tt.log) {
				t.Errorf("log %q, want a rejection with %q", line, tt.log)
			}
			if strings.Contains(line, tt.token) {
				t.Errorf("the log holds the token")
			}
		})
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// TestResourceMetadataDiscovery is the flow of a client that knows nothing
// but the API's URL, as MCP clients do (RFC 9728, section 5): the 401
// challenge names the metadata, the metadata names the authorization server
// and the resource, the server's discovery names the token endpoint, and the
// token obtained there opens the API.
func TestResourceMetadataDiscovery(t *testing.T) {
	iss := logtotest.New(t)
	iss.AddResource(api, "read:products")
	iss.AddM2MApp("agent", "agent-secret", "read:products")
	mux := http.NewServeMux() // routes are added once the URL is known
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	metadataURL := srv.URL + middleware.ResourceMetadataPath
	v, err := middleware.New(middleware.Config{Endpoint: iss.Endpoint(), Audiences: []string{api},
		ResourceMetadataURL: metadataURL, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	g := nethttp.New(v)
	mux.Handle("GET "+middleware.ResourceMetadataPath, middleware.ResourceMetadataHandler(v.ResourceMetadata("read:products")))
	mux.Handle("GET /products", g.Require(middleware.Scopes("read:products"))(http.HandlerFunc(echoSubject)))

	// 1. Without a token: 401 pointing to the metadata.
	status, challenge, _ := call(t, srv.URL+"/products", "")
	m := regexp.MustCompile(`resource_metadata="([^"]+)"`).FindStringSubmatch(challenge)
	if status != 401 || m == nil || m[1] != metadataURL {
		t.Fatalf("got %d %q, want 401 with resource_metadata=%q", status, challenge, metadataURL)
	}
	// 2. The metadata: resource and authorization server.
	var md middleware.ResourceMetadata
	getJSON(t, m[1], &md)
	if md.Resource != api || len(md.AuthorizationServers) != 1 || len(md.ScopesSupported) != 1 {
		t.Fatalf("metadata %+v", md)
	}
	// 3. The authorization server's discovery: the token endpoint.
	var disc struct {
		Issuer        string `json:"issuer"`
		TokenEndpoint string `json:"token_endpoint"`
	}
	getJSON(t, strings.TrimSuffix(md.AuthorizationServers[0], "/oidc")+"/oidc/.well-known/openid-configuration", &disc)
	if disc.Issuer != md.AuthorizationServers[0] {
		t.Fatalf("discovery issuer %q, want %q", disc.Issuer, md.AuthorizationServers[0])
	}
	// 4. A token for the resource, with the scopes the metadata lists.
	form := url.Values{"grant_type": {"client_credentials"}, "resource": {md.Resource}, "scope": {strings.Join(md.ScopesSupported, " ")}}
	req, _ := http.NewRequest(http.MethodPost, disc.TokenEndpoint, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("agent", "agent-secret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	err = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if err != nil || tok.AccessToken == "" {
		t.Fatalf("token endpoint: %d %v", resp.StatusCode, err)
	}
	// 5. The API.
	if status, _, body := call(t, srv.URL+"/products", tok.AccessToken); status != 200 || body != "agent" {
		t.Fatalf("with the token: %d %q", status, body)
	}
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d", url, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}

// TestSeveralIssuers: tenant A on its default and its custom domain (two
// issuers, one key set), and tenant B with its own keys, behind one route.
// A key answers only for the issuers it was fetched for.
func TestSeveralIssuers(t *testing.T) {
	a := logtotest.New(t, logtotest.WithIssuer("https://auth.example.com/oidc"))
	b := logtotest.New(t)
	srv := serve(t, middleware.Config{
		Issuers:   []string{a.Endpoint() + "/oidc", "https://auth.example.com/oidc"},
		JWKSURL:   a.JWKSURL(),
		Tenants:   []middleware.Tenant{{Endpoint: b.Endpoint()}},
		Audiences: []string{api},
	}, func(mux *http.ServeMux, g *nethttp.Guard, _ *middleware.Validator) {
		mux.Handle("GET /", g.Authenticate(http.HandlerFunc(echoSubject)))
	})
	tests := []struct {
		name, token string
		status      int
		inChallenge string
	}{
		{"A, custom domain", a.M2MToken("app-a", api), 200, ""},
		{"A, default domain", a.Mint(logtotest.Token{Subject: "app-a", ClientID: "app-a", Audience: api, Issuer: a.Endpoint() + "/oidc"}), 200, ""},
		{"B", b.M2MToken("app-b", api), 200, ""},
		{"B's key claiming A", b.Mint(logtotest.Token{Subject: "app-b", ClientID: "app-b", Audience: api, Issuer: "https://auth.example.com/oidc"}), 401, "signed with a key the issuer does not publish"},
		{"A's key claiming B", a.Mint(logtotest.Token{Subject: "app-a", ClientID: "app-a", Audience: api, Issuer: b.Issuer()}), 401, "signed with a key the issuer does not publish"},
		{"a third tenant", logtotest.New(t).M2MToken("app-c", api), 401, "is not trusted by this API"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, challenge, body := call(t, srv.URL, tt.token)
			if status != tt.status || !strings.Contains(challenge, tt.inChallenge) {
				t.Fatalf("got %d %q (%s), want %d with %q", status, challenge, body, tt.status, tt.inChallenge)
			}
		})
	}
}
