// Package ginapp is the example API on gin: the routes of examples/gin,
// answering byte for byte as app.NetHTTPRoutes does.
package ginapp

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/logtoguard/logtoguard/adapters/ginguard"
	"github.com/logtoguard/logtoguard/examples/internal/app"
	"github.com/logtoguard/logtoguard/middleware"
)

// Routes returns the example API's handler.
func Routes(v *middleware.Validator, s app.Settings) http.Handler {
	gin.SetMode(gin.ReleaseMode)
	guard := ginguard.New(v)
	r := gin.New()
	r.Use(gin.Recovery())
	r.GET(middleware.ResourceMetadataPath, gin.WrapH(app.Metadata(v)))
	r.GET("/healthz", func(c *gin.Context) {
		app.WriteJSON(c.Writer, http.StatusOK, app.Status{Status: "ok"})
	})
	r.GET("/readyz", func(c *gin.Context) {
		status, body := app.Readiness(v, s)
		app.WriteJSON(c.Writer, status, body)
	})
	if h := app.Webhooks(v, s); h != nil {
		r.Any(app.WebhookPath, gin.WrapH(h))
	}
	r.GET("/products", guard.Require(middleware.Scopes(app.ReadProducts)), func(c *gin.Context) {
		app.WriteJSON(c.Writer, http.StatusOK, app.Products)
	})
	r.POST("/products", guard.Require(middleware.Scopes(app.WriteProducts)), func(c *gin.Context) {
		app.WriteJSON(c.Writer, http.StatusCreated, app.Created)
	})
	r.GET("/whoami", guard.Authenticate(), func(c *gin.Context) {
		claims, _ := ginguard.Claims(c)
		app.WriteJSON(c.Writer, http.StatusOK, app.NewWhoAmI(claims))
	})
	r.GET("/orgs/:org/products", guard.Require(app.OrgProductsRequirement), func(c *gin.Context) {
		app.WriteJSON(c.Writer, http.StatusOK, app.OrgProducts{OrganizationID: c.Param("org"), Products: app.Products})
	})
	r.POST("/sync", guard.Require(s.SyncRequirement()), func(c *gin.Context) {
		claims, _ := ginguard.Claims(c)
		app.WriteJSON(c.Writer, http.StatusOK, app.NewSynced(claims))
	})
	return r
}
