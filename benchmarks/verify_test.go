package benchmarks_test

import (
	"testing"
)

// BenchmarkVerify verifies one Logto-shaped M2M token per algorithm with
// every library, keys warmed before the timer. logtoguard-hit reuses the
// token (the verified-token cache answers); logtoguard-miss has the cache
// disabled, so every call parses and checks the signature; floor is the
// signature check alone on the already-parsed key and signing input.
func BenchmarkVerify(b *testing.B) {
	for _, alg := range algs {
		b.Run(alg, func(b *testing.B) {
			f := newFixture(b, alg)
			tok := f.token()
			for _, lib := range libraries {
				verify := lib.new(b, f)
				if lib.name == "floor" {
					verify = floorLoop(b, f, tok)
				}
				warm(b, verify, tok)
				b.Run(lib.name, func(b *testing.B) {
					b.ReportAllocs()
					defer cpuMetric(b)()
					for b.Loop() {
						if err := verify(tok); err != nil {
							b.Fatal(err)
						}
					}
				})
				if !parallel[lib.name] {
					continue
				}
				b.Run(lib.name+"-parallel", func(b *testing.B) {
					b.ReportAllocs()
					defer cpuMetric(b)()
					b.RunParallel(func(pb *testing.PB) {
						for pb.Next() {
							if err := verify(tok); err != nil {
								b.Error(err)
								return
							}
						}
					})
				})
			}
		})
	}
}

// parallel names the libraries that also run under b.RunParallel.
var parallel = map[string]bool{"logtoguard-hit": true, "logtoguard-miss": true, "auth0": true, "golang-jwt": true, "floor": true}

// floorLoop splits the token once, outside the timer: the floor is the
// signature check alone.
func floorLoop(b *testing.B, f *fixture, tok string) func(string) error {
	method, signing, sig := floor(b, f, tok)
	return func(string) error { return method.Verify(signing, sig, f.pub) }
}

// warm verifies tok once so that keys are fetched (and, for logtoguard-hit,
// the token cached) before the timer starts.
func warm(b *testing.B, verify func(string) error, tok string) {
	b.Helper()
	if err := verify(tok); err != nil {
		b.Fatal(err)
	}
}
