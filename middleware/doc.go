// Package middleware is the core of logtoguard: it verifies Logto access
// tokens for an API and turns every failure into the right RFC 6750
// response. It imports no web framework; the adapters in
// adapters/nethttp, adapters/ginguard and adapters/echoguard plug it into
// net/http, gin and echo.
//
// Create one [Validator] at start-up:
//
//	v, err := middleware.New(middleware.Config{
//		Endpoint:  "https://your-tenant.logto.app",    // issuer: <Endpoint>/oidc
//		Audiences: []string{"https://api.example.com"}, // your API identifier
//	})
//	if err != nil { ... }
//	defer v.Close()
//
// [Validator.Verify] takes a raw token and returns typed [Claims] or an
// error; [BearerToken] extracts the token from a request
// ([Validator.Authenticate] does both, reusing claims already in the
// request's context); [Authorize] checks a route's [Requirement] (scopes,
// the caller, the organization, a check of its own) and is the only
// authorization call, so its rules hold in every adapter;
// [Validator.WriteError] writes the response for any of their errors;
// [WithClaims] and [ClaimsFromContext] carry claims in a request context. An
// HTTP adapter is Authenticate, Authorize with the router's path values,
// WriteError and WithClaims.
//
// # What is checked
//
// Before any decoding: size ([Config.MaxTokenBytes]); then the verified-token
// cache, which holds only tokens that passed every check below, keyed by the
// exact string; then shape (three base64url parts; an opaque token or an
// encrypted one gets its own message). Header and claims are decoded once
// each, their shape bounded first in one pass that allocates nothing (member
// count, nesting depth). Then, before any key is fetched: the algorithm
// allowlist (RSA and ECDSA only), no member twice in the header or the claims
// and no registered name spelled in another case, no crit header, typ is
// at+jwt (RFC 9068), kid is present, iss is exactly one of the trusted
// issuers, aud names one of [Config.Audiences] (or, with
// [Config.AcceptOrganizationTokens], only organization audiences), exp and
// iat (both required) and nbf with the leeway, sub (required, and never equal
// to a URL client_id, which Logto gives no machine-to-machine app), and act
// when present (an object naming the actor in sub, and any prior actor in
// it an object). Only then the key by kid from that issuer's own key set,
// which must fit the algorithm (curve and key type), and the signature,
// admitted by [AdmissionConfig].
// Every check before the signature is linear in the token's size, so a
// token that is not genuine costs the server little (SECURITY.md).
//
// # Delegated tokens
//
// Logto's token exchange issues tokens that an actor uses on behalf of the
// subject: act {"sub": "<actor>"}, which [Claims].Actor holds. A route
// refuses them with [Requirement].NoDelegation (a payment, deleting an
// account), admits only listed actors with [Requirement].Actors, and only
// tokens that listed apps requested, users' or M2M, with
// [Requirement].Clients, the client_id allow-list Logto's guide
// recommends.
//
// # Revocations
//
// Last, after the signature and after every cache hit: the revocations of
// [Config.Revocations]. Logto cannot revoke its JWT access tokens, but it
// reports, in signed webhooks (package webhook), the events that should end
// them: a user suspended or deleted, a member removed from an organization,
// an organization deleted. A token of such a subject (or a delegated token
// it acts with), member, organization or client issued at or before the
// event is refused with [ErrRevoked] (401 invalid_token, "the token was
// revoked: user suspended").
// [Validator.Revoke] records one by hand. A token is never accepted longer
// than [Config.MaxTokenLifetime] after its iat, which is also how long a
// revocation is kept.
//
// # Errors
//
// Every error matches a sentinel of errors.go with errors.Is (and every token
// failure also [ErrInvalidToken]); it is an *[Error] naming the failed [Check]
// (see [CheckOf] for metrics), whose Description is safe
// to send to the caller and whose Detail (expected versus received audience,
// for one) is only logged. Missing scopes give a *[ScopeError].
//
// # Keys and the cache
//
// Keys come from package jwks: fetched in the background, refreshed, refetched
// once on an unknown kid, never blocking start-up. A token that verified is
// remembered until it expires (see [CacheConfig]), so a client that reuses its
// token pays for one signature check, not one per request.
package middleware
