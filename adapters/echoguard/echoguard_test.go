package echoguard_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/logtoguard/logtoguard/adapters/echoguard"
	"github.com/logtoguard/logtoguard/internal/adaptertest"
	"github.com/logtoguard/logtoguard/logtotest"
	"github.com/logtoguard/logtoguard/middleware"
)

// echoEngine serves the test routes with echoguard.
func echoEngine(v *middleware.Validator) *echo.Echo {
	guard := echoguard.New(v)
	who := func(c echo.Context) error {
		claims, ok := echoguard.Claims(c)
		fromCtx, ok2 := middleware.ClaimsFromContext(c.Request().Context())
		raw, _ := c.Get(echoguard.ClaimsKey).(*middleware.Claims)
		if !ok || !ok2 || raw == nil {
			return c.NoContent(http.StatusInternalServerError)
		}
		adaptertest.WriteWho(c.Response(), claims, claims == fromCtx && claims == raw)
		return nil
	}
	e := echo.New()
	for path, req := range adaptertest.Requirements {
		if path == "/read" {
			e.GET(path, who, guard.Authenticate(), guard.Require(req))
			continue
		}
		e.GET(adaptertest.ColonParams(path), who, guard.Require(req))
	}
	e.GET("/auth", who, guard.Authenticate())
	return e
}

// TestGuard runs the adapters' contract: every request answered as
// adapters/nethttp answers it, byte for byte.
func TestGuard(t *testing.T) {
	adaptertest.Run(t, func(v *middleware.Validator) http.Handler { return echoEngine(v) })
}

func TestKeysNeverLoaded(t *testing.T) {
	adaptertest.RunKeysNeverLoaded(t, func(v *middleware.Validator) http.Handler { return echoEngine(v) })
}

// TestClaims covers the accessor on contexts that Authenticate never saw.
func TestClaims(t *testing.T) {
	want := &middleware.Claims{Subject: "user-1", ClientID: "spa"}
	tests := []struct {
		name  string
		setup func(echo.Context)
		want  *middleware.Claims
	}{
		{"nothing", func(echo.Context) {}, nil},
		{"under ClaimsKey", func(c echo.Context) { c.Set(echoguard.ClaimsKey, want) }, want},
		{"wrong type under ClaimsKey", func(c echo.Context) { c.Set(echoguard.ClaimsKey, "user-1") }, nil},
		{"nil under ClaimsKey", func(c echo.Context) { c.Set(echoguard.ClaimsKey, (*middleware.Claims)(nil)) }, nil},
		{"request context", func(c echo.Context) {
			c.SetRequest(c.Request().WithContext(middleware.WithClaims(c.Request().Context(), want)))
		}, want},
		{"no request", func(c echo.Context) { c.SetRequest(nil) }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := echo.New().NewContext(httptest.NewRequest(http.MethodGet, "/", nil), httptest.NewRecorder())
			tt.setup(c)
			got, ok := echoguard.Claims(c)
			if got != tt.want || ok != (tt.want != nil) {
				t.Errorf("Claims: got %v, %t; want %v, %t", got, ok, tt.want, tt.want != nil)
			}
		})
	}
}

// TestRejectionReturnsNil: a rejection is a complete response, so no
// middleware hands echo an error that a custom HTTPErrorHandler or a logger
// would turn into a second response or a server error.
func TestRejectionReturnsNil(t *testing.T) {
	iss := logtotest.New(t)
	v := adaptertest.NewValidator(t, iss, true)
	guard := echoguard.New(v)
	tests := []struct {
		name       string
		middleware echo.MiddlewareFunc
	}{
		{"Authenticate", guard.Authenticate()},
		{"Require", guard.Require(middleware.Scopes("read:products"))},
		{"Require with a Check", guard.Require(middleware.Requirement{Check: func(*middleware.Claims) error { return nil }})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			c := echo.New().NewContext(httptest.NewRequest(http.MethodGet, "/", nil), rec)
			called := false
			err := tt.middleware(func(echo.Context) error { called = true; return nil })(c)
			if err != nil {
				t.Errorf("error: got %v, want nil", err)
			}
			if called {
				t.Error("next was called")
			}
			if rec.Code != http.StatusUnauthorized || !c.Response().Committed {
				t.Errorf("response: got %d (committed %t), want 401 committed", rec.Code, c.Response().Committed)
			}
		})
	}
}
