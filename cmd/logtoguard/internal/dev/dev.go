package dev

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/logtoguard/logtoguard/cmd/logtoguard/internal/command"
	"github.com/logtoguard/logtoguard/logtotest"
)

// Exit codes, as the other commands of logtoguard use them.
const (
	exitOK    = command.ExitOK
	exitError = command.ExitInvalid // dev token: the running issuer refused, or none answers
	exitUsage = command.ExitUsage
)

// DefaultListen is where dev listens unless --listen says otherwise: the
// port of a self-hosted Logto, on the loopback interface.
const DefaultListen = "127.0.0.1:3001"

// DefaultResource is the API identifier dev registers unless --resource
// says otherwise: the one of the README's quick start.
const DefaultResource = "https://api.example.com"

// maxExpires bounds --expires: a long-lived token is a development
// convenience, a year of one is a mistake.
const maxExpires = 30 * 24 * time.Hour

// Usage is the help text of logtoguard dev.
const Usage = `logtoguard dev: a Logto-compatible issuer on localhost, for development

Usage:
  logtoguard dev [flags]
      Run the issuer until Ctrl-C: discovery, JWKS and the client
      credentials token endpoint under /oidc, like a Logto tenant. Prints
      LOGTO_ENDPOINT, an M2M app's ID and secret, and a token to send.
      SIGHUP rotates the signing key.
        --listen ADDR       where to listen (default 127.0.0.1:3001; a
                            loopback address, port 0 picks a free one)
        --resource API      the API identifier, the tokens' audience
                            (default https://api.example.com)
        --scope SCOPE       a permission of the API, granted to the M2M app
                            and written in the token (repeatable, or
                            space-separated)
        --sub USER          the token is a user's (sub USER, client_id
                            dev-spa) instead of the M2M app's
        --organization ORG  the token carries organization_id ORG (an
                            organization-level API resource)
        --expires D         the tokens' lifetime (default 1h)

  logtoguard dev token [--scope S]... [--sub USER] [--organization ORG]
                       [--expires D] [--resource API]
      Mint another token from the running issuer and print it.

The issuer is for development only: an API that trusts it trusts whoever
holds the printed secret.
`

// spec is what a token is minted for: the flags of dev and dev token, the
// form of POST /dev/token.
type spec struct {
	resource     string
	scopes       []string
	sub          string
	organization string
	expires      time.Duration
}

// userClientID is the client_id of a user's token: the app the user signed
// in to.
const userClientID = "dev-spa"

// validate checks a spec as every entry point reads it.
func (s spec) validate() error {
	switch {
	case s.resource == "":
		return errors.New("--resource is empty")
	case s.expires <= 0:
		return fmt.Errorf("--expires %s: want a positive duration, such as 10m or 2h", s.expires)
	case s.expires > maxExpires:
		return fmt.Errorf("--expires %s: at most %s", s.expires, maxExpires)
	case s.expires%time.Second != 0:
		return fmt.Errorf("--expires %s: whole seconds, as a token's exp is", s.expires)
	}
	for _, v := range []struct{ name, value string }{{"--resource", s.resource}, {"--sub", s.sub}, {"--organization", s.organization}} {
		if len(v.value) > 512 || strings.ContainsFunc(v.value, func(r rune) bool { return r < 0x21 || r == 0x7f }) {
			return fmt.Errorf("%s %q: at most 512 characters, no spaces or control characters", v.name, v.value)
		}
	}
	for _, sc := range s.scopes {
		if strings.ContainsFunc(sc, func(r rune) bool { return r < 0x21 || r == 0x7f || r == '"' || r == '\\' }) {
			return fmt.Errorf("--scope %q: a scope has no spaces, quotes or control characters", sc)
		}
	}
	return nil
}

// token mints the token s describes for the app appID.
func (s spec) token(iss *logtotest.Issuer, appID string) string {
	t := logtotest.Token{
		Subject:        appID,
		ClientID:       appID,
		Audience:       s.resource,
		Scopes:         s.scopes,
		OrganizationID: s.organization,
		TTL:            s.expires,
	}
	if s.sub != "" {
		t.Subject, t.ClientID = s.sub, userClientID
	}
	return iss.Mint(t)
}

// describe says whose token s makes, for the output.
func (s spec) describe(appID string) string {
	who := "M2M app " + appID
	if s.sub != "" {
		who = "user " + s.sub + " through " + userClientID
	}
	scopes := strings.Join(s.scopes, " ")
	if scopes == "" {
		scopes = "(none)"
	}
	d := fmt.Sprintf("%s, audience %s, scopes %s", who, s.resource, scopes)
	if s.organization != "" {
		d += ", organization " + s.organization
	}
	return d
}

// scopeList is a repeatable flag whose values may hold several
// space-separated scopes.
type scopeList []string

func (l *scopeList) String() string { return strings.Join(*l, " ") }

func (l *scopeList) Set(v string) error {
	for _, s := range strings.Fields(v) {
		if !contains(*l, s) {
			*l = append(*l, s)
		}
	}
	return nil
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// specFlags declares the flags of a spec on fs.
func specFlags(fs *flag.FlagSet, s *spec) {
	fs.StringVar(&s.resource, "resource", s.resource, "")
	fs.Var((*scopeList)(&s.scopes), "scope", "")
	fs.StringVar(&s.sub, "sub", "", "")
	fs.StringVar(&s.organization, "organization", "", "")
	fs.DurationVar(&s.expires, "expires", time.Hour, "")
}

// Config is a parsed logtoguard dev command line.
type Config struct {
	Listen string
	spec   spec
}

// Parse reads the flags of logtoguard dev. help is true for -h/--help.
func Parse(args []string) (cfg Config, help bool, err error) {
	cfg = Config{Listen: DefaultListen, spec: spec{resource: DefaultResource}}
	fs := command.NewFlagSet("dev")
	fs.StringVar(&cfg.Listen, "listen", DefaultListen, "")
	specFlags(fs, &cfg.spec)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return cfg, true, nil
		}
		return cfg, false, errors.New(command.FlagError(err))
	}
	if fs.NArg() > 0 {
		return cfg, false, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if err := cfg.spec.validate(); err != nil {
		return cfg, false, err
	}
	host, _, err := net.SplitHostPort(cfg.Listen)
	if err != nil {
		return cfg, false, fmt.Errorf("--listen %q: %v", cfg.Listen, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return cfg, false, fmt.Errorf("--listen %q: a loopback address, such as 127.0.0.1:3001: the issuer mints tokens for whoever holds its secret", cfg.Listen)
	}
	return cfg, false, nil
}

// Serve runs the issuer of cfg until ctx ends, rotating its signing key at
// each value of rotate, and writes what a user needs to stdout. It returns
// once the issuer is closed and the state file removed.
func Serve(ctx context.Context, cfg Config, rotate <-chan struct{}, stdout io.Writer) error {
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %v (another logtoguard dev, or a Logto, on that port? pass --listen)", err)
	}
	appID := strings.ToLower(rand.Text())[:21] // Logto's app IDs: 21 lowercase characters
	secret := rand.Text() + rand.Text()
	var ready atomic.Pointer[logtotest.Issuer]
	mint := &minter{appID: appID, secret: secret, issuer: &ready, resource: cfg.spec.resource}
	iss, err := logtotest.Start(logtotest.WithListener(ln), logtotest.WithMiddleware(mint.middleware))
	if err != nil {
		return err
	}
	defer iss.Close()
	iss.AddResourceTTL(cfg.spec.resource, cfg.spec.expires, cfg.spec.scopes...)
	iss.AddM2MApp(appID, secret, cfg.spec.scopes...)
	ready.Store(iss)

	st := state{Endpoint: iss.Endpoint(), Resource: cfg.spec.resource, AppID: appID, AppSecret: secret}
	statePath, stateErr := st.write()
	if stateErr == nil {
		defer st.remove(statePath)
	}

	token := cfg.spec.token(iss, appID)
	now := time.Now()
	w := &errWriter{w: stdout}
	scopes := strings.Join(cfg.spec.scopes, " ")
	if scopes == "" {
		scopes = "(none: pass --scope)"
	}
	w.printf("logtoguard dev: a Logto-compatible issuer at %s until Ctrl-C, for development only.\n\n", iss.Endpoint())
	w.printf("  Logto endpoint   %s (issuer %s)\n", iss.Endpoint(), iss.Issuer())
	w.printf("  API identifier   %s, permissions %s\n", cfg.spec.resource, scopes)
	w.printf("  M2M app          ID %s, granted the API's permissions\n", appID)
	w.printf("  signing key      %s, kid %s (kill -HUP %s rotates it)\n\n", iss.SigningKey().Algorithm(), iss.SigningKey().ID(), pidText())
	w.printf("For another shell (the token: %s, expires %s, in %s):\n\n", cfg.spec.describe(appID),
		now.Add(cfg.spec.expires).UTC().Format("2006-01-02 15:04:05 UTC"), short(cfg.spec.expires))
	w.printf("export LOGTO_ENDPOINT=%s LOGTO_API_RESOURCE=%s\n", iss.Endpoint(), cfg.spec.resource)
	w.printf("export LOGTO_APP_ID=%s LOGTO_APP_SECRET=%s\n", appID, secret)
	w.printf("export TOKEN=%s\n\n", token)
	if stateErr != nil {
		w.printf("logtoguard dev token will not find this issuer: %v\n", stateErr)
	} else {
		w.printf("More tokens: logtoguard dev token --scope SCOPE [--sub USER] [--organization ORG] [--expires D]\n")
	}
	w.printf("        or:  curl -s -u \"$LOGTO_APP_ID:$LOGTO_APP_SECRET\" -d grant_type=client_credentials \\\n")
	w.printf("                  -d resource=\"$LOGTO_API_RESOURCE\" -d scope=SCOPE \"$LOGTO_ENDPOINT/oidc/token\"\n")
	if w.err != nil {
		return w.err
	}

	for {
		select {
		case <-ctx.Done():
			w.printf("logtoguard dev: stopped\n")
			return nil
		case <-rotate:
			old := iss.SigningKey().ID()
			iss.RotateKeys()
			w.printf("logtoguard dev: signing key rotated: kid %s replaces %s, which left the JWKS (tokens it signed are refused now)\n",
				iss.SigningKey().ID(), old)
		}
	}
}

// errWriter keeps the first write error, so that a closed stdout ends the
// start-up rather than going unnoticed.
type errWriter struct {
	w   io.Writer
	err error
}

func (w *errWriter) printf(format string, args ...any) {
	if w.err == nil {
		_, w.err = fmt.Fprintf(w.w, format, args...)
	}
}

// minter serves POST /dev/token beside the issuer's routes.
type minter struct {
	appID, secret string
	resource      string
	issuer        *atomic.Pointer[logtotest.Issuer]
}

// tokenResponse is the body of a minted token: the shape of the token
// endpoint's answer.
type tokenResponse struct {
	AccessToken string `json:"access_token"`
	ExpiresIn   int64  `json:"expires_in"`
	TokenType   string `json:"token_type"`
	Scope       string `json:"scope,omitempty"`
}

type errorResponse struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

// MintPath is the path of the route that mints tokens.
const MintPath = "/dev/token"

func (m *minter) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != MintPath {
			next.ServeHTTP(w, r)
			return
		}
		m.serveMint(w, r)
	})
}

func (m *minter) serveMint(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	fail := func(status int, code, desc string) {
		if status == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Basic realm="logtoguard dev"`)
		}
		writeJSON(w, status, errorResponse{Error: code, Description: desc})
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		fail(http.StatusMethodNotAllowed, "invalid_request", "POST the token's description as a form")
		return
	}
	id, secret, ok := r.BasicAuth()
	idOK := subtle.ConstantTimeCompare([]byte(id), []byte(m.appID))
	secretOK := subtle.ConstantTimeCompare([]byte(secret), []byte(m.secret))
	if !ok || idOK&secretOK != 1 {
		fail(http.StatusUnauthorized, "invalid_client", "authenticate with the M2M app's ID and secret that logtoguard dev printed")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		fail(http.StatusBadRequest, "invalid_request", "could not parse the form")
		return
	}
	s := spec{resource: m.resource, sub: r.PostForm.Get("sub"), organization: r.PostForm.Get("organization"), expires: time.Hour}
	if v := r.PostForm.Get("resource"); v != "" {
		s.resource = v
	}
	for _, v := range r.PostForm["scope"] {
		_ = (*scopeList)(&s.scopes).Set(v)
	}
	if v := r.PostForm.Get("expires"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			fail(http.StatusBadRequest, "invalid_request", fmt.Sprintf("expires %q: a duration, such as 10m or 2h", v))
			return
		}
		s.expires = d
	}
	if err := s.validate(); err != nil {
		fail(http.StatusBadRequest, "invalid_request", err.Error())
		return
	}
	iss := m.issuer.Load()
	if iss == nil {
		fail(http.StatusServiceUnavailable, "temporarily_unavailable", "the issuer is starting")
		return
	}
	writeJSON(w, http.StatusOK, tokenResponse{
		AccessToken: s.token(iss, m.appID),
		ExpiresIn:   int64(s.expires / time.Second),
		TokenType:   "Bearer",
		Scope:       strings.Join(s.scopes, " "),
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "logtoguard dev: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// short writes d without zero trailing units: 1h, 10m, 1h30m, 90s.
func short(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
