package middleware_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/logtoguard/logtoguard/logtotest"
	"github.com/logtoguard/logtoguard/middleware"
)

// noNetwork is a client that sends nothing anywhere: the table below checks
// what New accepts, and a URL it accepts must not be fetched from a test.
var noNetwork = &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
	return nil, errors.New("test: no network for " + r.URL.Host)
})}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestPlainHTTPRefused: New refuses plain http to a host that is not
// loopback in every URL the keys come from, naming the field and the fix;
// loopback is always allowed, and AllowInsecureHTTP allows the rest.
func TestPlainHTTPRefused(t *testing.T) {
	tests := []struct {
		name  string
		cfg   middleware.Config
		field string // "" = accepted
	}{
		{"public endpoint", middleware.Config{Endpoint: "http://t.logto.app"}, `Endpoint "http://t.logto.app"`},
		{"public issuer", middleware.Config{Issuers: []string{"https://auth.example.com/oidc", "http://t.logto.app/oidc"}}, `Issuers[1] "http://t.logto.app/oidc"`},
		{"public JWKS URL", middleware.Config{Endpoint: "https://t.logto.app", JWKSURL: "http://t.logto.app/oidc/jwks"}, `JWKSURL "http://t.logto.app/oidc/jwks"`},
		{"public tenant endpoint", middleware.Config{Endpoint: "https://a.logto.app", Tenants: []middleware.Tenant{{Endpoint: "http://b.logto.app"}}}, `Tenants[0].Endpoint "http://b.logto.app"`},
		{"public tenant issuer", middleware.Config{Endpoint: "https://a.logto.app", Tenants: []middleware.Tenant{{Endpoint: "https://b.logto.app"}, {Issuers: []string{"http://c.logto.app/oidc"}}}}, `Tenants[1].Issuers[0] "http://c.logto.app/oidc"`},
		{"public tenant JWKS URL", middleware.Config{Endpoint: "https://a.logto.app", Tenants: []middleware.Tenant{{Endpoint: "https://b.logto.app", JWKSURL: "http://b.logto.app/oidc/jwks"}}}, `Tenants[0].JWKSURL "http://b.logto.app/oidc/jwks"`},
		{"private host", middleware.Config{Endpoint: "http://logto:3001"}, `Endpoint "http://logto:3001"`},
		{"private address", middleware.Config{Endpoint: "http://10.0.0.5:3001"}, `Endpoint "http://10.0.0.5:3001"`},
		{"unspecified address", middleware.Config{Endpoint: "http://0.0.0.0:3001"}, `Endpoint "http://0.0.0.0:3001"`},
		{"localhost look-alike", middleware.Config{Endpoint: "http://localhost.example.com"}, `Endpoint "http://localhost.example.com"`},

		{"localhost", middleware.Config{Endpoint: "http://localhost:3001"}, ""},
		{"127.0.0.1", middleware.Config{Endpoint: "http://127.0.0.1:3001"}, ""},
		{"127.0.0.0/8", middleware.Config{Issuers: []string{"http://127.0.1.1:3001/oidc"}}, ""},
		{"::1", middleware.Config{Endpoint: "http://[::1]:3001"}, ""},
		{"loopback JWKS URL", middleware.Config{Endpoint: "https://t.logto.app", JWKSURL: "http://127.0.0.1:3001/oidc/jwks"}, ""},
		{"https", middleware.Config{Endpoint: "https://t.logto.app"}, ""},
		{"private host allowed", middleware.Config{Endpoint: "http://logto:3001", AllowInsecureHTTP: true}, ""},
		{"public tenant allowed", middleware.Config{Endpoint: "https://a.logto.app", Tenants: []middleware.Tenant{{Endpoint: "http://b.logto.app"}}, AllowInsecureHTTP: true}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			cfg.Audiences = []string{api}
			cfg.HTTPClient = noNetwork
			v, err := middleware.New(cfg)
			if tt.field == "" {
				if err != nil {
					t.Fatalf("New = %v, want no error", err)
				}
				v.Close()
				return
			}
			if err == nil {
				v.Close()
				t.Fatalf("New = nil error, want %s refused", tt.field)
			}
			for _, want := range []string{"middleware: " + tt.field + " is plain http", "use https", "AllowInsecureHTTP"} {
				if !strings.Contains(err.Error(), want) {
					t.Fatalf("New = %q, want it to contain %q", err, want)
				}
			}
		})
	}
}

// TestPrivateHostAllowed: with AllowInsecureHTTP, a Logto reached as
// http://logto:3001 (a Docker Compose service name) verifies tokens end to
// end. The client dials the test issuer on 127.0.0.1 whatever the name,
// so nothing leaves the machine, not even a DNS query.
func TestPrivateHostAllowed(t *testing.T) {
	const endpoint = "http://logto:3001"
	iss := logtotest.New(t, logtotest.WithIssuer(endpoint+"/oidc"))
	addr := strings.TrimPrefix(iss.Endpoint(), "http://")
	var (
		mu    sync.Mutex
		hosts []string
	)
	client := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, host string) (net.Conn, error) {
			mu.Lock()
			hosts = append(hosts, host)
			mu.Unlock()
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
	}}
	t.Cleanup(client.CloseIdleConnections)
	v, err := middleware.New(middleware.Config{
		Issuers:           []string{endpoint + "/oidc"},
		JWKSURL:           endpoint + "/oidc/jwks",
		Audiences:         []string{api},
		HTTPClient:        client,
		AllowInsecureHTTP: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := v.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	c, err := v.Verify(ctx, iss.M2MToken("app1", api, "read:products"))
	if err != nil {
		t.Fatalf("Verify = %v", err)
	}
	if c.Issuer != endpoint+"/oidc" {
		t.Fatalf("iss = %q, want %q", c.Issuer, endpoint+"/oidc")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(hosts) == 0 || hosts[0] != "logto:3001" {
		t.Fatalf("dialled %v, want logto:3001", hosts)
	}
}
