package middleware

import (
	"encoding/base64"
	"encoding/json"
	"time"

	"github.com/logtoguard/logtoguard/internal/logto"
	"github.com/logtoguard/logtoguard/scopes"
)

// Claims are the verified claims of a Logto access token. A *Claims is
// shared by every request that presents the same token (see the verified-token
// cache): treat it as read-only.
type Claims struct {
	// Issuer (iss), such as https://tenant.logto.app/oidc.
	Issuer string
	// Subject (sub): the user ID, or for a machine-to-machine token the App ID.
	Subject string
	// Audience (aud): the API identifiers the token was issued for.
	Audience []string
	// ClientID (client_id): the application that requested the token: a
	// Logto App ID, or for an MCP client registered by a Client ID Metadata
	// Document an HTTPS URL of up to 2,048 characters.
	ClientID string
	// Scopes granted (the scope claim, split on spaces); nil when none.
	Scopes []string
	// OrganizationID (organization_id) of an organization-level API token;
	// empty otherwise. For organization tokens (aud
	// urn:logto:organization:<id>) see [Claims.Organization].
	OrganizationID string
	// Actor (act.sub) of a delegated or impersonation token, one that
	// Logto's token exchange issued: the actor makes the call on behalf of
	// Subject. Empty for the subject's own token. A prior actor (an act
	// nested in act) is left to [Claims.Decode]: Verify checks only that it
	// is a JSON object, not what it holds.
	Actor string
	// IssuedAt (iat): Verify refuses a token without it.
	IssuedAt time.Time
	// ExpiresAt (exp).
	ExpiresAt time.Time
	// JWTID (jti).
	JWTID string
	// KeyID is the kid of the key that signed the token.
	KeyID string

	// payload is the base64url claims segment, kept for Decode.
	payload string
}

// IsM2M reports whether the token was issued to a machine-to-machine app by
// the client-credentials grant: Logto marks it only by sub == client_id,
// both being the App ID. A URL client ID (a Client ID Metadata Document)
// is never an App ID: [Validator.Verify] refuses a token whose sub equals
// one, and IsM2M is false for it.
func (c *Claims) IsM2M() bool {
	return c.Subject != "" && c.Subject == c.ClientID && !isURLClientID(c.ClientID)
}

// IsDelegated reports whether the token was issued by token exchange to
// an actor acting on behalf of the subject (an act claim, see
// [Claims.Actor]): a delegated or impersonation token.
func (c *Claims) IsDelegated() bool { return c.Actor != "" }

// AppID returns the App ID of a machine-to-machine caller and true, or ""
// and false for a user's token.
func (c *Claims) AppID() (string, bool) {
	if c.IsM2M() {
		return c.ClientID, true
	}
	return "", false
}

// HasScope reports whether the token was granted scope.
func (c *Claims) HasScope(scope string) bool { return scopes.Has(c.Scopes, scope) }

// organizationAudiences counts the organization audiences in aud.
func organizationAudiences(aud []string) int {
	n := 0
	for _, a := range aud {
		if _, ok := logto.OrganizationAudience(a); ok {
			n++
		}
	}
	return n
}

// IsOrganizationToken reports whether c is a Logto organization token:
// every audience is urn:logto:organization:<id>, so its scopes are
// organization scopes, not the API's. Verify refuses a token whose
// audiences mix organization and other values, so a token it accepted is
// either an organization token or has no organization audience.
func (c *Claims) IsOrganizationToken() bool {
	return len(c.Audience) > 0 && organizationAudiences(c.Audience) == len(c.Audience)
}

// Organization returns the organization the token speaks for: the
// organization_id claim of an organization-level API token, or the ID in an
// organization token's audience (urn:logto:organization:<id>).
func (c *Claims) Organization() (string, bool) {
	if c.OrganizationID != "" {
		return c.OrganizationID, true
	}
	for _, a := range c.Audience {
		if id, ok := logto.OrganizationAudience(a); ok {
			return id, true
		}
	}
	return "", false
}

// Decode unmarshals all claims of the token into v, for custom claims added
// by a Logto custom JWT script (or the whole act chain of a delegated token):
//
//	var extra struct{ Roles []string `json:"roles"` }
//	err := claims.Decode(&extra)
func (c *Claims) Decode(v any) error {
	raw, err := c.Raw()
	if err != nil {
		return err
	}
	return json.Unmarshal(raw, v)
}

// Raw returns the JSON of all claims as signed.
func (c *Claims) Raw() (json.RawMessage, error) {
	return base64.RawURLEncoding.DecodeString(c.payload)
}

// OrganizationAudiencePrefix starts the audience of a Logto organization
// token; the organization ID follows it.
const OrganizationAudiencePrefix = logto.OrganizationAudiencePrefix
