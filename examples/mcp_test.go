package examples_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/logtoguard/logtoguard/adapters/mcpguard"
	"github.com/logtoguard/logtoguard/internal/oidcprovider"
	"github.com/logtoguard/logtoguard/logtotest"
)

// mcpExample is the mcp example server, running behind a reverse proxy at
// its PUBLIC_URL, as it would in production: the proxy's address is known
// before the server starts, so that LOGTO_API_RESOURCE can be its URL.
type mcpExample struct {
	Public   string // PUBLIC_URL
	Resource string // PUBLIC_URL/mcp, the API resource
}

// startMCPExample starts the example with env plus PUBLIC_URL and
// LOGTO_API_RESOURCE, which logto (called with the resource) returns the
// rest of the environment for.
func startMCPExample(t *testing.T, logto func(resource string) []string) *mcpExample {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := &mcpExample{Public: "http://" + ln.Addr().String()}
	e.Resource = e.Public + "/mcp"
	env := append(logto(e.Resource), "PUBLIC_URL="+e.Public, "LOGTO_API_RESOURCE="+e.Resource)
	s := start(t, "mcp", env...)
	waitReady(t, s)
	target, err := url.Parse(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.FlushInterval = -1 // event streams
	srv := &http.Server{Handler: proxy, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	t.Cleanup(func() {
		_ = srv.Close()
		<-done
	})
	return e
}

type mcpAnswer struct {
	Status    int
	Challenge string
	Body      string
	Session   string
}

func mcpPost(t *testing.T, url, token, session, body string) mcpAnswer {
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
	return mcpAnswer{resp.StatusCode, resp.Header.Get("WWW-Authenticate"), string(b), resp.Header.Get("Mcp-Session-Id")}
}

func mcpSession(t *testing.T, url, token string) string {
	t.Helper()
	a := mcpPost(t, url, token, "", `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"v1"}}}`)
	if a.Status != http.StatusOK || a.Session == "" {
		t.Fatalf("initialize: %+v", a)
	}
	if a := mcpPost(t, url, token, a.Session, `{"jsonrpc":"2.0","method":"notifications/initialized"}`); a.Status != http.StatusAccepted {
		t.Fatalf("notifications/initialized: %+v", a)
	}
	return a.Session
}

const createProductCall = `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"create_product","arguments":{"name":"Desk","price":9900}}}`

// checkMCPFlow runs the MCP authorization flow against the example: the
// SDK's client as the app agent (read:products and write:products), from
// no token to tool calls; then raw requests with reader's token
// (read:products only), agent's token in reader's session, and a broken
// token.
func checkMCPFlow(t *testing.T, e *mcpExample, issuer string, readerToken, agentToken, brokenToken string) {
	t.Helper()
	metadataURL := e.Public + "/.well-known/oauth-protected-resource/mcp"
	bare := mcpPost(t, e.Resource, "", "", `{"jsonrpc":"2.0","id":1,"method":"ping"}`)
	if bare.Status != http.StatusUnauthorized || bare.Challenge != `Bearer realm="api", resource_metadata="`+metadataURL+`"` {
		t.Fatalf("bare request: %+v", bare)
	}
	resp, err := http.Get(metadataURL)
	if err != nil {
		t.Fatal(err)
	}
	md, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	want := `{"resource":"` + e.Resource + `","authorization_servers":["` + issuer + `"],"scopes_supported":["read:products","write:products"],"bearer_methods_supported":["header"],"resource_name":"Example products MCP server"}` + "\n"
	if string(md) != want {
		t.Errorf("metadata:\n got %s\nwant %s", md, want)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client := mcp.NewClient(&mcp.Implementation{Name: "agent", Version: "v1"}, nil)
	cs, err := client.Connect(ctx, &mcp.StreamableClientTransport{
		Endpoint:             e.Resource,
		OAuthHandler:         &mcpguard.ClientCredentials{ClientID: "agent", ClientSecret: "agent-secret"},
		DisableStandaloneSSE: true,
	}, nil)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer cs.Close()
	tools, err := cs.ListTools(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tool := range tools.Tools {
		names = append(names, tool.Name)
	}
	if strings.Join(names, " ") != "create_product list_products whoami" {
		t.Errorf("tools: %v", names)
	}
	for _, c := range []struct {
		tool string
		args map[string]any
		want string
	}{
		{"list_products", map[string]any{}, `{"products":[{"id":"p1","name":"Keyboard","price":4900},{"id":"p2","name":"Mouse","price":1900}]}`},
		{"create_product", map[string]any{"name": "Desk", "price": 9900}, `{"id":"p3","name":"Desk","price":9900}`},
		{"whoami", map[string]any{}, `{"sub":"agent","client_id":"agent","m2m":true,"scopes":["read:products","write:products"]}`},
	} {
		res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: c.tool, Arguments: c.args})
		if err != nil {
			t.Fatalf("%s: %v", c.tool, err)
		}
		if res.IsError || len(res.Content) != 1 {
			t.Fatalf("%s: %+v", c.tool, res)
		}
		text, _ := res.Content[0].(*mcp.TextContent)
		if text == nil || !jsonEqual(text.Text, c.want) {
			t.Errorf("%s: got %+v, want %s", c.tool, res.Content[0], c.want)
		}
	}

	session := mcpSession(t, e.Resource, readerToken)
	got := mcpPost(t, e.Resource, readerToken, session, createProductCall)
	if got.Status != http.StatusForbidden ||
		got.Challenge != `Bearer realm="api", error="insufficient_scope", error_description="the token lacks the scopes: write:products", scope="write:products", resource_metadata="`+metadataURL+`"` ||
		got.Body != `{"error":"insufficient_scope","error_description":"the token lacks the scopes: write:products"}`+"\n" {
		t.Errorf("create_product with read:products: %+v", got)
	}
	if got := mcpPost(t, e.Resource, agentToken, session, createProductCall); got.Status != http.StatusForbidden || !strings.Contains(got.Body, "the session belongs to another caller") {
		t.Errorf("agent's token in reader's session: %+v", got)
	}
	if got := mcpPost(t, e.Resource, brokenToken, session, createProductCall); got.Status != http.StatusUnauthorized ||
		!strings.Contains(got.Challenge, `error="invalid_token"`) || !strings.Contains(got.Challenge, `resource_metadata="`+metadataURL+`"`) {
		t.Errorf("broken token mid-session: %+v", got)
	}
}

func jsonEqual(a, b string) bool {
	var x, y any
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return false
	}
	ja, _ := json.Marshal(x)
	jb, _ := json.Marshal(y)
	return string(ja) == string(jb)
}

// TestMCP runs the MCP example with logtotest as Logto.
func TestMCP(t *testing.T) {
	logto := logtotest.New(t)
	e := startMCPExample(t, func(resource string) []string {
		logto.AddResource(resource, "read:products", "write:products")
		logto.AddM2MApp("agent", "agent-secret", "read:products", "write:products")
		return []string{"LOGTO_ENDPOINT=" + logto.Endpoint()}
	})
	checkMCPFlow(t, e, logto.Issuer(),
		logto.M2MToken("reader", e.Resource, "read:products"),
		logto.M2MToken("agent", e.Resource, "read:products", "write:products"),
		logto.ExpiredToken("reader", e.Resource, "read:products"))
	if got := mcpPost(t, e.Resource, logto.ForeignKeyToken("reader", e.Resource, "read:products"), "", createProductCall); got.Status != http.StatusUnauthorized {
		t.Errorf("foreign token: %+v", got)
	}
}

// TestMCPRealProvider runs the MCP example with tokens from oidc-provider.
func TestMCPRealProvider(t *testing.T) {
	var provider *oidcprovider.Server
	e := startMCPExample(t, func(resource string) []string {
		config, _ := json.Marshal(map[string]any{
			"clients": []map[string]any{
				{"client_id": "agent", "client_secret": "agent-secret", "scopes": []string{"read:products", "write:products"}},
				{"client_id": "reader", "client_secret": "reader-secret", "scopes": []string{"read:products"}},
			},
			"resources": []map[string]any{{"indicator": resource, "scopes": []string{"read:products", "write:products"}, "ttl": 3600}},
		})
		provider = startProvider(t, oidcprovider.Options{Config: string(config)})
		return []string{"LOGTO_ENDPOINT=" + provider.URL}
	})
	token := func(id, secret, scope string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		tr, err := provider.ClientCredentials(ctx, id, secret, e.Resource, scope)
		if err != nil || tr.Status != http.StatusOK {
			t.Fatalf("token for %s: %+v, %v", id, tr, err)
		}
		return tr.AccessToken
	}
	reader := token("reader", "reader-secret", "read:products")
	checkMCPFlow(t, e, provider.Issuer, reader, token("agent", "agent-secret", "read:products write:products"), tamper(reader))
}

// TestMCPBadSettings: the MCP example refuses to start without PUBLIC_URL
// or with an API resource that is not its MCP endpoint.
func TestMCPBadSettings(t *testing.T) {
	for _, tt := range []struct {
		name string
		env  []string
		want string
	}{
		{"no public URL", []string{"LOGTO_API_RESOURCE=https://mcp.example.com/mcp"}, "PUBLIC_URL is required"},
		{"resource is not the endpoint", []string{"LOGTO_API_RESOURCE=" + api, "PUBLIC_URL=https://mcp.example.com"}, `LOGTO_API_RESOURCE "https://api.example.com" must be the MCP endpoint's URL, "https://mcp.example.com/mcp"`},
		{"public URL not https", []string{"LOGTO_API_RESOURCE=http://mcp.example.com/mcp", "PUBLIC_URL=http://mcp.example.com"}, "PUBLIC_URL"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(binary(t, "mcp"))
			cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "LOGTO_ENDPOINT=http://127.0.0.1:1"}, tt.env...)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			err := cmd.Run()
			var exit *exec.ExitError
			if !errors.As(err, &exit) {
				t.Fatalf("got %v, want an exit status", err)
			}
			if out := strings.TrimSpace(stderr.String()); strings.Count(out, "\n") != 0 || !strings.Contains(out, tt.want) {
				t.Errorf("stderr %q: want one line with %s", out, tt.want)
			}
		})
	}
}
