//go:build unix

package serve

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/logtoguard/logtoguard/internal/adaptertest"
	"github.com/logtoguard/logtoguard/middleware"
)

// The shipped proxy configurations, and what the tests replace in them: the
// ports, nothing else.
const (
	nginxConfig = "../../../../deploy/nginx/logtoguard.conf"
	caddyConfig = "../../../../deploy/caddy/Caddyfile"

	shippedGuard    = "127.0.0.1:9090"
	shippedUpstream = "127.0.0.1:8080"
)

// echoUpstream is the API behind the proxy: it answers 200 with the
// request's headers as JSON and counts its requests.
type echoUpstream struct {
	*httptest.Server
	hits atomic.Int64
}

func newEchoUpstream(t *testing.T) *echoUpstream {
	u := &echoUpstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(r.Header)
	}))
	t.Cleanup(u.Close)
	return u
}

// proxyBinary is the path of a proxy's executable: `make test` installs
// nginx and caddy, and a test without one fails rather than skips.
func proxyBinary(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is not installed: `make test` installs it (apt-get install -y %s)", name, name)
	}
	return p
}

// freePort returns a port of 127.0.0.1 that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// template replaces each old string of the shipped file with its new one,
// failing when one is missing: the tests run the shipped file, nothing else.
func template(t *testing.T, file string, pairs ...string) string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for i := 0; i+1 < len(pairs); i += 2 {
		if !strings.Contains(s, pairs[i]) {
			t.Fatalf("%s has no %q to replace", file, pairs[i])
		}
		s = strings.ReplaceAll(s, pairs[i], pairs[i+1])
	}
	return s
}

// startProxy runs cmd in the foreground until the test ends and waits, for
// at most 10 seconds, until base answers HTTP. logs is read on failure.
func startProxy(t *testing.T, cmd *exec.Cmd, base, logs string) {
	t.Helper()
	// Output to a file, not a pipe, and a process group of its own: the
	// workers nginx forks end with it, and nothing waits on their output.
	out, err := os.Create(filepath.Join(t.TempDir(), "output"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %v", cmd.Path, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	report := func() string {
		a, _ := os.ReadFile(out.Name())
		b, _ := os.ReadFile(logs)
		return string(a) + string(b)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-exited
		if t.Failed() {
			t.Logf("%s output:\n%s", filepath.Base(cmd.Path), report())
		}
	})
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		res, err := client.Get(base + "/healthz-of-the-proxy")
		if err == nil {
			res.Body.Close()
			return
		}
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("%s exited: %v\n%s", cmd.Path, err, report())
		case <-tick.C:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not answer on %s within 10s: %v\n%s", cmd.Path, base, err, report())
		}
	}
}

// startNginx runs nginx with the shipped configuration in front of
// upstream, asking guard, and returns its base URL. Beside it runs a
// default server like the default site of Debian's nginx package: the
// shipped file must win for requests to 127.0.0.1 (its server_name).
func startNginx(t *testing.T, guard, upstream string) string {
	bin := proxyBinary(t, "nginx")
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil { // for nginx's workers, when they run as nobody
		t.Fatal(err)
	}
	port := freePort(t)
	site := template(t, nginxConfig,
		"server "+shippedGuard+";", "server "+guard+";",
		"server "+shippedUpstream+";", "server "+upstream+";",
		"listen 80;", fmt.Sprintf("listen 127.0.0.1:%d;", port))
	main := fmt.Sprintf(`worker_processes 1;
error_log %[1]s/error.log info;
pid %[1]s/nginx.pid;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path %[1]s/body;
    proxy_temp_path %[1]s/proxy;
    fastcgi_temp_path %[1]s/fastcgi;
    uwsgi_temp_path %[1]s/uwsgi;
    scgi_temp_path %[1]s/scgi;
    # Debian's default site: default_server on the same port, answering
    # every Host that no server_name names with its own 404.
    server {
        listen 127.0.0.1:%[2]d default_server;
        server_name _;
        return 404 "the default site\n";
    }
    include %[1]s/logtoguard.conf;
}
`, dir, port)
	for name, content := range map[string]string{"logtoguard.conf": site, "nginx.conf": main} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	startProxy(t, exec.Command(bin, "-p", dir, "-e", dir+"/error.log", "-c", dir+"/nginx.conf", "-g", "daemon off;"), base, dir+"/error.log")
	return base
}

// startCaddy runs caddy with the shipped Caddyfile in front of upstream,
// asking guard, and returns its base URL.
func startCaddy(t *testing.T, guard, upstream string) string {
	bin := proxyBinary(t, "caddy")
	dir := t.TempDir()
	port := freePort(t)
	file := filepath.Join(dir, "Caddyfile")
	conf := template(t, caddyConfig,
		shippedGuard, guard,
		shippedUpstream, upstream,
		":80 {", fmt.Sprintf(":%d {", port))
	if err := os.WriteFile(file, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "run", "--config", file, "--adapter", "caddyfile")
	cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_DATA_HOME="+dir, "XDG_CONFIG_HOME="+dir)
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	startProxy(t, cmd, base, "")
	return base
}

// TestServeBehindNginx and TestServeBehindCaddy send requests through the
// real proxy, with its shipped configuration, to an upstream that echoes
// the headers it received.
func TestServeBehindNginx(t *testing.T) { testBehindProxy(t, startNginx, false) }
func TestServeBehindCaddy(t *testing.T) { testBehindProxy(t, startCaddy, true) }

// TestMetadataBehindNginx and TestMetadataBehindCaddy follow a 401's
// resource_metadata through the proxy: the shipped file routes it to serve,
// which answers the document without a token.
func TestMetadataBehindNginx(t *testing.T) { testMetadataBehindProxy(t, startNginx) }
func TestMetadataBehindCaddy(t *testing.T) { testMetadataBehindProxy(t, startCaddy) }

func testMetadataBehindProxy(t *testing.T, start func(t *testing.T, guard, upstream string) string) {
	iss := adaptertest.NewIssuer(t)
	g := startGuard(t, guardConfig(iss, "public_url: "+adaptertest.API))
	up := newEchoUpstream(t)
	base := start(t, strings.TrimPrefix(g.url, "http://"), strings.TrimPrefix(up.URL, "http://"))

	res := serveDo(t, mustRequest(t, "GET", base+"/read"))
	const want = `resource_metadata="` + adaptertest.API + middleware.ResourceMetadataPath + `"`
	if res.status != http.StatusUnauthorized || !strings.Contains(res.header.Get("WWW-Authenticate"), want) {
		t.Fatalf("GET /read without a token: %d %q, want 401 with %s", res.status, res.header.Get("WWW-Authenticate"), want)
	}
	checkMetadata(t, base+middleware.ResourceMetadataPath, iss.Issuer())
	if n := up.hits.Load(); n != 0 {
		t.Errorf("the upstream got %d requests, want none", n)
	}
}

func testBehindProxy(t *testing.T, start func(t *testing.T, guard, upstream string) string, passesBody bool) {
	iss := adaptertest.NewIssuer(t)
	g := startGuard(t, guardConfig(iss, ""))
	up := newEchoUpstream(t)
	base := start(t, strings.TrimPrefix(g.url, "http://"), strings.TrimPrefix(up.URL, "http://"))

	readToken := iss.M2MToken("inventory-sync", adaptertest.API, "read:products")
	writeToken := iss.M2MToken("inventory-sync", adaptertest.API, "write:products")
	orgToken := iss.OrganizationToken("user-1", "spa", "acme", "read:products")
	spoofed := map[string]string{
		"X-Logto-Subject": "admin", "X-Logto-Client-Id": "admin-console", "X-Logto-Scopes": "admin",
		"X-Logto-Organization-Id": "acme", "X-Logto-M2M": "true", "X-Logto-Actor": "admin-agent",
	}
	tests := []struct {
		name, method, path, token string
		status                    int
		challenge, body           string
		// upstream is what the upstream must have received of the
		// X-Logto-* headers; nil when the request must not reach it.
		upstream map[string]string
	}{
		{
			name: "valid token: the identity reaches the upstream, not the client's", method: "GET", path: "/read?page=2", token: readToken,
			status: 200, upstream: map[string]string{"X-Logto-Subject": "inventory-sync", "X-Logto-Client-Id": "inventory-sync", "X-Logto-Scopes": "read:products", "X-Logto-M2m": "true"},
		},
		{
			name: "organization token on its organization's route", method: "GET", path: "/orgs/acme/products", token: orgToken,
			status: 200, upstream: map[string]string{"X-Logto-Subject": "user-1", "X-Logto-Client-Id": "spa", "X-Logto-Scopes": "read:products", "X-Logto-Organization-Id": "acme", "X-Logto-M2m": "false"},
		},
		{
			name: "delegated token: the actor reaches the upstream, not the client's", method: "GET", path: "/agents", token: iss.DelegatedToken("user-1", "support-agent", "helpdesk", adaptertest.API, "read:products"),
			status: 200, upstream: map[string]string{"X-Logto-Subject": "user-1", "X-Logto-Client-Id": "helpdesk", "X-Logto-Scopes": "read:products", "X-Logto-M2m": "false", "X-Logto-Actor": "support-agent"},
		},
		{
			name: "delegated token on a route that refuses them: 403", method: "GET", path: "/own", token: iss.DelegatedToken("user-1", "support-agent", "helpdesk", adaptertest.API),
			status: 403, challenge: `Bearer realm="api", error="insufficient_scope", error_description="this route accepts only the subject's own tokens, not one acting for it (act 'support-agent')"`,
			body: `{"error":"insufficient_scope","error_description":"this route accepts only the subject's own tokens, not one acting for it (act 'support-agent')"}` + "\n",
		},
		{
			name: "a URL client ID of 2,048 characters reaches the upstream whole", method: "GET", path: "/me", token: iss.UserToken("user-1", urlClientID, adaptertest.API, "read:products"),
			status: 200, upstream: map[string]string{"X-Logto-Subject": "user-1", "X-Logto-Client-Id": urlClientID, "X-Logto-Scopes": "read:products", "X-Logto-M2m": "false"},
		},
		{
			name: "public route: no identity at all reaches the upstream", method: "GET", path: "/public/logo.png",
			status: 200, upstream: map[string]string{},
		},
		{
			name: "no token: 401 and its challenge", method: "GET", path: "/read",
			status: 401, challenge: `Bearer realm="api"`,
			body: `{"error":"unauthorized","error_description":"a bearer token is required"}` + "\n",
		},
		{
			name: "expired token: 401 invalid_token", method: "GET", path: "/read", token: iss.ExpiredToken("inventory-sync", adaptertest.API, "read:products"),
			status: 401, challenge: `Bearer realm="api", error="invalid_token", error_description="the token has expired"`,
			body: `{"error":"invalid_token","error_description":"the token has expired"}` + "\n",
		},
		{
			name: "the route's scopes are enforced: 403 and its challenge", method: "GET", path: "/read", token: writeToken,
			status: 403, challenge: `Bearer realm="api", error="insufficient_scope", error_description="the token lacks the scopes: read:products", scope="read:products"`,
			body: `{"error":"insufficient_scope","error_description":"the token lacks the scopes: read:products"}` + "\n",
		},
		{
			name: "another organization's route: 403", method: "GET", path: "/orgs/globex/products", token: orgToken,
			status: 403, challenge: `Bearer realm="api", error="insufficient_scope", error_description="the token is not for organization 'globex'"`,
			body: `{"error":"insufficient_scope","error_description":"the token is not for organization 'globex'"}` + "\n",
		},
		{
			name: "no route: default deny", method: "DELETE", path: "/read", token: readToken,
			status: 403, challenge: `Bearer realm="api", error="insufficient_scope", error_description="no route of the gateway admits this request"`,
			body: `{"error":"insufficient_scope","error_description":"no route of the gateway admits this request"}` + "\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, base+tt.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range spoofed {
				req.Header.Set(k, v)
			}
			if tt.token != "" {
				req.Header.Set("Authorization", "Bearer "+tt.token)
			}
			before := up.hits.Load()
			got := serveDo(t, req)
			if got.status != tt.status {
				t.Fatalf("status %d, want %d\n%s", got.status, tt.status, got.body)
			}
			hits := up.hits.Load() - before
			if tt.upstream == nil {
				if hits != 0 {
					t.Errorf("a refused request reached the upstream")
				}
				if ch := got.header.Values("WWW-Authenticate"); len(ch) != 1 || ch[0] != tt.challenge {
					t.Errorf("WWW-Authenticate %q, want [%q]", ch, tt.challenge)
				}
				if passesBody && got.body != tt.body {
					t.Errorf("body %q, want %q", got.body, tt.body)
				}
				if !passesBody && !strings.HasPrefix(got.header.Get("Content-Type"), "application/json") {
					t.Errorf("Content-Type %q, want application/json", got.header.Get("Content-Type"))
				}
				return
			}
			if hits != 1 {
				t.Fatalf("the upstream got %d requests, want 1", hits)
			}
			var seen http.Header
			if err := json.Unmarshal([]byte(got.body), &seen); err != nil {
				t.Fatalf("upstream answer %q: %v", got.body, err)
			}
			for k, v := range seen {
				if !strings.HasPrefix(strings.ToLower(k), "x-logto-") {
					continue
				}
				if want, ok := tt.upstream[k]; !ok || len(v) != 1 || v[0] != want {
					t.Errorf("the upstream got %s: %q, want %q", k, v, want)
				}
			}
			for k, want := range tt.upstream {
				if _, ok := seen[k]; !ok {
					t.Errorf("the upstream got no %s, want %q", k, want)
				}
			}
		})
	}

	t.Run("a path that is not canonical never reaches the upstream", func(t *testing.T) {
		conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		before := up.hits.Load()
		// Written by hand: a client would clean the path.
		fmt.Fprintf(conn, "GET /public/%%2e%%2e/read HTTP/1.1\r\nHost: api.example.com\r\nConnection: close\r\n\r\n")
		var status string
		if _, err := fmt.Fscanf(conn, "HTTP/1.1 %s", &status); err != nil {
			t.Fatal(err)
		}
		if status == "200" || up.hits.Load() != before {
			t.Errorf("status %s, hits %d: the request reached the upstream", status, up.hits.Load()-before)
		}
	})

	// When logtoguard does not answer, the proxy fails closed.
	t.Run("logtoguard down: refused", func(t *testing.T) {
		if err := g.s.http.Close(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Fatal(err)
		}
		req, _ := http.NewRequest("GET", base+"/read", nil)
		req.Header.Set("Authorization", "Bearer "+readToken)
		before := up.hits.Load()
		got := serveDo(t, req)
		if got.status < 500 || up.hits.Load() != before {
			t.Errorf("status %d with logtoguard down, want 5xx and no request upstream", got.status)
		}
	})
}
