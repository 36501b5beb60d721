// Command nethttp is an example API protected by logtoguard with net/http.
//
//	LOGTO_ENDPOINT=https://your-tenant.logto.app LOGTO_API_RESOURCE=https://api.example.com go run ./nethttp
package main

import (
	"github.com/logtoguard/logtoguard/examples/internal/app"
	"github.com/logtoguard/logtoguard/middleware"
)

func main() {
	settings, err := app.FromEnv()
	if err != nil {
		app.Fatal("nethttp", err)
	}
	v, err := middleware.New(settings.Config)
	if err != nil {
		app.Fatal("nethttp", err)
	}
	defer v.Close()
	if err := app.Run("nethttp", settings.Addr, app.NetHTTPRoutes(v, settings)); err != nil {
		app.Fatal("nethttp", err)
	}
}
