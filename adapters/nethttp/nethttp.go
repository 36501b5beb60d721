// Package nethttp protects net/http handlers with logtoguard.
//
//	guard := nethttp.New(v) // v is a *middleware.Validator
//	mux.Handle("GET /products", guard.Require(middleware.Scopes("read:products"))(products))
//	mux.Handle("GET /orgs/{org}/products", guard.Require(middleware.Requirement{
//		Organization: "org", // the {org} wildcard
//		Scopes:       []string{"read:products"},
//	})(orgProducts))
//
// [Guard.Require] verifies the bearer token, checks the route's
// [middleware.Requirement] (an organization named by a path wildcard is
// read with http.Request.PathValue) and calls the handler with the claims in
// the request context (read them with middleware.ClaimsFromContext).
// [Guard.Authenticate] only verifies. Every rejection is written by the
// core's responder (middleware.Validator.WriteError).
package nethttp

import (
	"net/http"

	"github.com/logtoguard/logtoguard/middleware"
)

// Guard is the net/http adapter of a [middleware.Validator].
type Guard struct {
	v *middleware.Validator
}

// New returns a Guard for v.
func New(v *middleware.Validator) *Guard { return &Guard{v: v} }

// Authenticate verifies the request's bearer token and calls next with the
// claims in the request context, or answers 400/401/503 and stops. It
// requires nothing more of the token: an organization token, when the
// validator accepts them, passes too (see middleware.Claims.IsOrganizationToken).
func (g *Guard) Authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		claims, err := g.v.Authenticate(r)
		if err != nil {
			g.v.WriteError(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(middleware.WithClaims(r.Context(), claims)))
	})
}

// Require returns middleware that verifies the request's bearer token
// (unless an outer Authenticate already did), checks req with
// middleware.Authorize, resolving req.Organization as a path wildcard, and
// calls next with the claims in the request context; otherwise it answers
// 400/401/403/503 and stops. It panics if req is invalid
// (middleware.Requirement.Validate), when the route is built.
func (g *Guard) Require(req middleware.Requirement) func(http.Handler) http.Handler {
	req.MustValidate()
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			claims, err := g.v.Authenticate(r)
			if err == nil {
				err = middleware.Authorize(claims, req, r.PathValue)
			}
			if err != nil {
				g.v.WriteError(w, r, err)
				return
			}
			next.ServeHTTP(w, r.WithContext(middleware.WithClaims(r.Context(), claims)))
		})
	}
}
