package mcpguard_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/logtoguard/logtoguard/adapters/mcpguard"
	"github.com/logtoguard/logtoguard/logtotest"
	"github.com/logtoguard/logtoguard/middleware"
)

// The MCP server's URL: the API identifier of its API resource in Logto.
const resource = "https://mcp.example.com/mcp"

// startLogto starts a Logto-compatible issuer for the examples (it stands
// in for https://your-tenant.logto.app) and a validator for the MCP server
// that trusts it.
func startLogto() (*logtotest.Issuer, *middleware.Validator) {
	logto, err := logtotest.Start()
	if err != nil {
		log.Fatal(err)
	}
	metadataURL, err := middleware.ResourceMetadataURL(resource)
	if err != nil {
		log.Fatal(err)
	}
	v, err := middleware.New(middleware.Config{
		Endpoint:            logto.Endpoint(),
		Audiences:           []string{resource},
		ResourceMetadataURL: metadataURL,
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := v.WaitReady(context.Background()); err != nil {
		log.Fatal(err)
	}
	return logto, v
}

// rpc posts a JSON-RPC body to h with the token (none if empty) and prints
// the status, the challenge if any, and the body.
func rpc(h http.Handler, token, body string) {
	r := httptest.NewRequest(http.MethodPost, resource, strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Accept", "application/json, text/event-stream")
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	fmt.Println(rec.Code)
	if c := rec.Header().Get("WWW-Authenticate"); c != "" {
		fmt.Println(c)
	}
	fmt.Println(strings.TrimSpace(rec.Body.String()))
}

type products struct {
	Products []string `json:"products"`
}

func ExampleGuard_Handler() {
	logto, v := startLogto()
	defer logto.Close()
	defer v.Close()

	guard, err := mcpguard.New(v, mcpguard.Options{
		Tools: map[string]middleware.Requirement{"create_product": middleware.Scopes("write:products")},
	})
	if err != nil {
		log.Fatal(err)
	}
	server := mcp.NewServer(&mcp.Implementation{Name: "products", Version: "v1"}, nil)
	mcp.AddTool(server, &mcp.Tool{Name: "create_product"}, func(context.Context, *mcp.CallToolRequest, struct{}) (*mcp.CallToolResult, any, error) {
		return nil, map[string]string{"status": "created"}, nil
	})
	h := guard.Handler(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server },
		&mcp.StreamableHTTPOptions{Stateless: true, JSONResponse: true}))

	call := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"create_product","arguments":{}}}`
	rpc(h, "", call)
	rpc(h, logto.M2MToken("agent", resource, "read:products"), call)
	rpc(h, logto.M2MToken("agent", resource, "write:products"), call)
	// Output:
	// 401
	// Bearer realm="api", resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp"
	// {"error":"unauthorized","error_description":"a bearer token is required"}
	// 403
	// Bearer realm="api", error="insufficient_scope", error_description="the token lacks the scopes: write:products", scope="write:products", resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp"
	// {"error":"insufficient_scope","error_description":"the token lacks the scopes: write:products"}
	// 200
	// {"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"{\"status\":\"created\"}"}],"structuredContent":{"status":"created"}}}
}

func ExampleAddTool() {
	logto, v := startLogto()
	defer logto.Close()
	defer v.Close()

	guard, err := mcpguard.New(v, mcpguard.Options{})
	if err != nil {
		log.Fatal(err)
	}
	server := mcp.NewServer(&mcp.Implementation{Name: "products", Version: "v1"}, nil)
	// The tool and its requirement, in one place.
	mcpguard.AddTool(guard, server, &mcp.Tool{Name: "list_products"}, middleware.Scopes("read:products"),
		func(context.Context, *mcp.CallToolRequest, struct{}) (*mcp.CallToolResult, products, error) {
			return nil, products{Products: []string{"Keyboard", "Mouse"}}, nil
		})
	h := guard.Handler(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server },
		&mcp.StreamableHTTPOptions{Stateless: true, JSONResponse: true}))

	call := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"list_products","arguments":{}}}`
	rpc(h, logto.M2MToken("agent", resource), call)
	rpc(h, logto.M2MToken("agent", resource, "read:products"), call)
	// Output:
	// 403
	// Bearer realm="api", error="insufficient_scope", error_description="the token lacks the scopes: read:products", scope="read:products", resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp"
	// {"error":"insufficient_scope","error_description":"the token lacks the scopes: read:products"}
	// 200
	// {"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"{\"products\":[\"Keyboard\",\"Mouse\"]}"}],"structuredContent":{"products":["Keyboard","Mouse"]}}}
}

func ExampleClaims() {
	logto, v := startLogto()
	defer logto.Close()
	defer v.Close()

	guard, err := mcpguard.New(v, mcpguard.Options{})
	if err != nil {
		log.Fatal(err)
	}
	server := mcp.NewServer(&mcp.Implementation{Name: "products", Version: "v1"}, nil)
	// The zero requirement: any valid token may call whoami.
	mcpguard.AddTool(guard, server, &mcp.Tool{Name: "whoami"}, middleware.Requirement{}, func(_ context.Context, req *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, any, error) {
		claims, ok := mcpguard.Claims(req) // req.Extra.TokenInfo.Extra[mcpguard.ExtraKey]
		if !ok {
			return nil, nil, fmt.Errorf("no claims")
		}
		return nil, map[string]any{"sub": claims.Subject, "m2m": claims.IsM2M()}, nil
	})
	h := guard.Handler(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server },
		&mcp.StreamableHTTPOptions{Stateless: true, JSONResponse: true}))

	rpc(h, logto.UserToken("user-1", "spa", resource), `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"whoami","arguments":{}}}`)
	// Output:
	// 200
	// {"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"{\"m2m\":false,\"sub\":\"user-1\"}"}],"structuredContent":{"m2m":false,"sub":"user-1"}}}
}

func ExampleVerifier() {
	logto, v := startLogto()
	defer logto.Close()
	defer v.Close()

	// The SDK's own middleware with the verifier: its own plain-text
	// answers, and no per-tool scopes (Guard.Handler has both).
	protect := auth.RequireBearerToken(mcpguard.Verifier(v), &auth.RequireBearerTokenOptions{
		Scopes:    []string{"read:products"},
		ClockSkew: middleware.DefaultLeeway,
	})
	h := protect(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info := auth.TokenInfoFromContext(r.Context())
		fmt.Fprintln(w, info.UserID, info.Scopes)
	}))
	rpc(h, logto.M2MToken("agent", resource, "read:products"), `{}`)
	rpc(h, logto.ExpiredToken("agent", resource, "read:products"), `{}`)
	// Output:
	// 200
	// agent [read:products]
	// 401
	// Bearer scope="read:products"
	// invalid token: the token has expired
}

func ExampleGuard_MetadataHandler() {
	logto, v := startLogto()
	defer logto.Close()
	defer v.Close()

	guard, err := mcpguard.New(v, mcpguard.Options{
		Require: middleware.Scopes("mcp:use"),
		Tools: map[string]middleware.Requirement{
			"list_products":  middleware.Scopes("read:products"),
			"create_product": middleware.Scopes("write:products"),
		},
		ResourceName: "Products MCP server",
	})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(guard.MetadataPath(), guard.MetadataHandler())

	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, guard.MetadataURL(), nil))
	fmt.Println(guard.MetadataURL())
	fmt.Print(strings.ReplaceAll(rec.Body.String(), logto.Issuer(), "https://your-tenant.logto.app/oidc"))
	// Output:
	// https://mcp.example.com/.well-known/oauth-protected-resource/mcp
	// {"resource":"https://mcp.example.com/mcp","authorization_servers":["https://your-tenant.logto.app/oidc"],"scopes_supported":["mcp:use","read:products","write:products"],"bearer_methods_supported":["header"],"resource_name":"Products MCP server"}
}

func ExampleClientCredentials() {
	logto, err := logtotest.Start()
	if err != nil {
		log.Fatal(err)
	}
	defer logto.Close()

	// An MCP server on 127.0.0.1, protected by Logto.
	ts := httptest.NewUnstartedServer(nil)
	url := "http://" + ts.Listener.Addr().String() + "/mcp"
	metadataURL, _ := middleware.ResourceMetadataURL(url)
	v, err := middleware.New(middleware.Config{Endpoint: logto.Endpoint(), Audiences: []string{url}, ResourceMetadataURL: metadataURL})
	if err != nil {
		log.Fatal(err)
	}
	defer v.Close()
	guard, err := mcpguard.New(v, mcpguard.Options{})
	if err != nil {
		log.Fatal(err)
	}
	server := mcp.NewServer(&mcp.Implementation{Name: "products", Version: "v1"}, nil)
	mcpguard.AddTool(guard, server, &mcp.Tool{Name: "list_products"}, middleware.Scopes("read:products"),
		func(context.Context, *mcp.CallToolRequest, struct{}) (*mcp.CallToolResult, products, error) {
			return nil, products{Products: []string{"Keyboard", "Mouse"}}, nil
		})
	mux := http.NewServeMux()
	mux.Handle("/mcp", guard.Handler(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server }, nil)))
	mux.Handle(guard.MetadataPath(), guard.MetadataHandler())
	ts.Config.Handler = mux
	ts.Start()
	defer ts.Close()

	// In Logto: the API resource, and a machine-to-machine app with a role
	// that grants read:products.
	logto.AddResource(url, "read:products")
	logto.AddM2MApp("agent", "agent-secret", "read:products")

	// The client starts without a token: the first 401 leads it to the
	// metadata, to Logto, and to a token for the server.
	client := mcp.NewClient(&mcp.Implementation{Name: "agent", Version: "v1"}, nil)
	session, err := client.Connect(context.Background(), &mcp.StreamableClientTransport{
		Endpoint:     url,
		OAuthHandler: &mcpguard.ClientCredentials{ClientID: "agent", ClientSecret: "agent-secret"},
	}, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer session.Close()
	res, err := session.CallTool(context.Background(), &mcp.CallToolParams{Name: "list_products", Arguments: map[string]any{}})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.StructuredContent)
	// Output: map[products:[Keyboard Mouse]]
}

// CheckServer finds a requirement keyed by a name the server does not
// serve; the tool it meant to protect is refused meanwhile, since no
// requirement lists it.
func ExampleGuard_CheckServer() {
	logto, v := startLogto()
	defer logto.Close()
	defer v.Close()

	guard, err := mcpguard.New(v, mcpguard.Options{
		Tools: map[string]middleware.Requirement{"Create_Product": middleware.Scopes("write:products")},
	})
	if err != nil {
		log.Fatal(err)
	}
	server := mcp.NewServer(&mcp.Implementation{Name: "products", Version: "v1"}, nil)
	mcp.AddTool(server, &mcp.Tool{Name: "create_product"}, func(context.Context, *mcp.CallToolRequest, struct{}) (*mcp.CallToolResult, any, error) {
		return nil, map[string]string{"id": "p3"}, nil
	})
	fmt.Println(guard.CheckServer(context.Background(), server))

	h := guard.Handler(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server },
		&mcp.StreamableHTTPOptions{Stateless: true, JSONResponse: true}))
	rpc(h, logto.M2MToken("agent", resource), `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"create_product","arguments":{}}}`)
	// Output:
	// mcpguard: requirements name tools the server does not serve: "Create_Product" (the server has "create_product")
	// 403
	// Bearer realm="api", error="insufficient_scope", error_description="the server lists no requirement for this tool", resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp"
	// {"error":"insufficient_scope","error_description":"the server lists no requirement for this tool"}
}
