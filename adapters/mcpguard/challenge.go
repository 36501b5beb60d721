package mcpguard

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/logtoguard/logtoguard/middleware"
	"github.com/logtoguard/logtoguard/scopes"
)

// offlineAccess is the OpenID Connect scope that asks for a refresh token:
// a request to the authorization server, never a scope of a resource.
const offlineAccess = "offline_access"

// checkScopes refuses offline_access in a requirement: the MCP
// authorization specification (2026-07-28, "Refresh Tokens") says a
// protected resource should not name it in a challenge or in
// scopes_supported, and Logto never puts it in an access token's scope, so
// a requirement that names it could never be met.
func checkScopes(req middleware.Requirement) error {
	if slices.Contains(req.Scopes, offlineAccess) || slices.Contains(req.AnyScopes, offlineAccess) {
		return errors.New("offline_access asks for a refresh token: it is not a scope an MCP server can require")
	}
	return nil
}

// authorizeAll checks claims c against every requirement of one request:
// the server-wide one and those of the tools it calls. A refusal for
// another reason than scope is returned as it is. When scopes are missing,
// the error names in one challenge every scope that the request needs, all
// its requirements' together, so that one step-up gets the client there
// (MCP authorization, "Runtime Insufficient Scope Errors": servers should
// include all scopes required for the current operation in a single
// challenge). A one-of requirement that is not met adds all its scopes; a
// single requirement alone is answered as [middleware.Authorize] answers
// it.
func authorizeAll(c *middleware.Claims, reqs []middleware.Requirement, value func(string) string) error {
	var (
		first    error
		failures int
		needed   []string
	)
	for _, req := range reqs {
		err := middleware.Authorize(c, req, value)
		var se *middleware.ScopeError
		switch {
		case err == nil:
		case errors.As(err, &se):
			failures++
			if first == nil {
				first = err
			}
		default:
			return err
		}
		needed = append(needed, req.Scopes...)
		if len(req.AnyScopes) > 0 && !scopes.Any(req.AnyScopes...).Satisfied(c.Scopes) {
			needed = append(needed, req.AnyScopes...)
		}
	}
	if failures == 0 {
		return nil
	}
	needed = dedupe(needed)
	var firstScope *middleware.ScopeError
	errors.As(first, &firstScope)
	if failures == 1 && firstScope.Required == strings.Join(needed, " ") {
		return first
	}
	missing := scopes.All(needed...).Missing(c.Scopes)
	if len(missing) == 0 {
		// Every scope is granted, yet a requirement failed on scope:
		// not a case Authorize has, but never answer it as a pass.
		return fmt.Errorf("mcpguard: %w", first)
	}
	return &middleware.ScopeError{Required: strings.Join(needed, " "), Missing: missing}
}

// dedupe returns list without repeats, in first-seen order.
func dedupe(list []string) []string {
	out := make([]string, 0, len(list))
	for _, s := range list {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}
