package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/logtoguard/logtoguard/cmd/logtoguard/internal/command"
	"github.com/logtoguard/logtoguard/internal/adaptertest"
	"github.com/logtoguard/logtoguard/logtotest"
	"github.com/logtoguard/logtoguard/middleware"
)

// contractRoutes are adaptertest.Requirements as gateway routes (but
// "/check", whose Check function no file can hold), and the issue's
// example routes.
const contractRoutes = `
routes:
  - match: "GET /read"
    scopes: [read:products]
  - match: "GET /write"
    scopes: [write:products]
  - match: "GET /both"
    scopes: [read:products, write:products]
  - match: "GET /any"
    any_scopes: [read:products, write:products]
  - match: "GET /members/{org}"
    organization: "{org}"
  - match: "GET /sync"
    app_ids: [inventory-sync]
  - match: "GET /me"
    user: true
  - match: "GET /own"
    no_delegation: true
  - match: "GET /agents"
    actors: [support-agent]
  - match: "GET /clients"
    clients: [spa]
  - match: "GET /orgs/{org}/products"
    organization: "{org}"
    scopes: [read:products]
  - match: "GET /auth"
  - match: "/public/"
    public: true
  - match: "POST /sync-all"
    m2m: true
`

// guardConfig is a configuration for the issuer iss, with extra settings
// and the contract's routes.
func guardConfig(iss *logtotest.Issuer, extra string) string {
	return fmt.Sprintf(`endpoint: %s
audiences: [%s]
accept_organization_tokens: true
allow_insecure_http: true
listen: 127.0.0.1:0
grpc_listen: 127.0.0.1:0
%s
%s`, iss.Endpoint(), adaptertest.API, extra, contractRoutes)
}

// testGuard is a running decision service.
type testGuard struct {
	s        *server
	url      string // http://127.0.0.1:port
	grpcAddr string
	file     string
	logs     *syncBuffer
}

// syncBuffer is a bytes.Buffer safe for the logger's concurrent writes.
type syncBuffer struct {
	mu chan struct{}
	b  bytes.Buffer
}

func newSyncBuffer() *syncBuffer { return &syncBuffer{mu: make(chan struct{}, 1)} }

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu <- struct{}{}
	defer func() { <-b.mu }()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu <- struct{}{}
	defer func() { <-b.mu }()
	return b.b.String()
}

// startGuard writes config to a file and serves it on 127.0.0.1, with its
// keys loaded; it stops when the test ends.
func startGuard(t testing.TB, config string) *testGuard {
	t.Helper()
	file := filepath.Join(t.TempDir(), "logtoguard.yaml")
	if err := os.WriteFile(file, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := loadConfig(file)
	if err != nil {
		t.Fatalf("loadConfig: %v", err)
	}
	logs := newSyncBuffer()
	s := newServer(slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err := s.load(cfg); err != nil {
		t.Fatalf("load: %v", err)
	}
	if err := s.listen(); err != nil {
		s.close()
		t.Fatalf("listen: %v", err)
	}
	g := &testGuard{s: s, url: "http://" + s.httpLn.Addr().String(), file: file, logs: logs}
	if s.grpcLn != nil {
		g.grpcAddr = s.grpcLn.Addr().String()
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.gateway().v.WaitReady(ctx); err != nil {
		t.Fatalf("WaitReady: %v", err)
	}
	return g
}

// result is what a run of the command printed and returned.
type result struct {
	code           int
	stdout, stderr string
}

// runServe runs logtoguard serve with args.
func runServe(t *testing.T, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := Run(args, &out, &errb)
	return result{code, out.String(), errb.String()}
}

func (r result) exit(t *testing.T, want int) {
	t.Helper()
	if r.code != want {
		t.Errorf("exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, want, r.stdout, r.stderr)
	}
}

// serveResponse is what a client got.
type serveResponse struct {
	status int
	header http.Header
	body   string
}

func serveDo(t testing.TB, req *http.Request) serveResponse {
	t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return serveResponse{res.StatusCode, res.Header, string(b)}
}

// ask sends /verify the original request method uri with headers h.
func (g *testGuard) ask(t testing.TB, method, uri string, h http.Header) serveResponse {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, g.url+"/verify", nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range h {
		req.Header[k] = v
	}
	if method != "" {
		req.Header.Set("X-Forwarded-Method", method)
	}
	if uri != "" {
		req.Header.Set("X-Forwarded-Uri", uri)
	}
	return serveDo(t, req)
}

func serveBearer(token string) http.Header { return http.Header{"Authorization": {"Bearer " + token}} }

// who is adaptertest.Who of the identity headers.
func serveWho(h http.Header) string {
	return fmt.Sprintf("sub=%s client_id=%s m2m=%s same=true", h.Get(hdrSubject), h.Get(hdrClientID), h.Get(hdrM2M))
}

// TestServeContract runs the adapters' contract through /verify and
// /envoy/: every answer is the library's, status, challenge and body.
func TestServeContract(t *testing.T) {
	iss := adaptertest.NewIssuer(t)
	g := startGuard(t, guardConfig(iss, ""))
	for _, c := range adaptertest.Cases(iss) {
		if c.Route == "/check" || c.Name == "Authenticate alone lets an organization token through" {
			// No file holds a Check function; and a route without a
			// requirement is Authorize's, which admits an organization
			// token only on a route that names its organization.
			continue
		}
		uri := c.Route
		if c.Query != "" {
			uri += "?" + c.Query
		}
		for _, endpoint := range []string{"/verify", "/envoy"} {
			t.Run(endpoint+"/"+c.Name, func(t *testing.T) {
				var req *http.Request
				if endpoint == "/verify" {
					req, _ = http.NewRequest(http.MethodPost, g.url+"/verify", nil)
					req.Header.Set("X-Forwarded-Method", "GET")
					req.Header.Set("X-Forwarded-Uri", uri)
				} else {
					req, _ = http.NewRequest(http.MethodGet, g.url+"/envoy"+uri, nil)
				}
				req.Header[http.CanonicalHeaderKey("Authorization")] = c.Authorization
				got := serveDo(t, req)
				if got.status != c.Status {
					t.Fatalf("status %d, want %d (body %q)", got.status, c.Status, got.body)
				}
				if c.Status == http.StatusOK {
					if w := serveWho(got.header); w != c.Body {
						t.Errorf("identity headers say %q, want %q", w, c.Body)
					}
					if got.body != "" {
						t.Errorf("body %q, want none", got.body)
					}
					return
				}
				if ch := got.header.Get("WWW-Authenticate"); ch != c.Challenge {
					t.Errorf("challenge %q, want %q", ch, c.Challenge)
				}
				if got.body != c.Body {
					t.Errorf("body %q, want %q", got.body, c.Body)
				}
				for _, h := range identityHeaders {
					if v := got.header.Values(h); len(v) > 0 {
						t.Errorf("a refusal carries %s: %q", h, v)
					}
				}
			})
		}
	}
}

// urlClientID is a client ID of a Client ID Metadata Document at its
// longest: an HTTPS URL of 2,048 characters, with a comma and a semicolon
// that a list-minded reader could split at.
var urlClientID = func() string {
	id := "https://mcp-client.example.com/client.json?a=1,b=2;c=3&pad="
	return id + strings.Repeat("x", 2048-len(id))
}()

// TestServeIdentityHeaders checks each identity header, for an app, a user,
// an organization token, a delegated token (X-Logto-Actor) and a URL
// client ID: each value whole, in one header.
func TestServeIdentityHeaders(t *testing.T) {
	iss := adaptertest.NewIssuer(t)
	g := startGuard(t, guardConfig(iss, ""))
	tests := []struct {
		name, uri, token string
		want             map[string]string
	}{
		{"app", "/read", iss.M2MToken("inventory-sync", adaptertest.API, "read:products", "write:products"), map[string]string{
			hdrSubject: "inventory-sync", hdrClientID: "inventory-sync", hdrScopes: "read:products write:products", hdrM2M: "true",
		}},
		{"user", "/me", iss.UserToken("user-1", "spa", adaptertest.API), map[string]string{
			hdrSubject: "user-1", hdrClientID: "spa", hdrScopes: "", hdrM2M: "false",
		}},
		{"organization token", "/orgs/acme/products", iss.OrganizationToken("user-1", "spa", "acme", "read:products"), map[string]string{
			hdrSubject: "user-1", hdrClientID: "spa", hdrScopes: "read:products", hdrOrganizationID: "acme", hdrM2M: "false",
		}},
		{"delegated token", "/agents", iss.DelegatedToken("user-1", "support-agent", "helpdesk", adaptertest.API), map[string]string{
			hdrSubject: "user-1", hdrClientID: "helpdesk", hdrScopes: "", hdrM2M: "false", hdrActor: "support-agent",
		}},
		{"URL client ID of 2,048 characters", "/me", iss.UserToken("user-1", urlClientID, adaptertest.API), map[string]string{
			hdrSubject: "user-1", hdrClientID: urlClientID, hdrScopes: "", hdrM2M: "false",
		}},
		{"a client ID with CR LF", "/me", iss.UserToken("user-1", "spa\r\nX-Logto-M2M: true", adaptertest.API), map[string]string{
			hdrSubject: "user-1", hdrClientID: "spa  X-Logto-M2M: true", hdrScopes: "", hdrM2M: "false",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := g.ask(t, "GET", tt.uri, serveBearer(tt.token))
			if got.status != http.StatusOK {
				t.Fatalf("status %d %s, want 200", got.status, got.body)
			}
			for _, h := range identityHeaders {
				want, ok := tt.want[h]
				v := got.header.Values(h)
				has := len(v) > 0
				switch {
				case ok && (!has || len(v) != 1 || v[0] != want):
					t.Errorf("%s: %q, want %q", h, v, want)
				case !ok && has:
					t.Errorf("%s: %q, want none", h, v)
				}
			}
		})
	}
}

// TestServeRoutes checks what the file's routes add to the contract:
// public routes, default deny and authenticate, HEAD on a GET route,
// wildcards and subtrees, and m2m.
func TestServeRoutes(t *testing.T) {
	iss := adaptertest.NewIssuer(t)
	app := serveBearer(iss.M2MToken("inventory-sync", adaptertest.API, "read:products"))
	user := serveBearer(iss.UserToken("user-1", "spa", adaptertest.API, "read:products"))
	deny := startGuard(t, guardConfig(iss, "default: deny"))
	auth := startGuard(t, guardConfig(iss, "default: authenticate"))
	tests := []struct {
		name        string
		g           *testGuard
		method, uri string
		h           http.Header
		status      int
		identity    bool
	}{
		{"public route without a token", deny, "GET", "/public/logo.png", nil, 200, false},
		{"public route with a token sends no identity", deny, "POST", "/public/form", app, 200, false},
		{"public route with a broken Authorization", deny, "GET", "/public/", http.Header{"Authorization": {"Bearer"}}, 200, false},
		{"unmatched, default deny, with a token", deny, "GET", "/admin", app, 403, false},
		{"unmatched, default deny, without a token", deny, "GET", "/admin", nil, 403, false},
		{"method not routed, default deny", deny, "DELETE", "/read", app, 403, false},
		{"unmatched, default authenticate", auth, "GET", "/admin", app, 200, true},
		{"unmatched, default authenticate, no token", auth, "GET", "/admin", nil, 401, false},
		{"HEAD matches a GET route", deny, "HEAD", "/read", app, 200, true},
		{"query string is not the path", deny, "GET", "/read?x=/public/", app, 200, true},
		{"m2m route refuses a user", deny, "POST", "/sync-all", user, 403, false},
		{"m2m route admits an app", deny, "POST", "/sync-all", app, 200, true},
		{"subtree without its slash is the subtree, as ServeMux redirects it", deny, "GET", "/public", nil, 200, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.g.ask(t, tt.method, tt.uri, tt.h)
			if got.status != tt.status {
				t.Fatalf("status %d %q, want %d", got.status, got.body, tt.status)
			}
			if _, has := got.header[hdrSubject]; has != tt.identity {
				t.Errorf("identity headers present: %t, want %t (%v)", has, tt.identity, got.header)
			}
		})
	}
	got := deny.ask(t, "GET", "/admin", app)
	if want := `Bearer realm="api", error="insufficient_scope", error_description="no route of the gateway admits this request"`; got.header.Get("WWW-Authenticate") != want {
		t.Errorf("default deny challenge %q, want %q", got.header.Get("WWW-Authenticate"), want)
	}
}

// TestServeBadOriginal checks that a request a proxy did not describe, or
// described ambiguously, is refused 400 and never allowed.
func TestServeBadOriginal(t *testing.T) {
	iss := adaptertest.NewIssuer(t)
	g := startGuard(t, guardConfig(iss, ""))
	token := iss.M2MToken("inventory-sync", adaptertest.API, "read:products")
	h := func(kv ...string) http.Header {
		out := serveBearer(token)
		for i := 0; i+1 < len(kv); i += 2 {
			out.Add(kv[i], kv[i+1])
		}
		return out
	}
	tests := []struct {
		name string
		h    http.Header
		desc string
	}{
		{"neither pair", h(), "the proxy must send the original request in X-Forwarded-Method and X-Forwarded-Uri, or X-Original-Method and X-Original-URI"},
		{"method without URI", h("X-Forwarded-Method", "GET"), "the proxy sent only one of X-Forwarded-Method and X-Forwarded-Uri"},
		{"URI without method", h("X-Original-URI", "/read"), "the proxy sent only one of X-Original-Method and X-Original-URI"},
		{"pairs disagree", h("X-Forwarded-Method", "GET", "X-Forwarded-Uri", "/public/x", "X-Original-Method", "GET", "X-Original-URI", "/admin"),
			"X-Forwarded-Method and X-Forwarded-Uri disagree with X-Original-Method and X-Original-URI"},
		{"two URIs", h("X-Forwarded-Method", "GET", "X-Forwarded-Uri", "/public/x", "X-Forwarded-Uri", "/admin"), "X-Forwarded-Uri appears more than once"},
		{"dot segments", h("X-Forwarded-Method", "GET", "X-Forwarded-Uri", "/public/../admin"), "the request path is not canonical (dot segments, empty segments, encoded slashes or percent signs, control characters)"},
		{"encoded dot segments", h("X-Forwarded-Method", "GET", "X-Forwarded-Uri", "/public/%2e%2e/admin"), "the request path is not canonical (dot segments, empty segments, encoded slashes or percent signs, control characters)"},
		{"encoded slash", h("X-Forwarded-Method", "GET", "X-Forwarded-Uri", "/public%2F..%2Fadmin"), "the request path is not canonical (dot segments, empty segments, encoded slashes or percent signs, control characters)"},
		{"double slash", h("X-Forwarded-Method", "GET", "X-Forwarded-Uri", "//read"), "the request path is not canonical (dot segments, empty segments, encoded slashes or percent signs, control characters)"},
		{"backslash", h("X-Forwarded-Method", "GET", "X-Forwarded-Uri", "/public/%5C..%5Cadmin"), "the request path is not canonical (dot segments, empty segments, encoded slashes or percent signs, control characters)"},
		{"double encoding", h("X-Forwarded-Method", "GET", "X-Forwarded-Uri", "/public/%252e%252e/admin"), "the request path is not canonical (dot segments, empty segments, encoded slashes or percent signs, control characters)"},
		{"X-Original-URI is not X-Original-URL's", h("X-Original-Method", "GET", "X-Original-URL", "http://api.example.com/read", "X-Original-URI", "/public/x"), "X-Original-URI is not the path and query of X-Original-URL"},
		{"X-Forwarded-Host is not X-Original-URL's", h("X-Original-Method", "GET", "X-Original-URL", "http://api.example.com/read", "X-Forwarded-Host", "public.example.com"), "X-Forwarded-Host is not the host of X-Original-URL"},
		{"X-Original-URL without a path", h("X-Original-Method", "GET", "X-Original-URL", "http://api.example.com"), "X-Original-URL is not an absolute http or https URL"},
		{"X-Original-URL of another scheme", h("X-Original-Method", "GET", "X-Original-URL", "ftp://api.example.com/read"), "X-Original-URL is not an absolute http or https URL"},
		{"X-Original-URL without X-Original-Method", h("X-Original-URL", "http://api.example.com/read"), "the proxy sent only one of X-Original-Method and X-Original-URI"},
		{"absolute URI", h("X-Forwarded-Method", "GET", "X-Forwarded-Uri", "http://evil/read"), "the forwarded URI is not an absolute path"},
		{"not a method", h("X-Forwarded-Method", "GET /read", "X-Forwarded-Uri", "/read"), "the forwarded method is not an HTTP method in upper case"},
		{"lower-case method", h("X-Forwarded-Method", "get", "X-Forwarded-Uri", "/read"), "the forwarded method is not an HTTP method in upper case"},
		{"not a host", h("X-Forwarded-Method", "GET", "X-Forwarded-Uri", "/read", "X-Forwarded-Host", "api.example.com, evil"), "the forwarded host is not a host name or address, with an optional port"},
		{"dot segment with ;parameters", h("X-Forwarded-Method", "GET", "X-Forwarded-Uri", "/public/..;/admin"), "the request path has a dot segment once its ;parameters are dropped, as a servlet container reads it (..;)"},
		{"encoded semicolon", h("X-Forwarded-Method", "GET", "X-Forwarded-Uri", "/public/..%3b/admin"), "the request path holds an encoded semicolon (%3B), which some servers read as a ;parameter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := g.ask(t, "", "", tt.h)
			if got.status != http.StatusBadRequest {
				t.Fatalf("status %d %q, want 400", got.status, got.body)
			}
			want := fmt.Sprintf(`{"error":"invalid_request","error_description":%q}`+"\n", tt.desc)
			if got.body != want {
				t.Errorf("body %s, want %s", got.body, want)
			}
		})
	}
	// The X-Original pair alone, with X-Original-URL as ingress-nginx sends
	// it (with and without X-Original-URI, with its X-Forwarded-Host), and
	// both pairs when they agree.
	for _, hh := range []http.Header{
		h("X-Original-Method", "GET", "X-Original-URI", "/read"),
		h("X-Original-Method", "GET", "X-Original-URL", "https://API.example.com:8443/read?x=1", "X-Original-URI", "/read?x=1", "X-Forwarded-Host", "api.example.com"),
		h("X-Original-Method", "GET", "X-Original-URL", "http://api.example.com/read"),
		h("X-Forwarded-Method", "GET", "X-Forwarded-Uri", "/read", "X-Original-Method", "GET", "X-Original-URI", "/read"),
	} {
		if got := g.ask(t, "", "", hh); got.status != http.StatusOK {
			t.Errorf("%v: status %d %q, want 200", hh, got.status, got.body)
		}
	}
}

// TestServeResourceMetadata checks that public_url puts resource_metadata
// in 401 challenges, and that serve answers that URL's path with the
// document: the audience, the issuer, and the routes' scopes.
func TestServeResourceMetadata(t *testing.T) {
	iss := adaptertest.NewIssuer(t)
	g := startGuard(t, guardConfig(iss, "public_url: https://api.example.com"))
	got := g.ask(t, "GET", "/read", nil)
	want := `Bearer realm="api", resource_metadata="https://api.example.com/.well-known/oauth-protected-resource"`
	if got.status != 401 || got.header.Get("WWW-Authenticate") != want {
		t.Errorf("got %d %q, want 401 %q", got.status, got.header.Get("WWW-Authenticate"), want)
	}
	checkMetadata(t, g.url+middleware.ResourceMetadataPath, iss.Issuer())

	// A public_url with a path: the path follows the well-known one.
	g = startGuard(t, guardConfig(iss, "public_url: https://api.example.com/v1/"))
	got = g.ask(t, "GET", "/read", nil)
	want = `Bearer realm="api", resource_metadata="https://api.example.com/.well-known/oauth-protected-resource/v1"`
	if got.status != 401 || got.header.Get("WWW-Authenticate") != want {
		t.Errorf("got %d %q, want 401 %q", got.status, got.header.Get("WWW-Authenticate"), want)
	}
	checkMetadata(t, g.url+middleware.ResourceMetadataPath+"/v1", iss.Issuer())
	if res := serveDo(t, mustRequest(t, "GET", g.url+middleware.ResourceMetadataPath)); res.status != http.StatusNotFound {
		t.Errorf("the path without /v1: %d, want 404", res.status)
	}

	// Without public_url, nothing is served there.
	g = startGuard(t, guardConfig(iss, ""))
	if res := serveDo(t, mustRequest(t, "GET", g.url+middleware.ResourceMetadataPath)); res.status != http.StatusNotFound {
		t.Errorf("without public_url: %d, want 404", res.status)
	}
}

// checkMetadata fetches the resource metadata at url and checks it is the
// document of the contract's gateway.
func checkMetadata(t *testing.T, url, issuer string) {
	t.Helper()
	res := serveDo(t, mustRequest(t, "GET", url))
	if res.status != http.StatusOK || !strings.HasPrefix(res.header.Get("Content-Type"), "application/json") {
		t.Fatalf("GET %s: %d %s %q, want 200 JSON", url, res.status, res.header.Get("Content-Type"), res.body)
	}
	var md middleware.ResourceMetadata
	if err := json.Unmarshal([]byte(res.body), &md); err != nil {
		t.Fatalf("GET %s: %v: %q", url, err, res.body)
	}
	if md.Resource != adaptertest.API || strings.Join(md.AuthorizationServers, " ") != issuer ||
		strings.Join(md.ScopesSupported, " ") != "read:products write:products" || strings.Join(md.BearerMethodsSupported, " ") != "header" {
		t.Errorf("GET %s: %+v", url, md)
	}
}

func mustRequest(t *testing.T, method, url string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// TestServeHealthMetrics checks /healthz, /readyz and the counters of
// /metrics after a few decisions.
func TestServeHealthMetrics(t *testing.T) {
	iss := adaptertest.NewIssuer(t)
	g := startGuard(t, guardConfig(iss, ""))
	token := serveBearer(iss.M2MToken("inventory-sync", adaptertest.API, "read:products"))
	for range 3 {
		g.ask(t, "GET", "/read", token)
	}
	g.ask(t, "GET", "/read", nil)
	g.ask(t, "GET", "/public/x", nil)
	g.ask(t, "GET", "/admin", token)
	for path, want := range map[string]string{"/healthz": "ok\n", "/readyz": "ready\n"} {
		req, _ := http.NewRequest(http.MethodGet, g.url+path, nil)
		if got := serveDo(t, req); got.status != 200 || got.body != want {
			t.Errorf("%s: %d %q, want 200 %q", path, got.status, got.body, want)
		}
	}
	req, _ := http.NewRequest(http.MethodGet, g.url+"/metrics", nil)
	got := serveDo(t, req)
	for _, line := range []string{
		`logtoguard_decisions_total{reason="authorized",result="allow"} 3`,
		`logtoguard_decisions_total{reason="no_token",result="deny"} 1`,
		`logtoguard_decisions_total{reason="public",result="allow"} 1`,
		`logtoguard_decisions_total{reason="no_route",result="deny"} 1`,
		`logtoguard_verified_total{cache="hit"} 2`,
		`logtoguard_verified_total{cache="miss"} 1`,
		fmt.Sprintf(`logtoguard_key_fetches_total{issuer=%q,result="ok"} 1`, iss.Issuer()),
		`logtoguard_decision_seconds_count 6`,
	} {
		if !strings.Contains(got.body, line+"\n") {
			t.Errorf("/metrics has no line %q", line)
		}
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", got.body)
	}
}

// TestServeReload drives the signal loop: SIGHUP loads a changed file, a
// file with an error keeps the running configuration, SIGTERM stops.
func TestServeReload(t *testing.T) {
	iss := adaptertest.NewIssuer(t)
	g := startGuard(t, guardConfig(iss, ""))
	token := serveBearer(iss.M2MToken("inventory-sync", adaptertest.API, "read:products"))
	sigs := make(chan os.Signal)
	done := make(chan int)
	go func() { done <- g.s.run(g.file, sigs, 5*time.Second) }()
	hup := func(config string) {
		t.Helper()
		if err := os.WriteFile(g.file, []byte(config), 0o600); err != nil {
			t.Fatal(err)
		}
		sigs <- syscall.SIGHUP
		sigs <- syscall.SIGHUP // the second send waits until the first reload is done
	}
	v := g.s.gateway().v
	if got := g.ask(t, "GET", "/admin", token); got.status != 403 {
		t.Fatalf("before reload: /admin %d, want 403", got.status)
	}
	hup(guardConfig(iss, "default: authenticate"))
	if got := g.ask(t, "GET", "/admin", token); got.status != 200 {
		t.Errorf("after reload: /admin %d, want 200", got.status)
	}
	if g.s.gateway().v != v {
		t.Error("a reload that changes only routes replaced the validator")
	}
	hup(guardConfig(iss, "default: authenticate\nroutes_typo: []"))
	if got := g.ask(t, "GET", "/admin", token); got.status != 200 {
		t.Errorf("after a bad reload: /admin %d, want 200 (the running configuration)", got.status)
	}
	if !strings.Contains(g.logs.String(), "reload failed, keeping the running configuration") ||
		!strings.Contains(g.logs.String(), "routes_typo: unknown field") {
		t.Errorf("the log does not say why the reload failed:\n%s", g.logs)
	}
	sigs <- syscall.SIGTERM
	if code := <-done; code != command.ExitOK {
		t.Errorf("exit %d, want 0", code)
	}
	if _, err := http.Get(g.url + "/healthz"); err == nil {
		t.Error("the listener still answers after SIGTERM")
	}
}

// TestServeReloadRestartOnly: a reload that changes what only a restart
// applies (the listeners, anything of the revocation section, whose store
// the process keeps) is refused: the running configuration stays, the log
// says why and logtoguard_config_reloads_total counts an error. The same
// Redis URL read from the environment rather than the file is no change.
func TestServeReloadRestartOnly(t *testing.T) {
	iss := adaptertest.NewIssuer(t)
	// Nothing listens on port 1: the store is made, never reached.
	const redisURL = "redis://127.0.0.1:1/0"
	t.Setenv("TEST_LOGTO_RELOAD_REDIS_URL", redisURL)
	redis := func(more string) string { return "revocation:\n  redis_url: " + redisURL + "\n" + more }
	tests := []struct {
		name, from, to string
		want           string // "" when the reload is accepted
	}{
		{"listen", guardConfig(iss, ""), strings.Replace(guardConfig(iss, ""), "listen: 127.0.0.1:0", "listen: 127.0.0.2:0", 1), "listen and grpc_listen cannot change without a restart"},
		{"grpc_listen", guardConfig(iss, ""), strings.Replace(guardConfig(iss, ""), "grpc_listen: 127.0.0.1:0", "grpc_listen: 127.0.0.2:0", 1), "listen and grpc_listen cannot change without a restart"},
		{"revocation section added", guardConfig(iss, ""), guardConfig(iss, redis("")), "the revocation section cannot change without a restart"},
		{"revocation section removed", guardConfig(iss, redis("")), guardConfig(iss, ""), "the revocation section cannot change without a restart"},
		{"revocation.redis_url", guardConfig(iss, redis("")), guardConfig(iss, "revocation:\n  redis_url: redis://127.0.0.1:1/1\n"), "the revocation section cannot change without a restart"},
		{"revocation.fail_closed", guardConfig(iss, redis("")), guardConfig(iss, redis("  fail_closed: true\n")), "the revocation section cannot change without a restart"},
		{"revocation.fail_closed unset", guardConfig(iss, redis("  fail_closed: true\n")), guardConfig(iss, redis("")), "the revocation section cannot change without a restart"},
		{"the same URL from the environment", guardConfig(iss, redis("  fail_closed: true\n")), guardConfig(iss, "revocation:\n  redis_url_env: TEST_LOGTO_RELOAD_REDIS_URL\n  fail_closed: true\n"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := startGuard(t, tt.from)
			running := g.s.gateway()
			if err := os.WriteFile(g.file, []byte(tt.to), 0o600); err != nil {
				t.Fatal(err)
			}
			err := g.s.reload(g.file)
			result := "ok"
			if tt.want != "" {
				result = "error"
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("reload: %v, want an error with %q", err, tt.want)
				}
				if g.s.gateway() != running {
					t.Error("a refused reload replaced the running configuration")
				}
				if logs := g.logs.String(); !strings.Contains(logs, "reload failed, keeping the running configuration") || !strings.Contains(logs, tt.want) {
					t.Errorf("the log does not say why the reload failed:\n%s", logs)
				}
			} else if err != nil {
				t.Fatalf("reload: %v, want it accepted", err)
			}
			metrics := serveDo(t, mustRequest(t, "GET", g.url+"/metrics")).body
			if line := `logtoguard_config_reloads_total{result="` + result + `"} 1`; !strings.Contains(metrics, line+"\n") {
				t.Errorf("/metrics has no line %q:\n%s", line, metrics)
			}
		})
	}
}

// TestServeConfigErrors checks that every mistake in the file stops the
// start with exit status 2 and one line naming the field.
func TestServeConfigErrors(t *testing.T) {
	iss := adaptertest.NewIssuer(t)
	base := fmt.Sprintf("endpoint: %s\naudiences: [%s]\nallow_insecure_http: true\nlisten: 127.0.0.1:0\n", iss.Endpoint(), adaptertest.API)
	tests := []struct {
		name, config, want string
	}{
		{"unknown field", base + "listn: 127.0.0.1:9\n", `:5: listn: unknown field`},
		{"unknown route field", base + "routes:\n  - match: GET /a\n    scope: [a]\n", `:7: routes[0].scope: unknown field`},
		{"wrong type", base + "accept_organization_tokens: maybe\n", `:5: accept_organization_tokens: want true or false, got str`},
		{"scopes not a list", base + "routes:\n  - match: GET /a\n    scopes: read\n", `:7: routes[0].scopes: want a list of strings, got str`},
		{"routes not a list", base + "routes: GET /a\n", `:5: routes: want a list of routes, got str`},
		{"bad pattern", base + "routes:\n  - match: \"GET /a/{x\"\n", `routes[0] ("GET /a/{x").match: parsing "GET /a/{x": at offset 7: bad wildcard segment (must end with '}')`},
		{"conflicting patterns", base + "routes:\n  - match: GET /a\n  - match: GET /a\n", `routes[1] ("GET /a").match: pattern "GET /a" conflicts with pattern "GET /a": GET /a matches the same requests as GET /a`},
		{"routes that differ only in case", base + "routes:\n  - match: GET /a\n  - match: GET /A\n", `routes[1] ("GET /A").match: once paths are read case-insensitively, as ASP.NET routes them: pattern "GET /a" conflicts with pattern "GET /a"`},
		{"a semicolon in a path", base + "routes:\n  - match: GET /a;b\n", `routes[0] ("GET /a;b").match: a path with ";" would never match`},
		{"no match", base + "routes:\n  - scopes: [a]\n", `routes[0].match: required`},
		{"organization without braces", base + "routes:\n  - match: GET /o/{org}\n    organization: org\n", `routes[0] ("GET /o/{org}").organization: "org" must name a wildcard of match, such as "{org}"`},
		{"organization not a wildcard", base + "routes:\n  - match: GET /o/{id}\n    organization: \"{org}\"\n", `routes[0] ("GET /o/{id}").organization: match has no wildcard {org}`},
		{"public with scopes", base + "routes:\n  - match: /p/\n    public: true\n    scopes: [a]\n", `routes[0] ("/p/").public: a public route requires nothing`},
		{"public with organization", base + "routes:\n  - match: /o/{org}/\n    public: true\n    organization: \"{org}\"\n", `routes[0] ("/o/{org}/").public: a public route requires nothing`},
		{"empty scope", base + "routes:\n  - match: GET /a\n    scopes: [\"\"]\n", `routes[0] ("GET /a").scopes: "" is not a valid value`},
		{"scope with a space", base + "routes:\n  - match: GET /a\n    any_scopes: [\"a b\"]\n", `routes[0] ("GET /a").any_scopes: "a b" is not a valid value`},
		{"user and m2m", base + "routes:\n  - match: GET /a\n    user: true\n    m2m: true\n", `routes[0] ("GET /a").user: a requirement for users' tokens cannot also require M2M or AppIDs`},
		{"no_delegation and actors", base + "routes:\n  - match: GET /a\n    no_delegation: true\n    actors: [x]\n", `routes[0] ("GET /a").no_delegation: a requirement that refuses delegated tokens cannot also list their Actors`},
		{"empty client", base + "routes:\n  - match: GET /a\n    clients: [\"\"]\n", `routes[0] ("GET /a").clients: "" is not a valid value`},
		{"public refusing delegation", base + "routes:\n  - match: /p/\n    public: true\n    no_delegation: true\n", `routes[0] ("/p/").public: a public route requires nothing`},
		{"default", base + "default: allow\n", `default: "allow" is not deny or authenticate`},
		{"no audiences", "endpoint: https://t.logto.app\n", `audiences: required`},
		{"no endpoint", "audiences: [https://api.example.com]\n", `endpoint: required`},
		{"listen", base + "grpc_listen: 9091\n", `grpc_listen: "9091" is not host:port`},
		{"public_url", base + "public_url: api.example.com\n", `public_url: "api.example.com" must be an absolute https URL`},
		{"syntax", base + "routes: [\n", `bad.yaml:5: did not find expected node content`},
		{"empty", "", `the file is empty`},
		{"two documents", base + "---\nlisten: x\n", `more than one YAML document`},
		{"plain http", "endpoint: http://logto.internal:3001\naudiences: [https://api.example.com]\n", `endpoint "http://logto.internal:3001" is plain http to a host that is not loopback, so the signing keys could be replaced on the way: use https, or set allow_insecure_http`},
		{"management audience", "endpoint: https://t.logto.app\naudiences: [https://default.logto.app/api]\n", `audience "https://default.logto.app/api" is Logto's Management API`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "bad.yaml")
			if err := os.WriteFile(file, []byte(tt.config), 0o600); err != nil {
				t.Fatal(err)
			}
			// --check: a file that a bug lets through exits 0 and fails
			// here, where a start would serve until the test times out.
			r := runServe(t, "--check", "--config", file)
			r.exit(t, command.ExitUsage)
			if strings.Count(r.stderr, "\n") != 1 || !strings.HasPrefix(r.stderr, "logtoguard serve: config "+file) {
				t.Errorf("want one line naming the file, got:\n%s", r.stderr)
			}
			if !strings.Contains(r.stderr, tt.want) {
				t.Errorf("stderr %q does not contain %q", r.stderr, tt.want)
			}
		})
	}
	t.Run("allow_insecure_http", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "ok.yaml")
		if err := os.WriteFile(file, []byte("endpoint: http://logto.internal:3001\naudiences: [https://api.example.com]\nallow_insecure_http: true\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		runServe(t, "--check", "--config", file).exit(t, command.ExitOK)
	})
	t.Run("LOGTOGUARD_CONFIG and --check", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "ok.yaml")
		if err := os.WriteFile(file, []byte(base+contractRoutes), 0o600); err != nil {
			t.Fatal(err)
		}
		t.Setenv("LOGTOGUARD_CONFIG", file)
		r := runServe(t, "--check")
		r.exit(t, command.ExitOK)
		if r.stdout != file+": ok\n" {
			t.Errorf("stdout %q", r.stdout)
		}
	})
	t.Run("no config", func(t *testing.T) {
		t.Setenv("LOGTOGUARD_CONFIG", "")
		r := runServe(t)
		r.exit(t, command.ExitUsage)
		if !strings.Contains(r.stderr, "--config FILE is required") {
			t.Errorf("stderr %q", r.stderr)
		}
	})
	t.Run("help", func(t *testing.T) {
		r := runServe(t, "--help")
		r.exit(t, command.ExitOK)
		for _, flag := range []string{"--config FILE", "--check", "--drain D", "-v", "/verify", "/envoy/", "/readyz", "SIGHUP", "the revocation section"} {
			if !strings.Contains(r.stdout, flag) {
				t.Errorf("serve --help does not document %s", flag)
			}
		}
	})
}

// TestServeBinarySignals runs the built command: SIGHUP reloads the file
// (one with an error keeps the running configuration and says why), SIGTERM
// answers the request in flight and stops with status 0.
func TestServeBinarySignals(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "logtoguard")
	build := exec.Command("go", "build", "-o", bin, "github.com/logtoguard/logtoguard/cmd/logtoguard")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	iss := adaptertest.NewIssuer(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	config := func(extra string) string {
		return strings.Replace(guardConfig(iss, extra), "listen: 127.0.0.1:0\ngrpc_listen: 127.0.0.1:0", "listen: "+addr, 1)
	}
	file := filepath.Join(dir, "logtoguard.yaml")
	write := func(s string) {
		if err := os.WriteFile(file, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(config(""))
	logs, err := os.Create(filepath.Join(dir, "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer logs.Close()
	cmd := exec.Command(bin, "serve", "--config", file)
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			b, _ := os.ReadFile(logs.Name())
			t.Logf("stderr:\n%s", b)
		}
	})
	// eventually polls cond every 10ms for at most 10s.
	eventually := func(what string, cond func() bool) {
		t.Helper()
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		deadline := time.After(10 * time.Second)
		for !cond() {
			select {
			case <-tick.C:
			case <-deadline:
				t.Fatalf("not within 10s: %s", what)
			}
		}
	}
	base := "http://" + addr
	status := func(path string, h http.Header) int {
		req, _ := http.NewRequest(http.MethodGet, base+path, nil)
		for k, v := range h {
			req.Header[k] = v
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0
		}
		res.Body.Close()
		return res.StatusCode
	}
	admin := serveBearer(iss.M2MToken("inventory-sync", adaptertest.API, "read:products"))
	admin.Set("X-Forwarded-Method", "GET")
	admin.Set("X-Forwarded-Uri", "/admin")
	logged := func(s string) func() bool {
		return func() bool { b, _ := os.ReadFile(logs.Name()); return strings.Contains(string(b), s) }
	}

	eventually("/readyz answers 200", func() bool { return status("/readyz", nil) == 200 })
	if got := status("/verify", admin); got != 403 {
		t.Fatalf("before SIGHUP: %d, want 403", got)
	}
	write(config("default: authenticate"))
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	eventually("SIGHUP loads default: authenticate", func() bool { return status("/verify", admin) == 200 })

	write(config("default: authenticate\nlisten_typo: x"))
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	eventually("the log says why the reload failed", logged("listen_typo: unknown field"))
	if got := status("/verify", admin); got != 200 {
		t.Errorf("after a bad reload: %d, want 200 (the running configuration)", got)
	}

	// A request in flight when SIGTERM comes is answered: its token has a
	// new key, whose fetch Logto delays.
	iss.RotateKeys()
	rotated := serveBearer(iss.M2MToken("inventory-sync", adaptertest.API, "read:products"))
	rotated.Set("X-Forwarded-Method", "GET")
	rotated.Set("X-Forwarded-Uri", "/read")
	iss.SetJWKSDelay(time.Second)
	fetches := iss.JWKSFetches()
	inflight := make(chan int, 1)
	go func() { inflight <- status("/verify", rotated) }()
	eventually("the request waits for the new key", func() bool { return iss.JWKSFetches() > fetches })
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if got := <-inflight; got != 200 {
		t.Errorf("the request in flight at SIGTERM got %d, want 200", got)
	}
	select {
	case err := <-exited:
		exited <- err
		if err != nil {
			t.Errorf("exit after SIGTERM: %v, want status 0", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("still running 15s after SIGTERM")
	}
	for _, want := range []string{"draining", "stopped"} {
		if !logged(want)() {
			t.Errorf("the log does not say %q", want)
		}
	}
	if got := status("/healthz", nil); got != 0 {
		t.Errorf("/healthz answers %d after the process stopped", got)
	}
}

// TestServeShippedConfigs checks that the configurations shipped in
// deploy/ are valid: the example file, and the Kubernetes ConfigMap's.
func TestServeShippedConfigs(t *testing.T) {
	cfg, err := loadConfig("../../../../deploy/logtoguard.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Routes) != 9 || cfg.Default != defaultDeny {
		t.Errorf("deploy/logtoguard.yaml: %d routes, default %s", len(cfg.Routes), cfg.Default)
	}
	// gRPC is optional, so off in the sample; public_url is on, and the
	// proxy files route its metadata path to serve (TestMetadataBehind*).
	if cfg.GRPCListen != "" || cfg.PublicURL == "" {
		t.Errorf("deploy/logtoguard.yaml: grpc_listen %q, public_url %q; want no gRPC listener and a public_url", cfg.GRPCListen, cfg.PublicURL)
	}
	if p, err := metadataPath(cfg.PublicURL); err != nil || p != middleware.ResourceMetadataPath {
		t.Errorf("deploy/logtoguard.yaml: metadata at %q (%v), want %s, where the shipped proxy files route it", p, err, middleware.ResourceMetadataPath)
	}
	b, err := os.ReadFile("../../../../deploy/kubernetes/logtoguard.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	found := false
	for {
		var doc struct {
			Kind string            `yaml:"kind"`
			Data map[string]string `yaml:"data"`
		}
		if err := dec.Decode(&doc); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			t.Fatal(err)
		}
		if doc.Kind == "ConfigMap" {
			found = true
			if _, err := parseConfig("ConfigMap logtoguard.yaml", []byte(doc.Data["logtoguard.yaml"])); err != nil {
				t.Error(err)
			}
		}
	}
	if !found {
		t.Error("deploy/kubernetes/logtoguard.yaml has no ConfigMap")
	}
}

// TestServeReadmeConfigs checks that README.md shows the nginx and Caddy
// configurations the proxy tests run, as they are.
func TestServeReadmeConfigs(t *testing.T) {
	readme, err := os.ReadFile("../../../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{nginxConfig, caddyConfig} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(readme, b) {
			t.Errorf("README.md does not show %s as it is", f)
		}
	}
}

// TestServeReloadWaitsForKeys checks that a reload which needs new keys
// swaps in the new configuration only once they are loaded: never a 503
// in between, and, when they do not load in time, the running
// configuration stays, logged and counted.
func TestServeReloadWaitsForKeys(t *testing.T) {
	a := adaptertest.NewIssuer(t)
	g := startGuard(t, guardConfig(a, ""))
	b := adaptertest.NewIssuer(t)
	tokenA := serveBearer(a.M2MToken("inventory-sync", adaptertest.API, "read:products"))
	tokenB := serveBearer(b.M2MToken("inventory-sync", adaptertest.API, "read:products"))
	// reload is what SIGHUP runs (TestServeReload drives the signal).
	hup := func(config string) error {
		t.Helper()
		if err := os.WriteFile(g.file, []byte(config), 0o600); err != nil {
			t.Fatal(err)
		}
		return g.s.reload(g.file)
	}

	// A new endpoint whose keys are not there yet: while the reload waits
	// for them, the running configuration answers; then the new one does.
	g.s.reloadWait = 10 * time.Second
	b.SetJWKSDown(true)
	if err := os.WriteFile(g.file, []byte(guardConfig(b, "")), 0o600); err != nil {
		t.Fatal(err)
	}
	reloaded := make(chan error, 1)
	go func() { reloaded <- g.s.reload(g.file) }()
	deadline := time.Now().Add(10 * time.Second)
	for b.JWKSFetches() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := g.ask(t, "GET", "/read", tokenA); got.status != 200 {
		t.Errorf("while the reload waits for the new keys: %d %q, want 200 (the running configuration)", got.status, got.body)
	}
	b.SetJWKSDown(false)
	if err := <-reloaded; err != nil {
		t.Fatalf("reload: %v", err)
	}
	if got := g.ask(t, "GET", "/read", tokenB); got.status != 200 {
		t.Errorf("after the reload to a new endpoint: %d %q, want 200", got.status, got.body)
	}
	if got := g.ask(t, "GET", "/read", tokenA); got.status != 401 {
		t.Errorf("the old endpoint's token after the reload: %d, want 401", got.status)
	}

	// A new endpoint whose keys never come: the running configuration
	// stays, and the log and the metrics say why.
	c := adaptertest.NewIssuer(t)
	c.SetJWKSDown(true)
	g.s.reloadWait = time.Second
	if err := hup(guardConfig(c, "default: authenticate")); !errors.Is(err, errKeysNotReady) {
		t.Errorf("reload: %v, want %v", err, errKeysNotReady)
	}
	if got := g.ask(t, "GET", "/read", tokenB); got.status != 200 {
		t.Errorf("after a reload whose keys never load: %d %q, want 200 (the running configuration)", got.status, got.body)
	}
	if got := g.ask(t, "GET", "/admin", tokenB); got.status != 403 {
		t.Errorf("after a reload whose keys never load: /admin %d, want 403 (default: deny, still)", got.status)
	}
	if logs := g.logs.String(); !strings.Contains(logs, "reload failed, keeping the running configuration") ||
		!strings.Contains(logs, "did not load within 1s") {
		t.Errorf("the log does not say why the reload failed:\n%s", logs)
	}
	req, _ := http.NewRequest(http.MethodGet, g.url+"/metrics", nil)
	metrics := serveDo(t, req).body
	for _, line := range []string{
		`logtoguard_config_reloads_total{result="ok"} 1`,
		`logtoguard_config_reloads_total{result="keys_not_ready"} 1`,
	} {
		if !strings.Contains(metrics, line+"\n") {
			t.Errorf("/metrics has no line %q", line)
		}
	}
}
