package middleware

// SignatureChecks returns how many signatures v has verified, for tests
// that count them.
func SignatureChecks(v *Validator) int64 { return v.signatureChecks.Load() }

// NewOverloadedForTest returns the error admission control turns a request
// away with.
func NewOverloadedForTest() error { return overloaded("test", nil) }
