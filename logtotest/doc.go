// Package logtotest runs a Logto-compatible issuer for tests: a tenant on
// 127.0.0.1 that serves discovery, the JWKS and the client credentials token
// endpoint, and mints access tokens shaped exactly like Logto's, so that an
// API can be tested end to end without a Logto instance.
//
//	func TestProducts(t *testing.T) {
//		logto := logtotest.New(t) // a tenant on 127.0.0.1, closed when the test ends
//		const api = "https://api.example.com"
//		v, err := middleware.New(middleware.Config{Endpoint: logto.Endpoint(), Audiences: []string{api}})
//		if err != nil {
//			t.Fatal(err)
//		}
//		defer v.Close()
//		token := logto.M2MToken("inventory-sync", api, "read:products")
//		// Send "Authorization: Bearer "+token to the API under test.
//	}
//
// # Tokens
//
// By default the issuer signs ES384 with an EC P-384 key, as Logto does;
// [WithRSA] makes it sign RS256. Every token has the header
// {"alg":"ES384","typ":"at+jwt","kid":"<RFC 7638 thumbprint>"} and the claims
// jti, sub, iat, exp, scope, client_id, iss and aud (no nbf; scope left out
// when empty). [Issuer.M2MToken], [Issuer.UserToken] and
// [Issuer.OrganizationToken] mint the three kinds Logto issues;
// [Issuer.Mint] takes a [Token] for anything else, including overriding or
// deleting any claim or header entry. The broken tokens that an API meets in
// practice each have a helper: [Issuer.OpaqueToken], [Issuer.ExpiredToken],
// [Issuer.WrongAudienceToken], [Issuer.IDToken] and [Issuer.ForeignKeyToken].
//
// Minting does not check registrations: the scopes given are the scopes
// written. The token endpoint does what Logto does instead: register API
// resources with [Issuer.AddResource] and apps with [Issuer.AddM2MApp], then
// POST grant_type=client_credentials to [Issuer.TokenURL] with HTTP Basic
// authentication, a resource and the scopes wanted. The scopes granted are
// those requested that both the app and the resource have; others are dropped
// silently, and a request without scope gets none. Errors have Logto's body
// ({"error","error_description","code","message"}) and status: 401
// invalid_client (with WWW-Authenticate), 400 unsupported_grant_type, 400
// invalid_target for a missing or unknown resource, 400 invalid_request for a
// malformed request.
//
// # Keys
//
// The JWKS at [Issuer.JWKSURL] answers like Logto's: Content-Type
// application/jwk-set+json, Cache-Control "no-cache, max-age=0,
// must-revalidate", an ETag, and 304 for a matching If-None-Match. EC keys
// carry "alg":"ES384" and "use":"sig"; RSA keys only "use":"sig".
// [Issuer.RotateKeys] is Logto's immediate rotation (the old key leaves the
// JWKS at once); [Issuer.StageRotation] and [Issuer.CompleteRotation] are a
// staged one (the next key is published before it signs, and the previous one
// stays published after). [Issuer.RemoveKey] drops any key.
//
// # Faults
//
// [Issuer.SetJWKSDown], [Issuer.SetJWKSDelay] and [Issuer.SetJWKSGarbage]
// make the JWKS fail the ways a network does, and [Issuer.JWKSFetches] counts
// the requests it received, to test caching and refetch limits.
//
// # Webhooks
//
// [Webhook] sends deliveries shaped and signed as Logto's webhooks send them
// (User.SuspensionStatus.Updated, User.Deleted, Organization.Membership.Updated,
// Organization.Deleted, or any payload), so that a test can drive a webhook
// receiver, such as package webhook's, without a Logto; [SignWebhook] is the
// signature alone.
package logtotest
