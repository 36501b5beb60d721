// Package logto holds the rules that say what Logto issues. The middleware
// and the logtoguard command read them here, so that they cannot drift
// apart.
package logto

import (
	"net/url"
	"strings"
)

// OrganizationAudiencePrefix starts the audience of a Logto organization
// token; the organization ID follows it.
const OrganizationAudiencePrefix = "urn:logto:organization:"

// OrganizationAudience returns the organization ID of an organization
// token's audience (urn:logto:organization:<id>, with a non-empty id) and
// whether aud is one. It is the one place that tells an organization
// audience from another: Verify's audience check,
// Claims.IsOrganizationToken and Claims.Organization all ask it.
func OrganizationAudience(aud string) (id string, ok bool) {
	id, ok = strings.CutPrefix(aud, OrganizationAudiencePrefix)
	if !ok || id == "" {
		return "", false
	}
	return id, true
}

// IsManagementAudience reports whether aud is one of Logto's Management API
// identifiers (https://<tenant>.logto.app/api on Logto Cloud,
// https://default.logto.app/api self-hosted), which a user's own API must
// never accept: Config.Audiences refuses them, and Verify names them in its
// error.
func IsManagementAudience(aud string) bool {
	if aud == "https://default.logto.app/api" || aud == "https://admin.logto.app/api" {
		return true
	}
	u, err := url.Parse(aud)
	return err == nil && u.Path == "/api" && strings.HasSuffix(strings.ToLower(u.Hostname()), ".logto.app")
}

// IsAccessTokenType reports whether the typ header marks a JWT access
// token: at+jwt or application/at+jwt, case-insensitively (RFC 9068,
// section 2.1). It is what tells Logto's access token from an ID token
// signed with the same key.
func IsAccessTokenType(typ string) bool {
	return strings.EqualFold(typ, "at+jwt") || strings.EqualFold(typ, "application/at+jwt")
}
