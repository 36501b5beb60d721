// Package webhook receives Logto's webhooks and turns the events that should
// end access into revocations, so that a suspended or deleted user, a member
// removed from an organization or a deleted organization loses every token
// already issued at once, not when the tokens expire.
//
// [New] returns an http.Handler for POST requests from Logto (Console >
// Webhooks, endpoint URL such as https://api.example.com/logto/webhooks). It
// checks the logto-signature-sha-256 header (HMAC-SHA256 of the raw body with
// the webhook's signing key, compared in constant time; several keys at once
// during a rotation), bounds the body, refuses a delivery whose createdAt is
// outside [Config.Window] (a replay), and records what the event ends in
// [Config.Store], usually the validator ([middleware.Validator.Revoke] keeps
// an entry as long as a token it refuses can live).
//
// The events it uses ([Parse] maps them):
//
//	User.SuspensionStatus.Updated  isSuspended true: every token of the user,
//	                               and every token it acts with (act.sub)
//	User.Deleted                   every token of the user, and every token
//	                               it acts with (act.sub)
//	Organization.Membership.Updated  removed users and apps: their tokens for
//	                               the organization (organization tokens, API
//	                               tokens with its organization_id)
//	Organization.Deleted           every token for the organization
//
// Every other event is answered 200 and ignored. Not covered, because Logto's
// events do not say whose tokens they change: role and scope changes
// (Role.Scopes.Updated, OrganizationRole.Scopes.Updated, a user's roles);
// tokens keep the scopes they were issued with until they expire. Logto sends
// no event when an application is deleted: revoke its client_id with
// [middleware.Validator.Revoke].
//
// Answers: 200 once recorded (or for an unused event); 400, 401, 405 or 413
// for a delivery it refused, never 5xx, since Logto retries on 5xx; 503 only
// when the store failed to record (full, or its backend down), so that Logto
// delivers the event again.
package webhook
