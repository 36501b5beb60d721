//go:build unix

package serve

import (
	"io"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"

	"github.com/logtoguard/logtoguard/internal/adaptertest"
	"github.com/logtoguard/logtoguard/logtotest"
)

// BenchmarkServeDecision compares, in process (ServeHTTP with an
// httptest.ResponseRecorder, no socket), a /verify decision for a cached
// token on a route that requires a scope, among the contract's routes,
// with a bare handler that answers 200 "ok": the gateway's own cost.
//
//	for i in $(seq 10); do go test -run '^$' -bench ServeDecision -count 1 ./cmd/logtoguard/internal/serve; done > serve.txt
//	benchstat -col /name serve.txt
func BenchmarkServeDecision(b *testing.B) {
	iss := logtotest.New(b)
	g := startGuard(b, guardConfig(iss, ""))
	token := iss.M2MToken("inventory-sync", adaptertest.API, "read:products")
	bare := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
	for _, bc := range []struct {
		name string
		h    http.Handler
	}{{"bare", bare}, {"verify", g.s}} {
		b.Run(bc.name, func(b *testing.B) {
			r := httptest.NewRequest(http.MethodGet, "/verify", nil)
			r.Header.Set("X-Forwarded-Method", "GET")
			r.Header.Set("X-Forwarded-Uri", "/read?page=2")
			r.Header.Set("Authorization", "Bearer "+token)
			serve := func() {
				w := httptest.NewRecorder()
				bc.h.ServeHTTP(w, r)
				if w.Code != http.StatusOK {
					b.Fatalf("status %d %s", w.Code, w.Body)
				}
			}
			serve() // the token is verified once, then cached
			b.ReportAllocs()
			start := processCPU()
			for b.Loop() {
				serve()
			}
			// CPU time per operation: on a shared machine, wall time grows
			// when other work takes the cores, CPU time much less.
			b.ReportMetric(float64(processCPU()-start)/float64(b.N), "cpu-ns/op")
		})
	}
}

// processCPU is the CPU time of the process so far: user and system, every
// thread.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
