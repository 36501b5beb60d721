// Package echoguard protects echo routes with logtoguard.
//
//	guard := echoguard.New(v) // v is a *middleware.Validator
//	e := echo.New()
//	e.GET("/products", products, guard.Require(middleware.Scopes("read:products")))
//	e.GET("/orgs/:org/products", orgProducts, guard.Require(middleware.Requirement{
//		Organization: "org", // the :org parameter
//		Scopes:       []string{"read:products"},
//	}))
//
//	api := e.Group("/api", guard.Authenticate())
//	api.DELETE("/products/:id", remove, guard.Require(middleware.Scopes("delete:products")))
//
// In a handler, read the claims with [Claims]:
//
//	claims, ok := echoguard.Claims(c)
//
// They are also under [ClaimsKey] (c.Get(echoguard.ClaimsKey)) and in the
// request context (middleware.ClaimsFromContext(c.Request().Context())).
//
// [Guard.Require] verifies the bearer token, unless an earlier
// [Guard.Authenticate] did, checks the route's middleware.Requirement and
// stores the claims. Every rejection is written by the core's responder
// (middleware.Validator.WriteError) and the middleware returns nil, not an
// *echo.HTTPError: the response is complete, and echo and net/http routes
// answer byte for byte alike.
package echoguard
