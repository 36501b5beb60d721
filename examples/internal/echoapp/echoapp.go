// Package echoapp is the example API on echo: the routes of examples/echo,
// answering byte for byte as app.NetHTTPRoutes does.
package echoapp

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/logtoguard/logtoguard/adapters/echoguard"
	"github.com/logtoguard/logtoguard/examples/internal/app"
	"github.com/logtoguard/logtoguard/middleware"
)

// Routes returns the example API's handler.
func Routes(v *middleware.Validator, s app.Settings) http.Handler {
	guard := echoguard.New(v)
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.GET(middleware.ResourceMetadataPath, echo.WrapHandler(app.Metadata(v)))
	e.GET("/healthz", func(c echo.Context) error {
		app.WriteJSON(c.Response(), http.StatusOK, app.Status{Status: "ok"})
		return nil
	})
	e.GET("/readyz", func(c echo.Context) error {
		status, body := app.Readiness(v, s)
		app.WriteJSON(c.Response(), status, body)
		return nil
	})
	if h := app.Webhooks(v, s); h != nil {
		e.Any(app.WebhookPath, echo.WrapHandler(h))
	}
	e.GET("/products", func(c echo.Context) error {
		app.WriteJSON(c.Response(), http.StatusOK, app.Products)
		return nil
	}, guard.Require(middleware.Scopes(app.ReadProducts)))
	e.POST("/products", func(c echo.Context) error {
		app.WriteJSON(c.Response(), http.StatusCreated, app.Created)
		return nil
	}, guard.Require(middleware.Scopes(app.WriteProducts)))
	e.GET("/whoami", func(c echo.Context) error {
		claims, _ := echoguard.Claims(c)
		app.WriteJSON(c.Response(), http.StatusOK, app.NewWhoAmI(claims))
		return nil
	}, guard.Authenticate())
	e.GET("/orgs/:org/products", func(c echo.Context) error {
		app.WriteJSON(c.Response(), http.StatusOK, app.OrgProducts{OrganizationID: c.Param("org"), Products: app.Products})
		return nil
	}, guard.Require(app.OrgProductsRequirement))
	e.POST("/sync", func(c echo.Context) error {
		claims, _ := echoguard.Claims(c)
		app.WriteJSON(c.Response(), http.StatusOK, app.NewSynced(claims))
		return nil
	}, guard.Require(s.SyncRequirement()))
	return e
}
