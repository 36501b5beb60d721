package serve

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/logtoguard/logtoguard/internal/adaptertest"
	"github.com/logtoguard/logtoguard/logtotest"
)

// spellingRoutes are the routes of the findings on how an upstream reads a
// request otherwise than the gateway did: a public subtree, a scope route,
// an organization subtree, a host route, a method route and an admin
// subtree.
const spellingRoutes = `
routes:
  - match: "/public/"
    public: true
  - match: "GET /read"
    scopes: [read:products]
  - match: "/orgs/{org}/"
    organization: "{org}"
  - match: "Admin.Example.com/"
    scopes: [admin]
  - match: "billing.example.com/"
    scopes: [admin]
  - match: "GET /reports"
    scopes: [admin]
  - match: "/admin/"
    scopes: [admin]
`

// spellingConfig is a configuration of spellingRoutes for iss.
func spellingConfig(iss *logtotest.Issuer, extra string) string {
	return fmt.Sprintf(`endpoint: %s
audiences: [%s]
accept_organization_tokens: true
allow_insecure_http: true
listen: 127.0.0.1:0
grpc_listen: 127.0.0.1:0
%s
%s`, iss.Endpoint(), adaptertest.API, extra, spellingRoutes)
}

// entry asks the gateway about one original request through one of its
// entry points and returns the status it answers with.
type entry struct {
	name string
	ask  func(t *testing.T, g *testGuard, method, host, uri, token string) int
}

// entries are the gateway's three entry points: /verify (nginx, Caddy,
// Traefik), /envoy/... (Envoy's HTTP ext_authz) and gRPC ext_authz.
var entries = []entry{
	{"verify", func(t *testing.T, g *testGuard, method, host, uri, token string) int {
		h := http.Header{"X-Forwarded-Host": {host}}
		if token != "" {
			h.Set("Authorization", "Bearer "+token)
		}
		return g.ask(t, method, uri, h).status
	}},
	{"envoy", func(t *testing.T, g *testGuard, method, host, uri, token string) int {
		// Written on the connection as it is: an HTTP client would
		// check or rewrite the method, host or path.
		return rawStatus(t, strings.TrimPrefix(g.url, "http://"), method, host, "/envoy"+uri, token)
	}},
	{"grpc", func(t *testing.T, g *testGuard, method, host, uri, token string) int {
		h := map[string]string{}
		if token != "" {
			h["authorization"] = "Bearer " + token
		}
		req := checkRequest(method, uri, h)
		req.Attributes.Request.Http.Host = host
		res := grpcCheck(t, checkClient(t, g), req)
		if d := res.GetDeniedResponse(); d != nil {
			return int(d.GetStatus().GetCode())
		}
		return http.StatusOK
	}},
}

// rawStatus sends method target with Host host (and the bearer token, if
// any) to addr on a connection of its own, as bytes, and returns the
// answer's status.
func rawStatus(t *testing.T, addr, method, host, target, token string) int {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	req := fmt.Sprintf("%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n", method, target, host)
	if token != "" {
		req += "Authorization: Bearer " + token + "\r\n"
	}
	if _, err := io.WriteString(conn, req+"\r\n"); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	res.Body.Close()
	return res.StatusCode
}

// TestServeSpellings sends, through each entry point, the spellings of a
// request that an upstream or a proxy reads as another route than the
// gateway would match as it is: each is refused (400), or matched as the
// upstream reads it.
func TestServeSpellings(t *testing.T) {
	iss := adaptertest.NewIssuer(t)
	deny := startGuard(t, spellingConfig(iss, "default: deny"))
	auth := startGuard(t, spellingConfig(iss, "default: authenticate"))
	plain := iss.M2MToken("inventory-sync", adaptertest.API, "read:products")
	admin := iss.M2MToken("ops", adaptertest.API, "admin")
	evil := iss.OrganizationToken("user-1", "spa", "evil")
	const host = "api.example.com"
	tests := []struct {
		name                  string
		g                     *testGuard
		method, host, uri, tk string
		status                int
	}{
		// 1. Servlet containers drop each segment's ;parameters before
		// they resolve dot segments: Tomcat serves /read.
		{"..; leaves the public subtree", deny, "GET", host, "/public/..;/read", "", 400},
		{"%2e%2e; leaves the public subtree", deny, "GET", host, "/public/%2e%2e;/read", "", 400},
		{"..;x=1 leaves the public subtree", deny, "GET", host, "/public/..;x=1/read", "", 400},
		{".; is a dot segment too", deny, "GET", host, "/public/.;/x", "", 400},
		{"..; leaves an organization", deny, "GET", host, "/orgs/evil/..;/acme/products", evil, 400},
		{"its own organization still opens", deny, "GET", host, "/orgs/evil/products", evil, 200},
		{";parameters hide a subtree", auth, "GET", host, "/admin;x=1/users", plain, 400},
		{";parameters hide a route", auth, "GET", host, "/reports;jsessionid=1", plain, 400},
		{"an empty segment once ;parameters go", deny, "GET", host, "/public/;x/read", "", 400},
		{"an encoded semicolon", deny, "GET", host, "/public/..%3B/read", "", 400},
		{";parameters on the same route", deny, "GET", host, "/public/logo.png;v=2", "", 200},
		{"an encoded slash (mutant: slash count)", deny, "GET", host, "/public%2Fadmin", "", 400},
		// Case-insensitive routing (ASP.NET, Express by default) and
		// trailing-slash folding (Express, Flask's strict_slashes=False).
		{"a subtree in upper case", auth, "GET", host, "/ADMIN/users", plain, 400},
		{"a route in mixed case", auth, "GET", host, "/Reports", plain, 400},
		{"a route with a trailing slash", auth, "GET", host, "/reports/", plain, 400},
		{"a route in upper case with a trailing slash", auth, "GET", host, "/REPORTS/", plain, 400},
		{"a public subtree in upper case", deny, "GET", host, "/PUBLIC/x", "", 400},
		{"a path value in upper case is the same route", deny, "GET", host, "/orgs/evil/Products/", evil, 200},
		{";parameters hide a route in another case", auth, "GET", host, "/REPORTS;x=1", plain, 400},
		{";parameters hide a subtree in another case", auth, "GET", host, "/Admin;x/users", plain, 400},
		// Characters that are ASCII letters once case is ignored: Java's
		// equalsIgnoreCase (Spring) and .NET's OrdinalIgnoreCase read the
		// long s as "s" and the dotless i as "i"; the Kelvin sign and the
		// dotted capital I are "k" and "i" in lower case.
		{"a long s for an s", auth, "GET", host, "/report%C5%BF", plain, 400},
		{"a long s for an s, in a public subtree", deny, "GET", host, "/public/%C5%BFecret", "", 400},
		{"a dotless i for an i", auth, "GET", host, "/adm%C4%B1n/users", plain, 400},
		{"a dotted capital I for an i", auth, "GET", host, "/adm%C4%B0n/users", plain, 400},
		{"a Kelvin sign for a k", deny, "GET", host, "/public/%E2%84%AA", "", 400},
		{"other characters beyond ASCII", deny, "GET", host, "/public/caf%C3%A9/%C3%9F", "", 200},
		// 2. Hosts are case-insensitive, and a trailing dot names the same
		// host: Caddy passes both as the client wrote them.
		{"host route needs its scope (mutant: host not set)", auth, "GET", "billing.example.com", "/x", plain, 403},
		{"host route pattern lower-cased at load", auth, "GET", "admin.example.com", "/x", plain, 403},
		{"host route in upper case", auth, "GET", "ADMIN.example.com", "/x", plain, 403},
		{"host route with a trailing dot", auth, "GET", "admin.example.com.", "/x", plain, 403},
		{"host route with the default port", auth, "GET", "admin.example.com:80", "/x", plain, 403},
		{"host route with a dot and a port", auth, "GET", "Admin.Example.Com.:443", "/x", plain, 403},
		{"host route admits its scope", auth, "GET", "ADMIN.example.com.", "/x", admin, 200},
		{"a host of two trailing dots", auth, "GET", "admin.example.com..", "/x", plain, 400},
		// 3. Werkzeug upper-cases methods, ASP.NET routes them
		// case-insensitively.
		{"method route in lower case", auth, "get", host, "/reports", plain, 400},
		{"method route in mixed case", auth, "Get", host, "/reports", plain, 400},
		{"method route as written", auth, "GET", host, "/reports", plain, 403},
		// 4. Express and ServeMux serve /admin as /admin/.
		{"subtree without its slash", auth, "GET", host, "/admin", plain, 403},
		{"subtree without its slash, with a query", auth, "GET", host, "/admin?x=1", plain, 403},
		{"subtree without its slash admits its scope", auth, "GET", host, "/admin", admin, 200},
		{"public subtree without its slash", deny, "GET", host, "/public", "", 200},
		{"organization subtree without its slash", deny, "GET", host, "/orgs/acme", evil, 403},
	}
	for _, e := range entries {
		for _, tt := range tests {
			t.Run(e.name+"/"+tt.name, func(t *testing.T) {
				if got := e.ask(t, tt.g, tt.method, tt.host, tt.uri, tt.tk); got != tt.status {
					t.Errorf("%s %s %s: %d, want %d", tt.method, tt.host, tt.uri, got, tt.status)
				}
			})
		}
	}
}

// TestFoldsToASCII checks foldsToASCII against every character: one is
// refused exactly when a chain of case mappings (upper, lower, title case
// and simple case folding, in any order) leads it to an ASCII letter.
func TestFoldsToASCII(t *testing.T) {
	reaches := func(r rune) bool {
		seen := []rune{r}
		for i := 0; i < len(seen); i++ {
			c := seen[i]
			if c < utf8.RuneSelf {
				return isASCIILetter(c)
			}
			for _, n := range [...]rune{unicode.ToUpper(c), unicode.ToLower(c), unicode.ToTitle(c), unicode.SimpleFold(c)} {
				if !slices.Contains(seen, n) {
					seen = append(seen, n)
				}
			}
		}
		return false
	}
	var refused []rune
	for r := rune(utf8.RuneSelf); r <= unicode.MaxRune; r++ {
		got := foldsToASCII(string(r))
		if got != reaches(r) {
			t.Errorf("foldsToASCII(%U %q) = %t, want %t", r, r, got, !got)
		}
		if got {
			refused = append(refused, r)
		}
	}
	for _, r := range []rune{'\u017f', '\u0131', '\u0130', '\u212a'} {
		if !slices.Contains(refused, r) {
			t.Errorf("%U %q is not refused", r, r)
		}
	}
	for _, p := range []string{"/reports", "/caf\u00e9", "/\u00df", "/\u03c3\u03c2", "/\xff"} {
		if foldsToASCII(p) {
			t.Errorf("foldsToASCII(%q) = true, want false", p)
		}
	}
	if !foldsToASCII("/caf\u00e9/\u017fecret") {
		t.Error("a long s after another character beyond ASCII is not found")
	}
}

// TestServeSpellingsBehindProxies sends the findings' requests through
// real nginx and Caddy with their shipped configurations: none reaches
// the upstream. Caddy passes the Host and the method as the client wrote
// them; nginx lower-cases $host and drops its trailing dot, and refuses a
// method in lower case itself. Tomcat's, Flask's and Express's readings of
// the same requests are emulated in the match (see FuzzServeMatch).
func TestServeSpellingsBehindProxies(t *testing.T) {
	iss := adaptertest.NewIssuer(t)
	g := startGuard(t, spellingConfig(iss, "default: authenticate"))
	plain := iss.M2MToken("inventory-sync", adaptertest.API, "read:products")
	evil := iss.OrganizationToken("user-1", "spa", "evil")
	for _, proxy := range []struct {
		name  string
		start func(t *testing.T, guard, upstream string) string
	}{{"nginx", startNginx}, {"caddy", startCaddy}} {
		t.Run(proxy.name, func(t *testing.T) {
			up := newEchoUpstream(t)
			addr := strings.TrimPrefix(proxy.start(t, strings.TrimPrefix(g.url, "http://"), strings.TrimPrefix(up.URL, "http://")), "http://")
			for _, tt := range []struct{ name, method, host, target, token string }{
				{"..; out of the public subtree", "GET", "api.example.com", "/public/..;/read", ""},
				{"%2e%2e; out of the public subtree", "GET", "api.example.com", "/public/%2e%2e;/read", ""},
				{"..; into another organization", "GET", "api.example.com", "/orgs/evil/..;/acme/products", evil},
				{"a host route in upper case", "GET", "ADMIN.example.com", "/x", plain},
				{"a host route with a trailing dot", "GET", "admin.example.com.", "/x", plain},
				{"a method route in lower case", "get", "api.example.com", "/reports", plain},
				{"a subtree without its slash", "GET", "api.example.com", "/admin", plain},
				{"a subtree without its slash, with a query", "GET", "api.example.com", "/admin?x=1", plain},
			} {
				t.Run(tt.name, func(t *testing.T) {
					req := fmt.Sprintf("%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n", tt.method, tt.target, tt.host)
					if tt.token != "" {
						req += "Authorization: Bearer " + tt.token + "\r\n"
					}
					before := up.hits.Load()
					status := rawDo(t, addr, req+"\r\n")
					if status == http.StatusOK || up.hits.Load() != before {
						t.Errorf("%s %s (Host %s): %d, and the upstream got it: %t", tt.method, tt.target, tt.host, status, up.hits.Load() != before)
					}
				})
			}
		})
	}
}
