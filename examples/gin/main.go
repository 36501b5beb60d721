// Command gin is an example API protected by logtoguard with gin.
//
//	LOGTO_ENDPOINT=https://your-tenant.logto.app LOGTO_API_RESOURCE=https://api.example.com go run ./gin
//
// LOGTO_WEBHOOK_SIGNING_KEY (the signing key of a Logto webhook pointed at
// POST /logto/webhooks) ends a suspended user's or a removed member's tokens
// at once; LOGTO_REDIS_URL (redis://host:6379) shares that with every
// replica.
package main

import (
	"github.com/logtoguard/logtoguard/examples/internal/app"
	"github.com/logtoguard/logtoguard/examples/internal/ginapp"
	"github.com/logtoguard/logtoguard/middleware"
)

func main() {
	settings, err := app.FromEnv()
	if err != nil {
		app.Fatal("gin", err)
	}
	closeRevocations, err := settings.OpenRevocations()
	if err != nil {
		app.Fatal("gin", err)
	}
	defer closeRevocations()
	v, err := middleware.New(settings.Config)
	if err != nil {
		app.Fatal("gin", err)
	}
	defer v.Close()
	if err := app.Run("gin", settings.Addr, ginapp.Routes(v, settings)); err != nil {
		app.Fatal("gin", err)
	}
}
