package middleware_test

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/logtoguard/logtoguard/logtotest"
	"github.com/logtoguard/logtoguard/middleware"
)

// FuzzVerify feeds arbitrary tokens to a validator with real keys: nothing
// may panic, every error must be one of the package's classes, and nothing
// but what the issuer signed may pass. A token string is not unique: an
// ECDSA signature (r, s) has a twin (r, n-s) that verifies too (see
// SECURITY.md), so what must be genuine is the signed header and claims,
// not the whole string.
func FuzzVerify(f *testing.F) {
	iss := logtotest.New(f)
	v := newValidator(f, iss, func(c *middleware.Config) { c.RefetchInterval = time.Hour })
	genuine := map[string]bool{} // header.payload of the tokens issued
	for _, tok := range []string{
		iss.M2MToken("app-1", api, "read:products"),
		iss.UserToken("user-1", "spa", api, "read:products", "write:products"),
	} {
		genuine[signedPart(tok)] = true
		f.Add(tok)
	}
	for _, tok := range []string{
		iss.ExpiredToken("app-1", api), iss.IDToken("user-1", "spa"), iss.OpaqueToken(),
		iss.ForeignKeyToken("app-1", api), iss.WrongAudienceToken("app-1"),
		"", ".", "..", "a.b.c", "e30.e30.", "eyJhbGciOiJub25lIn0.e30.",
		base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"ES384","typ":"at+jwt","kid":"x","kid":"y"}`)) + ".e30.AA",
		strings.Repeat("A", 100) + "." + strings.Repeat("B", 100) + "." + strings.Repeat("C", 100),
	} {
		f.Add(tok)
	}
	f.Fuzz(func(t *testing.T, token string) {
		c, err := v.Verify(context.Background(), token)
		if err == nil {
			if !genuine[signedPart(token)] {
				t.Fatalf("accepted a token that was never issued: %q", token)
			}
			if c == nil || c.Subject == "" {
				t.Fatal("accepted with empty claims")
			}
			return
		}
		if c != nil {
			t.Fatal("claims with an error")
		}
		if !errors.Is(err, middleware.ErrInvalidToken) && !errors.Is(err, middleware.ErrNoToken) && !errors.Is(err, middleware.ErrKeysUnavailable) {
			t.Fatalf("error outside the classes: %v", err)
		}
	})
}

// signedPart is what a signature covers: header.payload.
func signedPart(token string) string {
	return token[:max(strings.LastIndexByte(token, '.'), 0)]
}
