package middleware

import (
	"context"
	"slices"

	"github.com/logtoguard/logtoguard/scopes"
)

// AuthorizeOrganization checks that c speaks for organization orgID, the
// organization a route addresses (often a path parameter): either an
// organization-level API resource token whose organization_id is orgID, or
// an organization token whose aud is urn:logto:organization:<orgID> (which
// Verify accepts only with [Config.AcceptOrganizationTokens]). It returns nil
// or an *[Error] matching [ErrOrganization] (403).
//
// A plain API token carries the scopes its user holds through organization
// roles in every organization, without saying which: a route that acts on one
// organization must call AuthorizeOrganization, not only check scopes.
func AuthorizeOrganization(c *Claims, orgID string) error {
	if orgID == "" {
		return newError(ErrOrganization, "the request names no organization")
	}
	if c == nil {
		return newError(ErrOrganization, "the token is not for organization "+quote(orgID))
	}
	if c.OrganizationID == orgID {
		return nil
	}
	for _, a := range c.Audience {
		if a == OrganizationAudiencePrefix+orgID {
			return nil
		}
	}
	e := newError(ErrOrganization, "the token is not for organization "+quote(orgID))
	if org, ok := c.Organization(); ok {
		e.Detail = "the token is for organization " + quote(org)
	} else {
		e.Description += ": request a token with organization_id (an organization token or an organization-level API resource)"
	}
	return e
}

type organizationKey struct{}

// WithAuthorizedOrganization returns a copy of ctx recording that the route
// authorized organization orgID for the request, as the adapters'
// RequireOrganization do once [AuthorizeOrganization] passes. It is what
// lets an organization token through [AuthorizeScopes].
func WithAuthorizedOrganization(ctx context.Context, orgID string) context.Context {
	return context.WithValue(ctx, organizationKey{}, orgID)
}

// AuthorizeScopes is [Authorize] for a request: it also refuses an
// organization token (see [Claims.IsOrganizationToken]) unless the route
// authorized that token's organization first ([WithAuthorizedOrganization]).
// Organization tokens carry organization scopes, which may share names with
// the API's own scopes: without this, a validator that accepts organization
// tokens would let them through every route that checks scopes only. It
// returns nil, a *[ScopeError], or an *[Error] matching [ErrOrganization].
func AuthorizeScopes(ctx context.Context, c *Claims, req scopes.Requirement) error {
	if c != nil && c.IsOrganizationToken() {
		org, _ := ctx.Value(organizationKey{}).(string)
		if id, _ := c.Organization(); org == "" || id != org {
			return newError(ErrOrganization, "an organization token is accepted only on routes for its organization")
		}
	}
	return Authorize(c, req)
}

// AuthorizeM2M checks that c was issued to a machine-to-machine app (sub ==
// client_id, see [Claims.IsM2M]) and, when appIDs are given, that its App ID
// is one of them. It returns nil or an *[Error] matching [ErrClient] (403).
func AuthorizeM2M(c *Claims, appIDs ...string) error {
	if c == nil || !c.IsM2M() {
		return newError(ErrClient, "this route accepts machine-to-machine apps only")
	}
	if len(appIDs) > 0 && !slices.Contains(appIDs, c.ClientID) {
		return newError(ErrClient, "the app "+quote(c.ClientID)+" may not use this route")
	}
	return nil
}

// AuthorizeUser checks that c was issued on behalf of a user, not to a
// machine-to-machine app. It returns nil or an *[Error] matching [ErrClient].
func AuthorizeUser(c *Claims) error {
	if c == nil || c.IsM2M() {
		return newError(ErrClient, "this route accepts users' tokens only")
	}
	return nil
}
