package middleware_test

import (
	"context"
	"crypto/elliptic"
	"sync/atomic"
	"testing"

	"github.com/logtoguard/logtoguard/logtotest"
	"github.com/logtoguard/logtoguard/middleware"
)

// logtoKeyTypes are the keys Logto signs with, each with its curve's
// algorithm (P-256 ES256, P-384 ES384, P-521 ES512) or RS256 for RSA.
var logtoKeyTypes = []struct {
	alg string
	opt logtotest.Option
}{
	{"ES256", logtotest.WithCurve(elliptic.P256())},
	{"ES384", logtotest.WithCurve(elliptic.P384())},
	{"ES512", logtotest.WithCurve(elliptic.P521())},
	{"RS256", logtotest.WithRSA()},
}

// TestLogtoKeyTypes: the default configuration accepts tokens from each
// key type Logto may hold, and through both kinds of rotation that
// self-hosted and Cloud tenants do:
//   - a "next" key published before it signs (Logto 1.39): the first
//     tokens it signs are served without a single refusal and without a
//     JWKS fetch;
//   - an immediate rotation with no next key (0 s grace, self-hosted's
//     default): served at once, after exactly one refetch, however many
//     tokens of the new key arrive.
func TestLogtoKeyTypes(t *testing.T) {
	for _, kt := range logtoKeyTypes {
		t.Run(kt.alg, func(t *testing.T) {
			iss := logtotest.New(t, kt.opt)
			if got := iss.SigningKey().Algorithm(); got != kt.alg {
				t.Fatalf("the issuer signs %s, want %s", got, kt.alg)
			}
			// The next key is published before the API starts, as Logto
			// publishes it ahead of signing with it.
			iss.StageRotation()
			var refused atomic.Int64
			v := newValidator(t, iss, func(c *middleware.Config) {
				c.Hooks.Rejected = func(error) { refused.Add(1) }
			})
			verify := func(what string, n int) {
				t.Helper()
				for i := range n {
					if _, err := v.Verify(context.Background(), iss.UserToken("user-1", "web", api)); err != nil {
						t.Fatalf("%s, token %d: %v", what, i, err)
					}
				}
			}
			verify("the current key", 3)

			iss.ResetJWKSFetches()
			iss.CompleteRotation() // the published next key signs from now on
			verify("the published next key", 20)
			if n := iss.JWKSFetches(); n != 0 {
				t.Errorf("%d JWKS fetches for tokens of the published next key, want 0", n)
			}

			iss.RotateKeys() // no next key: the new key signs at once, the old ones go
			verify("an immediate rotation", 20)
			if n := iss.JWKSFetches(); n != 1 {
				t.Errorf("%d JWKS fetches for tokens of an unannounced key, want exactly 1", n)
			}
			if n := refused.Load(); n != 0 {
				t.Errorf("%d refusals, want none", n)
			}
		})
	}
}
