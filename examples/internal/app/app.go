// Package app holds what the example servers share, so that the net/http,
// gin and echo servers answer byte for byte the same: configuration from the
// environment, the product catalogue, the /whoami document and graceful
// shutdown.
package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/logtoguard/logtoguard/adapters/nethttp"
	"github.com/logtoguard/logtoguard/middleware"
	"github.com/logtoguard/logtoguard/revocation/redisstore"
	"github.com/logtoguard/logtoguard/webhook"
)

// Scopes the example API defines in the Logto console.
const (
	ReadProducts  = "read:products"
	WriteProducts = "write:products"
)

// Settings is the example servers' configuration.
type Settings struct {
	Config middleware.Config
	Addr   string
	// SyncApps are the App IDs allowed to call POST /sync; empty allows
	// every machine-to-machine app.
	SyncApps []string
	// WebhookKeys are the Logto webhook's signing keys
	// (LOGTO_WEBHOOK_SIGNING_KEY); when set, POST /logto/webhooks receives
	// Logto's webhooks and ends the access they report.
	WebhookKeys []string
	// RedisURL (LOGTO_REDIS_URL), when set, shares revocations with every
	// replica through Redis; see OpenRevocations.
	RedisURL string
	// RevocationsReady, when set, is part of /readyz: the shared store is
	// in sync.
	RevocationsReady func() bool
}

// WebhookPath is where the example servers receive Logto's webhooks.
const WebhookPath = "/logto/webhooks"

// OrgProductsRequirement is what GET /orgs/{org}/products requires: a token
// for the organization the path names, with read:products.
var OrgProductsRequirement = middleware.Requirement{Organization: "org", Scopes: []string{ReadProducts}}

// SyncRequirement is what POST /sync requires: a machine-to-machine app,
// one of SyncApps when any are listed.
func (s Settings) SyncRequirement() middleware.Requirement {
	return middleware.Requirement{M2M: true, AppIDs: s.SyncApps}
}

// FromEnv reads LOGTO_ENDPOINT, LOGTO_ISSUER (comma-separated, replaces the
// issuer derived from the endpoint), LOGTO_JWKS_URI (skips discovery),
// LOGTO_API_RESOURCE (required), LOGTO_SYNC_APP_IDS (comma-separated App IDs
// allowed on POST /sync), PUBLIC_URL (the server's public URL, which puts
// its resource metadata in 401 challenges), LOGTO_ALLOW_INSECURE_HTTP
// (true: allow plain http to a Logto that is not on this machine, such as
// http://logto:3001 in Docker Compose; see Config.AllowInsecureHTTP),
// LOGTO_WEBHOOK_SIGNING_KEY (the webhook's signing key; comma-separated,
// old and new, while rotating it), LOGTO_REDIS_URL (redis://... : share
// revocations between replicas) and ADDR (default 127.0.0.1:8080). An error names the variable at fault in
// one line.
func FromEnv() (Settings, error) {
	s := Settings{Addr: "127.0.0.1:8080"}
	endpoint := strings.TrimSpace(os.Getenv("LOGTO_ENDPOINT"))
	issuers := strings.TrimSpace(os.Getenv("LOGTO_ISSUER"))
	jwks := strings.TrimSpace(os.Getenv("LOGTO_JWKS_URI"))
	resource := strings.TrimSpace(os.Getenv("LOGTO_API_RESOURCE"))
	if endpoint == "" && issuers == "" {
		return s, errors.New("LOGTO_ENDPOINT is required (or LOGTO_ISSUER): the Logto endpoint, such as https://your-tenant.logto.app")
	}
	if endpoint != "" {
		if err := absolute(endpoint); err != nil {
			return s, fmt.Errorf("LOGTO_ENDPOINT %q: %v", endpoint, err)
		}
		s.Config.Endpoint = endpoint
	}
	if issuers != "" {
		for _, iss := range strings.Split(issuers, ",") {
			iss = strings.TrimSpace(iss)
			if err := absolute(iss); err != nil {
				return s, fmt.Errorf("LOGTO_ISSUER %q: %v", iss, err)
			}
			s.Config.Issuers = append(s.Config.Issuers, iss)
		}
		s.Config.Endpoint = ""
	}
	if jwks != "" {
		if err := absolute(jwks); err != nil {
			return s, fmt.Errorf("LOGTO_JWKS_URI %q: %v", jwks, err)
		}
		s.Config.JWKSURL = jwks
	}
	if resource == "" {
		return s, errors.New("LOGTO_API_RESOURCE is required: the API identifier of your API resource in Logto")
	}
	s.Config.Audiences = []string{resource}
	for _, id := range strings.Split(os.Getenv("LOGTO_SYNC_APP_IDS"), ",") {
		if id = strings.TrimSpace(id); id != "" {
			s.SyncApps = append(s.SyncApps, id)
		}
	}
	if public := strings.TrimSpace(os.Getenv("PUBLIC_URL")); public != "" {
		if err := absolute(public); err != nil {
			return s, fmt.Errorf("PUBLIC_URL %q: %v", public, err)
		}
		s.Config.ResourceMetadataURL = strings.TrimSuffix(public, "/") + middleware.ResourceMetadataPath
	}
	if raw := strings.TrimSpace(os.Getenv("LOGTO_ALLOW_INSECURE_HTTP")); raw != "" {
		allow, err := strconv.ParseBool(raw)
		if err != nil {
			return s, fmt.Errorf("LOGTO_ALLOW_INSECURE_HTTP %q: want true or false", raw)
		}
		s.Config.AllowInsecureHTTP = allow
	}
	s.WebhookKeys = webhook.ParseSigningKeys(os.Getenv("LOGTO_WEBHOOK_SIGNING_KEY"))
	for i, k := range s.WebhookKeys {
		if len(k) < webhook.MinSigningKeyBytes {
			return s, fmt.Errorf("LOGTO_WEBHOOK_SIGNING_KEY: key %d is %d characters, fewer than %d: copy the signing key of the webhook in the Logto console", i+1, len(k), webhook.MinSigningKeyBytes)
		}
	}
	s.RedisURL = strings.TrimSpace(os.Getenv("LOGTO_REDIS_URL"))
	if addr := strings.TrimSpace(os.Getenv("ADDR")); addr != "" {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return s, fmt.Errorf("ADDR %q: %v", addr, err)
		}
		s.Addr = addr
	}
	return s, nil
}

func absolute(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("must be an absolute http(s) URL")
	}
	return nil
}

// Product is an item of the example catalogue.
type Product struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Price int    `json:"price"`
}

// Products is the example catalogue.
var Products = []Product{
	{ID: "p1", Name: "Keyboard", Price: 4900},
	{ID: "p2", Name: "Mouse", Price: 1900},
}

// Created is the body of a successful POST /products.
var Created = map[string]string{"status": "created"}

// WhoAmI is the body of GET /whoami.
type WhoAmI struct {
	Sub            string   `json:"sub"`
	ClientID       string   `json:"client_id"`
	M2M            bool     `json:"m2m"`
	Scopes         []string `json:"scopes"`
	OrganizationID string   `json:"organization_id,omitempty"`
	// Act is the actor of a delegated token (token exchange), who calls
	// on behalf of Sub; absent for the subject's own token.
	Act string `json:"act,omitempty"`
}

// NewWhoAmI describes the caller.
func NewWhoAmI(c *middleware.Claims) WhoAmI {
	s := c.Scopes
	if s == nil {
		s = []string{}
	}
	return WhoAmI{Sub: c.Subject, ClientID: c.ClientID, M2M: c.IsM2M(), Scopes: s, OrganizationID: c.OrganizationID, Act: c.Actor}
}

// OrgProducts is the body of GET /orgs/{org}/products.
type OrgProducts struct {
	OrganizationID string    `json:"organization_id"`
	Products       []Product `json:"products"`
}

// Synced is the body of POST /sync: the App ID of the machine-to-machine
// app that called.
type Synced struct {
	Status string `json:"status"`
	AppID  string `json:"app_id"`
}

// NewSynced describes a sync by the calling app.
func NewSynced(c *middleware.Claims) Synced {
	id, _ := c.AppID()
	return Synced{Status: "synced", AppID: id}
}

// Metadata is the example API's RFC 9728 document, served at
// middleware.ResourceMetadataPath.
func Metadata(v *middleware.Validator) http.Handler {
	md := v.ResourceMetadata(ReadProducts, WriteProducts)
	md.ResourceName = "Example products API"
	return middleware.ResourceMetadataHandler(md)
}

// Status is the body of /healthz and /readyz.
type Status struct {
	Status string `json:"status"`
}

// Readiness is the answer of /readyz: 503 until the keys are loaded and, with
// a shared revocation store, until it is in sync.
func Readiness(v *middleware.Validator, s Settings) (int, Status) {
	switch {
	case !v.Ready():
		return http.StatusServiceUnavailable, Status{Status: "keys not loaded"}
	case s.RevocationsReady != nil && !s.RevocationsReady():
		return http.StatusServiceUnavailable, Status{Status: "revocations not in sync"}
	}
	return http.StatusOK, Status{Status: "ready"}
}

// OpenRevocations connects to Redis when RedisURL is set and makes it the
// validator's revocation store (Config.Revocations), so that a webhook
// received by any replica ends the token on every one; /readyz then waits
// for the store to be in sync. It returns the function that closes the
// store and the connection. Without RedisURL it does nothing: the
// validator's in-memory default serves one process.
func (s *Settings) OpenRevocations() (func(), error) {
	if s.RedisURL == "" {
		return func() {}, nil
	}
	opt, err := redis.ParseURL(s.RedisURL)
	if err != nil {
		return nil, fmt.Errorf("LOGTO_REDIS_URL: %v (want redis://[user:password@]host:port[/db])", err)
	}
	client := redis.NewClient(opt)
	store, err := redisstore.New(redisstore.Config{Client: client})
	if err != nil {
		_ = client.Close()
		return nil, fmt.Errorf("LOGTO_REDIS_URL: %v", err)
	}
	s.Config.Revocations = store
	s.RevocationsReady = store.Ready
	return func() {
		_ = store.Close()
		_ = client.Close()
	}, nil
}

// Webhooks returns the handler of POST /logto/webhooks, or nil when no
// signing key is set. Its revocations go to the validator's store.
func Webhooks(v *middleware.Validator, s Settings) http.Handler {
	if len(s.WebhookKeys) == 0 {
		return nil
	}
	h, err := webhook.New(webhook.Config{SigningKeys: s.WebhookKeys, Store: v})
	if err != nil {
		panic(err) // FromEnv checked the keys
	}
	return h
}

// Run fails fast on a bad setting, then serves h on addr until SIGINT or
// SIGTERM and shuts down gracefully. It prints "listening on http://<addr>"
// once the port is bound (ADDR=127.0.0.1:0 picks a free port).
func Run(name string, addr string, h http.Handler) error {
	return run(name, addr, &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second})
}

// RunH2C is Run with HTTP/2 without TLS (h2c, prior knowledge) served
// beside HTTP/1.1: what a gRPC client speaks to a server without TLS, such
// as the Connect example behind a TLS-terminating proxy.
func RunH2C(name string, addr string, h http.Handler) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, Protocols: new(http.Protocols)}
	srv.Protocols.SetHTTP1(true)
	srv.Protocols.SetUnencryptedHTTP2(true)
	return run(name, addr, srv)
}

func run(name string, addr string, srv *http.Server) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("ADDR %q: %v", addr, err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	fmt.Printf("%s: listening on http://%s\n", name, ln.Addr())
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Shutdown(shutdown)
}

// WriteJSON writes v as the JSON body with status. Every example server
// writes its bodies through it, so they are the same byte for byte.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// Fatal prints err as one line and exits 1.
func Fatal(name string, err error) {
	if strings.Contains(err.Error(), "AllowInsecureHTTP") {
		// The servers' switch for Config.AllowInsecureHTTP.
		fmt.Fprintf(os.Stderr, "%s: %v (here: LOGTO_ALLOW_INSECURE_HTTP=true)\n", name, err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
	os.Exit(1)
}

// NetHTTPRoutes are the example API's routes with net/http: the reference
// that the gin and echo servers match byte for byte.
func NetHTTPRoutes(v *middleware.Validator, s Settings) http.Handler {
	guard := nethttp.New(v)
	mux := http.NewServeMux()
	mux.Handle("GET "+middleware.ResourceMetadataPath, Metadata(v))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		WriteJSON(w, http.StatusOK, Status{Status: "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		status, body := Readiness(v, s)
		WriteJSON(w, status, body)
	})
	if h := Webhooks(v, s); h != nil {
		mux.Handle(WebhookPath, h) // every method: the handler answers 405 itself
	}
	mux.Handle("GET /products", guard.Require(middleware.Scopes(ReadProducts))(http.HandlerFunc(
		func(w http.ResponseWriter, r *http.Request) { WriteJSON(w, http.StatusOK, Products) })))
	mux.Handle("POST /products", guard.Require(middleware.Scopes(WriteProducts))(http.HandlerFunc(
		func(w http.ResponseWriter, r *http.Request) { WriteJSON(w, http.StatusCreated, Created) })))
	mux.Handle("GET /whoami", guard.Authenticate(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		claims, _ := middleware.ClaimsFromContext(r.Context())
		WriteJSON(w, http.StatusOK, NewWhoAmI(claims))
	})))
	// An organization's view, for tokens of the organization-level API
	// resource issued for that organization.
	mux.Handle("GET /orgs/{org}/products", guard.Require(OrgProductsRequirement)(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			WriteJSON(w, http.StatusOK, OrgProducts{OrganizationID: r.PathValue("org"), Products: Products})
		})))
	mux.Handle("POST /sync", guard.Require(s.SyncRequirement())(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			claims, _ := middleware.ClaimsFromContext(r.Context())
			WriteJSON(w, http.StatusOK, NewSynced(claims))
		})))
	return mux
}
