package middleware

import (
	"context"
	"fmt"
	"time"

	"github.com/logtoguard/logtoguard/revocation"
)

// expires is when the verdict on c ends: exp, or iat+MaxTokenLifetime when
// sooner, plus the leeway.
func (v *Validator) expires(c *Claims) time.Time {
	end := c.ExpiresAt
	if !c.IssuedAt.IsZero() {
		if limit := c.IssuedAt.Add(v.cfg.MaxTokenLifetime); limit.Before(end) {
			end = limit
		}
	}
	return end.Add(v.cfg.Leeway)
}

// TokenOf returns what a revocation is checked against in c: its subject,
// actor (act.sub of a delegated token), client, organization
// (organization_id, or an organization token's audience) and iat.
func TokenOf(c *Claims) revocation.Token {
	org, _ := c.Organization()
	return revocation.Token{Subject: c.Subject, Actor: c.Actor, Client: c.ClientID, Organization: org, IssuedAt: c.IssuedAt}
}

// checkRevoked refuses c when a revocation does.
func (v *Validator) checkRevoked(c *Claims) *Error {
	e, revoked := v.cfg.Revocations.Revoked(TokenOf(c))
	if !revoked {
		return nil
	}
	desc := "the token was revoked"
	if e.Reason != "" {
		desc += ": " + e.Reason
	}
	return &Error{
		Kind: ErrRevoked, Check: CheckRevoked, Description: desc,
		Detail: fmt.Sprintf("%s revoked for tokens issued at or before %s", text(e.Key()), e.At.UTC().Format(time.RFC3339Nano)),
	}
}

// checkRevokedHit is checkRevoked for a cache hit: with a store that counts
// its changes, a token already found unrefused at the store's current
// version is not looked up again. The version is read before the lookup, so
// a change that lands during it leaves the mark stale and the next hit
// looks again.
func (v *Validator) checkRevokedHit(e *cacheEntry) *Error {
	if v.versioned == nil {
		return v.checkRevoked(e.claims)
	}
	version := v.versioned.Version() + 1
	if e.clean.Load() == version {
		return nil
	}
	if err := v.checkRevoked(e.claims); err != nil {
		return err
	}
	e.clean.Store(version)
	return nil
}

// Revoke records a revocation in Config.Revocations, for an app that learns
// of a compromise elsewhere than from Logto: from then on, Verify refuses
// the tokens of e's kind and IDs issued at or before e.At (on Logto's
// clock; time.Now() is right when the clocks agree) with [ErrRevoked], on
// every replica that shares the store. An Until before
// e.At+MaxTokenLifetime+Leeway (a zero Until, for one) is raised to it, so
// that no token it refuses outlives the entry. See revocation.Entry for the
// kinds; the error is the store's (revocation.ErrInvalidEntry,
// revocation.ErrFull, a backend's).
//
// With Revoked, this makes the Validator a revocation.Store that fills in
// Until: hand it to the Logto webhook handler (package webhook).
func (v *Validator) Revoke(ctx context.Context, e revocation.Entry) error {
	if !e.At.IsZero() {
		if least := e.At.Add(v.cfg.MaxTokenLifetime + v.cfg.Leeway); e.Until.Before(least) {
			e.Until = least
		}
	}
	return v.cfg.Revocations.Revoke(ctx, e)
}

// Revoked reports the entry of Config.Revocations that refuses t, as
// Verify checks it.
func (v *Validator) Revoked(t revocation.Token) (revocation.Entry, bool) {
	return v.cfg.Revocations.Revoked(t)
}

var _ revocation.Store = (*Validator)(nil)
