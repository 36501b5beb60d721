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
	// ErrRevoked: the token is genuine and unexpired, but a revocation
	// (Config.Revocations: a Logto webhook, [Validator.Revoke]) refuses
	// it: its user (or the actor of a delegated token) was suspended or
	// deleted, removed from the organization, its organization deleted,
	// or it was revoked by hand ([Validator.Revoke]; Logto sends no event
	// when an app is deleted).
	ErrRevoked = errors.New("middleware: token revoked")
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
	// ErrOverloaded means the token needed a signature check and the
	// validator already had as many in flight and waiting as
	// [AdmissionConfig] allows: 503 with Retry-After. The token was not
	// judged; the caller may send it again.
	ErrOverloaded = errors.New("middleware: too many signature checks in flight")
	// ErrInsufficientScope means the token lacks a scope the route requires
	// (403 insufficient_scope). The error is a *[ScopeError].
	ErrInsufficientScope = errors.New("middleware: insufficient scope")
)

// tokenKinds are the failures that also match ErrInvalidToken.
var tokenKinds = []error{ErrMalformed, ErrOpaqueToken, ErrAlgorithm, ErrTokenType, ErrUnknownKey,
	ErrSignature, ErrExpired, ErrNotYetValid, ErrIssuer, ErrAudience, ErrRevoked}

// Error is a rejected request: its class (Kind), the check that refused it
// (Check), a description that is safe to send to the caller, and detail for
// the server's log only. Description and Detail quote and cap whatever they
// hold from the token.
type Error struct {
	// Kind is one of the sentinel errors of this package.
	Kind error
	// Check names the check that failed, finer than Kind: ErrMalformed, for
	// one, comes from several checks.
	Check Check
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

// newError returns an error of class kind, failed by the check that kind
// implies (see checkOfKind). ErrMalformed implies none: use fail.
func newError(kind error, description string) *Error {
	return &Error{Kind: kind, Check: checkOfKind(kind), Description: description}
}

// fail returns an error of class kind failed by check.
func fail(check Check, kind error, description string) *Error {
	return &Error{Kind: kind, Check: check, Description: description}
}

// Check names one check of a request or a token, for logs, metrics and
// tools that explain a rejection: [Error].Check says which one failed. The
// set is small and fixed; String gives its name (size, characters, parts,
// ...), which [CheckOf] returns for any error.
type Check uint8

// The checks, roughly in the order they run.
const (
	// CheckNone: no check of this package failed (an error of another
	// package, or none).
	CheckNone Check = iota
	// CheckRequest: where the token is: no Authorization header or another
	// scheme, two headers, an empty or multi-valued header, a token in the
	// query string.
	CheckRequest
	// CheckSize: longer than Config.MaxTokenBytes.
	CheckSize
	// CheckCharacters: a byte outside base64url and the dot.
	CheckCharacters
	// CheckParts: not three non-empty dot-separated parts (an opaque token,
	// a JWE).
	CheckParts
	// CheckEncoding: a part is not strict, unpadded base64url.
	CheckEncoding
	// CheckStructure: the header or the claims nest deeper, or hold more
	// members, than any Logto token does (checked before decoding).
	CheckStructure
	// CheckJSON: the header or the claims are not a JSON object, or a
	// registered claim has the wrong JSON type.
	CheckJSON
	// CheckAlgorithm: alg is missing or not in Config.Algorithms.
	CheckAlgorithm
	// CheckCrit: a crit header.
	CheckCrit
	// CheckType: typ is not at+jwt.
	CheckType
	// CheckKID: kid is missing or not a string.
	CheckKID
	// CheckIssuer: iss is not a trusted issuer.
	CheckIssuer
	// CheckAudience: aud names none of Config.Audiences, or mixes
	// organization and other audiences.
	CheckAudience
	// CheckMembers: a member name twice, or a registered name in another
	// case, in the header or the claims.
	CheckMembers
	// CheckAdmission: the signature check was not admitted (ErrOverloaded).
	CheckAdmission
	// CheckKey: no key of the issuer's set has the kid and fits alg, or
	// the keys were never loaded.
	CheckKey
	// CheckSignature: the signature does not verify.
	CheckSignature
	// CheckExp: exp is missing or past.
	CheckExp
	// CheckIat: iat is in the future.
	CheckIat
	// CheckNbf: nbf is in the future.
	CheckNbf
	// CheckSub: sub is missing or empty.
	CheckSub
	// CheckAct: act (a delegated token's actor) is not an object whose sub
	// is a non-empty string.
	CheckAct
	// CheckScope: a scope the route requires is missing.
	CheckScope
	// CheckOrganization: the token is not for the organization the route
	// addresses.
	CheckOrganization
	// CheckClient: the route does not accept this kind of caller or app.
	CheckClient
	// CheckRevoked: a revocation refuses the token (ErrRevoked).
	CheckRevoked

	numChecks
)

var checkNames = [numChecks]string{
	CheckNone:         "none",
	CheckRequest:      "request",
	CheckSize:         "size",
	CheckCharacters:   "characters",
	CheckParts:        "parts",
	CheckEncoding:     "encoding",
	CheckStructure:    "structure",
	CheckJSON:         "json",
	CheckAlgorithm:    "algorithm",
	CheckCrit:         "crit",
	CheckType:         "typ",
	CheckKID:          "kid",
	CheckIssuer:       "issuer",
	CheckAudience:     "audience",
	CheckMembers:      "members",
	CheckAdmission:    "admission",
	CheckKey:          "key",
	CheckSignature:    "signature",
	CheckExp:          "exp",
	CheckIat:          "iat",
	CheckNbf:          "nbf",
	CheckSub:          "sub",
	CheckAct:          "act",
	CheckScope:        "scope",
	CheckOrganization: "organization",
	CheckClient:       "client",
	CheckRevoked:      "revoked",
}

// String returns the check's name: one lowercase word, fit for a metrics
// label or a log attribute.
func (c Check) String() string {
	if c < numChecks {
		return checkNames[c]
	}
	return "none"
}

// CheckOf returns the check that refused err: [Error].Check, [CheckScope]
// for a *[ScopeError], [CheckNone] for any other error or nil. Its String
// is a metrics label of bounded cardinality, finer than [Reason].
func CheckOf(err error) Check {
	var e *Error
	if errors.As(err, &e) {
		if e.Check != CheckNone {
			return e.Check
		}
		return checkOfKind(e.Kind)
	}
	var se *ScopeError
	if errors.As(err, &se) {
		return CheckScope
	}
	return CheckNone
}

// checkOfKind is the check a class implies, when only one check yields it.
func checkOfKind(kind error) Check {
	switch kind {
	case ErrNoToken, ErrInvalidRequest:
		return CheckRequest
	case ErrOpaqueToken:
		return CheckParts
	case ErrAlgorithm:
		return CheckAlgorithm
	case ErrTokenType:
		return CheckType
	case ErrUnknownKey, ErrKeysUnavailable:
		return CheckKey
	case ErrSignature:
		return CheckSignature
	case ErrExpired:
		return CheckExp
	case ErrIssuer:
		return CheckIssuer
	case ErrAudience:
		return CheckAudience
	case ErrOrganization:
		return CheckOrganization
	case ErrClient:
		return CheckClient
	case ErrInsufficientScope:
		return CheckScope
	case ErrOverloaded:
		return CheckAdmission
	case ErrRevoked:
		return CheckRevoked
	}
	return CheckNone
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

// Reason names the class of err in a few lowercase words joined by
// underscores, for a metrics label or a log field: no_token,
// invalid_request, malformed, opaque_token, algorithm, token_type,
// unknown_key, signature, expired, not_yet_valid, issuer, audience,
// organization, client, insufficient_scope, keys_unavailable, overloaded,
// revoked, or other for an error that is none of this package's. The set is fixed,
// so a label built from it has a bounded number of values. [CheckOf] names
// the failed check, a finer label.
func Reason(err error) string {
	for _, r := range reasons {
		if errors.Is(err, r.kind) {
			return r.name
		}
	}
	return "other"
}

var reasons = []struct {
	kind error
	name string
}{
	{ErrNoToken, "no_token"},
	{ErrInvalidRequest, "invalid_request"},
	{ErrMalformed, "malformed"},
	{ErrOpaqueToken, "opaque_token"},
	{ErrAlgorithm, "algorithm"},
	{ErrTokenType, "token_type"},
	{ErrUnknownKey, "unknown_key"},
	{ErrSignature, "signature"},
	{ErrExpired, "expired"},
	{ErrNotYetValid, "not_yet_valid"},
	{ErrIssuer, "issuer"},
	{ErrAudience, "audience"},
	{ErrOrganization, "organization"},
	{ErrClient, "client"},
	{ErrInsufficientScope, "insufficient_scope"},
	{ErrKeysUnavailable, "keys_unavailable"},
	{ErrOverloaded, "overloaded"},
	{ErrRevoked, "revoked"},
}
