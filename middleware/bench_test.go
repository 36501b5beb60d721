package middleware_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"testing"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"

	"github.com/logtoguard/logtoguard/logtotest"
	"github.com/logtoguard/logtoguard/middleware"
)

// benchSetup returns a validator, a Logto-shaped M2M token and a keyfunc
// over the issuer's JWKS for the hand-written baselines. The issuer signs
// ES384 when rsaBits is 0, else RS256 with a key of rsaBits bits.
func benchSetup(b *testing.B, rsaBits int, cache bool) (*middleware.Validator, string, keyfunc.Keyfunc) {
	b.Helper()
	var opts []logtotest.Option
	if rsaBits != 0 {
		opts = append(opts, logtotest.WithRSABits(rsaBits))
	}
	iss := logtotest.New(b, opts...)
	v := newValidator(b, iss, func(c *middleware.Config) { c.Cache.Disabled = !cache })
	resp, err := http.Get(iss.JWKSURL())
	if err != nil {
		b.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	kf, err := keyfunc.NewJWKSetJSON(raw)
	if err != nil {
		b.Fatal(err)
	}
	return v, iss.M2MToken("inventory-sync", api, "read:products", "write:products"), kf
}

func benchVerify(b *testing.B, rsaBits int) {
	v, tok, _ := benchSetup(b, rsaBits, false)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
}

// benchSignature is the floor: the bare signature check of the same token.
func benchSignature(b *testing.B, rsaBits int) {
	_, tok, kf := benchSetup(b, rsaBits, false)
	parsed, _, err := jwt.NewParser().ParseUnverified(tok, jwt.MapClaims{})
	if err != nil {
		b.Fatal(err)
	}
	key, err := kf.Keyfunc(parsed)
	if err != nil {
		b.Fatal(err)
	}
	i := strings.LastIndexByte(tok, '.')
	signing := tok[:i]
	sig, _ := base64.RawURLEncoding.DecodeString(tok[i+1:])
	method := parsed.Method
	b.ReportAllocs()
	for b.Loop() {
		if err := method.Verify(signing, sig, key); err != nil {
			b.Fatal(err)
		}
	}
}

// benchByHand is golang-jwt's ParseWithClaims with keyfunc, as written by hand.
func benchByHand(b *testing.B, rsaBits int) {
	_, tok, kf := benchSetup(b, rsaBits, false)
	p := jwt.NewParser(jwt.WithValidMethods([]string{"ES384", "RS256"}), jwt.WithAudience(api), jwt.WithExpirationRequired())
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.ParseWithClaims(tok, jwt.MapClaims{}, kf.Keyfunc); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyES384(b *testing.B)    { benchVerify(b, 0) }
func BenchmarkSignatureES384(b *testing.B) { benchSignature(b, 0) }
func BenchmarkByHandES384(b *testing.B)    { benchByHand(b, 0) }

// RS256 with the 2048-bit keys of logtotest's WithRSA, and with the 4096-bit
// keys that the Logto console generates.
func BenchmarkVerifyRS256(b *testing.B)         { benchVerify(b, 2048) }
func BenchmarkSignatureRS256(b *testing.B)      { benchSignature(b, 2048) }
func BenchmarkByHandRS256(b *testing.B)         { benchByHand(b, 2048) }
func BenchmarkVerifyRS256_4096(b *testing.B)    { benchVerify(b, 4096) }
func BenchmarkSignatureRS256_4096(b *testing.B) { benchSignature(b, 4096) }
func BenchmarkByHandRS256_4096(b *testing.B)    { benchByHand(b, 4096) }

// BenchmarkCacheHit is a client reusing its token.
func BenchmarkCacheHit(b *testing.B) {
	v, tok, _ := benchSetup(b, 0, true)
	ctx := context.Background()
	if _, err := v.Verify(ctx, tok); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCacheHitParallel shows hits scale across cores.
func BenchmarkCacheHitParallel(b *testing.B) {
	v, tok, _ := benchSetup(b, 0, true)
	ctx := context.Background()
	if _, err := v.Verify(ctx, tok); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := v.Verify(ctx, tok); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkCacheEntryBytes measures the memory an entry holds: the token
// string (a copy, as a request's header would be) and its claims. It
// reports bytes/entry; the time per op is that of filling the cache.
func BenchmarkCacheEntryBytes(b *testing.B) {
	const n = 2000
	iss := logtotest.New(b)
	tokens := make([]string, n)
	for i := range tokens {
		tokens[i] = iss.M2MToken(fmt.Sprintf("app-%05d", i), api, "read:products", "write:products")
	}
	ctx := context.Background()
	var perEntry float64
	for b.Loop() {
		b.StopTimer()
		v := newValidator(b, iss, func(c *middleware.Config) { c.Cache.MaxEntries = 2 * n })
		if err := v.WaitReady(ctx); err != nil {
			b.Fatal(err)
		}
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		b.StartTimer()
		for _, tok := range tokens {
			if _, err := v.Verify(ctx, strings.Clone(tok)); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		runtime.GC()
		runtime.ReadMemStats(&after)
		perEntry = float64(after.HeapAlloc-before.HeapAlloc) / n
		runtime.KeepAlive(v)
		v.Close()
		b.StartTimer()
	}
	b.ReportMetric(perEntry, "bytes/entry")
	b.ReportMetric(float64(len(tokens[0])), "token-bytes")
}
