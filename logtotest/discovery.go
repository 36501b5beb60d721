package logtotest

import "net/http"

// serveDiscovery answers the OpenID Connect discovery document (also served
// as RFC 8414 authorization server metadata, as Logto 1.42 does). Like
// Logto's, it lists Logto's endpoints and grants; of those, this issuer
// serves only the JWKS and the client_credentials grant of the token
// endpoint. The issuer is the configured one; the URLs are on 127.0.0.1.
func (i *Issuer) serveDiscovery(w http.ResponseWriter, _ *http.Request) {
	alg := i.keys.algorithm()
	base := i.endpoint + "/oidc"
	doc := map[string]any{
		"issuer":                                i.issuer,
		"authorization_endpoint":                base + "/auth",
		"token_endpoint":                        base + "/token",
		"userinfo_endpoint":                     base + "/me",
		"jwks_uri":                              base + "/jwks",
		"end_session_endpoint":                  base + "/session/end",
		"revocation_endpoint":                   base + "/token/revocation",
		"introspection_endpoint":                base + "/token/introspection",
		"grant_types_supported":                 []string{"implicit", "authorization_code", "refresh_token", "client_credentials", "urn:ietf:params:oauth:grant-type:token-exchange"},
		"response_types_supported":              []string{"code id_token", "code", "id_token", "none"},
		"response_modes_supported":              []string{"form_post", "fragment", "query"},
		"scopes_supported":                      []string{"openid", "offline_access", "profile", "email", "phone", "custom_data", "identities", "roles", "urn:logto:scope:organizations", "urn:logto:scope:organization_roles"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{alg},
		"token_endpoint_auth_methods_supported": []string{"none", "client_secret_basic", "client_secret_jwt", "client_secret_post", "private_key_jwt"},
		"code_challenge_methods_supported":      []string{"S256"},
		"claims_parameter_supported":            false,
		"request_parameter_supported":           false,
		"request_uri_parameter_supported":       false,
	}
	writeJSON(w, http.StatusOK, doc)
}
