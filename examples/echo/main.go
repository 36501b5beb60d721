// Command echo is an example API protected by logtoguard with echo.
//
//	LOGTO_ENDPOINT=https://your-tenant.logto.app LOGTO_API_RESOURCE=https://api.example.com go run ./echo
//
// LOGTO_WEBHOOK_SIGNING_KEY (the signing key of a Logto webhook pointed at
// POST /logto/webhooks) ends a suspended user's or a removed member's tokens
// at once; LOGTO_REDIS_URL (redis://host:6379) shares that with every
// replica.
package main

import (
	"github.com/logtoguard/logtoguard/examples/internal/app"
	"github.com/logtoguard/logtoguard/examples/internal/echoapp"
	"github.com/logtoguard/logtoguard/middleware"
)

func main() {
	settings, err := app.FromEnv()
	if err != nil {
		app.Fatal("echo", err)
	}
	closeRevocations, err := settings.OpenRevocations()
	if err != nil {
		app.Fatal("echo", err)
	}
	defer closeRevocations()
	v, err := middleware.New(settings.Config)
	if err != nil {
		app.Fatal("echo", err)
	}
	defer v.Close()
	if err := app.Run("echo", settings.Addr, echoapp.Routes(v, settings)); err != nil {
		app.Fatal("echo", err)
	}
}
