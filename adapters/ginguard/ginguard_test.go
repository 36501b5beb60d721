package ginguard_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/logtoguard/logtoguard/adapters/ginguard"
	"github.com/logtoguard/logtoguard/internal/adaptertest"
	"github.com/logtoguard/logtoguard/logtotest"
	"github.com/logtoguard/logtoguard/middleware"
)

func init() { gin.SetMode(gin.TestMode) }

// ginEngine serves the test routes with ginguard.
func ginEngine(v *middleware.Validator) *gin.Engine {
	guard := ginguard.New(v)
	who := func(c *gin.Context) {
		claims, ok := ginguard.Claims(c)
		fromCtx, ok2 := middleware.ClaimsFromContext(c.Request.Context())
		raw, ok3 := c.Get(ginguard.ClaimsKey)
		if !ok || !ok2 || !ok3 {
			c.Status(http.StatusInternalServerError)
			return
		}
		adaptertest.WriteWho(c.Writer, claims, claims == fromCtx && claims == raw)
	}
	r := gin.New()
	for path, req := range adaptertest.Requirements {
		if path == "/read" {
			r.GET(path, guard.Authenticate(), guard.Require(req), who)
			continue
		}
		r.GET(adaptertest.ColonParams(path), guard.Require(req), who)
	}
	r.GET("/auth", guard.Authenticate(), who)
	return r
}

// TestGuard runs the adapters' contract: every request answered as
// adapters/nethttp answers it, byte for byte.
func TestGuard(t *testing.T) {
	adaptertest.Run(t, func(v *middleware.Validator) http.Handler { return ginEngine(v) })
}

func TestKeysNeverLoaded(t *testing.T) {
	adaptertest.RunKeysNeverLoaded(t, func(v *middleware.Validator) http.Handler { return ginEngine(v) })
}

// TestClaims covers the accessor on contexts that Authenticate never saw.
func TestClaims(t *testing.T) {
	want := &middleware.Claims{Subject: "user-1", ClientID: "spa"}
	tests := []struct {
		name  string
		setup func(*gin.Context)
		want  *middleware.Claims
	}{
		{"nothing", func(*gin.Context) {}, nil},
		{"under ClaimsKey", func(c *gin.Context) { c.Set(ginguard.ClaimsKey, want) }, want},
		{"wrong type under ClaimsKey", func(c *gin.Context) { c.Set(ginguard.ClaimsKey, "user-1") }, nil},
		{"nil under ClaimsKey", func(c *gin.Context) { c.Set(ginguard.ClaimsKey, (*middleware.Claims)(nil)) }, nil},
		{"request context", func(c *gin.Context) {
			c.Request = c.Request.WithContext(middleware.WithClaims(c.Request.Context(), want))
		}, want},
		{"no request", func(c *gin.Context) { c.Request = nil }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := gin.CreateTestContext(httptest.NewRecorder())
			c.Request = httptest.NewRequest(http.MethodGet, "/", nil)
			tt.setup(c)
			got, ok := ginguard.Claims(c)
			if got != tt.want || ok != (tt.want != nil) {
				t.Errorf("Claims: got %v, %t; want %v, %t", got, ok, tt.want, tt.want != nil)
			}
		})
	}
}

// TestRejectionAborts: every handler that rejects aborts the chain, so no
// later handler runs.
func TestRejectionAborts(t *testing.T) {
	iss := logtotest.New(t)
	v := adaptertest.NewValidator(t, iss, true)
	guard := ginguard.New(v)
	tests := []struct {
		name    string
		handler gin.HandlerFunc
	}{
		{"Authenticate", guard.Authenticate()},
		{"Require", guard.Require(middleware.Scopes("read:products"))},
		{"Require with a Check", guard.Require(middleware.Requirement{Check: func(*middleware.Claims) error { return nil }})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			c, _ := gin.CreateTestContext(rec)
			c.Request = httptest.NewRequest(http.MethodGet, "/", nil)
			tt.handler(c)
			if !c.IsAborted() {
				t.Error("the chain was not aborted")
			}
			if rec.Code != http.StatusUnauthorized {
				t.Errorf("status: got %d, want 401", rec.Code)
			}
		})
	}
}
