// Package nethttp protects net/http handlers with logtoguard.
//
//	guard := nethttp.New(v) // v is a *middleware.Validator
//	mux.Handle("GET /products", guard.Require(scopes.All("read:products"))(products))
//
// [Guard.Authenticate] verifies the bearer token and puts the claims in the
// request context (read them with middleware.ClaimsFromContext);
// [Guard.RequireScopes] checks a route's scopes on claims put there by
// Authenticate; [Guard.Require] is both. Every rejection is written by the
// core's responder (middleware.Validator.WriteError).
package nethttp

import (
	"net/http"

	"github.com/logtoguard/logtoguard/middleware"
	"github.com/logtoguard/logtoguard/scopes"
)

// Guard is the net/http adapter of a [middleware.Validator].
type Guard struct {
	v *middleware.Validator
}

// New returns a Guard for v.
func New(v *middleware.Validator) *Guard { return &Guard{v: v} }

// Authenticate verifies the request's bearer token and calls next with the
// claims in the request context, or answers 400/401/503 and stops.
func (g *Guard) Authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, err := middleware.BearerToken(r)
		if err != nil {
			g.v.WriteError(w, r, err)
			return
		}
		claims, err := g.v.Verify(r.Context(), token)
		if err != nil {
			g.v.WriteError(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(middleware.WithClaims(r.Context(), claims)))
	})
}

// RequireScopes returns middleware that answers 403 insufficient_scope
// unless the claims put in the context by [Guard.Authenticate] meet req. A
// request without claims (a route not behind Authenticate) gets 401.
func (g *Guard) RequireScopes(req scopes.Requirement) func(http.Handler) http.Handler {
	return g.RequireFunc(func(c *middleware.Claims, r *http.Request) error {
		return middleware.AuthorizeScopes(r.Context(), c, req)
	})
}

// RequireFunc returns middleware that runs check on the claims put in the
// context by [Guard.Authenticate] and answers with its error, if any,
// through the core's responder. It is how organization and M2M
// requirements are built.
func (g *Guard) RequireFunc(check func(*middleware.Claims, *http.Request) error) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			claims, ok := middleware.ClaimsFromContext(r.Context())
			if !ok {
				g.v.WriteError(w, r, middleware.ErrNoToken)
				return
			}
			if err := check(claims, r); err != nil {
				g.v.WriteError(w, r, err)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// Require authenticates the request and checks req: Authenticate and
// RequireScopes in one.
func (g *Guard) Require(req scopes.Requirement) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return g.Authenticate(g.RequireScopes(req)(next))
	}
}

// RequireOrganization lets a request through only when its token speaks for
// the organization that org returns for the request, such as [PathValue]
// ("org") for a route "/orgs/{org}/...": an organization token, or an
// organization-level API resource token with that organization_id (see
// middleware.AuthorizeOrganization). Otherwise it answers 403. Like
// RequireScopes, it runs after Authenticate.
func (g *Guard) RequireOrganization(org func(*http.Request) string) func(http.Handler) http.Handler {
	check := g.RequireFunc(func(c *middleware.Claims, r *http.Request) error {
		return middleware.AuthorizeOrganization(c, org(r))
	})
	return func(next http.Handler) http.Handler {
		return check(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(w, r.WithContext(middleware.WithAuthorizedOrganization(r.Context(), org(r))))
		}))
	}
}

// PathValue returns a function that reads the named wildcard of the
// request's path (http.Request.PathValue), for RequireOrganization.
func PathValue(name string) func(*http.Request) string {
	return func(r *http.Request) string { return r.PathValue(name) }
}

// RequireM2M lets a request through only when its token was issued to a
// machine-to-machine app and, when appIDs are given, to one of them (see
// middleware.AuthorizeM2M). Otherwise it answers 403. It runs after
// Authenticate.
func (g *Guard) RequireM2M(appIDs ...string) func(http.Handler) http.Handler {
	return g.RequireFunc(func(c *middleware.Claims, _ *http.Request) error {
		return middleware.AuthorizeM2M(c, appIDs...)
	})
}

// RequireUser lets a request through only when its token was issued on
// behalf of a user, not to a machine-to-machine app. Otherwise it answers
// 403. It runs after Authenticate.
func (g *Guard) RequireUser() func(http.Handler) http.Handler {
	return g.RequireFunc(func(c *middleware.Claims, _ *http.Request) error {
		return middleware.AuthorizeUser(c)
	})
}
