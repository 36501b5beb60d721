// Command metrics is the net/http example API with Prometheus metrics of
// logtoguard at /metrics: tokens verified (cache hit or miss), rejections by
// reason, and key fetches by result.
//
//	LOGTO_ENDPOINT=https://your-tenant.logto.app LOGTO_API_RESOURCE=https://api.example.com go run ./metrics
package main

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/logtoguard/logtoguard/examples/internal/app"
	"github.com/logtoguard/logtoguard/examples/internal/prommetrics"
	"github.com/logtoguard/logtoguard/middleware"
)

func main() {
	settings, err := app.FromEnv()
	if err != nil {
		app.Fatal("metrics", err)
	}
	reg := prometheus.NewRegistry()
	settings.Config.Hooks = prommetrics.Hooks(reg)
	v, err := middleware.New(settings.Config)
	if err != nil {
		app.Fatal("metrics", err)
	}
	defer v.Close()
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.Handle("/", app.NetHTTPRoutes(v, settings))
	if err := app.Run("metrics", settings.Addr, mux); err != nil {
		app.Fatal("metrics", err)
	}
}
