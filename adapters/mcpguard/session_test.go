package mcpguard_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/logtoguard/logtoguard/adapters/mcpguard"
	"github.com/logtoguard/logtoguard/logtotest"
	"github.com/logtoguard/logtoguard/middleware"
)

// orgMCP is one MCP server (one SDK handler, one session table) mounted
// at /orgs/{org}/mcp behind a guard whose server-wide requirement names
// the organization, and at /other/{org}/mcp behind a second guard of the
// same options, which knows none of the first one's sessions.
type orgMCP struct {
	base     string // http://127.0.0.1:port
	resource string // the validator's audience
	adminRan atomic.Int32
}

func (s *orgMCP) url(prefix, org string) string { return s.base + prefix + org + "/mcp" }

func startOrgMCP(t *testing.T, logto *logtotest.Issuer) *orgMCP {
	t.Helper()
	ts := httptest.NewUnstartedServer(nil)
	s := &orgMCP{base: "http://" + ts.Listener.Addr().String()}
	s.resource = s.base + "/mcp"
	v, err := middleware.New(middleware.Config{Endpoint: logto.Endpoint(), Audiences: []string{s.resource}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = v.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := v.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	opts := mcpguard.Options{
		Require: middleware.Requirement{Organization: "org"},
		Tools: map[string]middleware.Requirement{
			"list_products": {Organization: "org", Scopes: []string{readProducts}},
			"delete_all":    {Organization: "org", Scopes: []string{"admin"}},
		},
	}
	server := mcp.NewServer(&mcp.Implementation{Name: "products", Version: "v1"}, nil)
	mcp.AddTool(server, &mcp.Tool{Name: "list_products"},
		func(context.Context, *mcp.CallToolRequest, struct{}) (*mcp.CallToolResult, productList, error) {
			return nil, productList{Products: []product{{"p1", "Keyboard"}}}, nil
		})
	mcp.AddTool(server, &mcp.Tool{Name: "delete_all"},
		func(context.Context, *mcp.CallToolRequest, struct{}) (*mcp.CallToolResult, productList, error) {
			s.adminRan.Add(1)
			return nil, productList{}, nil
		})
	sdk := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server }, nil)
	mux := http.NewServeMux()
	for _, prefix := range []string{"/orgs/", "/other/"} {
		g, err := mcpguard.New(v, opts)
		if err != nil {
			t.Fatal(err)
		}
		mux.Handle(prefix+"{org}/mcp", g.Handler(sdk))
	}
	ts.Config.Handler = mux
	ts.Start()
	t.Cleanup(ts.Close)
	return s
}

// TestSessionBoundToOrganization: a user who is a viewer in organization
// A and an admin in B opens a session on A's route; her B token, which
// may call delete_all on B's route, may not drive that session from B's
// route: the validator's JSON 403, and the tool does not run.
func TestSessionBoundToOrganization(t *testing.T) {
	logto := logtotest.New(t)
	s := startOrgMCP(t, logto)
	token := func(org string, scopes ...string) string {
		return logto.Mint(logtotest.Token{Subject: "alice", ClientID: "spa", Audience: s.resource, OrganizationID: org, Scopes: scopes})
	}
	aToken, bToken := token("A", readProducts), token("B", "admin")
	session := openSession(t, s.url("/orgs/", "A"), aToken)

	const otherRoute = `{"error":"insufficient_scope","error_description":"the session was opened on another route or for another organization"}` + "\n"
	got := post(t, s.url("/orgs/", "B"), bToken, session, toolCall(2, "delete_all"))
	if got.Status != http.StatusForbidden || got.Body != otherRoute ||
		got.Challenge != `Bearer realm="api", error="insufficient_scope", error_description="the session was opened on another route or for another organization"` {
		t.Errorf("A's session from B's route with a B token: got %+v, want the validator's 403", got)
	}
	// The other calls a B token could make there.
	for name, body := range map[string]string{
		"tools/list":                `{"jsonrpc":"2.0","id":3,"method":"tools/list"}`,
		"list_products (no scope)":  toolCall(4, "list_products"),
		"notifications/initialized": `{"jsonrpc":"2.0","method":"notifications/initialized"}`,
	} {
		if got := post(t, s.url("/orgs/", "B"), bToken, session, body); got.Status != http.StatusForbidden || got.Body != otherRoute {
			t.Errorf("%s in A's session from B's route: got %+v, want the validator's 403", name, got)
		}
	}
	// On A's route the A token is a viewer's: delete_all is refused.
	if got := post(t, s.url("/orgs/", "A"), aToken, session, toolCall(5, "delete_all")); got.Status != http.StatusForbidden ||
		!strings.HasSuffix(got.Challenge, `scope="admin"`) {
		t.Errorf("delete_all with the A token: got %+v, want 403 naming admin", got)
	}
	// The session still serves its own route and organization.
	var list productList
	if got := post(t, s.url("/orgs/", "A"), aToken, session, toolCall(6, "list_products")); !sseResult(t, got.Body, &list) || len(list.Products) != 1 {
		t.Errorf("list_products in A's session on A's route: %+v", got)
	}
	// A guard that does not know the session leaves it to the SDK, which
	// binds it to the same (UserID): refused on another route, whatever
	// the organization.
	for _, org := range []string{"A", "B"} {
		tok := map[string]string{"A": aToken, "B": bToken}[org]
		if got := post(t, s.url("/other/", org), tok, session, toolCall(7, "delete_all")); got.Status != http.StatusForbidden {
			t.Errorf("A's session on /other/%s/mcp: got %+v, want 403", org, got)
		}
	}
	if n := s.adminRan.Load(); n != 0 {
		t.Errorf("delete_all ran %d times, want 0", n)
	}
}

// TestOrganizationCase: organization IDs are compared as they are: a token
// for organization A opens no session on /orgs/a/mcp, and A's tools are
// refused there.
func TestOrganizationCase(t *testing.T) {
	logto := logtotest.New(t)
	s := startOrgMCP(t, logto)
	aToken := logto.Mint(logtotest.Token{Subject: "alice", ClientID: "spa", Audience: s.resource, OrganizationID: "A", Scopes: []string{readProducts, "admin"}})
	const want = `{"error":"insufficient_scope","error_description":"the token is not for organization 'a'"}` + "\n"
	if got := post(t, s.url("/orgs/", "a"), aToken, "", initialize); got.Status != http.StatusForbidden || got.Body != want || got.Session != "" {
		t.Errorf("initialize on /orgs/a/mcp with a token for A: got %+v, want 403", got)
	}
	session := openSession(t, s.url("/orgs/", "A"), aToken)
	if got := post(t, s.url("/orgs/", "a"), aToken, session, toolCall(2, "delete_all")); got.Status != http.StatusForbidden || got.Body != want {
		t.Errorf("delete_all on /orgs/a/mcp with a token for A: got %+v, want 403", got)
	}
	if n := s.adminRan.Load(); n != 0 {
		t.Errorf("delete_all ran %d times, want 0", n)
	}
}

// TestSessionDeleted: a session ended with DELETE is gone for the guard
// too: a request that names it is the SDK's 404, not a refusal.
func TestSessionDeleted(t *testing.T) {
	logto := logtotest.New(t)
	s := startOrgMCP(t, logto)
	aToken := logto.Mint(logtotest.Token{Subject: "alice", ClientID: "spa", Audience: s.resource, OrganizationID: "A", Scopes: []string{readProducts}})
	bToken := logto.Mint(logtotest.Token{Subject: "alice", ClientID: "spa", Audience: s.resource, OrganizationID: "B", Scopes: []string{readProducts}})
	session := openSession(t, s.url("/orgs/", "A"), aToken)
	req, err := http.NewRequest(http.MethodDelete, s.url("/orgs/", "A"), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+aToken)
	req.Header.Set("Mcp-Session-Id", session)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE: %d", resp.StatusCode)
	}
	if got := post(t, s.url("/orgs/", "B"), bToken, session, toolCall(2, "list_products")); got.Status != http.StatusNotFound {
		t.Errorf("the deleted session from B's route: got %+v, want the SDK's 404", got)
	}
}
