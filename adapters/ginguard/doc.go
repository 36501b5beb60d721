// Package ginguard protects gin routes with logtoguard.
//
//	guard := ginguard.New(v) // v is a *middleware.Validator
//	r := gin.New()
//	r.GET("/products", guard.Require(scopes.All("read:products")), products)
//
//	api := r.Group("/api", guard.Authenticate())
//	api.DELETE("/products/:id", guard.RequireScopes(scopes.All("delete:products")), remove)
//
// In a handler, read the claims with [Claims]:
//
//	claims, ok := ginguard.Claims(c)
//
// They are also under [ClaimsKey] (c.Get(ginguard.ClaimsKey)) and in the
// request context (middleware.ClaimsFromContext(c.Request.Context())).
//
// [Guard.Authenticate] verifies the bearer token and stores the claims;
// [Guard.RequireScopes] and [Guard.RequireFunc] check them; [Guard.Require]
// is Authenticate and RequireScopes in one handler. Every rejection is
// written by the core's responder (middleware.Validator.WriteError) and
// aborts the chain, so gin and net/http routes answer byte for byte alike.
package ginguard
