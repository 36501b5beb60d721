package middleware

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/logtoguard/logtoguard/internal/logto"
	"github.com/logtoguard/logtoguard/internal/plainhttp"
	"github.com/logtoguard/logtoguard/jwks"
	"github.com/logtoguard/logtoguard/revocation"
)

// Defaults of [Config].
const (
	// DefaultLeeway is the clock skew allowed for exp, iat and nbf. Without
	// any, a server whose clock is a second behind Logto's refuses tokens
	// that were just issued.
	DefaultLeeway = 30 * time.Second
	// DefaultMaxTokenBytes bounds the token before any parsing. Logto access
	// tokens are about 800 bytes; custom JWT claims can add some.
	DefaultMaxTokenBytes = 16 << 10
	// DefaultRealm is the realm of WWW-Authenticate challenges.
	DefaultRealm = "api"
	// DefaultMaxTokenLifetime is the longest a token is accepted after its
	// iat. Logto's default access token lifetime is an hour; some tenants
	// raise it.
	DefaultMaxTokenLifetime = 24 * time.Hour
)

// DefaultAlgorithms returns the JWS algorithms Logto signs with, the
// default of [Config.Algorithms]. Only RSA and ECDSA algorithms
// (jwks.Algorithms) can be allowed; symmetric ones and "none" never.
func DefaultAlgorithms() []string { return []string{"ES384", "ES256", "ES512", "RS256", "PS256"} }

// Config configures a [Validator]. Audiences and one of Endpoint or Issuers
// are required; every other field has a secure default, so the zero value
// plus those is the recommended setup.
type Config struct {
	// Endpoint is the Logto endpoint, such as https://your-tenant.logto.app
	// or http://localhost:3001. The issuer is Endpoint + "/oidc", and the
	// signing keys are found through its OpenID Connect discovery document.
	// Plain http is accepted only on loopback, see AllowInsecureHTTP.
	Endpoint string
	// Issuers, instead of Endpoint, is the exact list of trusted iss values
	// that share one key set: a tenant with a custom domain issues from both
	// https://auth.example.com/oidc and https://<tenant>.logto.app/oidc.
	// Discovery (without JWKSURL) uses the first. Setting both Endpoint and
	// Issuers is an error, so that neither is silently ignored.
	Issuers []string
	// JWKSURL, if set, is used instead of discovery, such as
	// https://your-tenant.logto.app/oidc/jwks.
	JWKSURL string
	// Tenants adds more trusted issuers, each group with its own key set: a
	// key of one tenant never verifies a token that names another tenant's
	// issuer.
	Tenants []Tenant

	// AllowInsecureHTTP accepts plain http:// URLs on hosts that are not
	// loopback in Endpoint, Issuers, JWKSURL and Tenants, and for a
	// jwks_uri found through discovery: for a Logto reached on a private
	// network, such as http://logto:3001 in Docker Compose. Default false:
	// [New] refuses them, since keys fetched over plain http can be replaced
	// by anyone on the way, and with them every token. Loopback
	// (localhost, 127.0.0.0/8, ::1) is always allowed, as self-hosted
	// Logto's default is http://localhost:3001. A redirect from https to
	// http is refused either way.
	AllowInsecureHTTP bool

	// Audiences are the API identifiers (the API resource indicator in the
	// Logto console) this API accepts; a token must name at least one in
	// aud. Required. Logto's Management API audiences are refused here.
	Audiences []string

	// AcceptOrganizationTokens also accepts Logto organization tokens,
	// whose aud is urn:logto:organization:<id>, for any organization. A route
	// that serves them must name the organization it addresses
	// ([Requirement.Organization]); organization scopes are in Claims.Scopes
	// as usual. [Authorize] refuses an organization token wherever the
	// requirement names no organization, since organization scopes may share
	// names with the API's; a route behind an adapter's Authenticate alone
	// still lets it through.
	AcceptOrganizationTokens bool

	// Leeway is the clock skew allowed for exp, iat and nbf. Zero means
	// DefaultLeeway (30s); a negative value means none.
	Leeway time.Duration
	// Algorithms is the allowlist of JWS algorithms. Default
	// DefaultAlgorithms(). Only RSA and ECDSA algorithms can be listed.
	Algorithms []string
	// SkipTypeCheck accepts tokens whose typ header is not at+jwt. Logto
	// always sets it; only set this for another issuer, since typ is what
	// tells an access token from an ID token signed with the same key.
	SkipTypeCheck bool
	// MaxTokenBytes bounds a token before any parsing. Default
	// DefaultMaxTokenBytes (16 KiB).
	MaxTokenBytes int
	// MaxTokenLifetime is the longest a token is accepted after its iat,
	// whatever its exp: from iat+MaxTokenLifetime (plus the leeway) on it
	// is refused as expired. A token without iat is refused as malformed. It is also how long a revocation is kept after
	// its event, so that no revoked token outlives its revocation. Set it to
	// at least your API resource's token expiration time in the Logto
	// console. Default DefaultMaxTokenLifetime (24 hours).
	MaxTokenLifetime time.Duration

	// Revocations holds revoked tokens: every token is checked against it
	// after verification and after every cache hit, and refused with
	// [ErrRevoked] when an entry refuses it. Entries come from a Logto
	// webhook (package webhook) or [Validator.Revoke]. Default: an
	// in-memory store of revocation.DefaultMaxEntries entries, which only
	// this process sees; with several replicas, use a shared store (the
	// Redis store of module revocation/redisstore).
	Revocations revocation.Store

	// Realm is the realm in WWW-Authenticate challenges. Default "api".
	Realm string
	// ResourceMetadataURL, if set, is sent as resource_metadata in 401 and
	// 403 challenges (RFC 9728), so clients can discover how to get a
	// token, or one with more scopes.
	ResourceMetadataURL string

	// HTTPClient fetches discovery and keys. Default: a client that follows
	// redirects only on the same host.
	HTTPClient *http.Client
	// RefreshInterval is how often keys are fetched in the background.
	// Default jwks.DefaultRefreshInterval (10 minutes).
	RefreshInterval time.Duration
	// RefetchInterval is the least time between key fetches caused by an
	// unknown kid. Default jwks.DefaultRefetchInterval (10 seconds).
	RefetchInterval time.Duration
	// FetchTimeout bounds one key fetch. Default jwks.DefaultFetchTimeout (5s).
	FetchTimeout time.Duration

	// Cache configures the verified-token cache, which is on by default.
	Cache CacheConfig

	// Now is the clock. Default time.Now. For tests.
	Now func() time.Time
	// Logger receives rejections (Info for configuration mistakes such as a
	// wrong audience, Debug for forged or malformed tokens) and key fetch
	// failures (Warn). Tokens are never logged. Default slog.Default().
	Logger *slog.Logger
	// Hooks, if set, observe verifications, rejections, cache hits and key
	// fetches (for metrics).
	Hooks Hooks

	// Admission bounds the signature checks in flight, so that a flood of
	// forged tokens cannot starve callers whose tokens are already
	// verified. On by default: runtime.GOMAXPROCS(0) checks at once, a line of
	// DefaultAdmissionQueue waiting at most DefaultAdmissionMaxWait, checks
	// taking at most a quarter of each slot's time. See
	// [AdmissionConfig].
	Admission AdmissionConfig
}

// Tenant is a group of issuers that share one key set.
type Tenant struct {
	// Endpoint is the tenant's Logto endpoint; the issuer is Endpoint+"/oidc".
	Endpoint string
	// Issuers replaces the derived issuer, as Config.Issuers does.
	Issuers []string
	// JWKSURL skips discovery, as Config.JWKSURL does.
	JWKSURL string
}

// issuers returns the trusted issuers of a tenant.
func (t Tenant) issuers() ([]string, error) {
	if len(t.Issuers) > 0 && t.Endpoint != "" {
		return nil, fmt.Errorf("middleware: Endpoint %q and Issuers are both set: Issuers replaces the issuer Endpoint derives, so set one of them (Issuers alone, with the derived %s/oidc among them)", t.Endpoint, strings.TrimSuffix(t.Endpoint, "/"))
	}
	if len(t.Issuers) > 0 {
		for _, iss := range t.Issuers {
			if err := checkAbsolute("issuer", iss); err != nil {
				return nil, err
			}
			if strings.HasSuffix(iss, "/") {
				return nil, fmt.Errorf("middleware: issuer %q must not end with a slash (Logto's issuer is <endpoint>/oidc)", iss)
			}
		}
		return slices.Clone(t.Issuers), nil
	}
	if t.Endpoint == "" {
		return nil, errors.New("middleware: Endpoint or Issuers is required")
	}
	if err := checkAbsolute("endpoint", t.Endpoint); err != nil {
		return nil, err
	}
	ep := strings.TrimSuffix(t.Endpoint, "/")
	if strings.HasSuffix(ep, "/oidc") {
		return nil, fmt.Errorf("middleware: endpoint %q must not include /oidc (it is added)", t.Endpoint)
	}
	return []string{ep + "/oidc"}, nil
}

// checkTransport refuses a plain-http URL to a host that is not loopback
// unless c.AllowInsecureHTTP; field names the setting at fault.
func (c Config) checkTransport(field, raw string) error {
	if c.AllowInsecureHTTP {
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil || !plainhttp.Remote(u) {
		return nil // checkAbsolute reports what is not a URL
	}
	return fmt.Errorf("middleware: %s %q is plain http to a host that is not loopback, so the signing keys could be replaced on the way: use https, or set AllowInsecureHTTP if Logto is reached on a private network (such as http://logto:3001 in Docker Compose)", field, raw)
}

// checkTransports applies checkTransport to every URL the keys come from.
func (c Config) checkTransports() error {
	check := func(prefix string, t Tenant) error {
		if err := c.checkTransport(prefix+"Endpoint", t.Endpoint); err != nil {
			return err
		}
		for i, iss := range t.Issuers {
			if err := c.checkTransport(fmt.Sprintf("%sIssuers[%d]", prefix, i), iss); err != nil {
				return err
			}
		}
		return c.checkTransport(prefix+"JWKSURL", t.JWKSURL)
	}
	if err := check("", Tenant{Endpoint: c.Endpoint, Issuers: c.Issuers, JWKSURL: c.JWKSURL}); err != nil {
		return err
	}
	for i, t := range c.Tenants {
		if err := check(fmt.Sprintf("Tenants[%d].", i), t); err != nil {
			return err
		}
	}
	return nil
}

func checkAbsolute(what, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("middleware: %s %q must be an absolute http(s) URL", what, raw)
	}
	return nil
}

// normalize validates c and fills in defaults; it returns a copy.
func (c Config) normalize() (Config, error) {
	if len(c.Audiences) == 0 {
		return c, errors.New("middleware: Audiences is required (the API identifier of your API resource in Logto)")
	}
	c.Audiences = slices.Clone(c.Audiences)
	for _, a := range c.Audiences {
		if a == "" {
			return c, errors.New("middleware: empty audience")
		}
		if logto.IsManagementAudience(a) {
			return c, fmt.Errorf("middleware: audience %q is Logto's Management API; use your own API resource's identifier", a)
		}
		if strings.HasPrefix(a, OrganizationAudiencePrefix) {
			return c, fmt.Errorf("middleware: audience %q is one organization's; set AcceptOrganizationTokens to accept organization tokens", a)
		}
	}
	switch {
	case c.Leeway == 0:
		c.Leeway = DefaultLeeway
	case c.Leeway < 0:
		c.Leeway = 0
	}
	if len(c.Algorithms) == 0 {
		c.Algorithms = DefaultAlgorithms()
	}
	c.Algorithms = slices.Clone(c.Algorithms)
	for _, a := range c.Algorithms {
		if supported := jwks.Algorithms(); !slices.Contains(supported, a) {
			return c, fmt.Errorf("middleware: algorithm %q cannot be allowed (only RSA and ECDSA: %s)", a, strings.Join(supported, ", "))
		}
	}
	if c.MaxTokenBytes < 0 {
		return c, errors.New("middleware: MaxTokenBytes must not be negative")
	}
	if c.MaxTokenBytes == 0 {
		c.MaxTokenBytes = DefaultMaxTokenBytes
	}
	switch {
	case c.MaxTokenLifetime < 0:
		return c, errors.New("middleware: MaxTokenLifetime must not be negative")
	case c.MaxTokenLifetime == 0:
		c.MaxTokenLifetime = DefaultMaxTokenLifetime
	}
	if c.Realm == "" {
		c.Realm = DefaultRealm
	}
	if strings.ContainsAny(c.Realm, "\"\\\r\n") {
		return c, errors.New("middleware: Realm must not contain quotes, backslashes or line breaks")
	}
	if c.ResourceMetadataURL != "" {
		if err := checkAbsolute("ResourceMetadataURL", c.ResourceMetadataURL); err != nil {
			return c, err
		}
	}
	if err := c.checkTransports(); err != nil {
		return c, err
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Revocations == nil {
		c.Revocations = revocation.NewMemory(revocation.MemoryConfig{Now: c.Now})
	}
	c.Tenants = slices.Clone(c.Tenants)
	var err error
	if c.Admission, err = c.Admission.normalize(); err != nil {
		return c, err
	}
	return c, nil
}
