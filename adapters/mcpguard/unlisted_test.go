package mcpguard_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/logtoguard/logtoguard/adapters/mcpguard"
	"github.com/logtoguard/logtoguard/logtotest"
	"github.com/logtoguard/logtoguard/middleware"
)

// serveTools serves server behind a guard of opts on 127.0.0.1, and returns
// the MCP endpoint, the guard and the validator.
func serveTools(t *testing.T, logto *logtotest.Issuer, opts mcpguard.Options, server *mcp.Server, validator func(*middleware.Config)) (string, *mcpguard.Guard) {
	t.Helper()
	ts := httptest.NewUnstartedServer(nil)
	resource := "http://" + ts.Listener.Addr().String() + "/mcp"
	cfg := middleware.Config{Endpoint: logto.Endpoint(), Audiences: []string{resource}}
	if validator != nil {
		validator(&cfg)
	}
	v, err := middleware.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = v.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := v.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	g, err := mcpguard.New(v, opts)
	if err != nil {
		t.Fatal(err)
	}
	ts.Config.Handler = g.Handler(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server }, nil))
	ts.Start()
	t.Cleanup(ts.Close)
	return resource, g
}

// productServer is an MCP server with create_product, which counts its
// calls in ran, and list_products.
func productServer(ran *atomic.Int32) *mcp.Server {
	server := mcp.NewServer(&mcp.Implementation{Name: "products", Version: "v1"}, nil)
	mcp.AddTool(server, &mcp.Tool{Name: "create_product"},
		func(context.Context, *mcp.CallToolRequest, struct {
			Name string `json:"name"`
		}) (*mcp.CallToolResult, product, error) {
			ran.Add(1)
			return nil, product{ID: "p3"}, nil
		})
	mcp.AddTool(server, &mcp.Tool{Name: "list_products"},
		func(context.Context, *mcp.CallToolRequest, struct{}) (*mcp.CallToolResult, productList, error) {
			return nil, productList{}, nil
		})
	return server
}

// TestMisspeltTool: a requirement keyed "Create_Product" protects nothing
// of the tool create_product; the tool, which no requirement lists, is
// refused to a token without scopes instead of run.
func TestMisspeltTool(t *testing.T) {
	logto := logtotest.New(t)
	var ran atomic.Int32
	url, _ := serveTools(t, logto, mcpguard.Options{
		Tools: map[string]middleware.Requirement{"Create_Product": middleware.Scopes(writeProducts)},
	}, productServer(&ran), nil)
	token := logto.M2MToken("agent", url)
	session := openSession(t, url, token)
	got := post(t, url, token, session, toolCall(2, "create_product"))
	if got.Status != http.StatusForbidden || got.Body != `{"error":"insufficient_scope","error_description":"the server lists no requirement for this tool"}`+"\n" {
		t.Errorf("create_product with no scopes: got %+v, want 403", got)
	}
	if n := ran.Load(); n != 0 {
		t.Errorf("create_product ran %d times, want 0", n)
	}
}

// TestCheckServer: CheckServer names every requirement's tool that the
// server does not serve, and AuthenticateUnlistedTools lets unlisted tools
// through only once it has passed.
func TestCheckServer(t *testing.T) {
	logto := logtotest.New(t)
	var ran atomic.Int32
	ctx := context.Background()

	_, misspelt := serveTools(t, logto, mcpguard.Options{
		Tools: map[string]middleware.Requirement{"Create_Product": middleware.Scopes(writeProducts), "list_products": {}, "gone": {}},
	}, productServer(&ran), nil)
	err := misspelt.CheckServer(ctx, productServer(&ran))
	if err == nil || err.Error() != `mcpguard: requirements name tools the server does not serve: "Create_Product" (the server has "create_product"), "gone"` {
		t.Errorf("CheckServer with misspelt keys: %v", err)
	}
	if err := misspelt.CheckServer(ctx, mcp.NewServer(&mcp.Implementation{Name: "empty", Version: "v1"}, nil)); err == nil || !strings.Contains(err.Error(), `"list_products"`) {
		t.Errorf("CheckServer of a server without tools: %v", err)
	}
	if err := misspelt.CheckServer(ctx, nil); err == nil {
		t.Error("CheckServer(nil): no error")
	}

	server := productServer(&ran)
	url, g := serveTools(t, logto, mcpguard.Options{
		Tools:                     map[string]middleware.Requirement{"create_product": middleware.Scopes(writeProducts)},
		AuthenticateUnlistedTools: true,
	}, server, nil)
	token := logto.M2MToken("agent", url)
	session := openSession(t, url, token)
	if got := post(t, url, token, session, toolCall(2, "list_products")); got.Status != http.StatusForbidden {
		t.Errorf("an unlisted tool before CheckServer: got %+v, want 403", got)
	}
	if err := g.CheckServer(ctx, server); err != nil {
		t.Fatalf("CheckServer: %v", err)
	}
	var list productList
	if got := post(t, url, token, session, toolCall(3, "list_products")); !sseResult(t, got.Body, &list) {
		t.Errorf("an unlisted tool after CheckServer: got %+v, want its result", got)
	}
	if got := post(t, url, token, session, toolCall(4, "create_product")); got.Status != http.StatusForbidden || !strings.HasSuffix(got.Challenge, `scope="write:products"`) {
		t.Errorf("a listed tool after CheckServer: got %+v, want 403 naming its scope", got)
	}
	if n := ran.Load(); n != 0 {
		t.Errorf("create_product ran %d times, want 0", n)
	}
}

// TestVerifierOrganizationToken: with AcceptOrganizationTokens, an
// organization token whose permission is named like the server's scope
// passes neither Verifier, in the SDK's own middleware with that scope
// required, nor Guard.Handler.
func TestVerifierOrganizationToken(t *testing.T) {
	logto := logtotest.New(t)
	acceptOrg := func(c *middleware.Config) { c.AcceptOrganizationTokens = true }
	var ran atomic.Int32
	url, _ := serveTools(t, logto, mcpguard.Options{
		Tools: map[string]middleware.Requirement{"create_product": middleware.Scopes(writeProducts), "list_products": {}},
	}, productServer(&ran), acceptOrg)
	orgToken := logto.OrganizationToken("alice", "spa", "acme", writeProducts)

	v, err := middleware.New(middleware.Config{Endpoint: logto.Endpoint(), Audiences: []string{url}, AcceptOrganizationTokens: true})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	if _, err := mcpguard.Verifier(v)(context.Background(), orgToken, nil); err == nil ||
		err.Error() != "invalid token: an organization token is accepted only on routes for its organization" {
		t.Errorf("Verifier of an organization token: %v", err)
	}
	reached := false
	h := auth.RequireBearerToken(mcpguard.Verifier(v), &auth.RequireBearerTokenOptions{Scopes: []string{writeProducts}})(
		http.HandlerFunc(func(http.ResponseWriter, *http.Request) { reached = true }))
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, url, strings.NewReader(toolCall(1, "create_product")))
	req.Header.Set("Authorization", "Bearer "+orgToken)
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusUnauthorized || reached {
		t.Errorf("an organization token in the SDK's middleware: %d, reached %t; want 401", rec.Code, reached)
	}
	// A token for the server with the scope still passes.
	rec = httptest.NewRecorder()
	req = httptest.NewRequest(http.MethodPost, url, strings.NewReader(toolCall(1, "create_product")))
	req.Header.Set("Authorization", "Bearer "+logto.M2MToken("agent", url, writeProducts))
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || !reached {
		t.Errorf("a token with the scope in the SDK's middleware: %d, reached %t; want 200", rec.Code, reached)
	}

	if got := post(t, url, orgToken, "", initialize); got.Status != http.StatusForbidden {
		t.Errorf("an organization token through Guard.Handler: got %+v, want 403", got)
	}
}
