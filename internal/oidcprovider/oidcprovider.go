// Package oidcprovider runs the npm package oidc-provider, configured the way Logto
// configures its engine (integration/oidcprovider/server.mjs), so that integration tests
// can obtain real client-credentials access tokens from it.
//
// It needs node (>= 20.12) on PATH and the npm packages installed with
//
//	npm ci --prefix integration/oidcprovider
//
// Start never runs npm itself.
package oidcprovider

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Key fixture file names in integration/oidcprovider/keys. They are test fixtures only.
const (
	// KeyECP384 is the default signing key (EC P-384, tokens signed ES384), as on Logto.
	KeyECP384 = "ec-p384.json"
	// KeyECP384Next is a second EC P-384 key, for rotation tests.
	KeyECP384Next = "ec-p384-next.json"
	// KeyRSA is an RSA 2048 key (tokens signed RS256).
	KeyRSA = "rsa-2048.json"
)

// DefaultConfig is the OIDC_CONFIG the server uses when Options.Config is empty.
const DefaultConfig = `{"clients":[{"client_id":"m2m-app","client_secret":"s3cret","scopes":["read:products","write:products"]}],"resources":[{"indicator":"https://api.example.com","scopes":["read:products","write:products"],"ttl":3600}]}`

// The client and resource of DefaultConfig.
const (
	DefaultClientID     = "m2m-app"
	DefaultClientSecret = "s3cret"
	DefaultResource     = "https://api.example.com"
)

const (
	startTimeout = 20 * time.Second
	stopTimeout  = 5 * time.Second
	listenPrefix = "LISTENING "
	maxStderr    = 64 << 10
)

// Options configure the server.
type Options struct {
	// Key is the fixture file name in integration/oidcprovider/keys of the signing key;
	// "" means KeyECP384.
	Key string
	// ExtraKeys are fixture file names whose public keys the JWKS also serves, after the
	// signing key (the "next" or "previous" key of a rotation). They never sign.
	ExtraKeys []string
	// Config is the OIDC_CONFIG JSON (clients and resources); "" means DefaultConfig.
	Config string
	// Port to listen on; 0 picks a free one. A provider restarted on the
	// port of a closed one keeps its endpoint and issuer.
	Port int
}

// Server is a running oidc-provider process.
type Server struct {
	// URL is the Logto-style endpoint, http://127.0.0.1:<port>.
	URL string
	// Issuer is URL + "/oidc", the iss of every token.
	Issuer string
	// JWKSURL is Issuer + "/jwks".
	JWKSURL string
	// TokenURL is Issuer + "/token".
	TokenURL string
	// Key is the file name of the signing key fixture.
	Key string

	cmd       *exec.Cmd
	stderr    *limitedBuffer
	done      chan struct{}
	waitErr   error
	closeOnce sync.Once
	closeErr  error
}

// Dir returns the directory holding server.mjs, package.json and keys/.
func Dir() (string, error) {
	var tried []string
	if _, file, _, ok := runtime.Caller(0); ok {
		dir := filepath.Join(filepath.Dir(file), "..", "..", "integration", "oidcprovider")
		if fileExists(filepath.Join(dir, "server.mjs")) {
			return filepath.Clean(dir), nil
		}
		tried = append(tried, dir)
	}
	// Builds with -trimpath record no file system path: look upwards from the working
	// directory instead (tests run in their package's directory inside the repository).
	if wd, err := os.Getwd(); err == nil {
		for d := wd; ; {
			dir := filepath.Join(d, "integration", "oidcprovider")
			if fileExists(filepath.Join(dir, "server.mjs")) {
				return dir, nil
			}
			parent := filepath.Dir(d)
			if parent == d {
				break
			}
			d = parent
		}
		tried = append(tried, "parents of "+wd)
	}
	return "", fmt.Errorf("oidcprovider: integration/oidcprovider/server.mjs not found (looked in %s)", strings.Join(tried, ", "))
}

// KeyPath returns the path of a key fixture file.
func KeyPath(name string) (string, error) {
	dir, err := Dir()
	if err != nil {
		return "", err
	}
	if name == "" || filepath.Base(name) != name {
		return "", fmt.Errorf("oidcprovider: invalid key fixture name %q", name)
	}
	return filepath.Join(dir, "keys", name), nil
}

// Start runs `node server.mjs` in the integration/oidcprovider directory and waits (at most
// 20s, less if ctx ends sooner) until it listens. ctx bounds only the start-up; stop the
// server with Close.
func Start(ctx context.Context, opts Options) (*Server, error) {
	dir, err := Dir()
	if err != nil {
		return nil, err
	}
	if !fileExists(filepath.Join(dir, "node_modules", "oidc-provider", "package.json")) {
		return nil, fmt.Errorf("oidcprovider: %s is missing; run `npm ci --prefix integration/oidcprovider` at the repository root (make deps does)",
			filepath.Join(dir, "node_modules", "oidc-provider"))
	}
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, fmt.Errorf("oidcprovider: node (>= 20.12) is needed on PATH: %w", err)
	}

	key := opts.Key
	if key == "" {
		key = KeyECP384
	}
	keys := append([]string{key}, opts.ExtraKeys...)
	for _, k := range keys {
		p, err := KeyPath(k)
		if err != nil {
			return nil, err
		}
		if !fileExists(p) {
			return nil, fmt.Errorf("oidcprovider: key fixture %s does not exist", p)
		}
	}
	config := opts.Config
	if config == "" {
		config = DefaultConfig
	}
	if !json.Valid([]byte(config)) {
		return nil, errors.New("oidcprovider: Options.Config is not valid JSON")
	}

	cmd := exec.Command(node, "server.mjs") //nolint:gosec // G204: node from PATH on this repository's harness script, for tests
	cmd.Dir = dir
	cmd.Env = append(filteredEnv(), "PORT="+strconv.Itoa(opts.Port), "OIDC_KEY="+strings.Join(keys, ","), "OIDC_CONFIG="+config)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("oidcprovider: %w", err)
	}
	stderr := &limitedBuffer{limit: maxStderr}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("oidcprovider: starting node: %w", err)
	}

	s := &Server{Key: key, cmd: cmd, stderr: stderr, done: make(chan struct{})}

	lines := make(chan string, 1)
	go func() {
		r := bufio.NewReader(stdout)
		sent := false
		for {
			line, err := r.ReadString('\n')
			if !sent && strings.HasPrefix(line, listenPrefix) {
				lines <- strings.TrimSpace(strings.TrimPrefix(line, listenPrefix))
				sent = true
			}
			if err != nil {
				break
			}
		}
		// The pipe is closed: the process exited or closed stdout. Reap it.
		s.waitErr = cmd.Wait()
		close(s.done)
	}()

	timer := time.NewTimer(startTimeout)
	defer timer.Stop()
	select {
	case addr := <-lines:
		u, err := url.Parse(addr)
		if err != nil || u.Scheme != "http" || u.Host == "" {
			_ = s.Close()
			return nil, fmt.Errorf("oidcprovider: server printed an unexpected address %q", addr)
		}
		s.URL = strings.TrimSuffix(addr, "/")
		s.Issuer = s.URL + "/oidc"
		s.JWKSURL = s.Issuer + "/jwks"
		s.TokenURL = s.Issuer + "/token"
		return s, nil
	case <-s.done:
		return nil, fmt.Errorf("oidcprovider: node server.mjs exited before listening (%v); stderr:\n%s", s.waitErr, s.stderr.String())
	case <-timer.C:
		_ = s.Close()
		return nil, fmt.Errorf("oidcprovider: node server.mjs did not listen within %s; stderr:\n%s", startTimeout, s.stderr.String())
	case <-ctx.Done():
		_ = s.Close()
		return nil, fmt.Errorf("oidcprovider: start: %w; stderr:\n%s", ctx.Err(), s.stderr.String())
	}
}

// Close stops the server: SIGTERM, then SIGKILL if it has not exited within 5s. It is
// safe to call more than once.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		select {
		case <-s.done:
			if s.waitErr != nil {
				s.closeErr = fmt.Errorf("oidcprovider: server had already exited: %v; stderr:\n%s", s.waitErr, s.stderr.String())
			}
			return
		default:
		}
		if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			_ = s.cmd.Process.Kill()
		}
		timer := time.NewTimer(stopTimeout)
		defer timer.Stop()
		select {
		case <-s.done:
		case <-timer.C:
			_ = s.cmd.Process.Kill()
			<-s.done
			s.closeErr = fmt.Errorf("oidcprovider: server did not exit within %s of SIGTERM and was killed", stopTimeout)
		}
	})
	return s.closeErr
}

// Stderr returns what the server has written to stderr so far (bounded).
func (s *Server) Stderr() string { return s.stderr.String() }

// TokenResponse is the token endpoint's answer, successful or not.
type TokenResponse struct {
	Status int
	Header http.Header
	Body   []byte

	AccessToken      string `json:"access_token"`
	TokenType        string `json:"token_type"`
	ExpiresIn        int    `json:"expires_in"`
	Scope            string `json:"scope"`
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
}

// ClientCredentials requests a token the way a Logto M2M app does: client_secret_basic,
// grant_type=client_credentials, and resource and scope when not empty. A non-2xx answer
// is returned as a TokenResponse with Error set, not as an error.
func (s *Server) ClientCredentials(ctx context.Context, clientID, clientSecret, resource, scope string) (*TokenResponse, error) {
	form := url.Values{"grant_type": {"client_credentials"}}
	if resource != "" {
		form.Set("resource", resource)
	}
	if scope != "" {
		form.Set("scope", scope)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.TokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	// RFC 6749 2.3.1: form-urlencode the credentials before Basic encoding.
	req.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(clientSecret))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	tr := &TokenResponse{Status: resp.StatusCode, Header: resp.Header, Body: body}
	if err := json.Unmarshal(body, tr); err != nil {
		return nil, fmt.Errorf("oidcprovider: token endpoint answered %d with non-JSON body %q: %w", resp.StatusCode, body, err)
	}
	return tr, nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// filteredEnv is the environment without variables that would change the server's set-up.
func filteredEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case "PORT", "OIDC_KEY", "OIDC_CONFIG":
			continue
		}
		env = append(env, kv)
	}
	return env
}

// limitedBuffer keeps the first limit bytes written to it; safe for concurrent use.
type limitedBuffer struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	limit int
	lost  bool
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := b.limit - b.buf.Len(); room < len(p) {
		if room > 0 {
			b.buf.Write(p[:room])
		}
		b.lost = true
		return len(p), nil
	}
	b.buf.Write(p)
	return len(p), nil
}

func (b *limitedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.lost {
		return b.buf.String() + "\n[stderr truncated]"
	}
	return b.buf.String()
}
