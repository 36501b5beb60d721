package serve

import (
	"context"
	"log/slog"
	"net/http"
	"reflect"
	"slices"
	"strings"

	"github.com/logtoguard/logtoguard/middleware"
)

// gateway is one loaded configuration: its validator and its routes. A
// reload builds a new one and swaps it in whole.
type gateway struct {
	cfg    *serveConfig
	v      *middleware.Validator
	routes *routes
	deny   bool // default: deny
	// metaPath is where the resource metadata of public_url is served
	// (RFC 9728), and meta serves it; "" and nil without public_url.
	metaPath string
	meta     http.Handler
	// webhookPath is where Logto's webhooks are received, and webhook
	// receives them; "" and nil without a webhooks section.
	webhookPath string
	webhook     http.Handler
}

// decision is the answer to one original request: the claims of an allowed
// token, public for a public route, or the error to answer with.
type decision struct {
	claims *middleware.Claims
	public bool
	err    error
}

// original is the request a proxy asks about.
type original struct {
	method, host, uri string
	// scheme is "http" or "https" when the proxy says, else "".
	scheme string
	// header holds its Authorization header (the only one read): the
	// proxy's request's own header, or one built for it.
	header http.Header
}

// decide runs the original request through the routes, the validator and
// the route's requirement.
func (g *gateway) decide(ctx context.Context, o original) decision {
	s := getSynthetic()
	defer putSynthetic(s)
	r := &s.req
	rt, err := g.routes.match(o, r)
	if err != nil {
		return decision{err: err}
	}
	if rt == nil {
		if g.deny {
			return decision{err: errNoRoute}
		}
		rt = anyToken
	}
	if rt.public {
		return decision{public: true}
	}
	// BearerToken, as every HTTP adapter: the Authorization rules, and no
	// token in the query string.
	token, err := middleware.BearerToken(r)
	if err != nil {
		return decision{err: err}
	}
	c, err := g.v.Verify(ctx, token)
	if err != nil {
		return decision{err: err}
	}
	if err := middleware.Authorize(c, rt.req, r.PathValue); err != nil {
		return decision{err: err}
	}
	return decision{claims: c}
}

// The identity headers of an allowed request, for the proxy to copy
// upstream, in canonical form.
const (
	hdrSubject        = "X-Logto-Subject"
	hdrClientID       = "X-Logto-Client-Id"
	hdrScopes         = "X-Logto-Scopes"
	hdrOrganizationID = "X-Logto-Organization-Id"
	hdrM2M            = "X-Logto-M2M"
	hdrActor          = "X-Logto-Actor"
)

// identityHeaders are the header names the gateway sets, in order.
var identityHeaders = []string{hdrSubject, hdrClientID, hdrScopes, hdrOrganizationID, hdrM2M, hdrActor}

// identity calls set with each identity header of c: X-Logto-Organization-Id
// only when the token is for an organization, X-Logto-Actor only for a
// delegated token (the actor, act.sub, that calls on behalf of the
// subject). Each value is the claim whole, in one header, a URL client ID
// of 2,048 characters too; net/http writes a CR or LF in a value as a
// space, so no claim can split a header or start another.
func identity(c *middleware.Claims, set func(name, value string)) {
	set(hdrSubject, c.Subject)
	set(hdrClientID, c.ClientID)
	set(hdrScopes, strings.Join(c.Scopes, " "))
	if org, ok := c.Organization(); ok {
		set(hdrOrganizationID, org)
	}
	if c.IsM2M() {
		set(hdrM2M, "true")
	} else {
		set(hdrM2M, "false")
	}
	if c.IsDelegated() {
		set(hdrActor, c.Actor)
	}
}

// validatorConfig is the middleware.Config of c.
func (c *serveConfig) validatorConfig(hooks middleware.Hooks, logger *slog.Logger) middleware.Config {
	cfg := middleware.Config{
		Endpoint:                 c.Endpoint,
		Issuers:                  slices.Clone(c.Issuers),
		JWKSURL:                  c.JWKSURI,
		Audiences:                slices.Clone(c.Audiences),
		AcceptOrganizationTokens: c.AcceptOrganizationTokens,
		AllowInsecureHTTP:        c.AllowInsecureHTTP,
		Logger:                   logger,
		Hooks:                    hooks,
	}
	if c.PublicURL != "" {
		cfg.ResourceMetadataURL, _ = middleware.ResourceMetadataURL(c.PublicURL)
	}
	return cfg
}

// verifierSettings are the fields of the file that make up the validator: a
// reload that changes none of them keeps the running validator, its keys
// and its cache.
func (c *serveConfig) verifierSettings() any {
	return struct {
		endpoint, jwks, public string
		issuers, audiences     []string
		orgTokens, insecure    bool
	}{c.Endpoint, c.JWKSURI, c.PublicURL, c.Issuers, c.Audiences, c.AcceptOrganizationTokens, c.AllowInsecureHTTP}
}

func sameVerifier(a, b *serveConfig) bool {
	return reflect.DeepEqual(a.verifierSettings(), b.verifierSettings())
}

// writeAllowed answers an allowed request: 200 with the identity headers
// (none for a public route) and no body.
func writeAllowed(w http.ResponseWriter, d decision) {
	if d.claims != nil {
		h := w.Header()
		vals := make([]string, 0, len(identityHeaders)) // one allocation for the values
		identity(d.claims, func(name, value string) {
			vals = append(vals, value)
			h[name] = vals[len(vals)-1 : len(vals) : len(vals)]
		})
	}
	w.WriteHeader(http.StatusOK)
}
