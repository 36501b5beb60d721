// Command mcp is an MCP server on streamable HTTP at /mcp, built on the
// official Go SDK and protected by Logto with logtoguard's mcpguard. Its
// tools: list_products (read:products), create_product (write:products)
// and whoami (any valid token).
//
//	PUBLIC_URL=https://mcp.example.com \
//	LOGTO_ENDPOINT=https://your-tenant.logto.app \
//	LOGTO_API_RESOURCE=https://mcp.example.com/mcp \
//	go run ./mcp
//
// It reads the settings of the other example servers (LOGTO_ENDPOINT,
// LOGTO_ISSUER, LOGTO_JWKS_URI, LOGTO_API_RESOURCE, ADDR...), and requires
// PUBLIC_URL, the server's public URL: the MCP endpoint is PUBLIC_URL +
// "/mcp", and LOGTO_API_RESOURCE, the API identifier of the API resource in
// Logto, must be that URL, since MCP clients ask Logto for a token with the
// server's URL as the resource. Its protected resource metadata is at
// PUBLIC_URL/.well-known/oauth-protected-resource/mcp.
package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/logtoguard/logtoguard/adapters/mcpguard"
	"github.com/logtoguard/logtoguard/examples/internal/app"
	"github.com/logtoguard/logtoguard/middleware"
)

func main() {
	settings, err := app.FromEnv()
	if err != nil {
		app.Fatal("mcp", err)
	}
	resource, err := mcpResource(settings)
	if err != nil {
		app.Fatal("mcp", err)
	}
	// 401 challenges point to the metadata of the MCP endpoint (RFC 9728
	// places it by the resource's path).
	if settings.Config.ResourceMetadataURL, err = middleware.ResourceMetadataURL(resource); err != nil {
		app.Fatal("mcp", fmt.Errorf("PUBLIC_URL: %w", err))
	}
	v, err := middleware.New(settings.Config)
	if err != nil {
		app.Fatal("mcp", err)
	}
	defer v.Close()
	h, err := routes(v)
	if err != nil {
		app.Fatal("mcp", err)
	}
	if err := app.Run("mcp", settings.Addr, h); err != nil {
		app.Fatal("mcp", err)
	}
}

// mcpResource returns the MCP endpoint's URL, PUBLIC_URL + "/mcp", which
// must be the API resource's identifier.
func mcpResource(s app.Settings) (string, error) {
	public := strings.TrimSuffix(strings.TrimSpace(os.Getenv("PUBLIC_URL")), "/")
	if public == "" {
		return "", errors.New("PUBLIC_URL is required: the server's public URL, such as https://mcp.example.com (the MCP endpoint is PUBLIC_URL/mcp)")
	}
	resource := public + "/mcp"
	if s.Config.Audiences[0] != resource {
		return "", fmt.Errorf("LOGTO_API_RESOURCE %q must be the MCP endpoint's URL, %q: MCP clients ask Logto for a token for the server's URL", s.Config.Audiences[0], resource)
	}
	return resource, nil
}

// newProduct is the input of create_product.
type newProduct struct {
	Name  string `json:"name" jsonschema:"the product's name"`
	Price int    `json:"price" jsonschema:"the price in cents"`
}

type productList struct {
	Products []app.Product `json:"products"`
}

// routes serves the MCP endpoint, its protected resource metadata and the
// health checks.
func routes(v *middleware.Validator) (http.Handler, error) {
	guard, err := mcpguard.New(v, mcpguard.Options{ResourceName: "Example products MCP server"})
	if err != nil {
		return nil, err
	}
	server := mcp.NewServer(&mcp.Implementation{Name: "products", Version: "v1"}, nil)
	mcpguard.AddTool(guard, server, &mcp.Tool{Name: "list_products", Description: "List the products of the catalogue."},
		middleware.Scopes(app.ReadProducts),
		func(context.Context, *mcp.CallToolRequest, struct{}) (*mcp.CallToolResult, productList, error) {
			return nil, productList{Products: app.Products}, nil
		})
	mcpguard.AddTool(guard, server, &mcp.Tool{Name: "create_product", Description: "Add a product to the catalogue."},
		middleware.Scopes(app.WriteProducts),
		func(_ context.Context, _ *mcp.CallToolRequest, in newProduct) (*mcp.CallToolResult, app.Product, error) {
			if strings.TrimSpace(in.Name) == "" {
				return nil, app.Product{}, errors.New("name is required")
			}
			return nil, app.Product{ID: "p3", Name: in.Name, Price: in.Price}, nil
		})
	// The zero requirement: any valid token may ask who it is. A tool that
	// no requirement lists would be refused.
	mcpguard.AddTool(guard, server, &mcp.Tool{Name: "whoami", Description: "Describe the caller: the token's subject, app and scopes."},
		middleware.Requirement{},
		func(_ context.Context, req *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, app.WhoAmI, error) {
			claims, ok := mcpguard.Claims(req)
			if !ok {
				return nil, app.WhoAmI{}, errors.New("no token")
			}
			return nil, app.NewWhoAmI(claims), nil
		})

	mux := http.NewServeMux()
	mux.Handle("/mcp", guard.Handler(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server }, nil)))
	mux.Handle(guard.MetadataPath(), guard.MetadataHandler())
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		app.WriteJSON(w, http.StatusOK, app.Status{Status: "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !v.Ready() {
			app.WriteJSON(w, http.StatusServiceUnavailable, app.Status{Status: "keys not loaded"})
			return
		}
		app.WriteJSON(w, http.StatusOK, app.Status{Status: "ready"})
	})
	return mux, nil
}
