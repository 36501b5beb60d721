package middleware

import (
	"errors"
	"strings"
)

// Failure classes, matched with errors.Is. Every error returned by
// [Validator.Verify] and [BearerToken] is one of them (wrapped in an *[Error]
// that carries the details), and every token failure also matches
// [ErrInvalidToken].
var (
	// ErrNoToken means the request carried no bearer token (RFC 6750: 401
	// with a bare challenge).
	ErrNoToken = errors.New("middleware: no bearer token")
	// ErrInvalidRequest means the request was malformed: two Authorization
	// headers, a token in two places or in the query string, an empty token
	// (400 invalid_request).
	ErrInvalidRequest = errors.New("middleware: malformed request")
	// ErrInvalidToken matches every failure of the token itself (401
	// invalid_token); the errors below say which check failed.
	ErrInvalidToken = errors.New("middleware: invalid token")

	// ErrMalformed: not a compact JWS, bad base64url or JSON, a claim of the
	// wrong type, a missing required claim, or over the size limit.
	ErrMalformed = errors.New("middleware: malformed token")
	// ErrOpaqueToken: an opaque (non-JWT) token, which Logto issues when the
	// token is requested without the resource parameter.
	ErrOpaqueToken = errors.New("middleware: opaque token")
	// ErrAlgorithm: the alg header is not in the allowlist.
	ErrAlgorithm = errors.New("middleware: algorithm not allowed")
	// ErrTokenType: the typ header is not at+jwt (an ID token, for one).
	ErrTokenType = errors.New("middleware: not an access token")
	// ErrUnknownKey: the kid is not in the issuer's key set, or the key does
	// not fit the algorithm.
	ErrUnknownKey = errors.New("middleware: unknown signing key")
	// ErrSignature: the signature does not verify.
	ErrSignature = errors.New("middleware: invalid signature")
	// ErrExpired: exp is in the past (beyond the leeway).
	ErrExpired = errors.New("middleware: token expired")
	// ErrNotYetValid: iat or nbf is in the future (beyond the leeway).
	ErrNotYetValid = errors.New("middleware: token not valid yet")
	// ErrIssuer: iss is not one of the trusted issuers.
	ErrIssuer = errors.New("middleware: untrusted issuer")
	// ErrAudience: aud names none of the configured audiences.
	ErrAudience = errors.New("middleware: audience mismatch")
	// ErrOrganization: the token's organization is not the one the route
	// addresses (403 insufficient_scope).
	ErrOrganization = errors.New("middleware: organization mismatch")

	// ErrClient: the caller may not use the route: it is not a
	// machine-to-machine app, or not one of the App IDs the route allows
	// (403 insufficient_scope).
	ErrClient = errors.New("middleware: client not allowed")
	// ErrKeysUnavailable means the issuer's keys were never loaded (Logto
	// unreachable since start): 503 with Retry-After.
	ErrKeysUnavailable = errors.New("middleware: signing keys unavailable")
	// ErrInsufficientScope means the token lacks a scope the route requires
	// (403 insufficient_scope). The error is a *[ScopeError].
	ErrInsufficientScope = errors.New("middleware: insufficient scope")
)

// tokenKinds are the failures that also match ErrInvalidToken.
var tokenKinds = []error{ErrMalformed, ErrOpaqueToken, ErrAlgorithm, ErrTokenType, ErrUnknownKey,
	ErrSignature, ErrExpired, ErrNotYetValid, ErrIssuer, ErrAudience}

// Error is a rejected request: its class (Kind), a description that is safe
// to send to the caller, and detail for the server's log only.
type Error struct {
	// Kind is one of the sentinel errors of this package.
	Kind error
	// Description is sent to the caller in error_description. It never holds
	// key material or the token.
	Description string
	// Detail is for the log: expected and received values, the cause.
	Detail string
	// Err is the underlying cause, if any.
	Err error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Kind.Error())
	if e.Description != "" {
		b.WriteString(": ")
		b.WriteString(e.Description)
	}
	if e.Detail != "" {
		b.WriteString(" (")
		b.WriteString(e.Detail)
		b.WriteString(")")
	}
	return b.String()
}

// Unwrap returns the class and the cause.
func (e *Error) Unwrap() []error {
	if e.Err != nil {
		return []error{e.Kind, e.Err}
	}
	return []error{e.Kind}
}

// Is reports whether target is [ErrInvalidToken] and e is a token failure.
func (e *Error) Is(target error) bool {
	if target != ErrInvalidToken {
		return false
	}
	for _, k := range tokenKinds {
		if e.Kind == k {
			return true
		}
	}
	return false
}

func newError(kind error, description string) *Error {
	return &Error{Kind: kind, Description: description}
}

// ScopeError is returned when a token lacks required scopes. It matches
// [ErrInsufficientScope].
type ScopeError struct {
	// Required is the route's requirement in the form of the scope
	// parameter: space-separated.
	Required string
	// Missing lists the scopes the token lacks (for any-of: all listed).
	Missing []string
	// AnyOf reports whether one of Required would have been enough.
	AnyOf bool
}

func (e *ScopeError) Error() string {
	how := "requires"
	if e.AnyOf {
		how = "requires one of"
	}
	return "middleware: insufficient scope: the route " + how + " " + strings.Join(strings.Fields(e.Required), ", ") +
		"; missing " + strings.Join(e.Missing, ", ")
}

// Is makes errors.Is(err, ErrInsufficientScope) true.
func (e *ScopeError) Is(target error) bool { return target == ErrInsufficientScope }
