package benchmarks_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	jwtmiddleware "github.com/auth0/go-jwt-middleware/v2"
	"github.com/gin-gonic/gin"
	echojwt "github.com/labstack/echo-jwt/v4"
	"github.com/labstack/echo/v4"

	"github.com/logtoguard/logtoguard/adapters/ginguard"
	"github.com/logtoguard/logtoguard/adapters/nethttp"
)

// ok is the protected handler of every server: 200 "ok".
func ok(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") }

// servers builds, for one fixture, the same route GET /products behind each
// library's HTTP middleware, and behind none (bare).
func servers(tb testing.TB, f *fixture) []struct {
	name string
	h    http.Handler
} {
	gin.SetMode(gin.ReleaseMode)
	v := newLogtoguard(tb, f, true)

	ginEngine := gin.New()
	ginEngine.GET("/products", ginguard.New(v).Authenticate(), func(c *gin.Context) { c.String(http.StatusOK, "ok") })

	echoEngine := echo.New()
	echoEngine.GET("/products", func(c echo.Context) error { return c.String(http.StatusOK, "ok") },
		echojwt.WithConfig(echoJWTConfig(tb, f)))

	auth0Validator := newAuth0(tb, f)
	return []struct {
		name string
		h    http.Handler
	}{
		{"bare", http.HandlerFunc(ok)},
		{"logtoguard-nethttp", nethttp.New(v).Authenticate(http.HandlerFunc(ok))},
		{"logtoguard-gin", ginEngine},
		{"auth0", jwtmiddleware.New(auth0Validator.ValidateToken).CheckJWT(http.HandlerFunc(ok))},
		{"echo-jwt", echoEngine},
	}
}

// BenchmarkHTTP serves GET /products in process (handler.ServeHTTP with an
// httptest.ResponseRecorder, no socket) with the same token on every
// request, as a client that reuses its token until it expires does.
func BenchmarkHTTP(b *testing.B) {
	f := newFixture(b, "ES384")
	tok := f.token()
	newRequest := func() *http.Request {
		r := httptest.NewRequest(http.MethodGet, "/products", nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		return r
	}
	serve := func(b *testing.B, h http.Handler, r *http.Request) bool {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			b.Errorf("got %d %s, want 200", w.Code, w.Body)
			return false
		}
		return true
	}
	for _, s := range servers(b, f) {
		if !serve(b, s.h, newRequest()) { // warm: keys fetched, token cached
			b.FailNow()
		}
		b.Run(s.name, func(b *testing.B) {
			r := newRequest()
			b.ReportAllocs()
			defer cpuMetric(b)()
			for b.Loop() {
				if !serve(b, s.h, r) {
					return
				}
			}
		})
		b.Run(s.name+"-parallel", func(b *testing.B) {
			b.ReportAllocs()
			defer cpuMetric(b)()
			b.RunParallel(func(pb *testing.PB) {
				r := newRequest()
				for pb.Next() {
					if !serve(b, s.h, r) {
						return
					}
				}
			})
		})
	}
}
