package ginguard_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/gin-gonic/gin"

	"github.com/logtoguard/logtoguard/adapters/ginguard"
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

	guard := ginguard.New(v)
	r := gin.New()
	r.GET("/products", guard.Require(middleware.Scopes("read:products")), func(c *gin.Context) {
		c.String(http.StatusOK, "products")
	})

	get(r, "/products", logto.M2MToken("inventory-sync", "https://api.example.com", "read:products"))
	// Output: 200 products
}

func ExampleGuard_Authenticate() {
	logto, v := startLogto()
	defer logto.Close()
	defer v.Close()

	guard := ginguard.New(v)
	r := gin.New()
	api := r.Group("/api", guard.Authenticate())
	api.GET("/whoami", func(c *gin.Context) {
		claims, _ := ginguard.Claims(c)
		c.String(http.StatusOK, "%s m2m=%t", claims.Subject, claims.IsM2M())
	})

	get(r, "/api/whoami", "")
	get(r, "/api/whoami", logto.M2MToken("inventory-sync", "https://api.example.com"))
	// Output:
	// 401 {"error":"unauthorized","error_description":"a bearer token is required"}
	//
	// 200 inventory-sync m2m=true
}

func ExampleGuard_Require_group() {
	logto, v := startLogto()
	defer logto.Close()
	defer v.Close()

	guard := ginguard.New(v)
	r := gin.New()
	api := r.Group("/api", guard.Authenticate())
	api.DELETE("/products/:id", guard.Require(middleware.Scopes("delete:products")), func(c *gin.Context) {
		c.Status(http.StatusNoContent)
	})

	for _, scope := range []string{"read:products", "delete:products"} {
		r2 := httptest.NewRequest(http.MethodDelete, "/api/products/42", nil)
		r2.Header.Set("Authorization", "Bearer "+logto.M2MToken("inventory-sync", "https://api.example.com", scope))
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, r2)
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

	guard := ginguard.New(v)
	r := gin.New()
	r.GET("/reports", guard.Require(middleware.Requirement{Check: proPlan}), func(c *gin.Context) {
		c.String(http.StatusOK, "reports")
	})

	for _, plan := range []string{"pro", "free"} {
		get(r, "/reports", logto.Mint(logtotest.Token{
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

	guard := ginguard.New(v)
	r := gin.New()
	r.GET("/products", guard.Require(middleware.Requirement{AnyScopes: []string{"read:products", "admin"}}), func(c *gin.Context) {
		c.String(http.StatusOK, "products")
	})

	get(r, "/products", "")
	get(r, "/products", logto.M2MToken("inventory-sync", "https://api.example.com", "write:products"))
	get(r, "/products", logto.M2MToken("inventory-sync", "https://api.example.com", "admin"))
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

	guard := ginguard.New(v)
	r := gin.New()
	r.GET("/whoami", guard.Authenticate(), func(c *gin.Context) {
		claims, ok := ginguard.Claims(c)
		if !ok {
			c.AbortWithStatus(http.StatusUnauthorized)
			return
		}
		appID, isApp := claims.AppID()
		raw, _ := c.Get(ginguard.ClaimsKey) // the same claims
		fromCtx, _ := middleware.ClaimsFromContext(c.Request.Context())
		c.String(http.StatusOK, "app=%s %t scopes=%v same=%t", appID, isApp, claims.Scopes, raw == claims && fromCtx == claims)
	})

	get(r, "/whoami", logto.M2MToken("inventory-sync", "https://api.example.com", "read:products"))
	// Output: 200 app=inventory-sync true scopes=[read:products] same=true
}

func ExampleGuard_Require_organization() {
	logto, v := startLogto()
	defer logto.Close()
	defer v.Close()

	guard := ginguard.New(v)
	r := gin.New()
	r.GET("/orgs/:org/members", guard.Require(middleware.Requirement{Organization: "org"}), func(c *gin.Context) {
		c.String(http.StatusOK, "members of %s", c.Param("org"))
	})

	// An organization-level API resource token for acme.
	token := logto.Mint(logtotest.Token{
		Subject: "user-1", ClientID: "spa", Audience: "https://api.example.com", OrganizationID: "acme",
	})
	get(r, "/orgs/acme/members", token)
	get(r, "/orgs/globex/members", token)
	// Output:
	// 200 members of acme
	// 403 {"error":"insufficient_scope","error_description":"the token is not for organization 'globex'"}
}

func ExampleGuard_Require_m2m() {
	logto, v := startLogto()
	defer logto.Close()
	defer v.Close()

	guard := ginguard.New(v)
	r := gin.New()
	r.GET("/sync", guard.Require(middleware.Requirement{AppIDs: []string{"inventory-sync"}}), func(c *gin.Context) {
		claims, _ := ginguard.Claims(c)
		appID, _ := claims.AppID()
		c.String(http.StatusOK, "sync by %s", appID)
	})

	get(r, "/sync", logto.M2MToken("inventory-sync", "https://api.example.com"))
	get(r, "/sync", logto.M2MToken("billing", "https://api.example.com"))
	// Output:
	// 200 sync by inventory-sync
	// 403 {"error":"insufficient_scope","error_description":"the app 'billing' may not use this route"}
}
