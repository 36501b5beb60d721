package middleware

// Hooks observe the validator, for metrics. Every field is optional. Hooks
// run on the request path (and, for KeyFetch, on the key set's goroutine):
// they must be fast and must not block. They never see the token.
type Hooks struct {
	// Verified is called for every accepted token; cached reports whether
	// the verdict came from the verified-token cache or from the check of a
	// concurrent request with the same token, rather than from a signature
	// check of this request's own.
	Verified func(c *Claims, cached bool)
	// Rejected is called once for every rejection with the error, whose
	// class is one of this package's sentinels ([Reason] names it): by
	// [Validator.Verify] for a failed token, and by [Validator.WriteError]
	// for a request without a usable token (no token, a malformed request)
	// or one refused by a route's requirement (scope, organization,
	// client).
	Rejected func(err error)
	// KeyFetch is called after every attempt to fetch an issuer's keys,
	// with nil on success.
	KeyFetch func(issuer string, err error)
}
