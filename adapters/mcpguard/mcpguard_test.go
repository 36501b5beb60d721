package mcpguard_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
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

const (
	readProducts  = "read:products"
	writeProducts = "write:products"
)

// mcpServer is an MCP server on streamable HTTP at /mcp on 127.0.0.1,
// behind a Guard, with the tools of the example server.
type mcpServer struct {
	URL         string // the MCP endpoint: the resource
	MetadataURL string
	guard       *mcpguard.Guard
	metadataHit atomic.Int32
}

type product struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

type productList struct {
	Products []product `json:"products"`
}

type whoAmI struct {
	Sub       string   `json:"sub"`
	Scopes    []string `json:"scopes"`
	CtxScopes []string `json:"ctx_scopes"`
}

// startMCP starts the server, trusting the Logto endpoint given.
func startMCP(t *testing.T, endpoint string) *mcpServer {
	t.Helper()
	return startMCPFor(t, func(string) string { return endpoint })
}

// startMCPFor starts the server, trusting the endpoint that issuer returns
// for the server's URL, known once the server listens.
func startMCPFor(t *testing.T, issuer func(resource string) string) *mcpServer {
	t.Helper()
	ts := httptest.NewUnstartedServer(nil)
	s := &mcpServer{URL: "http://" + ts.Listener.Addr().String() + "/mcp"}
	endpoint := issuer(s.URL)
	var err error
	if s.MetadataURL, err = middleware.ResourceMetadataURL(s.URL); err != nil {
		t.Fatal(err)
	}
	v, err := middleware.New(middleware.Config{
		Endpoint:            endpoint,
		Audiences:           []string{s.URL},
		ResourceMetadataURL: s.MetadataURL,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = v.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := v.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	// create_product is protected by Options.Tools alone: only the HTTP
	// layer stands between a read-only token and the tool.
	s.guard, err = mcpguard.New(v, mcpguard.Options{
		Tools: map[string]middleware.Requirement{
			"create_product": middleware.Scopes(writeProducts),
			"whoami":         {}, // any valid token
		},
		ResourceName: "Products MCP server",
	})
	if err != nil {
		t.Fatal(err)
	}
	server := mcp.NewServer(&mcp.Implementation{Name: "products", Version: "v1"}, nil)
	mcpguard.AddTool(s.guard, server, &mcp.Tool{Name: "list_products", Description: "List the products"}, middleware.Scopes(readProducts),
		func(context.Context, *mcp.CallToolRequest, struct{}) (*mcp.CallToolResult, productList, error) {
			return nil, productList{Products: []product{{"p1", "Keyboard"}, {"p2", "Mouse"}}}, nil
		})
	mcp.AddTool(server, &mcp.Tool{Name: "create_product", Description: "Create a product"},
		func(_ context.Context, _ *mcp.CallToolRequest, in struct {
			Name string `json:"name"`
		}) (*mcp.CallToolResult, product, error) {
			return nil, product{ID: "p3", Name: in.Name}, nil
		})
	mcp.AddTool(server, &mcp.Tool{Name: "whoami", Description: "Who calls"},
		func(ctx context.Context, req *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, whoAmI, error) {
			c, ok := mcpguard.Claims(req)
			if !ok {
				return nil, whoAmI{}, io.ErrUnexpectedEOF
			}
			w := whoAmI{Sub: c.Subject, Scopes: c.Scopes}
			if cc, ok := middleware.ClaimsFromContext(ctx); ok {
				w.CtxScopes = cc.Scopes
			}
			return nil, w, nil
		})

	mux := http.NewServeMux()
	mux.Handle("/mcp", s.guard.Handler(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server }, nil)))
	md := s.guard.MetadataHandler()
	mux.Handle(s.guard.MetadataPath(), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.metadataHit.Add(1)
		md.ServeHTTP(w, r)
	}))
	ts.Config.Handler = mux
	ts.Start()
	t.Cleanup(ts.Close)
	return s
}

// connect opens an MCP session as the machine-to-machine app id, starting
// with no token: the client discovers how to get one from the 401.
func (s *mcpServer) connect(t *testing.T, id, secret string) (*mcp.ClientSession, *mcpguard.ClientCredentials, error) {
	t.Helper()
	creds := &mcpguard.ClientCredentials{ClientID: id, ClientSecret: secret}
	client := mcp.NewClient(&mcp.Implementation{Name: "test-client", Version: "v1"}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cs, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: s.URL, OAuthHandler: creds, DisableStandaloneSSE: true}, nil)
	if err == nil {
		t.Cleanup(func() { _ = cs.Close() })
	}
	return cs, creds, err
}

func callTool(t *testing.T, cs *mcp.ClientSession, name string, args any) (*mcp.CallToolResult, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return cs.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: args})
}

func structured[T any](t *testing.T, res *mcp.CallToolResult) T {
	t.Helper()
	var v T
	if res.IsError {
		b, _ := json.Marshal(res.Content)
		t.Fatalf("tool error: %s", b)
	}
	b, err := json.Marshal(res.StructuredContent)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return v
}

// answer is an HTTP response as the tests compare it.
type answer struct {
	Status    int
	Challenge string
	Body      string
	Session   string
}

// post sends one JSON-RPC body to the MCP endpoint as a streamable HTTP
// client would.
func post(t *testing.T, url, token, session, body string) answer {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if session != "" {
		req.Header.Set("Mcp-Session-Id", session)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{resp.StatusCode, resp.Header.Get("WWW-Authenticate"), string(b), resp.Header.Get("Mcp-Session-Id")}
}

const initialize = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"v1"}}}`

func toolCall(id int, name string) string {
	args := map[string]any{}
	if name == "create_product" {
		args["name"] = "Desk"
	}
	b, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": map[string]any{"name": name, "arguments": args}})
	return string(b)
}

// openSession initializes a session with token over raw HTTP.
func openSession(t *testing.T, url, token string) string {
	t.Helper()
	a := post(t, url, token, "", initialize)
	if a.Status != http.StatusOK || a.Session == "" {
		t.Fatalf("initialize: %+v", a)
	}
	if a := post(t, url, token, a.Session, `{"jsonrpc":"2.0","method":"notifications/initialized"}`); a.Status != http.StatusAccepted {
		t.Fatalf("initialized: %+v", a)
	}
	return a.Session
}

// TestDiscovery follows the MCP authorization flow from a bare request to
// tool calls, with the SDK's client.
func TestDiscovery(t *testing.T) {
	logto := logtotest.New(t)
	s := startMCP(t, logto.Endpoint())
	logto.AddResource(s.URL, readProducts, writeProducts)
	logto.AddM2MApp("agent", "agent-secret", readProducts, writeProducts)

	// A bare request: 401, pointing to the metadata.
	bare := post(t, s.URL, "", "", initialize)
	wantChallenge := `Bearer realm="api", resource_metadata="` + s.MetadataURL + `"`
	if bare.Status != http.StatusUnauthorized || bare.Challenge != wantChallenge ||
		bare.Body != `{"error":"unauthorized","error_description":"a bearer token is required"}`+"\n" {
		t.Fatalf("bare request: got %+v, want 401 with %s", bare, wantChallenge)
	}

	// The metadata names the server as the resource and Logto as the
	// authorization server.
	resp, err := http.Get(s.MetadataURL)
	if err != nil {
		t.Fatal(err)
	}
	var md middleware.ResourceMetadata
	err = json.NewDecoder(resp.Body).Decode(&md)
	resp.Body.Close()
	if err != nil || md.Resource != s.URL || len(md.AuthorizationServers) != 1 || md.AuthorizationServers[0] != logto.Issuer() ||
		strings.Join(md.ScopesSupported, " ") != "read:products write:products" || md.ResourceName != "Products MCP server" {
		t.Fatalf("metadata: %+v, %v", md, err)
	}

	// The SDK's client, from no token: discovery, token, initialize.
	hits := s.metadataHit.Load()
	cs, creds, err := s.connect(t, "agent", "agent-secret")
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	if s.metadataHit.Load() == hits {
		t.Error("the client got a token without reading the metadata")
	}
	src, _ := creds.TokenSource(context.Background())
	tok, err := src.Token()
	if err != nil {
		t.Fatal(err)
	}
	claims := decodeClaims(t, tok.AccessToken)
	if claims["aud"] != s.URL || claims["sub"] != "agent" || claims["scope"] != "read:products write:products" || claims["iss"] != logto.Issuer() {
		t.Errorf("token claims: %v", claims)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	tools, err := cs.ListTools(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tool := range tools.Tools {
		names = append(names, tool.Name)
	}
	if strings.Join(names, " ") != "create_product list_products whoami" {
		t.Errorf("tools/list: %v", names)
	}

	res, err := callTool(t, cs, "list_products", map[string]any{})
	if err != nil {
		t.Fatal(err)
	}
	if got := structured[productList](t, res); len(got.Products) != 2 {
		t.Errorf("list_products: %+v", got)
	}
	res, err = callTool(t, cs, "create_product", map[string]any{"name": "Desk"})
	if err != nil {
		t.Fatal(err)
	}
	if got := structured[product](t, res); got.Name != "Desk" {
		t.Errorf("create_product: %+v", got)
	}
	res, err = callTool(t, cs, "whoami", map[string]any{})
	if err != nil {
		t.Fatal(err)
	}
	if got := structured[whoAmI](t, res); got.Sub != "agent" || strings.Join(got.Scopes, " ") != "read:products write:products" {
		t.Errorf("whoami: %+v", got)
	}
}

func decodeClaims(t *testing.T, token string) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %d parts", len(parts))
	}
	var c map[string]any
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err == nil {
		err = json.Unmarshal(b, &c)
	}
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestToolScope: a tools/call needs its tool's scopes; other methods only
// the server-wide ones.
func TestToolScope(t *testing.T) {
	logto := logtotest.New(t)
	s := startMCP(t, logto.Endpoint())
	read := logto.M2MToken("reader", s.URL, readProducts)
	session := openSession(t, s.URL, read)

	got := post(t, s.URL, read, session, toolCall(2, "create_product"))
	want := answer{
		Status:    http.StatusForbidden,
		Challenge: `Bearer realm="api", error="insufficient_scope", error_description="the token lacks the scopes: write:products", scope="write:products", resource_metadata="` + s.MetadataURL + `"`,
		Body:      `{"error":"insufficient_scope","error_description":"the token lacks the scopes: write:products"}` + "\n",
	}
	if got != want {
		t.Errorf("create_product with read:products:\n got %+v\nwant %+v", got, want)
	}
	for _, call := range []string{toolCall(3, "list_products"), toolCall(4, "whoami"), `{"jsonrpc":"2.0","id":5,"method":"tools/list"}`} {
		if got := post(t, s.URL, read, session, call); got.Status != http.StatusOK || !strings.Contains(got.Body, `"result"`) {
			t.Errorf("%s: %+v", call, got)
		}
	}
	// AddTool's own check stands behind the HTTP layer: a token without
	// read:products meets it in the tool if it ever gets there.
	none := logto.M2MToken("reader", s.URL)
	if got := post(t, s.URL, none, session, toolCall(6, "list_products")); got.Status != http.StatusForbidden ||
		!strings.Contains(got.Challenge, `scope="read:products"`) {
		t.Errorf("list_products without scopes: %+v", got)
	}
}

// TestToolScopeClient: the SDK's client with a read-only app asks for
// write:products on the 403 (step-up); Logto does not grant it, and the
// call fails.
func TestToolScopeClient(t *testing.T) {
	logto := logtotest.New(t)
	s := startMCP(t, logto.Endpoint())
	logto.AddResource(s.URL, readProducts, writeProducts)
	logto.AddM2MApp("reader", "reader-secret", readProducts)
	cs, _, err := s.connect(t, "reader", "reader-secret")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := callTool(t, cs, "list_products", map[string]any{}); err != nil {
		t.Fatalf("list_products: %v", err)
	}
	_, err = callTool(t, cs, "create_product", map[string]any{"name": "Desk"})
	if err == nil || !strings.Contains(err.Error(), "Forbidden") {
		t.Fatalf("create_product with a read-only app: got %v, want a 403", err)
	}
}

// TestSessionBoundToSubject: a session opened by one subject refuses
// another subject's token, valid as it is, and takes its own subject's new
// token.
func TestSessionBoundToSubject(t *testing.T) {
	logto := logtotest.New(t)
	s := startMCP(t, logto.Endpoint())
	alice := logto.UserToken("alice", "spa", s.URL, readProducts)
	session := openSession(t, s.URL, alice)

	bob := logto.UserToken("bob", "spa", s.URL, readProducts, writeProducts)
	if got := post(t, s.URL, bob, session, toolCall(2, "list_products")); got.Status != http.StatusForbidden ||
		got.Body != `{"error":"insufficient_scope","error_description":"the session belongs to another caller"}`+"\n" {
		t.Errorf("bob in alice's session: got %+v, want the validator's 403", got)
	}
	app := logto.M2MToken("agent", s.URL, readProducts)
	if got := post(t, s.URL, app, session, toolCall(3, "list_products")); got.Status != http.StatusForbidden {
		t.Errorf("an app in alice's session: got %+v, want 403", got)
	}
	// Alice with a new token, with other scopes: the claims the tool sees
	// are the new token's.
	alice2 := logto.UserToken("alice", "spa", s.URL, readProducts, writeProducts)
	got := post(t, s.URL, alice2, session, toolCall(4, "whoami"))
	var who whoAmI
	if got.Status != http.StatusOK || !sseResult(t, got.Body, &who) {
		t.Fatalf("alice's new token: %+v", got)
	}
	if who.Sub != "alice" || strings.Join(who.Scopes, " ") != "read:products write:products" {
		t.Errorf("alice's new token: the tool saw %+v", who)
	}
	// What the package documents: the tool handler's context holds the
	// claims of the request that opened the session, not of this one.
	if strings.Join(who.CtxScopes, " ") != "read:products" {
		t.Errorf("claims in the tool handler's context: %v, want the first token's", who.CtxScopes)
	}
}

// sseResult decodes the structured result of the one JSON-RPC response in
// an event stream body; false if it holds none.
func sseResult(t *testing.T, body string, into any) bool {
	t.Helper()
	for _, line := range strings.Split(body, "\n") {
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok {
			continue
		}
		var msg struct {
			Result struct {
				StructuredContent json.RawMessage `json:"structuredContent"`
				IsError           bool            `json:"isError"`
			} `json:"result"`
		}
		if err := json.Unmarshal([]byte(data), &msg); err != nil || msg.Result.IsError || msg.Result.StructuredContent == nil {
			return false
		}
		return json.Unmarshal(msg.Result.StructuredContent, into) == nil
	}
	return false
}

// TestMidSession: an expired or foreign token in an open session is
// refused 401 by the validator, with the metadata in the challenge.
func TestMidSession(t *testing.T) {
	logto := logtotest.New(t)
	s := startMCP(t, logto.Endpoint())
	session := openSession(t, s.URL, logto.M2MToken("agent", s.URL, readProducts))
	for name, token := range map[string]string{
		"expired":       logto.ExpiredToken("agent", s.URL, readProducts),
		"foreign key":   logto.ForeignKeyToken("agent", s.URL, readProducts),
		"other API":     logto.M2MToken("agent", "https://api.example.com", readProducts),
		"tampered":      logto.M2MToken("agent", s.URL, readProducts) + "x",
		"no token":      "",
		"opaque (user)": logto.OpaqueToken(),
	} {
		got := post(t, s.URL, token, session, toolCall(2, "list_products"))
		if got.Status != http.StatusUnauthorized || !strings.Contains(got.Challenge, `resource_metadata="`+s.MetadataURL+`"`) ||
			!strings.HasPrefix(got.Body, `{"error":"`) {
			t.Errorf("%s: %+v", name, got)
		}
		if token != "" && !strings.Contains(got.Challenge, `error="invalid_token"`) {
			t.Errorf("%s: challenge %s", name, got.Challenge)
		}
	}
}

// TestBatch: a batch passes only if every call in it does.
func TestBatch(t *testing.T) {
	logto := logtotest.New(t)
	s := startMCP(t, logto.Endpoint())
	read := logto.M2MToken("agent", s.URL, readProducts)
	write := logto.M2MToken("agent", s.URL, readProducts, writeProducts)
	session := openSession(t, s.URL, read)

	batch := "[" + toolCall(2, "list_products") + ", " + toolCall(3, "create_product") + "]"
	got := post(t, s.URL, read, session, batch)
	// One challenge names every scope the batch needs.
	if got.Status != http.StatusForbidden || !strings.Contains(got.Challenge, `error_description="the token lacks the scopes: write:products", scope="read:products write:products", resource_metadata=`) {
		t.Errorf("batch with create_product, read-only: %+v", got)
	}
	// With write:products the batch reaches the SDK, which answers it in
	// its own terms (it refuses batches from protocol 2025-06-18 on).
	if got := post(t, s.URL, write, session, batch); got.Status == http.StatusForbidden || got.Status == http.StatusUnauthorized {
		t.Errorf("batch with write:products refused by the guard: %+v", got)
	}
	ok := "[" + toolCall(2, "list_products") + "," + toolCall(3, "whoami") + "]"
	if got := post(t, s.URL, read, session, ok); got.Status == http.StatusForbidden {
		t.Errorf("batch of allowed calls: %+v", got)
	}
}

// TestBody: bodies the guard cannot read as the SDK would are refused 400
// through the validator; none reaches a tool.
func TestBody(t *testing.T) {
	logto := logtotest.New(t)
	s := startMCP(t, logto.Endpoint())
	read := logto.M2MToken("agent", s.URL, readProducts)
	session := openSession(t, s.URL, read)
	call := func(params string) string {
		return `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":` + params + `}`
	}
	for name, body := range map[string]string{
		"empty":               "",
		"not JSON":            "hello",
		"empty batch":         "[]",
		"broken batch":        `[{"jsonrpc":"2.0","id":1,"method":"tools/list"},`,
		"not JSON-RPC":        `{"id":1,"method":"tools/call"}`,
		"params not object":   call(`["create_product"]`),
		"params null":         call(`null`),
		"name and Name":       call(`{"Name":"whoami","name":"create_product"}`),
		"name twice":          call(`{"name":"whoami","name":"create_product"}`),
		"escaped name twice":  call(`{"name":"create_product","n\u0061me":"whoami"}`),
		"NAME alone":          call(`{"NAME":"create_product"}`),
		"name not a string":   call(`{"name":["create_product"]}`),
		"invalid UTF-8":       call("{\"name\":\"create_product\xff\"}"),
		"lone surrogate":      call(`{"name":"create_product\ud800"}`),
		"too large":           call(`{"name":"list_products","arguments":{"pad":"` + strings.Repeat("a", mcpguard.DefaultMaxBodyBytes) + `"}}`),
		"batch with bad item": "[" + toolCall(2, "list_products") + `, "create_product"]`,
	} {
		got := post(t, s.URL, read, session, body)
		if got.Status != http.StatusBadRequest || !strings.HasPrefix(got.Challenge, `Bearer realm="api", error="invalid_request"`) ||
			!strings.HasPrefix(got.Body, `{"error":"invalid_request","error_description":"`) {
			t.Errorf("%s: %+v", name, got)
		}
	}
	// The session is unharmed.
	if got := post(t, s.URL, read, session, toolCall(9, "list_products")); got.Status != http.StatusOK {
		t.Errorf("after the bad bodies: %+v", got)
	}
}

// TestGetAndDelete: the methods without a JSON-RPC body need the
// server-wide requirement and the session's subject.
func TestGetAndDelete(t *testing.T) {
	logto := logtotest.New(t)
	s := startMCP(t, logto.Endpoint())
	token := logto.M2MToken("agent", s.URL)
	session := openSession(t, s.URL, token)
	del := func(token string) int {
		req, _ := http.NewRequest(http.MethodDelete, s.URL, nil)
		req.Header.Set("Mcp-Session-Id", session)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := del(""); got != http.StatusUnauthorized {
		t.Errorf("DELETE without a token: %d", got)
	}
	if got := del(logto.M2MToken("other", s.URL)); got != http.StatusForbidden {
		t.Errorf("DELETE by another subject: %d", got)
	}
	if got := del(token); got != http.StatusNoContent {
		t.Errorf("DELETE: %d", got)
	}
}

// TestServerWide: Options.Require applies to every method.
func TestServerWide(t *testing.T) {
	logto := logtotest.New(t)
	const resource = "https://mcp.example.com/mcp"
	v, err := middleware.New(middleware.Config{Endpoint: logto.Endpoint(), Audiences: []string{resource}})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	g, err := mcpguard.New(v, mcpguard.Options{
		Require: middleware.Scopes("mcp:use"),
		Tools:   map[string]middleware.Requirement{"a": middleware.Scopes("x"), "b": {AnyScopes: []string{"y", "mcp:use"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if md := g.Metadata(); strings.Join(md.ScopesSupported, " ") != "mcp:use x y" || md.Resource != resource {
		t.Errorf("metadata: %+v", md)
	}
	if g.MetadataPath() != "/.well-known/oauth-protected-resource/mcp" || g.MetadataURL() != "https://mcp.example.com/.well-known/oauth-protected-resource/mcp" {
		t.Errorf("metadata at %s (%s)", g.MetadataURL(), g.MetadataPath())
	}
	reached := false
	h := g.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached = true }))
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, resource, strings.NewReader(initialize))
	req.Header.Set("Authorization", "Bearer "+logto.M2MToken("agent", resource, "x"))
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusForbidden || !strings.HasSuffix(rec.Header().Get("WWW-Authenticate"), `scope="mcp:use"`) || reached {
		t.Errorf("initialize without mcp:use: %d %s", rec.Code, rec.Header().Get("WWW-Authenticate"))
	}
}

func TestNewErrors(t *testing.T) {
	logto := logtotest.New(t)
	for name, c := range map[string]struct {
		aud  string
		opts mcpguard.Options
	}{
		"audience not a URL":    {"products-api", mcpguard.Options{}},
		"http audience":         {"http://mcp.example.com/mcp", mcpguard.Options{}},
		"bad server-wide scope": {"https://mcp.example.com/mcp", mcpguard.Options{Require: middleware.Scopes("a b")}},
		"bad tool scope":        {"https://mcp.example.com/mcp", mcpguard.Options{Tools: map[string]middleware.Requirement{"t": middleware.Scopes("")}}},
		"tool without name":     {"https://mcp.example.com/mcp", mcpguard.Options{Tools: map[string]middleware.Requirement{"": {}}}},
		"negative body limit":   {"https://mcp.example.com/mcp", mcpguard.Options{MaxBodyBytes: -1}},
	} {
		v, err := middleware.New(middleware.Config{Endpoint: logto.Endpoint(), Audiences: []string{c.aud}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := mcpguard.New(v, c.opts); err == nil || !strings.HasPrefix(err.Error(), "mcpguard: ") {
			t.Errorf("%s: got %v, want an mcpguard error", name, err)
		}
		v.Close()
	}
	if _, err := mcpguard.New(nil, mcpguard.Options{}); err == nil {
		t.Error("nil validator accepted")
	}
}

// TestVerifier: the verifier alone, in the SDK's own middleware.
func TestVerifier(t *testing.T) {
	logto := logtotest.New(t)
	const resource = "https://mcp.example.com/mcp"
	v, err := middleware.New(middleware.Config{Endpoint: logto.Endpoint(), Audiences: []string{resource}})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	verify := mcpguard.Verifier(v)
	ctx := context.Background()
	info, err := verify(ctx, logto.UserToken("alice", "spa", resource, readProducts), nil)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := info.Extra[mcpguard.ExtraKey].(*middleware.Claims)
	if info.UserID != "alice" || strings.Join(info.Scopes, " ") != readProducts || c == nil || !info.Expiration.Equal(c.ExpiresAt) || info.Expiration.IsZero() {
		t.Errorf("token info: %+v", info)
	}
	if _, err := verify(ctx, logto.ExpiredToken("agent", resource), nil); err == nil || !strings.Contains(err.Error(), "invalid token") {
		t.Errorf("expired: %v", err)
	}
	if _, ok := mcpguard.Claims(nil); ok {
		t.Error("claims of a nil request")
	}
	if _, ok := mcpguard.Claims(&mcp.CallToolRequest{}); ok {
		t.Error("claims of a request without token info")
	}
}

// TestVerifierInSDKMiddleware: the verifier in the SDK's own middleware,
// without Guard.Handler; AddTool's check in the tool still refuses a token
// without the tool's scopes.
func TestVerifierInSDKMiddleware(t *testing.T) {
	logto := logtotest.New(t)
	ts := httptest.NewUnstartedServer(nil)
	resource := "http://" + ts.Listener.Addr().String() + "/mcp"
	v, err := middleware.New(middleware.Config{Endpoint: logto.Endpoint(), Audiences: []string{resource}})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	g, err := mcpguard.New(v, mcpguard.Options{})
	if err != nil {
		t.Fatal(err)
	}
	server := mcp.NewServer(&mcp.Implementation{Name: "products", Version: "v1"}, nil)
	mcpguard.AddTool(g, server, &mcp.Tool{Name: "list_products"}, middleware.Scopes(readProducts),
		func(context.Context, *mcp.CallToolRequest, struct{}) (*mcp.CallToolResult, productList, error) {
			return nil, productList{Products: []product{{"p1", "Keyboard"}}}, nil
		})
	sdk := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server }, nil)
	ts.Config.Handler = auth.RequireBearerToken(mcpguard.Verifier(v), &auth.RequireBearerTokenOptions{ClockSkew: middleware.DefaultLeeway})(sdk)
	ts.Start()
	defer ts.Close()

	none := logto.M2MToken("agent", resource)
	session := openSession(t, resource, none)
	got := post(t, resource, none, session, toolCall(2, "list_products"))
	if got.Status != http.StatusOK || !strings.Contains(got.Body, `"isError":true`) || !strings.Contains(got.Body, "the token lacks the scopes: read:products") {
		t.Errorf("list_products without read:products: %+v", got)
	}
	read := logto.M2MToken("agent", resource, readProducts)
	var list productList
	if got := post(t, resource, read, session, toolCall(3, "list_products")); !sseResult(t, got.Body, &list) || len(list.Products) != 1 {
		t.Errorf("list_products: %+v", got)
	}
	if got := post(t, resource, logto.ExpiredToken("agent", resource), session, toolCall(4, "list_products")); got.Status != http.StatusUnauthorized {
		t.Errorf("expired token: %+v", got)
	}
}
