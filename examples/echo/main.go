// Command echo is an example API protected by logtoguard with echo.
//
//	LOGTO_ENDPOINT=https://your-tenant.logto.app LOGTO_API_RESOURCE=https://api.example.com go run ./echo
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
	v, err := middleware.New(settings.Config)
	if err != nil {
		app.Fatal("echo", err)
	}
	defer v.Close()
	if err := app.Run("echo", settings.Addr, echoapp.Routes(v, settings)); err != nil {
		app.Fatal("echo", err)
	}
}
