package ginguard

import (
	"github.com/gin-gonic/gin"

	"github.com/logtoguard/logtoguard/middleware"
)

// ClaimsKey is the gin context key under which the Guard's handlers store
// the *middleware.Claims: c.Get(ClaimsKey) returns them. [Claims] is the
// typed way to read them.
const ClaimsKey = "logtoguard.claims"

// Guard is the gin adapter of a [middleware.Validator].
type Guard struct {
	v *middleware.Validator
}

// New returns a Guard for v.
func New(v *middleware.Validator) *Guard { return &Guard{v: v} }

// Claims returns the claims stored by [Guard.Authenticate] or
// [Guard.Require] (or put in the request context by middleware.WithClaims)
// and whether there were any. It never panics.
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
// answers 400/401/503 and aborts. It requires nothing more of the token.
func (g *Guard) Authenticate() gin.HandlerFunc {
	return g.handler(nil)
}

// Require returns a handler that verifies the request's bearer token (unless
// an earlier Authenticate already did), checks req with
// middleware.Authorize, resolving req.Organization as a path parameter
// (c.Param), and stores the claims as Authenticate does; otherwise it
// answers 400/401/403/503 and aborts. It panics if req is invalid
// (middleware.Requirement.Validate), when the route is built.
func (g *Guard) Require(req middleware.Requirement) gin.HandlerFunc {
	req.MustValidate()
	return g.handler(&req)
}

func (g *Guard) handler(req *middleware.Requirement) gin.HandlerFunc {
	return func(c *gin.Context) {
		claims, err := g.v.Authenticate(c.Request)
		if err == nil && req != nil {
			err = middleware.Authorize(claims, *req, c.Param)
		}
		if err != nil {
			g.v.WriteError(c.Writer, c.Request, err)
			c.Abort()
			return
		}
		c.Request = c.Request.WithContext(middleware.WithClaims(c.Request.Context(), claims))
		c.Set(ClaimsKey, claims)
	}
}
