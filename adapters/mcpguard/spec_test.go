package mcpguard_test

import (
	"context"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/modelcontextprotocol/go-sdk/oauthex"

	"github.com/logtoguard/logtoguard/adapters/mcpguard"
	"github.com/logtoguard/logtoguard/logtotest"
	"github.com/logtoguard/logtoguard/middleware"
)

// specServer is an MCP server behind a Guard with opts, on the SDK's
// streamable handler (stateless when asked), at /mcp on 127.0.0.1, with
// the tools list_products, create_product and whoami (no requirement of
// their own unless opts has one).
type specServer struct {
	URL, MetadataURL string
	guard            *mcpguard.Guard
}

func startSpecServer(t *testing.T, logto *logtotest.Issuer, opts mcpguard.Options, stateless bool) *specServer {
	t.Helper()
	ts := httptest.NewUnstartedServer(nil)
	s := &specServer{URL: "http://" + ts.Listener.Addr().String() + "/mcp"}
	var err error
	if s.MetadataURL, err = middleware.ResourceMetadataURL(s.URL); err != nil {
		t.Fatal(err)
	}
	v, err := middleware.New(middleware.Config{Endpoint: logto.Endpoint(), Audiences: []string{s.URL}, ResourceMetadataURL: s.MetadataURL})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = v.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := v.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	// Every tool is listed: one with no requirement of its own needs
	// opts.Require only.
	tools := map[string]middleware.Requirement{"list_products": {}, "create_product": {}, "whoami": {}}
	maps.Copy(tools, opts.Tools)
	opts.Tools = tools
	if s.guard, err = mcpguard.New(v, opts); err != nil {
		t.Fatal(err)
	}
	server := mcp.NewServer(&mcp.Implementation{Name: "products", Version: "v1"}, nil)
	mcp.AddTool(server, &mcp.Tool{Name: "list_products"}, func(context.Context, *mcp.CallToolRequest, struct{}) (*mcp.CallToolResult, productList, error) {
		return nil, productList{Products: []product{{"p1", "Keyboard"}}}, nil
	})
	mcp.AddTool(server, &mcp.Tool{Name: "create_product"}, func(_ context.Context, _ *mcp.CallToolRequest, in struct {
		Name string `json:"name"`
	}) (*mcp.CallToolResult, product, error) {
		return nil, product{ID: "p3", Name: in.Name}, nil
	})
	mcp.AddTool(server, &mcp.Tool{Name: "whoami"}, func(_ context.Context, req *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, whoAmI, error) {
		c, _ := mcpguard.Claims(req)
		return nil, whoAmI{Sub: c.Subject, Scopes: c.Scopes}, nil
	})
	mux := http.NewServeMux()
	mux.Handle("/mcp", s.guard.Handler(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server },
		&mcp.StreamableHTTPOptions{Stateless: stateless})))
	mux.Handle(s.guard.MetadataPath(), s.guard.MetadataHandler())
	ts.Config.Handler = mux
	ts.Start()
	t.Cleanup(ts.Close)
	return s
}

// TestSpecAudience (MCP authorization 2026-07-28, "Token Handling" and
// "Access Token Privilege Restriction": MUST validate that the token was
// issued for this server, MUST reject tokens that do not include it in
// aud): a valid Logto token for another API, for Logto's Management API,
// or for this server's URL with a trailing slash is refused 401
// invalid_token with the metadata in the challenge. The SDK's own
// oauthex.MatchesResource would take the trailing slash as the same
// resource; logtoguard compares aud exactly, as RFC 9728, section 3.3
// asks (simple string comparison), and fails closed.
func TestSpecAudience(t *testing.T) {
	logto := logtotest.New(t)
	s := startSpecServer(t, logto, mcpguard.Options{}, false)
	if !oauthex.MatchesResource([]string{s.URL + "/"}, s.URL) {
		t.Fatal("the SDK's MatchesResource no longer tolerates a trailing slash: update the package documentation")
	}
	for name, token := range map[string]string{
		"another API":      logto.UserToken("alice", "web", "https://api.example.com", readProducts),
		"Management API":   logto.WrongAudienceToken("agent"),
		"a trailing slash": logto.UserToken("alice", "web", s.URL+"/", readProducts),
		"upper-case host":  logto.UserToken("alice", "web", strings.ToUpper(s.URL[:len("http://127.0.0.1")])+s.URL[len("http://127.0.0.1"):], readProducts),
	} {
		got := post(t, s.URL, token, "", toolCall(1, "list_products"))
		if got.Status != http.StatusUnauthorized || !strings.Contains(got.Challenge, `error="invalid_token"`) ||
			!strings.Contains(got.Challenge, `resource_metadata="`+s.MetadataURL+`"`) {
			t.Errorf("%s: got %+v, want 401 invalid_token with resource_metadata", name, got)
		}
	}
	if got := post(t, s.URL, logto.UserToken("alice", "web", s.URL, readProducts), "", initialize); got.Status != http.StatusOK {
		t.Errorf("a token for the server: %+v", got)
	}
}

// TestSpecOneChallenge (MCP authorization 2026-07-28, "Runtime
// Insufficient Scope Errors": SHOULD answer 403 with
// error="insufficient_scope", scope naming the scopes the operation needs
// and resource_metadata; SHOULD include all scopes required for the
// current operation in a single challenge): a call that misses both the
// server-wide scope and its tool's is answered with both at once, and a
// batch of two tools with every scope they need.
func TestSpecOneChallenge(t *testing.T) {
	logto := logtotest.New(t)
	s := startSpecServer(t, logto, mcpguard.Options{
		Require: middleware.Scopes("mcp:use"),
		Tools: map[string]middleware.Requirement{
			"create_product": middleware.Scopes(writeProducts),
			"list_products":  middleware.Scopes(readProducts),
		},
	}, true)
	challenge := func(scope, missing string) string {
		return `Bearer realm="api", error="insufficient_scope", error_description="the token lacks the scopes: ` + missing +
			`", scope="` + scope + `", resource_metadata="` + s.MetadataURL + `"`
	}
	tests := []struct {
		name   string
		scopes []string
		body   string
		want   string // the challenge; "" for a pass
	}{
		{"neither the server's nor the tool's", nil, toolCall(1, "create_product"), challenge("mcp:use write:products", "mcp:use write:products")},
		{"the server's, not the tool's", []string{"mcp:use"}, toolCall(1, "create_product"), challenge("mcp:use write:products", "write:products")},
		{"the tool's, not the server's", []string{writeProducts}, toolCall(1, "create_product"), challenge("mcp:use write:products", "mcp:use")},
		{"a batch of two tools", []string{"mcp:use", readProducts}, "[" + toolCall(1, "list_products") + "," + toolCall(2, "create_product") + "]",
			challenge("mcp:use read:products write:products", "write:products")},
		{"a method of no tool", nil, `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`, challenge("mcp:use", "mcp:use")},
		{"everything", []string{"mcp:use", writeProducts}, toolCall(1, "create_product"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := post(t, s.URL, logto.UserToken("alice", "web", s.URL, tt.scopes...), "", tt.body)
			if tt.want == "" {
				if got.Status != http.StatusOK {
					t.Fatalf("got %+v, want 200", got)
				}
				return
			}
			if got.Status != http.StatusForbidden || got.Challenge != tt.want {
				t.Fatalf("got %d %s\nwant 403 %s", got.Status, got.Challenge, tt.want)
			}
		})
	}
}

// TestSpecNoOfflineAccess (MCP authorization 2026-07-28, "Refresh
// Tokens": a protected resource SHOULD NOT include offline_access in a
// challenge's scope or in scopes_supported): a requirement that names it
// is refused when the guard is built, so neither can ever hold it.
func TestSpecNoOfflineAccess(t *testing.T) {
	logto := logtotest.New(t)
	v, err := middleware.New(middleware.Config{Endpoint: logto.Endpoint(), Audiences: []string{"http://127.0.0.1:1/mcp"}})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	for name, opts := range map[string]mcpguard.Options{
		"Require":         {Require: middleware.Scopes("offline_access")},
		"Require any-of":  {Require: middleware.Requirement{AnyScopes: []string{readProducts, "offline_access"}}},
		"a tool":          {Tools: map[string]middleware.Requirement{"list_products": middleware.Scopes(readProducts, "offline_access")}},
		"a tool's any-of": {Tools: map[string]middleware.Requirement{"list_products": {AnyScopes: []string{"offline_access"}}}},
	} {
		if _, err := mcpguard.New(v, opts); err == nil || !strings.Contains(err.Error(), "offline_access") {
			t.Errorf("%s: got %v, want an error naming offline_access", name, err)
		}
	}
	g, err := mcpguard.New(v, mcpguard.Options{Require: middleware.Scopes(readProducts)})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if recover() == nil {
			t.Error("Guard.Tool with offline_access did not panic")
		}
	}()
	g.Tool("create_product", middleware.Scopes("offline_access"))
}

// TestSpecResourceIdentifier (MCP authorization 2026-07-28, "Canonical
// Server URI": SHOULD use the form without a trailing slash; RFC 9728,
// section 3.3: the metadata's resource MUST be the identifier the client
// used, compared as strings, which the SDK's client does): the metadata
// names the configured URL exactly, without a slash added, and the SDK's
// client accepts it for that URL only.
func TestSpecResourceIdentifier(t *testing.T) {
	logto := logtotest.New(t)
	s := startSpecServer(t, logto, mcpguard.Options{Require: middleware.Scopes(readProducts)}, false)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	md, err := oauthex.GetProtectedResourceMetadata(ctx, s.MetadataURL, s.URL, http.DefaultClient)
	if err != nil {
		t.Fatalf("the SDK's client on the metadata: %v", err)
	}
	if md.Resource != s.URL || strings.HasSuffix(md.Resource, "/") || s.guard.Resource() != s.URL {
		t.Fatalf("resource %q, want %q", md.Resource, s.URL)
	}
	if strings.Join(md.ScopesSupported, " ") != readProducts {
		t.Errorf("scopes_supported %v", md.ScopesSupported)
	}
	if _, err := oauthex.GetProtectedResourceMetadata(ctx, s.MetadataURL, s.URL+"/", http.DefaultClient); err == nil {
		t.Error("the SDK's client took the metadata for the URL with a trailing slash: it compares exactly no more")
	}
}

// TestSpecStateless: the 2026-07-28 revision removes protocol sessions
// (Mcp-Session-Id); in the SDK's stateless mode there is no session to
// bind to a subject, so binding means this: every request is authorized
// on its own token, the tool sees that request's claims, and nothing one
// caller's request did opens anything to another's.
func TestSpecStateless(t *testing.T) {
	logto := logtotest.New(t)
	s := startSpecServer(t, logto, mcpguard.Options{
		Tools: map[string]middleware.Requirement{"create_product": middleware.Scopes(writeProducts)},
	}, true)
	alice := logto.UserToken("alice", "web", s.URL, readProducts, writeProducts)
	bob := logto.UserToken("bob", "web", s.URL, readProducts)

	for _, tt := range []struct {
		token, sub string
	}{{alice, "alice"}, {bob, "bob"}, {alice, "alice"}} {
		got := post(t, s.URL, tt.token, "", toolCall(1, "whoami"))
		var who whoAmI
		if got.Status != http.StatusOK || got.Session != "" || !sseResult(t, got.Body, &who) || who.Sub != tt.sub {
			t.Fatalf("whoami as %s: %+v (tool saw %+v), want 200 with no session", tt.sub, got, who)
		}
	}
	if got := post(t, s.URL, alice, "", toolCall(2, "create_product")); got.Status != http.StatusOK {
		t.Errorf("create_product as alice: %+v", got)
	}
	// Bob right after alice, even naming a session ID: his own token's
	// scopes decide.
	if got := post(t, s.URL, bob, "alice-session", toolCall(3, "create_product")); got.Status != http.StatusForbidden ||
		!strings.Contains(got.Challenge, `scope="write:products"`) {
		t.Errorf("create_product as bob: %+v, want 403", got)
	}
	if got := post(t, s.URL, "", "", toolCall(4, "whoami")); got.Status != http.StatusUnauthorized {
		t.Errorf("no token: %+v, want 401", got)
	}
	if got := post(t, s.URL, logto.ExpiredToken("alice", s.URL, readProducts), "", toolCall(5, "whoami")); got.Status != http.StatusUnauthorized ||
		!strings.Contains(got.Challenge, `error="invalid_token"`) {
		t.Errorf("an expired token: %+v, want 401 invalid_token", got)
	}
}

// TestDelegatedToolCall: a tool's Requirement refuses delegated tokens
// (act) or admits only listed actors, as on every other route.
func TestDelegatedToolCall(t *testing.T) {
	logto := logtotest.New(t)
	s := startSpecServer(t, logto, mcpguard.Options{
		Tools: map[string]middleware.Requirement{
			"create_product": {NoDelegation: true},
			"list_products":  {Actors: []string{"support-agent"}},
		},
	}, true)
	own := logto.UserToken("alice", "web", s.URL)
	agent := logto.DelegatedToken("alice", "support-agent", "helpdesk", s.URL)
	other := logto.DelegatedToken("alice", "other-agent", "helpdesk", s.URL)
	for _, tt := range []struct {
		name, token, tool string
		status            int
	}{
		{"own token, create", own, "create_product", 200},
		{"delegated, create", agent, "create_product", 403},
		{"listed actor, list", agent, "list_products", 200},
		{"unlisted actor, list", other, "list_products", 403},
		{"own token, list", own, "list_products", 200},
	} {
		if got := post(t, s.URL, tt.token, "", toolCall(1, tt.tool)); got.Status != tt.status {
			t.Errorf("%s: %+v, want %d", tt.name, got, tt.status)
		}
	}
}

// TestSessionBoundToActor: a session is bound to the actor of the token
// that opened it too: the user's own session refuses a token of an actor
// acting for the user, and an actor's session refuses the user's own
// token and another actor's.
func TestSessionBoundToActor(t *testing.T) {
	logto := logtotest.New(t)
	s := startSpecServer(t, logto, mcpguard.Options{}, false)
	own := logto.UserToken("alice", "web", s.URL)
	agent := logto.DelegatedToken("alice", "support-agent", "helpdesk", s.URL)
	other := logto.DelegatedToken("alice", "other-agent", "helpdesk", s.URL)

	session := openSession(t, s.URL, own)
	if got := post(t, s.URL, agent, session, toolCall(2, "whoami")); got.Status != http.StatusForbidden ||
		!strings.Contains(got.Body, "the session belongs to another caller") {
		t.Errorf("an actor in the user's own session: %+v, want 403", got)
	}
	if got := post(t, s.URL, own, session, toolCall(3, "whoami")); got.Status != http.StatusOK {
		t.Errorf("the user in their own session: %+v", got)
	}

	session = openSession(t, s.URL, agent)
	for name, token := range map[string]string{"the user's own token": own, "another actor": other} {
		if got := post(t, s.URL, token, session, toolCall(4, "whoami")); got.Status != http.StatusForbidden {
			t.Errorf("%s in the actor's session: %+v, want 403", name, got)
		}
	}
	if got := post(t, s.URL, logto.DelegatedToken("alice", "support-agent", "helpdesk", s.URL), session, toolCall(5, "whoami")); got.Status != http.StatusOK {
		t.Errorf("the actor's new token in its session: %+v", got)
	}
}

// TestSpecTokenInQuery (MCP authorization 2026-07-28, "Token
// Requirements": the token goes in the Authorization header of every
// request and MUST NOT be in the query string): a valid token in the query
// is refused 400 invalid_request, alone or beside the header, and never
// reaches the SDK.
func TestSpecTokenInQuery(t *testing.T) {
	logto := logtotest.New(t)
	s := startSpecServer(t, logto, mcpguard.Options{}, true)
	token := logto.UserToken("alice", "web", s.URL)
	for name, header := range map[string]string{"query alone": "", "query and header": token} {
		got := post(t, s.URL+"?access_token="+token, header, "", toolCall(1, "whoami"))
		if got.Status != http.StatusBadRequest || !strings.Contains(got.Challenge, `error="invalid_request"`) {
			t.Errorf("%s: %+v, want 400 invalid_request", name, got)
		}
	}
}
