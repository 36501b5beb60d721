// Package revocation ends access before a token expires. Logto's JWT access
// tokens cannot be revoked at Logto: suspending or deleting a user, removing
// a member from an organization or deleting an organization stops new
// tokens, but every token already issued keeps working until its exp. A
// revocation [Entry] refuses the tokens of a subject, of a subject within
// one organization, of an organization or of a client that were issued at
// or before a time on Logto's clock (the token's iat is on the same clock,
// so the resource server's clock does not matter).
//
// A [Store] holds the entries. [Memory] is the in-memory default: its
// lookups are lock-light and never touch a network. A store shared by
// several replicas (Redis) lives in a module of its own and implements the
// same interface, as database/sql drivers do.
//
// The validator (package middleware) checks every token against its store
// after verification and after a cache hit, and the Logto webhook handler
// (package webhook) records entries as Logto reports the events.
package revocation
