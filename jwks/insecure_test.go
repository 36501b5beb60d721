package jwks

import (
	"bytes"
	"context"
	"crypto/elliptic"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestPlainHTTPRule: plain http is refused to every host but loopback,
// unless AllowInsecureHTTP says the network is trusted.
func TestPlainHTTPRule(t *testing.T) {
	tests := []struct {
		name  string
		opts  Options
		allow bool // with AllowInsecureHTTP
		want  string
	}{
		{"public host URL", Options{URL: "http://t.logto.app/oidc/jwks"}, false, `URL "http://t.logto.app/oidc/jwks" is plain http`},
		{"public host issuer", Options{Issuer: "http://t.logto.app/oidc"}, false, `Issuer "http://t.logto.app/oidc" is plain http`},
		{"private address", Options{URL: "http://10.0.0.5:3001/oidc/jwks"}, false, "AllowInsecureHTTP"},
		{"compose service", Options{Issuer: "http://logto:3001/oidc"}, false, "AllowInsecureHTTP"},
		{"compose service allowed", Options{Issuer: "http://logto:3001/oidc"}, true, ""},
		{"public host allowed", Options{URL: "http://t.logto.app/oidc/jwks"}, true, ""},
		{"localhost", Options{Issuer: "http://localhost:3001/oidc"}, false, ""},
		{"127.0.0.1", Options{URL: "http://127.0.0.1:3001/oidc/jwks"}, false, ""},
		{"::1", Options{Issuer: "http://[::1]:3001/oidc"}, false, ""},
		{"https", Options{Issuer: "https://t.logto.app/oidc"}, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := tt.opts
			opts.AllowInsecureHTTP = tt.allow
			// A cancelled context: the set starts no fetch that would leave
			// the machine.
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			s, err := New(ctx, opts)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("New = %v, want no error", err)
				}
				s.Close()
				return
			}
			if err == nil {
				s.Close()
				t.Fatalf("New = nil error, want one containing %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New = %q, want it to contain %q", err, tt.want)
			}
		})
	}
}

// TestDiscoveredPlainHTTP: a jwks_uri read from discovery passes the same
// rule as a configured URL.
func TestDiscoveredPlainHTTP(t *testing.T) {
	tests := []struct {
		issuer, jwksURI string
		allow           bool
		want            string // "" = refused
	}{
		{"http://logto:3001/oidc", "http://logto:3001/oidc/jwks", false, ""},
		{"http://logto:3001/oidc", "http://logto:3001/oidc/jwks", true, "http://logto:3001/oidc/jwks"},
		{"http://localhost:3001/oidc", "http://localhost:3001/oidc/jwks", false, "http://localhost:3001/oidc/jwks"},
		{"http://127.0.0.1:3001/oidc", "http://127.0.0.1:3001/oidc/jwks", false, "http://127.0.0.1:3001/oidc/jwks"},
		{"http://[::1]:3001/oidc", "http://[::1]:3001/oidc/jwks", false, "http://[::1]:3001/oidc/jwks"},
		// Behind a TLS proxy Logto reports http: upgraded, not refused.
		{"https://t.logto.app/oidc", "http://t.logto.app/oidc/jwks", false, "https://t.logto.app/oidc/jwks"},
	}
	for _, tt := range tests {
		got, err := discovered(tt.issuer, tt.jwksURI, tt.allow)
		if tt.want == "" {
			if err == nil || !strings.Contains(err.Error(), "plain http") || !strings.Contains(err.Error(), "AllowInsecureHTTP") {
				t.Errorf("discovered(%q, %q, %v) = %q, %v; want the plain-http refusal", tt.issuer, tt.jwksURI, tt.allow, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("discovered(%q, %q, %v) = %q, %v; want %q", tt.issuer, tt.jwksURI, tt.allow, got, err, tt.want)
		}
	}
}

// TestRedirectNeverDowngrades: a real TLS server redirects the JWKS fetch
// to a plain-http server on the same machine. The redirect is refused with
// the default client and with a client whose own CheckRedirect allows
// everything, and the http server is never asked.
func TestRedirectNeverDowngrades(t *testing.T) {
	plain := newKeyServer(t, ecKey(t, elliptic.P384(), "k1"))
	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, plain.URL+"/oidc/jwks", http.StatusFound)
	}))
	t.Cleanup(tlsSrv.Close)

	permissive := tlsSrv.Client()
	permissive.CheckRedirect = func(*http.Request, []*http.Request) error { return nil }
	clients := []struct {
		name   string
		client *http.Client
	}{
		{"default rules", tlsSrv.Client()},
		{"client's own CheckRedirect", permissive},
	}
	for _, c := range clients {
		t.Run(c.name, func(t *testing.T) {
			var logs syncBuffer
			s := newSet(t, Options{
				URL:               tlsSrv.URL + "/oidc/jwks",
				Client:            c.client,
				AllowInsecureHTTP: true, // the downgrade is refused even so
				FetchTimeout:      5 * time.Second,
				Logger:            slog.New(slog.NewTextHandler(&logs, nil)),
			})
			err := s.Refresh(context.Background())
			if err == nil || !strings.Contains(err.Error(), "redirect from https to "+plain.URL+"/oidc/jwks refused") || !errors.Is(err, ErrFetch) {
				t.Fatalf("Refresh = %v, want the https-to-http redirect refused", err)
			}
			if n := plain.fetches.Load(); n != 0 {
				t.Fatalf("the http server was asked %d times", n)
			}
			if s.Ready() {
				t.Fatal("Ready after a refused redirect")
			}
		})
	}
}

// TestFirstFetchFailureLog: before any key is loaded, a failed fetch says
// so and names the URL it tried, without claiming last good keys.
func TestFirstFetchFailureLog(t *testing.T) {
	ks := newKeyServer(t, ecKey(t, elliptic.P384(), "k1"))
	ks.set(func(ks *keyServer) { ks.status = http.StatusServiceUnavailable })
	var logs syncBuffer
	s := newSet(t, Options{Issuer: ks.URL + "/oidc", FetchTimeout: 5 * time.Second, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err := s.Refresh(context.Background()); err == nil {
		t.Fatal("Refresh = nil, want a 503 failure")
	}
	got := logs.String()
	if strings.Contains(got, "last good keys") {
		t.Errorf("log claims last good keys before any were loaded:\n%s", got)
	}
	if want := "no keys are loaded yet"; !strings.Contains(got, want) {
		t.Errorf("log = %q, want it to contain %q", got, want)
	}
	if want := "url=" + ks.URL + "/oidc/jwks"; !strings.Contains(got, want) {
		t.Errorf("log = %q, want it to name the URL tried (%s)", got, want)
	}

	// Discovery itself fails: the log names the discovery URL.
	down := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(down.Close)
	var logs2 syncBuffer
	s2 := newSet(t, Options{Issuer: down.URL + "/oidc", FetchTimeout: 5 * time.Second, Logger: slog.New(slog.NewTextHandler(&logs2, nil))})
	if err := s2.Refresh(context.Background()); err == nil {
		t.Fatal("Refresh = nil, want a 404 failure")
	}
	if want := "url=" + down.URL + "/oidc/.well-known/openid-configuration"; !strings.Contains(logs2.String(), want) {
		t.Errorf("log = %q, want it to contain %q", logs2.String(), want)
	}

	// Once keys are loaded, a failure keeps them and says so.
	ks.set(func(ks *keyServer) { ks.status = 0 })
	if err := s.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	ks.set(func(ks *keyServer) { ks.status = http.StatusServiceUnavailable })
	logs.Reset()
	if err := s.Refresh(context.Background()); err == nil {
		t.Fatal("Refresh = nil, want a 503 failure")
	}
	if want := "keeping the last good keys"; !strings.Contains(logs.String(), want) {
		t.Errorf("log = %q, want it to contain %q", logs.String(), want)
	}
}

// syncBuffer is a log sink the set's goroutines may write to while the
// test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *syncBuffer) Reset() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Reset()
}
