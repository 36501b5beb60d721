// Package ginguard protects gin routes with logtoguard.
//
//	guard := ginguard.New(v) // v is a *middleware.Validator
//	r := gin.New()
//	r.GET("/products", guard.Require(middleware.Scopes("read:products")), products)
//	r.GET("/orgs/:org/products", guard.Require(middleware.Requirement{
//		Organization: "org", // the :org parameter
//		Scopes:       []string{"read:products"},
//	}), orgProducts)
//
//	api := r.Group("/api", guard.Authenticate())
//	api.DELETE("/products/:id", guard.Require(middleware.Scopes("delete:products")), remove)
//
// In a handler, read the claims with [Claims]:
//
//	claims, ok := ginguard.Claims(c)
//
// They are also under [ClaimsKey] (c.Get(ginguard.ClaimsKey)) and in the
// request context (middleware.ClaimsFromContext(c.Request.Context())).
//
// [Guard.Require] verifies the bearer token, unless an earlier
// [Guard.Authenticate] did, checks the route's middleware.Requirement and
// stores the claims. Every rejection is written by the core's responder
// (middleware.Validator.WriteError) and aborts the chain, so gin and
// net/http routes answer byte for byte alike.
package ginguard
