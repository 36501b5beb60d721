package dev

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/logtoguard/logtoguard/middleware"
)

func TestParse(t *testing.T) {
	cfg, help, err := Parse(nil)
	if err != nil || help {
		t.Fatalf("Parse(nil) = %v, %v", help, err)
	}
	if cfg.Listen != DefaultListen || cfg.spec.resource != DefaultResource || cfg.spec.expires != time.Hour || len(cfg.spec.scopes) != 0 {
		t.Errorf("defaults: %+v", cfg)
	}
	cfg, _, err = Parse([]string{"--scope", "read:products write:products", "--scope", "read:products", "--sub", "u1", "--organization", "o1", "--expires", "10m", "--listen", "[::1]:0"})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(cfg.spec.scopes, ","); got != "read:products,write:products" {
		t.Errorf("scopes %q, want read:products,write:products (each once)", got)
	}
	if cfg.spec.sub != "u1" || cfg.spec.organization != "o1" || cfg.spec.expires != 10*time.Minute || cfg.Listen != "[::1]:0" {
		t.Errorf("flags: %+v", cfg)
	}
	if _, help, _ := Parse([]string{"--help"}); !help {
		t.Error("--help: help not reported")
	}

	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--listen", "0.0.0.0:3001"}, "a loopback address"},
		{[]string{"--listen", "example.com:3001"}, "a loopback address"},
		{[]string{"--listen", "3001"}, "--listen \"3001\""},
		{[]string{"--expires", "0s"}, "want a positive duration"},
		{[]string{"--expires", "-1h"}, "want a positive duration"},
		{[]string{"--expires", "1500ms"}, "whole seconds"},
		{[]string{"--expires", "8760h"}, "at most 720h0m0s"},
		{[]string{"--expires", "soon"}, "invalid value \"soon\""},
		{[]string{"--resource", ""}, "--resource is empty"},
		{[]string{"--sub", "a b"}, "no spaces"},
		{[]string{"--organization", strings.Repeat("o", 513)}, "at most 512 characters"},
		{[]string{"--scope", `read"x`}, "no spaces, quotes"},
		{[]string{"extra"}, `unexpected argument "extra"`},
		{[]string{"--nope"}, "flag provided but not defined: -nope"},
	} {
		if _, _, err := Parse(tt.args); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Parse(%q) = %v, want an error containing %q", tt.args, err, tt.want)
		}
	}
}

// devRun is a logtoguard dev served in process, with its output.
type devRun struct {
	out    *syncBuffer
	cancel context.CancelFunc
	rotate chan struct{}
	done   chan error
	vars   map[string]string // the export lines
}

// startDev serves cfg in process, with the state file in a temporary
// cache directory, and waits for the export lines.
func startDev(t *testing.T, args ...string) *devRun {
	t.Helper()
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	cfg, _, err := Parse(append([]string{"--listen", "127.0.0.1:0"}, args...))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	d := &devRun{out: &syncBuffer{}, cancel: cancel, rotate: make(chan struct{}), done: make(chan error, 1)}
	go func() { d.done <- Serve(ctx, cfg, d.rotate, d.out) }()
	t.Cleanup(func() { d.stop(t) })
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(d.out.String(), "export TOKEN=") {
		if time.Now().After(deadline) {
			t.Fatalf("no export lines in 10s:\n%s", d.out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(10 * time.Millisecond) // the rest of the banner
	d.vars = exports(d.out.String())
	return d
}

func (d *devRun) stop(t *testing.T) {
	t.Helper()
	if d.cancel == nil {
		return
	}
	d.cancel()
	d.cancel = nil
	select {
	case err := <-d.done:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Error("Serve did not return 10s after its context ended")
	}
}

var exportLine = regexp.MustCompile(`(?m)^export (.*)$`)

// exports reads NAME=value pairs of the export lines of dev's output.
func exports(out string) map[string]string {
	vars := make(map[string]string)
	for _, m := range exportLine.FindAllStringSubmatch(out, -1) {
		for _, kv := range strings.Fields(m[1]) {
			if k, v, ok := strings.Cut(kv, "="); ok {
				vars[k] = v
			}
		}
	}
	return vars
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// verifier is an API's validator trusting the dev issuer.
func verifier(t *testing.T, endpoint, resource string) *middleware.Validator {
	t.Helper()
	v, err := middleware.New(middleware.Config{Endpoint: endpoint, Audiences: []string{resource}, AcceptOrganizationTokens: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = v.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for !v.Ready() {
		if ctx.Err() != nil {
			t.Fatal("the keys never loaded")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return v
}

// The printed token, the credentials and dev token's tokens are what an
// API configured with the printed endpoint and identifier accepts, with
// exactly the claims asked for; SIGHUP's rotation retires the old key.
func TestServeAndToken(t *testing.T) {
	d := startDev(t, "--scope", "read:products", "--expires", "30m")
	endpoint, resource := d.vars["LOGTO_ENDPOINT"], d.vars["LOGTO_API_RESOURCE"]
	if !strings.HasPrefix(endpoint, "http://127.0.0.1:") || resource != DefaultResource {
		t.Fatalf("exports %v:\n%s", d.vars, d.out.String())
	}
	for _, k := range []string{"LOGTO_APP_ID", "LOGTO_APP_SECRET", "TOKEN"} {
		if d.vars[k] == "" {
			t.Fatalf("no %s in the output:\n%s", k, d.out.String())
		}
	}
	v := verifier(t, endpoint, resource)
	ctx := context.Background()

	c, err := v.Verify(ctx, d.vars["TOKEN"])
	if err != nil {
		t.Fatalf("the printed token: %v", err)
	}
	if c.Subject != d.vars["LOGTO_APP_ID"] || !c.IsM2M() || strings.Join(c.Scopes, " ") != "read:products" || c.ExpiresAt.Sub(c.IssuedAt) != 30*time.Minute {
		t.Errorf("the printed token's claims: %+v", c)
	}

	// dev token: reads the state file, asks the running issuer.
	var out, errb bytes.Buffer
	if code := Token([]string{"--scope", "write:products", "--sub", "u1", "--organization", "o1", "--expires", "5m"}, &out, &errb); code != exitOK {
		t.Fatalf("dev token: exit %d: %s", code, errb.String())
	}
	c, err = v.Verify(ctx, strings.TrimSpace(out.String()))
	if err != nil {
		t.Fatalf("dev token's token: %v", err)
	}
	if c.Subject != "u1" || c.ClientID != userClientID || c.IsM2M() || c.OrganizationID != "o1" || strings.Join(c.Scopes, " ") != "write:products" || c.ExpiresAt.Sub(c.IssuedAt) != 5*time.Minute {
		t.Errorf("dev token's claims: %+v", c)
	}
	if strings.Count(out.String(), "\n") != 1 {
		t.Errorf("dev token printed %q, want the token alone on a line", out.String())
	}

	// The client credentials grant, as the printed curl line sends it.
	form := url.Values{"grant_type": {"client_credentials"}, "resource": {resource}, "scope": {"read:products write:products"}}
	req, _ := http.NewRequest(http.MethodPost, endpoint+"/oidc/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(d.vars["LOGTO_APP_ID"], d.vars["LOGTO_APP_SECRET"])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var tr tokenResponse
	err = json.NewDecoder(resp.Body).Decode(&tr)
	_ = resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("client credentials: %d %v", resp.StatusCode, err)
	}
	if tr.Scope != "read:products" || tr.ExpiresIn != 1800 {
		t.Errorf("client credentials: scope %q expires_in %d, want read:products (the app's only permission) and 1800", tr.Scope, tr.ExpiresIn)
	}
	if _, err := v.Verify(ctx, tr.AccessToken); err != nil {
		t.Errorf("the client credentials token: %v", err)
	}

	// Rotation: the old key leaves the JWKS; a new token verifies at once.
	d.rotate <- struct{}{}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(d.out.String(), "signing key rotated") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	out.Reset()
	if code := Token(nil, &out, &errb); code != exitOK {
		t.Fatalf("dev token after rotation: exit %d: %s", code, errb.String())
	}
	if _, err := v.Verify(ctx, strings.TrimSpace(out.String())); err != nil {
		t.Errorf("a token signed by the new key: %v", err)
	}
	v2 := verifier(t, endpoint, resource) // no verdict cached
	if _, err := v2.Verify(ctx, d.vars["TOKEN"]); err == nil {
		t.Error("a token of the rotated-out key still verifies")
	}

	// Stopped: the state file is gone, and dev token says none runs.
	path, _ := statePath()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("state file while running: %v", err)
	}
	d.stop(t)
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("state file after stop: %v, want it removed", err)
	}
	errb.Reset()
	if code := Token(nil, io.Discard, &errb); code != exitError || !strings.Contains(errb.String(), "no logtoguard dev is running") {
		t.Errorf("dev token with none running: exit %d, %q", code, errb.String())
	}
}

// The state file holds the secret: only its user may read it.
func TestStateFileMode(t *testing.T) {
	startDev(t)
	path, err := statePath()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, filepath.Dir(path)} {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s: mode %v, want no access for group or others", p, st.Mode().Perm())
		}
	}
}

// POST /dev/token refuses a caller without the app's credentials, and a
// bad description, with a clear error.
func TestMintRefusals(t *testing.T) {
	d := startDev(t, "--scope", "read:products")
	endpoint := d.vars["LOGTO_ENDPOINT"]
	post := func(id, secret string, form url.Values) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, endpoint+MintPath, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if id != "" {
			req.SetBasicAuth(id, secret)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	id, secret := d.vars["LOGTO_APP_ID"], d.vars["LOGTO_APP_SECRET"]
	for _, tt := range []struct {
		name       string
		id, secret string
		form       url.Values
		status     int
		want       string
	}{
		{"no credentials", "", "", nil, 401, "invalid_client"},
		{"wrong secret", id, secret + "x", nil, 401, "invalid_client"},
		{"wrong app", "other", secret, nil, 401, "invalid_client"},
		{"bad expires", id, secret, url.Values{"expires": {"forever"}}, 400, `expires \"forever\"`},
		{"negative expires", id, secret, url.Values{"expires": {"-5m"}}, 400, "positive duration"},
		{"sub with a space", id, secret, url.Values{"sub": {"a b"}}, 400, "no spaces"},
		{"ok", id, secret, url.Values{"scope": {"read:products"}}, 200, `"token_type":"Bearer"`},
	} {
		status, body := post(tt.id, tt.secret, tt.form)
		if status != tt.status || !strings.Contains(body, tt.want) {
			t.Errorf("%s: %d %s, want %d with %q", tt.name, status, body, tt.status, tt.want)
		}
		if strings.Contains(body, secret) {
			t.Errorf("%s: the answer holds the secret", tt.name)
		}
	}
	resp, err := http.Get(endpoint + MintPath)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != http.MethodPost {
		t.Errorf("GET %s: %d Allow %q, want 405 Allow POST", MintPath, resp.StatusCode, resp.Header.Get("Allow"))
	}
}

// A port in use is a clear error, not a hang.
func TestListenInUse(t *testing.T) {
	d := startDev(t)
	cfg, _, err := Parse([]string{"--listen", strings.TrimPrefix(d.vars["LOGTO_ENDPOINT"], "http://")})
	if err != nil {
		t.Fatal(err)
	}
	err = Serve(context.Background(), cfg, nil, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "pass --listen") {
		t.Errorf("Serve on a port in use: %v, want an error suggesting --listen", err)
	}
}
