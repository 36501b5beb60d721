package middleware

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/logtoguard/logtoguard/scopes"
)

// Requirement is what a route, an RPC method or a gateway route requires of
// a verified token. The zero value requires a valid token and nothing more;
// every field that is set must hold as well. Apply one with [Authorize]; the
// adapters' Require does that for a request.
//
//	middleware.Scopes("read:products")
//	middleware.Requirement{Organization: "org", Scopes: []string{"read:products"}}
//	middleware.Requirement{M2M: true, AppIDs: []string{"inventory-sync"}}
//	middleware.Requirement{NoDelegation: true, Clients: []string{"web-app"}}
type Requirement struct {
	// Scopes the token must all hold (the scope claim).
	Scopes []string
	// AnyScopes, when set, are scopes of which the token must hold at least
	// one.
	AnyScopes []string

	// M2M admits only tokens issued to a machine-to-machine app (sub ==
	// client_id, see [Claims.IsM2M]).
	M2M bool
	// AppIDs, when set, admits only these machine-to-machine apps; it implies
	// M2M.
	AppIDs []string
	// User admits only tokens issued on behalf of a user.
	User bool

	// Clients, when set, admits only tokens whose client_id is listed:
	// users' tokens and machine-to-machine tokens alike, delegated or not
	// (the allow-list Logto's token exchange guide recommends to an API
	// that receives delegated calls). Values are compared exactly, byte for
	// byte: a URL client ID must be listed as the token carries it.
	Clients []string
	// NoDelegation refuses delegated and impersonation tokens (those with
	// an act claim, see [Claims.Actor]): for a route that wants the
	// subject's own hand, such as a payment or deleting an account.
	NoDelegation bool
	// Actors, when set, admits a delegated token only when its actor
	// (act.sub) is listed. The subject's own tokens, which have no actor,
	// are not affected; with NoDelegation it would be a contradiction.
	Actors []string

	// Organization names the request value that says which organization the
	// request addresses: a path wildcard such as "org" for a route
	// "/orgs/{org}/...", or for an RPC whatever the interceptor resolves the
	// name to. The token must speak for that organization: an
	// organization-level API resource token whose organization_id is that
	// organization, or an organization token for it (accepted by Verify only
	// with [Config.AcceptOrganizationTokens]). A request whose value is empty
	// is refused.
	//
	// An organization token opens only routes that name an organization:
	// its scopes are organization scopes, which may share names with the
	// API's own, so [Authorize] refuses it wherever Organization is empty.
	Organization string

	// Check, when set, runs last, on claims that met everything above. Its
	// error is answered through [Validator.WriteError]: return an *[Error]
	// of [ErrClient] or [ErrOrganization], or a *[ScopeError], for a 403.
	Check func(*Claims) error
}

// Scopes returns the requirement that the token hold every one of scopes.
func Scopes(scopes ...string) Requirement { return Requirement{Scopes: scopes} }

// Validate reports a requirement that no token could meet or that is
// spelled wrongly: an empty scope, App ID, client or actor, M2M or AppIDs
// together with User, Actors together with NoDelegation, an organization
// name with braces or slashes. Adapters call it when a
// route is built, so a mistake fails at start-up.
func (r Requirement) Validate() error {
	for _, list := range []struct {
		field  string
		values []string
	}{{"Scopes", r.Scopes}, {"AnyScopes", r.AnyScopes}, {"AppIDs", r.AppIDs}, {"Clients", r.Clients}, {"Actors", r.Actors}} {
		for _, s := range list.values {
			if s == "" || strings.ContainsAny(s, " \t\r\n\"\\") {
				return fmt.Errorf("middleware: requirement %s: %q is not a valid value", list.field, s)
			}
		}
	}
	if r.User && (r.M2M || len(r.AppIDs) > 0) {
		return errors.New("middleware: requirement User: a requirement for users' tokens cannot also require M2M or AppIDs")
	}
	if r.NoDelegation && len(r.Actors) > 0 {
		return errors.New("middleware: requirement NoDelegation: a requirement that refuses delegated tokens cannot also list their Actors")
	}
	if strings.ContainsAny(r.Organization, "{}/ ") {
		return fmt.Errorf("middleware: requirement Organization %q must be the bare name of a request value, such as \"org\"", r.Organization)
	}
	return nil
}

// MustValidate returns r, or panics with the error of [Requirement.Validate].
// Adapters call it where a route is registered, as net/http's ServeMux does
// with a pattern it cannot parse.
func (r Requirement) MustValidate() Requirement {
	if err := r.Validate(); err != nil {
		panic(err)
	}
	return r
}

// Authorize checks that the claims c of a verified token meet req. value
// resolves the request values a requirement names ([Requirement.Organization]);
// it may be nil when req names none. The checks run in this order: the
// caller (M2M, AppIDs, User, Clients, NoDelegation, Actors), the organization, the organization-token rule
// (an organization token only where req names an organization), the
// scopes, then Check.
//
// It returns nil, a *[ScopeError] (403, naming the scopes to ask for), an
// *[Error] matching [ErrClient] or [ErrOrganization] (403), or [ErrNoToken]
// when c is nil. Every adapter, interceptor and gateway route calls it, so
// the rules hold the same everywhere.
func Authorize(c *Claims, req Requirement, value func(name string) string) error {
	if c == nil {
		return newError(ErrNoToken, "")
	}
	if err := authorizeCaller(c, req); err != nil {
		return err
	}
	if req.Organization != "" {
		var org string
		if value != nil {
			org = value(req.Organization)
		}
		if err := authorizeOrganization(c, org); err != nil {
			return err
		}
	} else if c.IsOrganizationToken() {
		return newError(ErrOrganization, "an organization token is accepted only on routes for its organization")
	}
	if missing := scopes.All(req.Scopes...).Missing(c.Scopes); missing != nil {
		return &ScopeError{Required: strings.Join(req.Scopes, " "), Missing: missing}
	}
	if len(req.AnyScopes) > 0 {
		if missing := scopes.Any(req.AnyScopes...).Missing(c.Scopes); missing != nil {
			return &ScopeError{Required: strings.Join(req.AnyScopes, " "), Missing: missing, AnyOf: true}
		}
	}
	if req.Check != nil {
		return req.Check(c)
	}
	return nil
}

// authorizeCaller applies M2M, AppIDs, User, Clients, NoDelegation and
// Actors.
func authorizeCaller(c *Claims, req Requirement) error {
	if req.User && c.IsM2M() {
		return newError(ErrClient, "this route accepts users' tokens only")
	}
	if (req.M2M || len(req.AppIDs) > 0) && !c.IsM2M() {
		return newError(ErrClient, "this route accepts machine-to-machine apps only")
	}
	if len(req.AppIDs) > 0 && !slices.Contains(req.AppIDs, c.ClientID) {
		return newError(ErrClient, "the app "+quote(c.ClientID)+" may not use this route")
	}
	if len(req.Clients) > 0 && !slices.Contains(req.Clients, c.ClientID) {
		return newError(ErrClient, "the client "+quote(c.ClientID)+" may not use this route")
	}
	if c.IsDelegated() {
		if req.NoDelegation {
			return newError(ErrClient, "this route accepts only the subject's own tokens, not one acting for it (act "+quote(c.Actor)+")")
		}
		if len(req.Actors) > 0 && !slices.Contains(req.Actors, c.Actor) {
			return newError(ErrClient, "the actor "+quote(c.Actor)+" may not act for others on this route")
		}
	}
	return nil
}

// authorizeOrganization checks that c speaks for organization orgID.
//
// A plain API token carries the scopes its user holds through organization
// roles in every organization, without saying which: that is why a route
// that acts on one organization must name it.
func authorizeOrganization(c *Claims, orgID string) error {
	if orgID == "" {
		return newError(ErrOrganization, "the request names no organization")
	}
	if id, ok := c.Organization(); ok && id == orgID {
		return nil
	}
	e := newError(ErrOrganization, "the token is not for organization "+quote(orgID))
	if org, ok := c.Organization(); ok {
		e.Detail = "the token is for organization " + quote(org)
	} else {
		e.Description += ": request a token with organization_id (an organization token or an organization-level API resource)"
	}
	return e
}

// Authenticate returns the claims of r's bearer token: those an adapter
// already put in r's context (with [WithClaims]), or else the token's, from
// [BearerToken] and [Validator.Verify]. It is the first half of every HTTP
// adapter; answer its error with [Validator.WriteError].
func (v *Validator) Authenticate(r *http.Request) (*Claims, error) {
	if r == nil {
		return nil, newError(ErrNoToken, "")
	}
	if c, ok := ClaimsFromContext(r.Context()); ok {
		return c, nil
	}
	token, err := BearerToken(r)
	if err != nil {
		return nil, err
	}
	return v.Verify(r.Context(), token)
}
