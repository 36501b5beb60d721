package echoguard_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/labstack/echo/v4"

	"github.com/logtoguard/logtoguard/adapters/echoguard"
	"github.com/logtoguard/logtoguard/logtotest"
	"github.com/logtoguard/logtoguard/middleware"
)

// startLogto starts a Logto-compatible issuer for the examples (it stands in
// for https://your-tenant.logto.app) and a validator that trusts it.
func startLogto() (*logtotest.Issuer, *middleware.Validator) {
	logto, err := logtotest.Start()
	if err != nil {
		log.Fatal(err)
	}
	v, err := middleware.New(middleware.Config{
		Endpoint:  logto.Endpoint(),
		Audiences: []string{"https://api.example.com"},
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := v.WaitReady(context.Background()); err != nil {
		log.Fatal(err)
	}
	return logto, v
}

// get serves GET path with the bearer token (none if empty) and prints the
// status and the body.
func get(h http.Handler, path, token string) {
	r := httptest.NewRequest(http.MethodGet, path, nil)
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	fmt.Println(rec.Code, rec.Body.String())
}

func ExampleNew() {
	logto, v := startLogto()
	defer logto.Close()
	defer v.Close()

	guard := echoguard.New(v)
	e := echo.New()
	e.GET("/products", func(c echo.Context) error {
		return c.String(http.StatusOK, "products")
	}, guard.Require(middleware.Scopes("read:products")))

	get(e, "/products", logto.M2MToken("inventory-sync", "https://api.example.com", "read:products"))
	// Output: 200 products
}

func ExampleGuard_Authenticate() {
	logto, v := startLogto()
	defer logto.Close()
	defer v.Close()

	guard := echoguard.New(v)
	e := echo.New()
	api := e.Group("/api", guard.Authenticate())
	api.GET("/whoami", func(c echo.Context) error {
		claims, _ := echoguard.Claims(c)
		return c.String(http.StatusOK, fmt.Sprintf("%s m2m=%t", claims.Subject, claims.IsM2M()))
	})

	get(e, "/api/whoami", "")
	get(e, "/api/whoami", logto.M2MToken("inventory-sync", "https://api.example.com"))
	// Output:
	// 401 {"error":"unauthorized","error_description":"a bearer token is required"}
	//
	// 200 inventory-sync m2m=true
}

func ExampleGuard_Require_group() {
	logto, v := startLogto()
	defer logto.Close()
	defer v.Close()

	guard := echoguard.New(v)
	e := echo.New()
	api := e.Group("/api", guard.Authenticate())
	api.DELETE("/products/:id", func(c echo.Context) error {
		return c.NoContent(http.StatusNoContent)
	}, guard.Require(middleware.Scopes("delete:products")))

	for _, scope := range []string{"read:products", "delete:products"} {
		r := httptest.NewRequest(http.MethodDelete, "/api/products/42", nil)
		r.Header.Set("Authorization", "Bearer "+logto.M2MToken("inventory-sync", "https://api.example.com", scope))
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, r)
		fmt.Println(scope, rec.Code, rec.Header().Get("WWW-Authenticate"))
	}
	// Output:
	// read:products 403 Bearer realm="api", error="insufficient_scope", error_description="the token lacks the scopes: delete:products", scope="delete:products"
	// delete:products 204
}

func ExampleGuard_Require_check() {
	logto, v := startLogto()
	defer logto.Close()
	defer v.Close()

	// A requirement on a custom claim, added by a Logto custom JWT script.
	proPlan := func(claims *middleware.Claims) error {
		var custom struct {
			Plan string `json:"plan"`
		}
		if err := claims.Decode(&custom); err != nil || custom.Plan != "pro" {
			return &middleware.Error{Kind: middleware.ErrClient, Description: "this route needs the pro plan"}
		}
		return nil
	}

	guard := echoguard.New(v)
	e := echo.New()
	e.GET("/reports", func(c echo.Context) error {
		return c.String(http.StatusOK, "reports")
	}, guard.Require(middleware.Requirement{Check: proPlan}))

	for _, plan := range []string{"pro", "free"} {
		get(e, "/reports", logto.Mint(logtotest.Token{
			Subject: "user-1", ClientID: "spa", Audience: "https://api.example.com", Extra: map[string]any{"plan": plan},
		}))
	}
	// Output:
	// 200 reports
	// 403 {"error":"insufficient_scope","error_description":"this route needs the pro plan"}
}

func ExampleGuard_Require() {
	logto, v := startLogto()
	defer logto.Close()
	defer v.Close()

	guard := echoguard.New(v)
	e := echo.New()
	e.GET("/products", func(c echo.Context) error {
		return c.String(http.StatusOK, "products")
	}, guard.Require(middleware.Requirement{AnyScopes: []string{"read:products", "admin"}}))

	get(e, "/products", "")
	get(e, "/products", logto.M2MToken("inventory-sync", "https://api.example.com", "write:products"))
	get(e, "/products", logto.M2MToken("inventory-sync", "https://api.example.com", "admin"))
	// Output:
	// 401 {"error":"unauthorized","error_description":"a bearer token is required"}
	//
	// 403 {"error":"insufficient_scope","error_description":"the token needs one of the scopes: read:products admin"}
	//
	// 200 products
}

func ExampleClaims() {
	logto, v := startLogto()
	defer logto.Close()
	defer v.Close()

	guard := echoguard.New(v)
	e := echo.New()
	e.GET("/whoami", func(c echo.Context) error {
		claims, ok := echoguard.Claims(c)
		if !ok {
			return c.NoContent(http.StatusUnauthorized)
		}
		appID, isApp := claims.AppID()
		raw := c.Get(echoguard.ClaimsKey) // the same claims
		fromCtx, _ := middleware.ClaimsFromContext(c.Request().Context())
		return c.String(http.StatusOK, fmt.Sprintf("app=%s %t scopes=%v same=%t",
			appID, isApp, claims.Scopes, raw == claims && fromCtx == claims))
	}, guard.Authenticate())

	get(e, "/whoami", logto.M2MToken("inventory-sync", "https://api.example.com", "read:products"))
	// Output: 200 app=inventory-sync true scopes=[read:products] same=true
}

func ExampleGuard_Require_organization() {
	logto, v := startLogto()
	defer logto.Close()
	defer v.Close()

	guard := echoguard.New(v)
	e := echo.New()
	e.GET("/orgs/:org/members", func(c echo.Context) error {
		return c.String(http.StatusOK, "members of "+c.Param("org"))
	}, guard.Require(middleware.Requirement{Organization: "org"}))

	// An organization-level API resource token for acme.
	token := logto.Mint(logtotest.Token{
		Subject: "user-1", ClientID: "spa", Audience: "https://api.example.com", OrganizationID: "acme",
	})
	get(e, "/orgs/acme/members", token)
	get(e, "/orgs/globex/members", token)
	// Output:
	// 200 members of acme
	// 403 {"error":"insufficient_scope","error_description":"the token is not for organization 'globex'"}
}

func ExampleGuard_Require_m2m() {
	logto, v := startLogto()
	defer logto.Close()
	defer v.Close()

	guard := echoguard.New(v)
	e := echo.New()
	e.GET("/sync", func(c echo.Context) error {
		claims, _ := echoguard.Claims(c)
		appID, _ := claims.AppID()
		return c.String(http.StatusOK, "sync by "+appID)
	}, guard.Require(middleware.Requirement{AppIDs: []string{"inventory-sync"}}))

	get(e, "/sync", logto.M2MToken("inventory-sync", "https://api.example.com"))
	get(e, "/sync", logto.M2MToken("billing", "https://api.example.com"))
	// Output:
	// 200 sync by inventory-sync
	// 403 {"error":"insufficient_scope","error_description":"the app 'billing' may not use this route"}
}
