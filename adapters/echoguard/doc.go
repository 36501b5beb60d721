// Package echoguard protects echo routes with logtoguard.
//
//	guard := echoguard.New(v) // v is a *middleware.Validator
//	e := echo.New()
//	e.GET("/products", products, guard.Require(scopes.All("read:products")))
//
//	api := e.Group("/api", guard.Authenticate())
//	api.DELETE("/products/:id", remove, guard.RequireScopes(scopes.All("delete:products")))
//
// In a handler, read the claims with [Claims]:
//
//	claims, ok := echoguard.Claims(c)
//
// They are also under [ClaimsKey] (c.Get(echoguard.ClaimsKey)) and in the
// request context (middleware.ClaimsFromContext(c.Request().Context())).
//
// [Guard.Authenticate] verifies the bearer token and stores the claims;
// [Guard.RequireScopes] and [Guard.RequireFunc] check them; [Guard.Require]
// is Authenticate and RequireScopes in one. Every rejection is written by
// the core's responder (middleware.Validator.WriteError) and the middleware
// returns nil, not an *echo.HTTPError: the response is complete, and echo
// and net/http routes answer byte for byte alike.
package echoguard
