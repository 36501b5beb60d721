package benchmarks_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/logtoguard/logtoguard/logtotest"
	"github.com/logtoguard/logtoguard/middleware"
)

// BenchmarkReject measures what a token that is not genuine costs the
// server, beside what a genuine one costs at first sight (no cache: a new
// token each time), in the same run. The forged tokens name the trusted
// issuer, the API and the issuer's kid, carry a signature by another P-384
// key, and take the shapes that cost a parser most, up to the 16 KiB
// MaxTokenBytes: many members in the header or the claims, deep nesting
// (of arrays, or a delegated token's act chain beside a flat act of the
// same size), long strings, a long aud array. Each shape comes three
// times: from the trusted issuer (the signature must be checked: target at
// most 1.5x a genuine first sight), from an untrusted issuer and for
// another audience (refused before the signature: target at most 0.5x).
//
// The rule they measure: a request that carries no genuine token costs the
// server little (SECURITY.md).
func BenchmarkReject(b *testing.B) {
	iss := logtotest.New(b)
	v, err := middleware.New(middleware.Config{
		Endpoint:  iss.Endpoint(),
		Audiences: []string{api},
		Cache:     middleware.CacheConfig{Disabled: true},
		Logger:    slog.New(slog.DiscardHandler),
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { v.Close() })
	ctx := context.Background()
	if err := v.WaitReady(ctx); err != nil {
		b.Fatal(err)
	}
	evil, err := logtotest.NewKey(false)
	if err != nil {
		b.Fatal(err)
	}
	kid := iss.SigningKey().ID()
	genuine := iss.M2MToken("inventory-sync", api, "read:products", "write:products")

	for _, s := range rejectShapes() {
		for _, who := range []struct {
			name, iss, aud string
			want           error
		}{
			{"trusted", iss.Issuer(), api, middleware.ErrSignature},
			{"untrusted-issuer", "https://evil.example.com/oidc", api, middleware.ErrIssuer},
			{"other-audience", iss.Issuer(), "https://other.example.com", middleware.ErrAudience},
		} {
			header, claims := s.build(kid, who.iss, who.aud)
			tok := iss.MintRaw(evil, header, claims)
			if len(tok) > middleware.DefaultMaxTokenBytes {
				b.Fatalf("%s: %d bytes, over MaxTokenBytes", s.name, len(tok))
			}
			want := who.want
			if s.refused != nil {
				want = s.refused
			}
			if _, err := v.Verify(ctx, tok); !errors.Is(err, want) {
				b.Fatalf("%s/%s: got %v, want %v", s.name, who.name, err, want)
			}
			b.Run(s.name+"/"+who.name, func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(len(tok)))
				defer cpuMetric(b)()
				for b.Loop() {
					_, _ = v.Verify(ctx, tok)
				}
			})
		}
		if s.name == "logto" {
			b.Run("genuine-first-sight", func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(len(genuine)))
				defer cpuMetric(b)()
				for b.Loop() {
					if _, err := v.Verify(ctx, genuine); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// rejectShape builds a header and claims JSON of one shape.
type rejectShape struct {
	name string
	// refused, if set, is the error every variant gets before the issuer is
	// even read (the shape is over a bound).
	refused error
	build   func(kid, iss, aud string) (header, claims []byte)
}

// shapeBytes is how many bytes of JSON a shape may take: the token's two parts
// in base64url stay under 16 KiB with the signature.
const shapeBytes = 11_500

func rejectShapes() []rejectShape {
	logtoClaims := func(iss, aud, extra string) []byte {
		c := fmt.Sprintf(`{"jti":"j","sub":"inventory-sync","iat":%d,"exp":%d,"scope":"read:products","client_id":"inventory-sync","iss":%q,"aud":%q%s}`,
			time.Now().Unix(), time.Now().Add(time.Hour).Unix(), iss, aud, extra)
		return []byte(c)
	}
	header := func(kid, extra string) []byte {
		return []byte(`{"alg":"ES384","typ":"at+jwt","kid":"` + kid + `"` + extra + `}`)
	}
	// members returns n members ,"mI":I, padded with long names to about
	// size bytes in all when size is not zero.
	members := func(n, size int) string {
		var b strings.Builder
		pad := ""
		if size > 0 {
			pad = strings.Repeat("p", max(0, size/n-12))
		}
		for i := range n {
			fmt.Fprintf(&b, `,"m%d%s":%d`, i, pad, i)
		}
		return b.String()
	}
	nestedArrays := func(depth, size int) string {
		one := strings.Repeat("[", depth) + strings.Repeat("]", depth)
		var b strings.Builder
		b.WriteString(`,"x":[`)
		for {
			b.WriteString(one)
			b.WriteByte(',')
			if b.Len() >= size {
				break
			}
		}
		return strings.TrimSuffix(b.String(), ",") + "]"
	}
	// audArray is the claims with an aud array of n values, aud last, each
	// padded to about size/n bytes.
	audArray := func(iss, aud string, n, size int) []byte {
		auds := make([]string, 0, n)
		pad := strings.Repeat("p", max(0, size/n-12))
		for i := range n - 1 {
			auds = append(auds, fmt.Sprintf("a%d%s", i, pad))
		}
		list, _ := json.Marshal(append(auds, aud))
		c := string(logtoClaims(iss, aud, ""))
		return []byte(strings.Replace(c, fmt.Sprintf(`"aud":%q`, aud), `"aud":`+string(list), 1))
	}
	// act is an act claim (a delegated token's actor) of depth levels,
	// each nested in the one before, the innermost padded so that the
	// claims take about size bytes.
	act := func(depth, size int) string {
		var b strings.Builder
		for i := range depth {
			fmt.Fprintf(&b, `,"act":{"sub":"agent-%d"`, i)
		}
		fmt.Fprintf(&b, `,"x":"%s"`, strings.Repeat("p", max(0, size-b.Len()-200)))
		b.WriteString(strings.Repeat("}", depth))
		return b.String()
	}
	return []rejectShape{
		{name: "logto", build: func(kid, iss, aud string) ([]byte, []byte) {
			return header(kid, ""), logtoClaims(iss, aud, "")
		}},
		{name: "header-1000-members", refused: middleware.ErrMalformed, build: func(kid, iss, aud string) ([]byte, []byte) {
			return header(kid, members(1000, 0)), logtoClaims(iss, aud, "")
		}},
		{name: "header-32-members", build: func(kid, iss, aud string) ([]byte, []byte) {
			return header(kid, members(29, shapeBytes)), logtoClaims(iss, aud, "")
		}},
		{name: "claims-1000-members", refused: middleware.ErrMalformed, build: func(kid, iss, aud string) ([]byte, []byte) {
			return header(kid, ""), logtoClaims(iss, aud, members(1000, 0))
		}},
		{name: "claims-256-members", build: func(kid, iss, aud string) ([]byte, []byte) {
			return header(kid, ""), logtoClaims(iss, aud, members(248, shapeBytes))
		}},
		{name: "nesting-5000", refused: middleware.ErrMalformed, build: func(kid, iss, aud string) ([]byte, []byte) {
			return header(kid, ""), logtoClaims(iss, aud, nestedArrays(5000, 0))
		}},
		{name: "nesting-31", build: func(kid, iss, aud string) ([]byte, []byte) {
			return header(kid, ""), logtoClaims(iss, aud, nestedArrays(30, shapeBytes))
		}},
		{name: "act-flat", build: func(kid, iss, aud string) ([]byte, []byte) {
			return header(kid, ""), logtoClaims(iss, aud, act(1, shapeBytes))
		}},
		{name: "act-nested-31", build: func(kid, iss, aud string) ([]byte, []byte) {
			return header(kid, ""), logtoClaims(iss, aud, act(31, shapeBytes))
		}},
		{name: "long-string", build: func(kid, iss, aud string) ([]byte, []byte) {
			return header(kid, ""), logtoClaims(iss, aud, `,"x":"`+strings.Repeat(`a\"`, shapeBytes/3)+`"`)
		}},
		{name: "aud-array-1200", refused: middleware.ErrMalformed, build: func(kid, iss, aud string) ([]byte, []byte) {
			return header(kid, ""), audArray(iss, aud, 1200, 0)
		}},
		{name: "aud-array-64", build: func(kid, iss, aud string) ([]byte, []byte) {
			return header(kid, ""), audArray(iss, aud, 64, shapeBytes)
		}},
	}
}

// BenchmarkColdStart verifies 1,000 distinct new genuine tokens at once,
// as after a restart behind a busy load balancer, with admission control's
// defaults: they must queue, not fail. It reports how many failed (the
// defaults are chosen so that none does) and the time for all 1,000.
func BenchmarkColdStart(b *testing.B) {
	iss := logtotest.New(b)
	v, err := middleware.New(middleware.Config{
		Endpoint:  iss.Endpoint(),
		Audiences: []string{api},
		Cache:     middleware.CacheConfig{Disabled: true}, // every round is a first sight
		Logger:    slog.New(slog.DiscardHandler),
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { v.Close() })
	ctx := context.Background()
	if err := v.WaitReady(ctx); err != nil {
		b.Fatal(err)
	}
	tokens := make([]string, 1000)
	for i := range tokens {
		tokens[i] = iss.M2MToken(fmt.Sprintf("app-%d", i), api, "read:products")
	}
	var failed atomic.Int64
	defer cpuMetric(b)()
	for b.Loop() {
		var wg sync.WaitGroup
		for _, tok := range tokens {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := v.Verify(ctx, tok); err != nil {
					failed.Add(1)
				}
			}()
		}
		wg.Wait()
	}
	b.ReportMetric(float64(failed.Load())/float64(b.N), "failed/op")
}
