// Package serve is `logtoguard serve`: a decision service for a reverse
// proxy (nginx auth_request, Caddy forward_auth, Traefik ForwardAuth, Envoy
// ext_authz over HTTP and gRPC). It reads the original request a proxy
// forwards (forwarded), matches it against the routes of a YAML file
// (routes.match), runs the token through the library's validator and the
// route's requirement (gateway.decide), and answers 200 with the X-Logto-*
// identity headers or the library's refusal.
package serve

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"

	"github.com/logtoguard/logtoguard/cmd/logtoguard/internal/command"
	"github.com/logtoguard/logtoguard/middleware"
)

const serveUsage = `logtoguard serve: a decision service for nginx, Caddy, Traefik and Envoy

Usage:
  logtoguard serve --config FILE [flags]

Flags:
  --config FILE   the YAML configuration (default $LOGTOGUARD_CONFIG)
  --check         check the configuration and exit: 0 when it is valid,
                  2 with one line naming the field when it is not
  --drain D       how long SIGTERM waits for requests in flight before it
                  stops (default 10s)
  -v              log debug detail (every refusal) to stderr
  -h, --help      this text

Endpoints on listen:
  /verify         nginx auth_request, Caddy forward_auth, Traefik ForwardAuth:
                  the original request from X-Forwarded-Method and
                  X-Forwarded-Uri, or X-Original-Method and X-Original-URI
                  (or X-Original-URL, ingress-nginx), its host from
                  X-Forwarded-Host
  /envoy/...      Envoy's HTTP ext_authz (path_prefix: /envoy)
  /healthz        200 while the process runs
  /readyz         200 once the signing keys are loaded (and, with
                  revocation.redis_url, the revocations are in sync), 503
                  while draining
  /metrics        Prometheus metrics
  webhooks.path   with a webhooks section: Logto's webhooks (default
                  /logto/webhooks); a suspended or deleted user, a removed
                  member or a deleted organization is refused at once
On grpc_listen: envoy.service.auth.v3.Authorization/Check (Envoy, Istio).

Allowed: 200 with X-Logto-Subject, X-Logto-Client-Id, X-Logto-Scopes,
X-Logto-Organization-Id (organization tokens), X-Logto-M2M and
X-Logto-Actor (delegated tokens: who acts for the subject); a public
route: 200 without them. Denied: the status (400, 401, 403, 503), the
WWW-Authenticate challenge and the JSON body of the library's answer.

Signals: SIGHUP reloads the configuration (a file with an error keeps the
running one and logs why; so does a change of listen, grpc_listen or
anything of the revocation section, fail_closed too: those need a restart;
a change of endpoint, issuers, jwks_uri, audiences or public_url takes
effect once its keys are loaded, and keeps the running one if they are not
within 10s); SIGTERM and SIGINT drain and stop.

Exit codes: 0 stopped by a signal (or --check passed); 1 a listener failed;
2 usage or configuration error.
`

// defaultDrain is how long SIGTERM waits for requests in flight.
const defaultDrain = 10 * time.Second

// defaultReloadWait is how long a reload waits for the keys of a new
// validator before it gives up and keeps the running configuration.
const defaultReloadWait = 10 * time.Second

// retireAfter is how long a validator replaced by a reload keeps running for
// the decisions that started with it.
const retireAfter = time.Minute

// Run is the command `logtoguard serve` with its arguments (after "serve")
// and output streams; it returns the process's exit code.
func Run(args []string, stdout, stderr io.Writer) int {
	fs := command.NewFlagSet("serve")
	config := fs.String("config", os.Getenv("LOGTOGUARD_CONFIG"), "")
	check := fs.Bool("check", false, "")
	drain := fs.Duration("drain", defaultDrain, "")
	verbose := fs.Bool("v", false, "")
	pos, err := command.ParseFlags(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, serveUsage)
		return command.ExitOK
	}
	switch {
	case err != nil:
		return command.UsageError(stderr, "serve", command.FlagError(err))
	case len(pos) > 0:
		return command.UsageError(stderr, "serve", fmt.Sprintf("unexpected argument %q", pos[0]))
	case *config == "":
		return command.UsageError(stderr, "serve", "--config FILE is required (or LOGTOGUARD_CONFIG)")
	case *drain <= 0:
		return command.UsageError(stderr, "serve", "--drain must be positive")
	}
	cfg, err := loadConfig(*config)
	if err != nil {
		fmt.Fprintf(stderr, "logtoguard serve: %v\n", err)
		return command.ExitUsage
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	s := newServer(log)
	if err := s.load(cfg); err != nil {
		fmt.Fprintf(stderr, "logtoguard serve: config %s: %v\n", *config, err)
		return command.ExitUsage
	}
	if *check {
		s.close()
		fmt.Fprintf(stdout, "%s: ok\n", *config)
		return command.ExitOK
	}
	if err := s.listen(); err != nil {
		s.close()
		fmt.Fprintf(stderr, "logtoguard serve: %v\n", err)
		return command.ExitInvalid
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)
	return s.run(*config, sigs, *drain)
}

// server is the running decision service: its listeners and the current
// gateway, which a reload replaces.
type server struct {
	log     *slog.Logger
	metrics *metrics
	cur     atomic.Pointer[gateway]

	draining atomic.Bool
	http     *http.Server
	grpc     *grpc.Server
	httpLn   net.Listener
	grpcLn   net.Listener
	served   sync.WaitGroup

	mu      sync.Mutex // guards retired
	retired []*retiredValidator

	reloadWait time.Duration // how long a reload waits for new keys

	// revs is the revocation store, made by the first load and kept for
	// the process's life: every validator shares it.
	revs *revocations
}

type retiredValidator struct {
	v     *middleware.Validator
	timer *time.Timer
}

func newServer(log *slog.Logger) *server {
	return &server{log: log, metrics: newMetrics(), reloadWait: defaultReloadWait}
}

func (s *server) gateway() *gateway { return s.cur.Load() }

// load builds the gateway of cfg and makes it current. It keeps the running
// validator when cfg changes none of its settings; it refuses a change of
// the listen addresses, which only a restart can move.
func (s *server) load(cfg *serveConfig) error {
	g, err := s.build(cfg)
	if err != nil {
		return err
	}
	s.swap(g)
	return nil
}

// build makes the gateway of cfg without making it current: with the
// running validator when cfg changes none of its settings, else with a new
// one, which starts loading its keys.
func (s *server) build(cfg *serveConfig) (*gateway, error) {
	rs, err := buildRoutes(cfg.Routes)
	if err != nil {
		return nil, err
	}
	g := &gateway{cfg: cfg, routes: rs, deny: cfg.Default == defaultDeny}
	old := s.cur.Load()
	if old != nil && (old.cfg.Listen != cfg.Listen || old.cfg.GRPCListen != cfg.GRPCListen) {
		return nil, errors.New("listen and grpc_listen cannot change without a restart")
	}
	if s.revs == nil {
		if s.revs, err = s.openRevocations(cfg); err != nil {
			return nil, err
		}
	} else if s.revs.built != revocationSettingsOf(cfg) {
		return nil, errors.New("the revocation section cannot change without a restart")
	}
	if g.webhook, err = s.webhookHandler(cfg); err != nil {
		return nil, err
	}
	if cfg.Webhooks != nil {
		g.webhookPath = cfg.Webhooks.Path
	}
	if old != nil && sameVerifier(old.cfg, cfg) {
		g.v = old.v
	} else {
		vc := cfg.validatorConfig(s.metrics.hooks, s.log)
		vc.Revocations = s.revs.store
		v, err := middleware.New(vc)
		if err != nil {
			return nil, errors.New(fileTerms.Replace(strings.TrimPrefix(err.Error(), "middleware: ")))
		}
		g.v = v
	}
	if cfg.PublicURL != "" {
		if g.metaPath, err = metadataPath(cfg.PublicURL); err != nil {
			if old == nil || g.v != old.v {
				_ = g.v.Close() // never served
			}
			return nil, err
		}
		g.meta = middleware.ResourceMetadataHandler(g.v.ResourceMetadata(cfg.scopes()...))
	}
	return g, nil
}

// swap makes g current and retires the validator it replaces.
func (s *server) swap(g *gateway) {
	old := s.cur.Swap(g)
	if old != nil && old.v != g.v {
		s.retire(old.v)
	}
}

// fileTerms names the fields of middleware.Config in a message by their
// names in the file.
var fileTerms = strings.NewReplacer(
	"AllowInsecureHTTP", "allow_insecure_http",
	"AcceptOrganizationTokens", "accept_organization_tokens",
	"ResourceMetadataURL", "public_url",
	"JWKSURL", "jwks_uri",
	"Endpoint", "endpoint",
	"Issuers", "issuers",
	"Audiences", "audiences",
)

// retire closes v once the decisions that started with it are over.
func (s *server) retire(v *middleware.Validator) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := &retiredValidator{v: v}
	r.timer = time.AfterFunc(retireAfter, func() { _ = v.Close() })
	s.retired = append(s.retired, r)
}

// errKeysNotReady is why a reload keeps the running configuration when the
// new one's validator has not loaded its keys within reloadWait.
var errKeysNotReady = errors.New("the signing keys of the new configuration (endpoint, issuers, jwks_uri, audiences or public_url changed) did not load")

// reload loads the file name; on an error the running configuration stays.
// A configuration that needs a new validator becomes current only once
// that validator has loaded its keys, waiting at most reloadWait: until
// then, and if they never load, the running one answers.
func (s *server) reload(name string) error {
	cfg, err := loadConfig(name)
	var g *gateway
	if err == nil {
		g, err = s.build(cfg)
	}
	if err == nil && g.v != s.gateway().v {
		ctx, cancel := context.WithTimeout(context.Background(), s.reloadWait)
		if werr := g.v.WaitReady(ctx); werr != nil {
			_ = g.v.Close() // never served: nothing to drain
			err = fmt.Errorf("%w within %s: %v", errKeysNotReady, s.reloadWait, werr)
		}
		cancel()
	}
	if err != nil {
		result := "error"
		if errors.Is(err, errKeysNotReady) {
			result = "keys_not_ready"
		}
		s.metrics.reloads.WithLabelValues(result).Inc()
		s.log.Error("logtoguard serve: reload failed, keeping the running configuration", "file", name, "error", err.Error())
		return err
	}
	s.swap(g)
	s.metrics.reloads.WithLabelValues("ok").Inc()
	s.log.Info("logtoguard serve: configuration reloaded", "file", name, "routes", len(cfg.Routes))
	return nil
}

// listen opens the listeners of the current configuration and serves them.
func (s *server) listen() error {
	cfg := s.gateway().cfg
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %v", err)
	}
	var gln net.Listener
	if cfg.GRPCListen != "" {
		if gln, err = net.Listen("tcp", cfg.GRPCListen); err != nil {
			_ = ln.Close() // unused; the grpc_listen error is the one to report
			return fmt.Errorf("grpc_listen: %v", err)
		}
	}
	s.serveOn(ln, gln)
	return nil
}

// serveOn serves HTTP on ln and, when gln is not nil, gRPC on gln.
func (s *server) serveOn(ln, gln net.Listener) {
	s.httpLn, s.grpcLn = ln, gln
	s.http = &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	s.served.Add(1)
	go func() {
		defer s.served.Done()
		if err := s.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("logtoguard serve: HTTP listener failed", "error", err.Error())
		}
	}()
	s.log.Info("logtoguard serve: listening", "http", ln.Addr().String())
	if gln != nil {
		s.grpc = grpc.NewServer(grpc.MaxRecvMsgSize(1 << 20))
		authv3.RegisterAuthorizationServer(s.grpc, &authzServer{s: s})
		s.served.Add(1)
		go func() {
			defer s.served.Done()
			if err := s.grpc.Serve(gln); err != nil {
				s.log.Error("logtoguard serve: gRPC listener failed", "error", err.Error())
			}
		}()
		s.log.Info("logtoguard serve: listening", "grpc", gln.Addr().String())
	}
}

// run handles signals until SIGTERM or SIGINT, then drains and stops.
func (s *server) run(config string, sigs <-chan os.Signal, drain time.Duration) int {
	for sig := range sigs {
		if sig == syscall.SIGHUP {
			_ = s.reload(config)
			continue
		}
		s.log.Info("logtoguard serve: draining", "signal", sig.String(), "within", drain.String())
		break
	}
	ctx, cancel := context.WithTimeout(context.Background(), drain)
	defer cancel()
	if err := s.shutdown(ctx); err != nil {
		s.log.Warn("logtoguard serve: stopped before every request was answered", "error", err.Error())
	} else {
		s.log.Info("logtoguard serve: stopped")
	}
	return command.ExitOK
}

// shutdown stops accepting, waits for the requests in flight (until ctx
// ends) and closes every validator.
func (s *server) shutdown(ctx context.Context) error {
	s.draining.Store(true)
	var err error
	if s.http != nil {
		err = s.http.Shutdown(ctx)
	}
	if s.grpc != nil {
		done := make(chan struct{})
		go func() { s.grpc.GracefulStop(); close(done) }()
		select {
		case <-done:
		case <-ctx.Done():
			s.grpc.Stop()
			<-done
			err = errors.Join(err, ctx.Err())
		}
	}
	s.served.Wait()
	s.close()
	return err
}

// close closes the current and the retired validators.
func (s *server) close() {
	if g := s.cur.Load(); g != nil {
		_ = g.v.Close()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.retired {
		if r.timer.Stop() {
			_ = r.v.Close()
		}
	}
	s.retired = nil
	if s.revs != nil {
		s.revs.close()
	}
}

// ServeHTTP routes the endpoints of listen. It does not clean paths, as a
// ServeMux would with a redirect: /envoy/ hands the original path to the
// decision as it came.
func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch p := r.URL.Path; {
	case p == "/verify":
		s.verify(w, r)
	case strings.HasPrefix(r.RequestURI, "/envoy/"):
		s.envoy(w, r)
	case p == "/healthz":
		plain(w, http.StatusOK, "ok")
	case p == "/readyz":
		switch {
		case s.draining.Load():
			plain(w, http.StatusServiceUnavailable, "draining")
		case !s.gateway().v.Ready():
			plain(w, http.StatusServiceUnavailable, "signing keys not loaded yet")
		case s.revs.ready != nil && !s.revs.ready():
			plain(w, http.StatusServiceUnavailable, "revocations not in sync with Redis")
		default:
			plain(w, http.StatusOK, "ready")
		}
	case p == "/metrics":
		s.metrics.handler.ServeHTTP(w, r)
	case p != "" && p == s.gateway().metaPath:
		s.gateway().meta.ServeHTTP(w, r)
	case p != "" && p == s.gateway().webhookPath:
		s.gateway().webhook.ServeHTTP(w, r)
	default:
		plain(w, http.StatusNotFound, "not found: the endpoints are /verify, /envoy/..., /healthz, /readyz, /metrics and, with public_url, "+middleware.ResourceMetadataPath)
	}
}

// metadataPath is the path at which RFC 9728 places the metadata of the
// resource publicURL: /.well-known/oauth-protected-resource, followed by
// publicURL's path if it has one. The proxy routes it to serve.
func metadataPath(publicURL string) (string, error) {
	raw, err := middleware.ResourceMetadataURL(publicURL)
	if err != nil {
		return "", fmt.Errorf("public_url: %v", strings.TrimPrefix(err.Error(), "middleware: "))
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("public_url: %v", err)
	}
	return u.Path, nil
}

func plain(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, msg+"\n")
}

// The headers that carry the original request to /verify.
const (
	hdrForwardedMethod = "X-Forwarded-Method"
	hdrForwardedURI    = "X-Forwarded-Uri"
	hdrForwardedHost   = "X-Forwarded-Host"
	hdrForwardedProto  = "X-Forwarded-Proto"
	hdrOriginalMethod  = "X-Original-Method"
	hdrOriginalURI     = "X-Original-Uri"
	hdrOriginalURL     = "X-Original-Url"
)

// verify is /verify: the original request from the forwarded headers.
func (s *server) verify(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	g := s.gateway()
	o, err := forwarded(r.Header)
	var d decision
	if err != nil {
		d = decision{err: err}
	} else {
		d = g.decide(r.Context(), o)
	}
	s.metrics.observe(d, start)
	if d.err != nil {
		g.v.WriteError(w, r, d.err)
		return
	}
	writeAllowed(w, d)
}

// forwarded reads the original request from h: X-Forwarded-Method and
// X-Forwarded-Uri, or X-Original-Method and X-Original-URI. When both pairs
// are there they must agree: a proxy sets one pair and may pass the other
// from the client, which must not choose the route.
//
// ingress-nginx sends X-Original-URL (the full URL, from the request line
// and the Host header) and X-Original-Method always, X-Original-URI only
// with the auth-method annotation, and passes every other header of the
// client: the URI must be the path and query of X-Original-URL (or is taken
// from it), and X-Forwarded-Host, when there, must name its host.
func forwarded(h http.Header) (original, error) {
	var o original
	one := func(name string) (string, bool, error) {
		v := h[name]
		switch len(v) {
		case 0:
			return "", false, nil
		case 1:
			return v[0], true, nil
		}
		return "", false, invalidRequest(name + " appears more than once")
	}
	fm, hasFM, err1 := one(hdrForwardedMethod)
	fu, hasFU, err2 := one(hdrForwardedURI)
	om, hasOM, err3 := one(hdrOriginalMethod)
	ou, hasOU, err4 := one(hdrOriginalURI)
	host, hasHost, err5 := one(hdrForwardedHost)
	ourl, hasURL, err6 := one(hdrOriginalURL)
	if err := errors.Join(err1, err2, err3, err4, err5, err6); err != nil {
		return o, err
	}
	// The scheme only says which port is the default one, which the match
	// ignores anyway (ServeMux matches a host without its port).
	o.scheme = strings.ToLower(h.Get(hdrForwardedProto))
	if hasURL {
		scheme, urlHost, uri, ok := splitOriginalURL(ourl)
		switch {
		case !ok:
			return o, invalidRequest("X-Original-URL is not an absolute http or https URL")
		case hasOU && ou != uri:
			return o, invalidRequest("X-Original-URI is not the path and query of X-Original-URL")
		case hasHost && !sameHostName(host, urlHost):
			return o, invalidRequest("X-Forwarded-Host is not the host of X-Original-URL")
		}
		ou, hasOU, host, o.scheme = uri, true, urlHost, scheme
	}
	switch {
	case hasFM != hasFU:
		return o, invalidRequest("the proxy sent only one of X-Forwarded-Method and X-Forwarded-Uri")
	case hasOM != hasOU:
		return o, invalidRequest("the proxy sent only one of X-Original-Method and X-Original-URI")
	case hasFM && hasOM && (fm != om || fu != ou):
		return o, invalidRequest("X-Forwarded-Method and X-Forwarded-Uri disagree with X-Original-Method and X-Original-URI")
	case hasFM:
		o.method, o.uri = fm, fu
	case hasOM:
		o.method, o.uri = om, ou
	default:
		return o, invalidRequest("the proxy must send the original request in X-Forwarded-Method and X-Forwarded-Uri, or X-Original-Method and X-Original-URI")
	}
	o.host = host
	o.header = h
	return o, nil
}

// splitOriginalURL splits u, "scheme://host/path?query" as ingress-nginx
// builds X-Original-URL ($scheme://$http_host$request_uri), into its
// scheme, host and URI.
func splitOriginalURL(u string) (scheme, host, uri string, ok bool) {
	scheme, rest, ok := strings.Cut(u, "://")
	if !ok || scheme != "http" && scheme != "https" {
		return "", "", "", false
	}
	i := strings.IndexByte(rest, '/')
	if i < 0 {
		return "", "", "", false
	}
	return scheme, rest[:i], rest[i:], true
}

// sameHostName reports whether a and b name the same host, whatever their
// ports: both valid, equal once canonical.
func sameHostName(a, b string) bool {
	ca, okA := canonicalHost(a, "")
	cb, okB := canonicalHost(b, "")
	return okA && okB && stripPort(ca) == stripPort(cb)
}

// stripPort is host (canonical) without its port.
func stripPort(host string) string {
	if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.Contains(host[i:], "]") {
		return host[:i]
	}
	return host
}

// envoy is /envoy/...: Envoy's HTTP ext_authz with path_prefix /envoy; the
// original method is the request's, the original URI what follows /envoy.
func (s *server) envoy(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	g := s.gateway()
	d := g.decide(r.Context(), original{
		method: r.Method,
		host:   r.Host,
		scheme: strings.ToLower(r.Header.Get(hdrForwardedProto)),
		uri:    strings.TrimPrefix(r.RequestURI, "/envoy"),
		header: r.Header,
	})
	s.metrics.observe(d, start)
	if d.err != nil {
		g.v.WriteError(w, r, d.err)
		return
	}
	if rm := removeList(r, d); rm != "" {
		w.Header()[envoyHeadersToRemove] = []string{rm}
	}
	writeAllowed(w, d)
}
