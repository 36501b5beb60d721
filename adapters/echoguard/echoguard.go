package echoguard

import (
	"context"

	"github.com/labstack/echo/v4"

	"github.com/logtoguard/logtoguard/middleware"
	"github.com/logtoguard/logtoguard/scopes"
)

// ClaimsKey is the echo context key under which [Guard.Authenticate] stores
// the *middleware.Claims: c.Get(ClaimsKey) returns them. [Claims] is the
// typed way to read them.
const ClaimsKey = "logtoguard.claims"

// Guard is the echo adapter of a [middleware.Validator].
type Guard struct {
	v *middleware.Validator
}

// New returns a Guard for v.
func New(v *middleware.Validator) *Guard { return &Guard{v: v} }

// Claims returns the claims stored by [Guard.Authenticate] (or put in the
// request context by middleware.WithClaims) and whether there were any. It
// never panics.
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
// answers 400/401/503 and stops.
func (g *Guard) Authenticate() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			token, err := middleware.BearerToken(c.Request())
			if err != nil {
				return g.fail(c, err)
			}
			claims, err := g.v.Verify(c.Request().Context(), token)
			if err != nil {
				return g.fail(c, err)
			}
			c.SetRequest(c.Request().WithContext(middleware.WithClaims(c.Request().Context(), claims)))
			c.Set(ClaimsKey, claims)
			return next(c)
		}
	}
}

// RequireScopes returns middleware that answers 403 insufficient_scope
// unless the claims stored by [Guard.Authenticate] meet req. A request
// without claims (a route not behind Authenticate) gets 401.
func (g *Guard) RequireScopes(req scopes.Requirement) echo.MiddlewareFunc {
	return g.RequireFunc(func(claims *middleware.Claims, c echo.Context) error {
		ctx := context.Background()
		if c.Request() != nil {
			ctx = c.Request().Context()
		}
		return middleware.AuthorizeScopes(ctx, claims, req)
	})
}

// RequireFunc returns middleware that runs check on the claims stored by
// [Guard.Authenticate] and answers with its error, if any, through the
// core's responder (middleware.ErrOrganization or a
// *middleware.ScopeError gives 403). It is how organization and M2M
// requirements are built. A request without claims gets 401.
func (g *Guard) RequireFunc(check func(*middleware.Claims, echo.Context) error) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			claims, ok := Claims(c)
			if !ok {
				return g.fail(c, middleware.ErrNoToken)
			}
			if err := check(claims, c); err != nil {
				return g.fail(c, err)
			}
			return next(c)
		}
	}
}

// Require returns middleware that authenticates the request and checks req:
// Authenticate and RequireScopes in one.
func (g *Guard) Require(req scopes.Requirement) echo.MiddlewareFunc {
	authenticate, authorize := g.Authenticate(), g.RequireScopes(req)
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return authenticate(authorize(next))
	}
}

// fail writes the core's response for err. It returns nil: the response is
// complete, and an error would make echo write another.
func (g *Guard) fail(c echo.Context, err error) error {
	g.v.WriteError(c.Response(), c.Request(), err)
	return nil
}

// RequireOrganization answers 403 unless the token speaks for the
// organization that org returns for the request, such as [Param]("org") for
// a route "/orgs/:org/...": an organization token, or an organization-level
// API resource token with that organization_id (see
// middleware.AuthorizeOrganization). Like RequireScopes, it runs after
// Authenticate.
func (g *Guard) RequireOrganization(org func(echo.Context) string) echo.MiddlewareFunc {
	check := g.RequireFunc(func(claims *middleware.Claims, c echo.Context) error {
		return middleware.AuthorizeOrganization(claims, org(c))
	})
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return check(func(c echo.Context) error {
			if r := c.Request(); r != nil {
				c.SetRequest(r.WithContext(middleware.WithAuthorizedOrganization(r.Context(), org(c))))
			}
			return next(c)
		})
	}
}

// Param returns a function that reads the named path parameter, for
// RequireOrganization.
func Param(name string) func(echo.Context) string {
	return func(c echo.Context) string { return c.Param(name) }
}

// RequireM2M answers 403 unless the token was issued to a
// machine-to-machine app and, when appIDs are given, to one of them (see
// middleware.AuthorizeM2M). It runs after Authenticate.
func (g *Guard) RequireM2M(appIDs ...string) echo.MiddlewareFunc {
	return g.RequireFunc(func(claims *middleware.Claims, _ echo.Context) error {
		return middleware.AuthorizeM2M(claims, appIDs...)
	})
}

// RequireUser answers 403 unless the token was issued on behalf of a user,
// not to a machine-to-machine app. It runs after Authenticate.
func (g *Guard) RequireUser() echo.MiddlewareFunc {
	return g.RequireFunc(func(claims *middleware.Claims, _ echo.Context) error {
		return middleware.AuthorizeUser(claims)
	})
}
