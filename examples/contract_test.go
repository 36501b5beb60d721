package examples_test

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/logtoguard/logtoguard/logtotest"
)

// servers are the example APIs that must honour the same contract, byte for
// byte.
var servers = []string{"nethttp", "gin", "echo"}

const api = "https://api.example.com"

var (
	buildMu sync.Mutex
	binDir  string
	built   = map[string]bool{}
)

// binary builds an example program once per test run, with the race
// detector: the servers run real concurrent requests in these tests, and a
// race they hit makes start's cleanup fail the test (or, for a program that
// runs to its end, makes it exit with status 66).
func binary(t testing.TB, name string) string {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	if binDir == "" {
		dir, err := os.MkdirTemp("", "logtoguard-examples-")
		if err != nil {
			t.Fatal(err)
		}
		binDir = dir
	}
	path := filepath.Join(binDir, name)
	if !built[name] {
		out, err := exec.Command("go", "build", "-race", "-o", path, "./"+name).CombinedOutput()
		if err != nil {
			t.Fatalf("go build ./%s: %v\n%s", name, err, out)
		}
		built[name] = true
	}
	return path
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		_ = os.RemoveAll(binDir) // a temp dir: left behind at worst
	}
	os.Exit(code)
}

// server is a running example server.
type server struct {
	URL    string
	cmd    *exec.Cmd
	stderr *strings.Builder
}

// start runs an example server with env and waits until it listens.
func start(t testing.TB, name string, env ...string) *server {
	t.Helper()
	cmd := exec.Command(binary(t, name))
	cmd.Env = append(os.Environ(), append([]string{"ADDR=127.0.0.1:0"}, env...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	s := &server{cmd: cmd, stderr: &strings.Builder{}}
	cmd.Stderr = s.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if strings.Contains(s.stderr.String(), "WARNING: DATA RACE") {
			t.Errorf("%s hit a data race:\n%s", name, s.stderr)
		}
	})
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if _, addr, ok := strings.Cut(sc.Text(), "listening on "); ok {
				lines <- addr
			}
		}
		close(lines)
	}()
	select {
	case addr, ok := <-lines:
		if !ok {
			t.Fatalf("%s exited before listening: %s", name, s.stderr)
		}
		s.URL = addr
	case <-time.After(20 * time.Second):
		t.Fatalf("%s did not start: %s", name, s.stderr)
	}
	return s
}

// publicURL is the PUBLIC_URL of the servers under contract: where their
// resource metadata is said to be.
const publicURL = "https://api.example.com"

func logtoEnv(iss *logtotest.Issuer) []string {
	return []string{"LOGTO_ENDPOINT=" + iss.Endpoint(), "LOGTO_API_RESOURCE=" + api}
}

// response is what the contract compares.
type response struct {
	Status  int
	Headers map[string]string
	Body    string
}

var compared = []string{"Content-Type", "WWW-Authenticate", "Retry-After", "Cache-Control"}

func do(t testing.TB, method, url string, header http.Header) response {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	r := response{Status: resp.StatusCode, Headers: map[string]string{}, Body: string(body)}
	for _, h := range compared {
		if v := resp.Header.Get(h); v != "" {
			r.Headers[h] = v
		}
	}
	return r
}

func bearer(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }

func waitReady(t testing.TB, s *server) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for do(t, "GET", s.URL+"/readyz", nil).Status != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatal("server never became ready")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type row struct {
	name   string
	method string
	path   string
	header http.Header
	status int
	check  func(t *testing.T, r response)
}

// tampered returns two tampered copies of read, a token with the scope
// read:products. They stay well-formed, so that they reach the signature
// check: one signature byte changed, and a payload that grants itself
// write:products under the original signature.
func tampered(read string) (badSignature, forgedScope string) {
	parts := strings.Split(read, ".")
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		panic(err)
	}
	sig[len(sig)/2] ^= 0x01
	badSignature = parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(sig)
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil || !strings.Contains(string(payload), `"scope":"read:products"`) {
		panic(fmt.Sprintf("payload %s: %v", payload, err))
	}
	payload = []byte(strings.Replace(string(payload), `"scope":"read:products"`, `"scope":"read:products write:products"`, 1))
	forgedScope = parts[0] + "." + base64.RawURLEncoding.EncodeToString(payload) + "." + parts[2]
	return badSignature, forgedScope
}

// contractRows are the requests of the contract, with tokens from iss.
func contractRows(iss *logtotest.Issuer) []row {
	read := iss.M2MToken("inventory-sync", api, "read:products")
	write := iss.M2MToken("inventory-admin", api, "read:products", "write:products")
	user := iss.Mint(logtotest.Token{Subject: "user-1", ClientID: "spa-app", Audience: api, Scopes: []string{"read:products"}, OrganizationID: "org-1"})
	noScopes := iss.M2MToken("bare-app", api)
	orgNoScope := iss.Mint(logtotest.Token{Subject: "user-1", ClientID: "spa-app", Audience: api, OrganizationID: "org-1"})
	badSignature, forgedScope := tampered(read)

	challenge := func(want string) func(t *testing.T, r response) {
		return func(t *testing.T, r response) {
			t.Helper()
			if got := r.Headers["WWW-Authenticate"]; !strings.HasPrefix(got, want) {
				t.Errorf("WWW-Authenticate %q, want prefix %q", got, want)
			}
		}
	}
	jsonField := func(field, want string) func(t *testing.T, r response) {
		return func(t *testing.T, r response) {
			t.Helper()
			var m map[string]any
			if err := json.Unmarshal([]byte(r.Body), &m); err != nil {
				t.Fatalf("body %q: %v", r.Body, err)
			}
			if got := fmt.Sprint(m[field]); !strings.Contains(got, want) {
				t.Errorf("%s = %q, want it to contain %q", field, got, want)
			}
		}
	}
	signature := func(t *testing.T, r response) {
		t.Helper()
		challenge(`Bearer realm="api", error="invalid_token", error_description="the token's signature is invalid"`)(t, r)
		jsonField("error_description", "the token's signature is invalid")(t, r)
	}
	return []row{
		{"healthz", "GET", "/healthz", nil, 200, jsonField("status", "ok")},
		{"readyz", "GET", "/readyz", nil, 200, jsonField("status", "ready")},
		{"no token", "GET", "/products", nil, 401, func(t *testing.T, r response) {
			want := `Bearer realm="api", resource_metadata="` + publicURL + `/.well-known/oauth-protected-resource"`
			if r.Headers["WWW-Authenticate"] != want {
				t.Errorf("WWW-Authenticate %q, want %q", r.Headers["WWW-Authenticate"], want)
			}
		}},
		{"resource metadata", "GET", "/.well-known/oauth-protected-resource", nil, 200, func(t *testing.T, r response) {
			want := `{"resource":"` + api + `","authorization_servers":["` + iss.Issuer() + `"],"scopes_supported":["read:products","write:products"],"bearer_methods_supported":["header"],"resource_name":"Example products API"}` + "\n"
			if r.Body != want {
				t.Errorf("body %q, want %q", r.Body, want)
			}
		}},
		{"organization products", "GET", "/orgs/org-1/products", bearer(user), 200, jsonField("organization_id", "org-1")},
		{"other organization", "GET", "/orgs/org-2/products", bearer(user), 403, challenge(`Bearer realm="api", error="insufficient_scope", error_description="the token is not for organization 'org-2'"`)},
		{"organization without organization_id", "GET", "/orgs/org-1/products", bearer(read), 403, jsonField("error_description", "organization_id")},
		{"organization without scope", "GET", "/orgs/org-1/products", bearer(orgNoScope), 403, challenge(`Bearer realm="api", error="insufficient_scope", error_description="the token lacks the scopes: read:products", scope="read:products"`)},
		{"sync by a listed app", "POST", "/sync", bearer(read), 200, func(t *testing.T, r response) {
			if want := `{"status":"synced","app_id":"inventory-sync"}` + "\n"; r.Body != want {
				t.Errorf("body %q, want %q", r.Body, want)
			}
		}},
		{"sync by an unlisted app", "POST", "/sync", bearer(noScopes), 403, jsonField("error_description", "the app 'bare-app' may not use this route")},
		{"sync by a user", "POST", "/sync", bearer(user), 403, jsonField("error_description", "machine-to-machine apps only")},
		{"products", "GET", "/products", bearer(read), 200, func(t *testing.T, r response) {
			var list []map[string]any
			if err := json.Unmarshal([]byte(r.Body), &list); err != nil || len(list) == 0 {
				t.Errorf("body %q is not a JSON array of products", r.Body)
			}
		}},
		{"lowercase scheme", "GET", "/products", http.Header{"Authorization": {"bearer " + read}}, 200, nil},
		{"create without write", "POST", "/products", bearer(read), 403, challenge(`Bearer realm="api", error="insufficient_scope"`)},
		{"create scope hint", "POST", "/products", bearer(noScopes), 403, func(t *testing.T, r response) {
			if !strings.HasSuffix(r.Headers["WWW-Authenticate"], `scope="write:products", resource_metadata="`+publicURL+`/.well-known/oauth-protected-resource"`) {
				t.Errorf("WWW-Authenticate %q lacks the scope", r.Headers["WWW-Authenticate"])
			}
		}},
		{"create", "POST", "/products", bearer(write), 201, nil},
		{"whoami m2m", "GET", "/whoami", bearer(read), 200, func(t *testing.T, r response) {
			want := `{"sub":"inventory-sync","client_id":"inventory-sync","m2m":true,"scopes":["read:products"]}` + "\n"
			if r.Body != want {
				t.Errorf("body %q, want %q", r.Body, want)
			}
		}},
		{"whoami user", "GET", "/whoami", bearer(user), 200, func(t *testing.T, r response) {
			want := `{"sub":"user-1","client_id":"spa-app","m2m":false,"scopes":["read:products"],"organization_id":"org-1"}` + "\n"
			if r.Body != want {
				t.Errorf("body %q, want %q", r.Body, want)
			}
		}},
		{"whoami no scopes", "GET", "/whoami", bearer(noScopes), 200, jsonField("scopes", "[]")},
		{"whoami delegated", "GET", "/whoami", bearer(iss.DelegatedToken("user-1", "support-agent", "helpdesk", api, "read:products")), 200, func(t *testing.T, r response) {
			want := `{"sub":"user-1","client_id":"helpdesk","m2m":false,"scopes":["read:products"],"act":"support-agent"}` + "\n"
			if r.Body != want {
				t.Errorf("body %q, want %q", r.Body, want)
			}
		}},
		{"expired", "GET", "/products", bearer(iss.ExpiredToken("inventory-sync", api, "read:products")), 401, jsonField("error_description", "expired")},
		{"tampered signature", "GET", "/products", bearer(badSignature), 401, signature},
		{"tampered payload", "POST", "/products", bearer(forgedScope), 401, signature},
		{"foreign key", "GET", "/products", bearer(iss.ForeignKeyToken("inventory-sync", api, "read:products")), 401, challenge(`Bearer realm="api", error="invalid_token"`)},
		{"opaque", "GET", "/products", bearer(iss.OpaqueToken()), 401, jsonField("error_description", "resource=")},
		{"ID token", "GET", "/whoami", bearer(iss.IDToken("user-1", "spa-app")), 401, jsonField("error_description", "access token")},
		{"management API token", "GET", "/whoami", bearer(iss.WrongAudienceToken("inventory-sync")), 401, jsonField("error_description", "Management API")},
		{"two headers", "GET", "/products", http.Header{"Authorization": {"Bearer " + read, "Bearer " + read}}, 400, challenge(`Bearer realm="api", error="invalid_request"`)},
		{"query token", "GET", "/products?access_token=" + read, nil, 400, challenge(`Bearer realm="api", error="invalid_request"`)},
		{"basic auth", "GET", "/products", http.Header{"Authorization": {"Basic YTpi"}}, 401, nil},
	}
}

func TestContract(t *testing.T) {
	results := map[string][]response{}
	// One tenant for the three servers, so that their answers, which name
	// the issuer, can be compared byte for byte.
	iss := logtotest.New(t)
	rows := contractRows(iss)
	for _, name := range servers {
		t.Run(name, func(t *testing.T) {
			s := start(t, name, append(logtoEnv(iss), "PUBLIC_URL="+publicURL+"/", "LOGTO_SYNC_APP_IDS=inventory-sync, inventory-admin")...)
			waitReady(t, s)
			for _, r := range rows {
				t.Run(r.name, func(t *testing.T) {
					got := do(t, r.method, s.URL+r.path, r.header)
					if got.Status != r.status {
						t.Fatalf("status %d, want %d; body %s", got.Status, r.status, got.Body)
					}
					if got.Headers["Content-Type"] != "application/json" {
						t.Errorf("Content-Type %q", got.Headers["Content-Type"])
					}
					if r.check != nil {
						r.check(t, got)
					}
					results[name] = append(results[name], got)
				})
			}
		})
	}
	// Byte for byte: every server answers as the net/http one does.
	for _, name := range servers[1:] {
		for i, want := range results[servers[0]] {
			if i >= len(results[name]) {
				t.Errorf("%s: missing results", name)
				break
			}
			if got := results[name][i]; fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("%s differs from %s on %q:\n got %+v\nwant %+v", name, servers[0], rows[i].name, got, want)
			}
		}
	}
}

// TestRotationWithoutRestart: after an immediate rotation in Logto, the
// first token signed with the new key is accepted and the old key's tokens
// are refused, with no restart.
func TestRotationWithoutRestart(t *testing.T) {
	for _, name := range servers {
		t.Run(name, func(t *testing.T) {
			iss := logtotest.New(t)
			s := start(t, name, logtoEnv(iss)...)
			waitReady(t, s)
			old := iss.M2MToken("inventory-sync", api, "read:products")
			if r := do(t, "GET", s.URL+"/products", bearer(old)); r.Status != 200 {
				t.Fatalf("before rotation: %+v", r)
			}
			iss.RotateKeys()
			if r := do(t, "GET", s.URL+"/products", bearer(iss.M2MToken("inventory-sync", api, "read:products"))); r.Status != 200 {
				t.Fatalf("first token after rotation: %+v", r)
			}
			if r := do(t, "GET", s.URL+"/products", bearer(old)); r.Status != 401 {
				t.Fatalf("token of the removed key: %+v", r)
			}
		})
	}
}

func TestKeysNeverLoaded(t *testing.T) {
	for _, name := range servers {
		t.Run(name, func(t *testing.T) {
			iss := logtotest.New(t)
			iss.SetJWKSDown(true)
			s := start(t, name, logtoEnv(iss)...)
			if r := do(t, "GET", s.URL+"/readyz", nil); r.Status != 503 {
				t.Fatalf("readyz %d, want 503", r.Status)
			}
			r := do(t, "GET", s.URL+"/products", bearer(iss.M2MToken("a", api, "read:products")))
			if r.Status != 503 || r.Headers["Retry-After"] == "" || r.Headers["WWW-Authenticate"] != "" {
				t.Fatalf("products with keys never loaded: %+v", r)
			}
			if r := do(t, "GET", s.URL+"/healthz", nil); r.Status != 200 {
				t.Fatalf("healthz %d", r.Status)
			}
			iss.SetJWKSDown(false)
			waitReady(t, s) // recovers by itself, no restart
			if r := do(t, "GET", s.URL+"/products", bearer(iss.M2MToken("a", api, "read:products"))); r.Status != 200 {
				t.Fatalf("after recovery: %+v", r)
			}
		})
	}
}

func TestBadSettings(t *testing.T) {
	tests := []struct {
		name string
		env  []string
		want string
	}{
		{"nothing", nil, "LOGTO_ENDPOINT"},
		{"no resource", []string{"LOGTO_ENDPOINT=http://127.0.0.1:1"}, "LOGTO_API_RESOURCE"},
		{"bad endpoint", []string{"LOGTO_ENDPOINT=localhost:3001", "LOGTO_API_RESOURCE=" + api}, "LOGTO_ENDPOINT"},
		{"bad issuer", []string{"LOGTO_ISSUER=https://a.example/oidc,nope", "LOGTO_API_RESOURCE=" + api}, "LOGTO_ISSUER"},
		{"bad jwks", []string{"LOGTO_ENDPOINT=http://127.0.0.1:1", "LOGTO_JWKS_URI=/jwks", "LOGTO_API_RESOURCE=" + api}, "LOGTO_JWKS_URI"},
		{"bad addr", []string{"LOGTO_ENDPOINT=http://127.0.0.1:1", "LOGTO_API_RESOURCE=" + api, "ADDR=nonsense"}, "ADDR"},
		{"bad public URL", []string{"LOGTO_ENDPOINT=http://127.0.0.1:1", "LOGTO_API_RESOURCE=" + api, "PUBLIC_URL=api.example.com"}, "PUBLIC_URL"},
		{"plain http to a remote Logto", []string{"LOGTO_ENDPOINT=http://logto:3001", "LOGTO_API_RESOURCE=" + api}, "LOGTO_ALLOW_INSECURE_HTTP=true"},
		{"bad insecure switch", []string{"LOGTO_ENDPOINT=http://127.0.0.1:1", "LOGTO_API_RESOURCE=" + api, "LOGTO_ALLOW_INSECURE_HTTP=maybe"}, "LOGTO_ALLOW_INSECURE_HTTP"},
		{"short webhook key", []string{"LOGTO_ENDPOINT=http://127.0.0.1:1", "LOGTO_API_RESOURCE=" + api, "LOGTO_WEBHOOK_SIGNING_KEY=0123456789abcdefghijklmnopqrstuv,short"}, "LOGTO_WEBHOOK_SIGNING_KEY"},
	}
	for _, name := range append(servers[:len(servers):len(servers)], rpcServers...) {
		for _, tt := range tests {
			t.Run(name+"/"+tt.name, func(t *testing.T) {
				cmd := exec.Command(binary(t, name))
				cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
				cmd.Env = append(cmd.Env, tt.env...)
				var stderr strings.Builder
				cmd.Stderr = &stderr
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				done := make(chan error, 1)
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				go func() { done <- cmd.Wait() }()
				select {
				case err := <-done:
					if err == nil {
						t.Fatal("exit status 0 with a bad setting")
					}
				case <-ctx.Done():
					_ = cmd.Process.Kill()
					t.Fatal("still running with a bad setting")
				}
				out := strings.TrimSpace(stderr.String())
				if strings.Count(out, "\n") != 0 || !strings.Contains(out, tt.want) {
					t.Fatalf("stderr %q: want one line naming %s", out, tt.want)
				}
			})
		}
	}
}

func TestGracefulShutdown(t *testing.T) {
	iss := logtotest.New(t)
	for _, name := range append(servers[:len(servers):len(servers)], rpcServers...) {
		t.Run(name, func(t *testing.T) {
			s := start(t, name, logtoEnv(iss)...)
			waitReady(t, s)
			if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- s.cmd.Wait() }()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("exit after SIGTERM: %v; %s", err, s.stderr)
				}
			case <-time.After(15 * time.Second):
				t.Fatal("no exit after SIGTERM")
			}
		})
	}
}
