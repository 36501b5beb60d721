package echoguard

import (
	"github.com/labstack/echo/v4"

	"github.com/logtoguard/logtoguard/middleware"
)

// ClaimsKey is the echo context key under which the Guard's middleware
// stores the *middleware.Claims: c.Get(ClaimsKey) returns them. [Claims] is
// the typed way to read them.
const ClaimsKey = "logtoguard.claims"

// Guard is the echo adapter of a [middleware.Validator].
type Guard struct {
	v *middleware.Validator
}

// New returns a Guard for v.
func New(v *middleware.Validator) *Guard { return &Guard{v: v} }

// Claims returns the claims stored by [Guard.Authenticate] or
// [Guard.Require] (or put in the request context by middleware.WithClaims)
// and whether there were any. It never panics.
func Claims(c echo.Context) (*middleware.Claims, bool) {
	if claims, ok := c.Get(ClaimsKey).(*middleware.Claims); ok && claims != nil {
		return claims, true
	}
	if c.Request() == nil {
		return nil, false
	}
	return middleware.ClaimsFromContext(c.Request().Context())
}

// Authenticate returns middleware that verifies the request's bearer token
// and stores the claims under [ClaimsKey] and in the request context, or
// answers 400/401/503 and stops. It requires nothing more of the token.
func (g *Guard) Authenticate() echo.MiddlewareFunc {
	return g.middleware(nil)
}

// Require returns middleware that verifies the request's bearer token
// (unless an earlier Authenticate already did), checks req with
// middleware.Authorize, resolving req.Organization as a path parameter
// (c.Param), and stores the claims as Authenticate does; otherwise it
// answers 400/401/403/503 and stops. It panics if req is invalid
// (middleware.Requirement.Validate), when the route is built.
func (g *Guard) Require(req middleware.Requirement) echo.MiddlewareFunc {
	req.MustValidate()
	return g.middleware(&req)
}

func (g *Guard) middleware(req *middleware.Requirement) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r := c.Request()
			claims, err := g.v.Authenticate(r)
			if err == nil && req != nil {
				err = middleware.Authorize(claims, *req, c.Param)
			}
			if err != nil {
				// The response is complete: an error returned to echo would
				// make it write another.
				g.v.WriteError(c.Response(), r, err)
				return nil
			}
			c.SetRequest(r.WithContext(middleware.WithClaims(r.Context(), claims)))
			c.Set(ClaimsKey, claims)
			return next(c)
		}
	}
}
