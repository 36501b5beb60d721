package mcpguard

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/logtoguard/logtoguard/middleware"
)

// ExtraKey is the key of the *middleware.Claims in the Extra map of the
// auth.TokenInfo that [Verifier] and [Guard.Handler] give the SDK.
const ExtraKey = "logtoguard.claims"

// DefaultMaxBodyBytes is the default of [Options].MaxBodyBytes: the SDK's
// own limit on a request body (mcp.DefaultMaxRequestBodyBytes, 4 MiB).
const DefaultMaxBodyBytes = mcp.DefaultMaxRequestBodyBytes

// Options configure a [Guard]. The zero value admits every valid token to
// every method, and refuses every tool that Tools does not list.
type Options struct {
	// Require is what every request to the MCP endpoint requires: the
	// server-wide requirement (initialize, tools/list, notifications, the
	// GET stream, DELETE of a session...). Its Organization, if set, names
	// a path wildcard of the route the handler is mounted on
	// (http.Request.PathValue), as in adapters/nethttp.
	Require middleware.Requirement

	// Tools are the requirements of tools/call for each tool, by tool name
	// (compared as they are, case included), on top of Require. Add more
	// later with [Guard.Tool] or [AddTool]; the zero Requirement lists a
	// tool that needs Require only.
	//
	// A tools/call of a tool not listed is refused (403, "the server lists
	// no requirement for this tool"), unless AuthenticateUnlistedTools is
	// set. That is the default because a requirement keyed by a misspelt
	// name ("Create_Product" for create_product) would otherwise leave the
	// real tool open to every token, as grpcguard and connectguard refuse
	// a method they have no entry for.
	Tools map[string]middleware.Requirement

	// AuthenticateUnlistedTools lets a tools/call of a tool that Tools does
	// not list through with Require alone, once [Guard.CheckServer] has
	// found every listed name among the server's tools; until then such a
	// call is refused, so that a misspelt key is found before it opens
	// the tool it meant to protect.
	AuthenticateUnlistedTools bool

	// MaxBodyBytes bounds the JSON-RPC body that the handler reads to find
	// the tools a POST calls. A larger body is answered 400
	// invalid_request. Default [DefaultMaxBodyBytes] (4 MiB), the SDK's own
	// limit; a negative value is an error.
	MaxBodyBytes int64

	// ResourceName is the resource_name of the protected resource metadata.
	ResourceName string
}

// Guard protects an MCP server on the SDK's streamable HTTP transport with
// a [middleware.Validator]: see the package documentation.
type Guard struct {
	v           *middleware.Validator
	require     middleware.Requirement
	maxBody     int64
	resource    string
	metadataURL string
	name        string

	unlisted bool        // Options.AuthenticateUnlistedTools
	checked  atomic.Bool // CheckServer passed
	sessions sessions

	mu    sync.RWMutex
	tools map[string]middleware.Requirement
}

// New returns a Guard for v, whose first audience (the API identifier of
// the Logto API resource) must be the canonical URL of the MCP endpoint,
// such as https://mcp.example.com/mcp: an https URL, or http on a loopback
// host. It reports an invalid requirement or option.
//
// For 401 challenges to point clients to the metadata, create v with
// Config.ResourceMetadataURL set to [middleware.ResourceMetadataURL] of that
// URL, which is also [Guard.MetadataURL].
func New(v *middleware.Validator, opts Options) (*Guard, error) {
	if v == nil {
		return nil, errors.New("mcpguard: nil validator")
	}
	resource := v.Audiences()[0]
	mdURL, err := middleware.ResourceMetadataURL(resource)
	if err != nil {
		return nil, fmt.Errorf("mcpguard: the first audience must be the MCP server's URL: %w", err)
	}
	if err := opts.Require.Validate(); err != nil {
		return nil, fmt.Errorf("mcpguard: Require: %w", err)
	}
	if err := checkScopes(opts.Require); err != nil {
		return nil, fmt.Errorf("mcpguard: Require: %w", err)
	}
	for name, req := range opts.Tools {
		if err := checkTool(name, req); err != nil {
			return nil, err
		}
	}
	switch {
	case opts.MaxBodyBytes < 0:
		return nil, errors.New("mcpguard: MaxBodyBytes must not be negative")
	case opts.MaxBodyBytes == 0:
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	return &Guard{
		v:           v,
		require:     opts.Require,
		maxBody:     opts.MaxBodyBytes,
		resource:    resource,
		metadataURL: mdURL,
		name:        opts.ResourceName,
		unlisted:    opts.AuthenticateUnlistedTools,
		sessions:    sessions{now: time.Now},
		tools:       maps.Clone(opts.Tools),
	}, nil
}

func checkTool(name string, req middleware.Requirement) error {
	if name == "" {
		return errors.New("mcpguard: a tool requirement needs the tool's name")
	}
	if err := req.Validate(); err != nil {
		return fmt.Errorf("mcpguard: tool %q: %w", name, err)
	}
	if err := checkScopes(req); err != nil {
		return fmt.Errorf("mcpguard: tool %q: %w", name, err)
	}
	return nil
}

// Tool sets the requirement of tools/call for the tool name, on top of the
// server-wide one, replacing any earlier one. It is safe to call while the
// handler serves, as the SDK allows adding tools then. It panics if name
// is empty or req is invalid ([middleware.Requirement.Validate]), as
// registering a route does.
func (g *Guard) Tool(name string, req middleware.Requirement) {
	if err := checkTool(name, req); err != nil {
		panic(err)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.tools == nil {
		g.tools = make(map[string]middleware.Requirement)
	}
	g.tools[name] = req
}

// toolRequirement returns the requirement of the tool name, if any.
func (g *Guard) toolRequirement(name string) (middleware.Requirement, bool) {
	g.mu.RLock()
	defer g.mu.RUnlock()
	req, ok := g.tools[name]
	return req, ok
}

// Handler returns next, the SDK's streamable HTTP handler
// (mcp.NewStreamableHTTPHandler), behind the guard. For each request it
//
//  1. verifies the bearer token (400/401/503 otherwise),
//  2. checks the server-wide requirement, Options.Require (403),
//  3. for a POST, reads the JSON-RPC body (at most Options.MaxBodyBytes;
//     a single message or a batch) and checks the requirement of every tool
//     that a tools/call in it names: a batch passes only if every call in
//     it does (403 insufficient_scope with scope="<every scope the
//     request needs>", the server-wide and the tools' together, in one
//     challenge); a body that is too large, not UTF-8,
//     not JSON-RPC, or whose tools/call params are not an object with at
//     most one name member is answered 400 invalid_request,
//  4. for a request in a session (Mcp-Session-Id), checks that the session
//     was opened through the guard by a request authorized for the same:
//     the same subject, on the same route (pattern and path) and for the
//     same organization (Options.Require.Organization); a session opened
//     on /orgs/A/mcp is refused on /orgs/B/mcp, whatever the token there
//     may do (403),
//  5. restores the body and calls next through the SDK's own
//     auth.RequireBearerToken, with the token info of the claims (see
//     [TokenInfo]) whose UserID is that binding (subject, route and
//     organization), so that the SDK, which binds a session to the UserID
//     of the request that opened it, refuses it elsewhere too.
//
// Every rejection of steps 1 to 4 is the validator's
// (middleware.Validator.WriteError): an RFC 6750 challenge, carrying
// resource_metadata with a 401 and a 403, and a JSON body. The SDK's own refusal
// (403 "session user mismatch", plain text) remains only for a session the
// guard does not remember: opened through another Guard, or named by no
// request for a day.
//
// The claims are in the request context for next
// (middleware.ClaimsFromContext), and in the token info of every MCP
// request (see [Claims]).
func (g *Guard) Handler(next http.Handler) http.Handler {
	// The SDK's middleware runs on requests whose token Verify accepted
	// already, with the validator's leeway on exp: it must not judge exp
	// again without it.
	sdk := auth.RequireBearerToken(g.chainVerifier, &auth.RequireBearerTokenOptions{
		ResourceMetadataURL: g.metadataURL,
		ClockSkew:           sdkClockSkew,
	})(next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		claims, err := g.v.Authenticate(r)
		if err == nil {
			err = middleware.Authorize(claims, g.require, r.PathValue)
			var se *middleware.ScopeError
			if errors.As(err, &se) && r.Method == http.MethodPost {
				// Named again by authorizeCalls, with the scopes of the
				// tools called, in one challenge.
				err = nil
			}
		}
		var b binding
		id := r.Header.Get(sessionHeader)
		if err == nil {
			b = bindingOf(r, claims, g.require)
			if id != "" {
				err = g.sessions.check(id, b)
			}
		}
		if err == nil && r.Method == http.MethodPost {
			err = g.authorizeCalls(w, r, claims)
		}
		if err != nil {
			g.v.WriteError(w, r, err)
			return
		}
		sw := &sessionWriter{ResponseWriter: w, onHeader: func(status int, h http.Header) {
			switch {
			case id == "" && status < http.StatusMultipleChoices:
				if opened := h.Get(sessionHeader); opened != "" {
					g.sessions.record(opened, b)
				}
			case id != "" && (status == http.StatusNotFound || r.Method == http.MethodDelete && status < http.StatusMultipleChoices):
				g.sessions.forget(id)
			}
		}}
		ctx := context.WithValue(middleware.WithClaims(r.Context(), claims), bindingKey{}, b)
		sdk.ServeHTTP(sw, r.WithContext(ctx))
	})
}

// bindingKey is the context key of the request's binding, for
// chainVerifier.
type bindingKey struct{}

// sdkClockSkew relaxes the SDK's own exp check inside [Guard.Handler],
// where Verify has applied exp with the validator's leeway.
const sdkClockSkew = 24 * time.Hour

// authorizeCalls reads r's body, checks the server-wide requirement and
// that of every tool it calls, and puts the body back for the SDK. Missing
// scopes are named together in one challenge (see authorizeAll).
func (g *Guard) authorizeCalls(w http.ResponseWriter, r *http.Request, claims *middleware.Claims) error {
	body, err := readBody(w, r, g.maxBody)
	if err != nil {
		return err
	}
	names, err := toolCalls(body)
	if err != nil {
		return err
	}
	reqs := []middleware.Requirement{g.require}
	for _, name := range names {
		req, ok := g.toolRequirement(name)
		if !ok {
			if g.unlisted && g.checked.Load() {
				continue
			}
			return &middleware.Error{Kind: middleware.ErrClient, Check: middleware.CheckClient, Description: unlistedTool}
		}
		reqs = append(reqs, req)
	}
	return authorizeAll(claims, reqs, r.PathValue)
}

// unlistedTool is the description of the refusal of a tool that has no
// requirement.
const unlistedTool = "the server lists no requirement for this tool"

// chainVerifier gives the SDK's middleware, inside Handler, the claims that
// Handler verified.
func (g *Guard) chainVerifier(ctx context.Context, token string, _ *http.Request) (*auth.TokenInfo, error) {
	c, ok := middleware.ClaimsFromContext(ctx)
	b, bound := ctx.Value(bindingKey{}).(binding)
	if !ok || !bound {
		return Verifier(g.v)(ctx, token, nil)
	}
	info := TokenInfo(c)
	info.UserID = b.userID()
	return info, nil
}

// Verifier returns a TokenVerifier for the SDK's own middleware,
// auth.RequireBearerToken, that verifies tokens with v and maps their claims
// with [TokenInfo]. Its errors wrap auth.ErrInvalidToken (401) or, for a
// malformed request, auth.ErrOAuth (400); keys that could not be loaded
// yet are reported as an invalid token too, since the SDK would answer
// any other error 500.
//
// It applies the organization-token rule of middleware.Authorize with the
// zero Requirement: an organization token (accepted by v with
// Config.AcceptOrganizationTokens) is refused as an invalid token, since
// its scopes are an organization's permissions, which may share names with
// the server's own scopes and would pass the SDK's Scopes check. The MCP
// endpoint names no organization for it to speak for.
//
// The SDK's middleware writes its own plain-text answers and knows no
// per-tool scopes; [Guard.Handler] answers through the validator instead,
// and is the recommended way. With the verifier alone, set the options'
// ClockSkew to the validator's leeway (Config.Leeway, by default
// middleware.DefaultLeeway).
func Verifier(v *middleware.Validator) auth.TokenVerifier {
	return func(ctx context.Context, token string, _ *http.Request) (*auth.TokenInfo, error) {
		c, err := v.Verify(ctx, token)
		if err == nil {
			err = middleware.Authorize(c, middleware.Requirement{}, nil)
		}
		if err != nil {
			kind := auth.ErrInvalidToken
			if errors.Is(err, middleware.ErrInvalidRequest) {
				kind = auth.ErrOAuth
			}
			return nil, fmt.Errorf("%w: %s", kind, v.Reject(err).Description)
		}
		return TokenInfo(c), nil
	}
}

// TokenInfo maps verified claims to the SDK's token info: Scopes the
// granted scopes, Expiration the token's exp, UserID its subject (the
// Logto user ID, or the App ID of a machine-to-machine token), which the
// SDK's streamable handler binds a session to, and Extra[ExtraKey] the
// claims themselves. Inside [Guard.Handler] UserID holds more than the
// subject (see there): read the subject from [Claims].
func TokenInfo(c *middleware.Claims) *auth.TokenInfo {
	return &auth.TokenInfo{
		Scopes:     slices.Clone(c.Scopes),
		Expiration: c.ExpiresAt,
		UserID:     c.Subject,
		Extra:      map[string]any{ExtraKey: c},
	}
}

// Claims returns the claims of the token that carried req, an MCP request
// that a tool, prompt or resource handler receives (req.Extra.TokenInfo).
// Read them here rather than from the handler's context: the SDK runs
// handlers in a context derived from the request that opened the session,
// so middleware.ClaimsFromContext there gives the claims of that first
// request, not of this one.
func Claims(req mcp.Request) (*middleware.Claims, bool) {
	if req == nil {
		return nil, false
	}
	extra := req.GetExtra()
	if extra == nil || extra.TokenInfo == nil {
		return nil, false
	}
	c, ok := extra.TokenInfo.Extra[ExtraKey].(*middleware.Claims)
	return c, ok && c != nil
}

// Resource returns the MCP server's canonical URL: the validator's first
// audience.
func (g *Guard) Resource() string { return g.resource }

// MetadataURL returns where the protected resource metadata of the server
// is: [middleware.ResourceMetadataURL] of [Guard.Resource], such as
// https://mcp.example.com/.well-known/oauth-protected-resource/mcp.
func (g *Guard) MetadataURL() string { return g.metadataURL }

// MetadataPath returns the path of [Guard.MetadataURL], where to mount
// [Guard.MetadataHandler] on the server's host.
func (g *Guard) MetadataPath() string {
	u, _ := url.Parse(g.metadataURL) // checked by New
	return u.Path
}

// Metadata returns the protected resource metadata (RFC 9728) of the
// server: the validator's (middleware.Validator.ResourceMetadata) with
// Options.ResourceName, and as scopes_supported the union, sorted, of the
// scopes of the server-wide requirement and of every tool's.
func (g *Guard) Metadata() middleware.ResourceMetadata {
	all := append(slices.Clone(g.require.Scopes), g.require.AnyScopes...)
	g.mu.RLock()
	for _, req := range g.tools {
		all = append(all, req.Scopes...)
		all = append(all, req.AnyScopes...)
	}
	g.mu.RUnlock()
	slices.Sort(all)
	md := g.v.ResourceMetadata(slices.Compact(all)...)
	md.ResourceName = g.name
	return md
}

// MetadataHandler serves [Guard.Metadata], with the tools' requirements as
// they are at each request, through middleware.ResourceMetadataHandler.
// Mount it at [Guard.MetadataPath].
func (g *Guard) MetadataHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		middleware.ResourceMetadataHandler(g.Metadata()).ServeHTTP(w, r)
	})
}
