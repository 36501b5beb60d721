// Command nethttp is an example API protected by logtoguard with net/http.
//
//	LOGTO_ENDPOINT=https://your-tenant.logto.app LOGTO_API_RESOURCE=https://api.example.com go run ./nethttp
package main

import (
	"net/http"

	"github.com/logtoguard/logtoguard/adapters/nethttp"
	"github.com/logtoguard/logtoguard/examples/internal/app"
	"github.com/logtoguard/logtoguard/middleware"
	"github.com/logtoguard/logtoguard/scopes"
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
	if err := app.Run("nethttp", settings.Addr, routes(v)); err != nil {
		app.Fatal("nethttp", err)
	}
}

func routes(v *middleware.Validator) http.Handler {
	guard := nethttp.New(v)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		app.WriteJSON(w, http.StatusOK, app.Status{Status: "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if !v.Ready() {
			app.WriteJSON(w, http.StatusServiceUnavailable, app.Status{Status: "keys not loaded"})
			return
		}
		app.WriteJSON(w, http.StatusOK, app.Status{Status: "ready"})
	})
	mux.Handle("GET /products", guard.Require(scopes.All(app.ReadProducts))(http.HandlerFunc(
		func(w http.ResponseWriter, r *http.Request) { app.WriteJSON(w, http.StatusOK, app.Products) })))
	mux.Handle("POST /products", guard.Require(scopes.All(app.WriteProducts))(http.HandlerFunc(
		func(w http.ResponseWriter, r *http.Request) { app.WriteJSON(w, http.StatusCreated, app.Created) })))
	mux.Handle("GET /whoami", guard.Authenticate(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		claims, _ := middleware.ClaimsFromContext(r.Context())
		app.WriteJSON(w, http.StatusOK, app.NewWhoAmI(claims))
	})))
	return mux
}
