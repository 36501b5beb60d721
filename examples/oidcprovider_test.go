package examples_test

import (
	"context"
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/logtoguard/logtoguard/internal/oidcprovider"
)

// startProvider runs the real oidc-provider, configured like Logto. It fails
// the test, never skips it, when the provider cannot start.
func startProvider(t *testing.T, opts oidcprovider.Options) *oidcprovider.Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srv, err := oidcprovider.Start(ctx, opts)
	if err != nil {
		t.Fatalf("oidc-provider did not start: %v", err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}

func providerToken(t *testing.T, srv *oidcprovider.Server, scope string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tr, err := srv.ClientCredentials(ctx, oidcprovider.DefaultClientID, oidcprovider.DefaultClientSecret, api, scope)
	if err != nil {
		t.Fatalf("token request: %v", err)
	}
	if tr.Status != 200 || tr.AccessToken == "" {
		t.Fatalf("token request: status %d, body %s", tr.Status, tr.Body)
	}
	return tr.AccessToken
}

// tamper changes one character in the middle of the token's payload.
func tamper(tok string) string {
	parts := strings.Split(tok, ".")
	p := []byte(parts[1])
	i := len(p) / 2
	if p[i] == 'A' {
		p[i] = 'B'
	} else {
		p[i] = 'A'
	}
	return parts[0] + "." + string(p) + "." + parts[2]
}

// TestRealProvider runs every example server against genuine access tokens
// from oidc-provider, signed with ES384 (Logto's default) and with RS256,
// and with two keys in the JWKS.
func TestRealProvider(t *testing.T) {
	keys := []struct {
		name string
		opts oidcprovider.Options
	}{
		{"ES384", oidcprovider.Options{Key: oidcprovider.KeyECP384}},
		{"RS256", oidcprovider.Options{Key: oidcprovider.KeyRSA}},
		// Mid-rotation: the JWKS publishes the previous key too.
		{"ES384 two keys", oidcprovider.Options{Key: oidcprovider.KeyECP384Next, ExtraKeys: []string{oidcprovider.KeyECP384}}},
	}
	for _, k := range keys {
		t.Run(k.name, func(t *testing.T) {
			srv := startProvider(t, k.opts)
			read := providerToken(t, srv, "read:products")
			write := providerToken(t, srv, "read:products write:products")
			for _, name := range servers {
				t.Run(name, func(t *testing.T) {
					s := start(t, name, "LOGTO_ENDPOINT="+srv.URL, "LOGTO_API_RESOURCE="+api)
					waitReady(t, s)
					checks := []struct {
						name, method, path, token string
						status                    int
					}{
						{"read", "GET", "/products", read, 200},
						{"create with read only", "POST", "/products", read, 403},
						{"create", "POST", "/products", write, 201},
						{"tampered", "GET", "/products", tamper(read), 401},
						{"tampered write", "POST", "/products", tamper(write), 401},
					}
					for _, c := range checks {
						if r := do(t, c.method, s.URL+c.path, bearer(c.token)); r.Status != c.status {
							t.Errorf("%s: %s %s: status %d, want %d; %+v", c.name, c.method, c.path, r.Status, c.status, r)
						}
					}
					r := do(t, "GET", s.URL+"/whoami", bearer(read))
					var who struct {
						ClientID string   `json:"client_id"`
						M2M      bool     `json:"m2m"`
						Scopes   []string `json:"scopes"`
					}
					if err := json.Unmarshal([]byte(r.Body), &who); err != nil || r.Status != 200 {
						t.Fatalf("whoami: %+v", r)
					}
					if who.ClientID != oidcprovider.DefaultClientID || !who.M2M || strings.Join(who.Scopes, " ") != "read:products" {
						t.Errorf("whoami: %s", r.Body)
					}
				})
			}
		})
	}
}

// TestRealProviderRestartWithNewKey: the provider restarts on the same
// endpoint with a new signing key (and without the old one); the running
// servers accept its tokens without a restart of their own.
func TestRealProviderRestartWithNewKey(t *testing.T) {
	first := startProvider(t, oidcprovider.Options{Key: oidcprovider.KeyECP384})
	old := providerToken(t, first, "read:products")
	var running []*server
	for _, name := range servers {
		s := start(t, name, "LOGTO_ENDPOINT="+first.URL, "LOGTO_API_RESOURCE="+api)
		waitReady(t, s)
		if r := do(t, "GET", s.URL+"/products", bearer(old)); r.Status != 200 {
			t.Fatalf("%s before the restart: %+v", name, r)
		}
		running = append(running, s)
	}
	u, err := url.Parse(first.URL)
	if err != nil {
		t.Fatal(err)
	}
	port, _ := strconv.Atoi(u.Port())
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	second := startProvider(t, oidcprovider.Options{Key: oidcprovider.KeyECP384Next, Port: port})
	if second.URL != first.URL {
		t.Fatalf("restarted at %s, want %s", second.URL, first.URL)
	}
	fresh := providerToken(t, second, "read:products")
	for i, s := range running {
		if r := do(t, "GET", s.URL+"/products", bearer(fresh)); r.Status != 200 {
			t.Fatalf("%s with the new key: %+v", servers[i], r)
		}
		if r := do(t, "GET", s.URL+"/products", bearer(old)); r.Status != 401 {
			t.Fatalf("%s with the removed key: %+v", servers[i], r)
		}
	}
}
