package middleware

import "context"

type claimsKey struct{}

// WithClaims returns a copy of ctx carrying c. Adapters call it after a
// successful verification; tests call it to fake an authenticated request.
func WithClaims(ctx context.Context, c *Claims) context.Context {
	return context.WithValue(ctx, claimsKey{}, c)
}

// ClaimsFromContext returns the claims stored by an adapter (or
// [WithClaims]) and whether there were any. It never panics.
func ClaimsFromContext(ctx context.Context) (*Claims, bool) {
	c, ok := ctx.Value(claimsKey{}).(*Claims)
	return c, ok && c != nil
}
