package ginguard

import (
	"context"

	"github.com/gin-gonic/gin"

	"github.com/logtoguard/logtoguard/middleware"
	"github.com/logtoguard/logtoguard/scopes"
)

// ClaimsKey is the gin context key under which [Guard.Authenticate] stores
// the *middleware.Claims: c.Get(ClaimsKey) returns them. [Claims] is the
// typed way to read them.
const ClaimsKey = "logtoguard.claims"

// Guard is the gin adapter of a [middleware.Validator].
type Guard struct {
	v *middleware.Validator
}

// New returns a Guard for v.
func New(v *middleware.Validator) *Guard { return &Guard{v: v} }

// Claims returns the claims stored by [Guard.Authenticate] (or put in the
// request context by middleware.WithClaims) and whether there were any. It
// never panics.
func Claims(c *gin.Context) (*middleware.Claims, bool) {
	if v, ok := c.Get(ClaimsKey); ok {
		if claims, ok := v.(*middleware.Claims); ok && claims != nil {
			return claims, true
		}
	}
	if c.Request == nil {
		return nil, false
	}
	return middleware.ClaimsFromContext(c.Request.Context())
}

// Authenticate returns a handler that verifies the request's bearer token
// and stores the claims under [ClaimsKey] and in the request context, or
// answers 400/401/503 and aborts.
func (g *Guard) Authenticate() gin.HandlerFunc {
	return func(c *gin.Context) { g.authenticate(c) }
}

// RequireScopes returns a handler that answers 403 insufficient_scope
// unless the claims stored by [Guard.Authenticate] meet req. A request
// without claims (a route not behind Authenticate) gets 401.
func (g *Guard) RequireScopes(req scopes.Requirement) gin.HandlerFunc {
	return g.RequireFunc(func(claims *middleware.Claims, c *gin.Context) error {
		ctx := context.Background()
		if c.Request != nil {
			ctx = c.Request.Context()
		}
		return middleware.AuthorizeScopes(ctx, claims, req)
	})
}

// RequireFunc returns a handler that runs check on the claims stored by
// [Guard.Authenticate] and answers with its error, if any, through the
// core's responder (middleware.ErrOrganization or a
// *middleware.ScopeError gives 403). It is how organization and M2M
// requirements are built. A request without claims gets 401.
func (g *Guard) RequireFunc(check func(*middleware.Claims, *gin.Context) error) gin.HandlerFunc {
	return func(c *gin.Context) {
		claims, ok := Claims(c)
		if !ok {
			g.fail(c, middleware.ErrNoToken)
			return
		}
		if err := check(claims, c); err != nil {
			g.fail(c, err)
		}
	}
}

// Require returns a handler that authenticates the request and checks req:
// Authenticate and RequireScopes in one.
func (g *Guard) Require(req scopes.Requirement) gin.HandlerFunc {
	authorize := g.RequireScopes(req)
	return func(c *gin.Context) {
		if g.authenticate(c) {
			authorize(c)
		}
	}
}

// authenticate is Authenticate's work; it reports whether the request may go
// on.
func (g *Guard) authenticate(c *gin.Context) bool {
	token, err := middleware.BearerToken(c.Request)
	if err != nil {
		g.fail(c, err)
		return false
	}
	claims, err := g.v.Verify(c.Request.Context(), token)
	if err != nil {
		g.fail(c, err)
		return false
	}
	c.Request = c.Request.WithContext(middleware.WithClaims(c.Request.Context(), claims))
	c.Set(ClaimsKey, claims)
	return true
}

// fail writes the core's response for err and aborts the chain.
func (g *Guard) fail(c *gin.Context, err error) {
	g.v.WriteError(c.Writer, c.Request, err)
	c.Abort()
}

// RequireOrganization answers 403 unless the token speaks for the
// organization that org returns for the request, such as [Param]("org") for
// a route "/orgs/:org/...": an organization token, or an organization-level
// API resource token with that organization_id (see
// middleware.AuthorizeOrganization). Like RequireScopes, it runs after
// Authenticate.
func (g *Guard) RequireOrganization(org func(*gin.Context) string) gin.HandlerFunc {
	check := g.RequireFunc(func(claims *middleware.Claims, c *gin.Context) error {
		return middleware.AuthorizeOrganization(claims, org(c))
	})
	return func(c *gin.Context) {
		check(c)
		if !c.IsAborted() && c.Request != nil {
			c.Request = c.Request.WithContext(middleware.WithAuthorizedOrganization(c.Request.Context(), org(c)))
		}
	}
}

// Param returns a function that reads the named path parameter, for
// RequireOrganization.
func Param(name string) func(*gin.Context) string {
	return func(c *gin.Context) string { return c.Param(name) }
}

// RequireM2M answers 403 unless the token was issued to a
// machine-to-machine app and, when appIDs are given, to one of them (see
// middleware.AuthorizeM2M). It runs after Authenticate.
func (g *Guard) RequireM2M(appIDs ...string) gin.HandlerFunc {
	return g.RequireFunc(func(claims *middleware.Claims, _ *gin.Context) error {
		return middleware.AuthorizeM2M(claims, appIDs...)
	})
}

// RequireUser answers 403 unless the token was issued on behalf of a user,
// not to a machine-to-machine app. It runs after Authenticate.
func (g *Guard) RequireUser() gin.HandlerFunc {
	return g.RequireFunc(func(claims *middleware.Claims, _ *gin.Context) error {
		return middleware.AuthorizeUser(claims)
	})
}
