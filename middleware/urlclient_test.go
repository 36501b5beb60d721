package middleware_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/logtoguard/logtoguard/logtotest"
	"github.com/logtoguard/logtoguard/middleware"
)

// urlClientID returns an HTTPS client ID of n bytes, as a Client ID
// Metadata Document's URL (Logto accepts up to 2,048 characters).
func urlClientID(n int) string {
	id := "https://mcp-client.example.com/.well-known/oauth-client/"
	return id + strings.Repeat("a", n-len(id))
}

// TestURLClientID: a token whose client_id is a 2,048-character HTTPS URL
// verifies with the default MaxTokenBytes; it is a user's token, never an
// M2M caller's; Clients compares it exactly; refusals and logs carry it
// quoted and capped.
func TestURLClientID(t *testing.T) {
	iss := logtotest.New(t)
	var logs strings.Builder
	var mu sync.Mutex
	v := newValidator(t, iss, func(c *middleware.Config) { c.Logger = newTestLogger(&logs, &mu) })
	client := urlClientID(2048)
	tok := iss.UserToken("user-1", client, api, "read:products")
	if len(tok) > middleware.DefaultMaxTokenBytes/4 {
		t.Fatalf("token of %d bytes: the test expected one well under the default bound", len(tok))
	}
	c, err := v.Verify(context.Background(), tok)
	if err != nil {
		t.Fatalf("a token with a 2,048-character URL client_id: %v", err)
	}
	if c.ClientID != client || c.IsM2M() {
		t.Fatalf("client_id %d bytes, M2M %t: want the URL whole and not M2M", len(c.ClientID), c.IsM2M())
	}
	if _, ok := c.AppID(); ok {
		t.Fatal("AppID reports a URL client ID as an M2M app")
	}
	if err := middleware.Authorize(c, middleware.Requirement{M2M: true}, nil); !errors.Is(err, middleware.ErrClient) {
		t.Fatalf("an M2M route: %v, want ErrClient", err)
	}
	if err := middleware.Authorize(c, middleware.Requirement{User: true}, nil); err != nil {
		t.Fatalf("a users' route: %v", err)
	}

	allow := func(list ...string) error {
		req := middleware.Requirement{Clients: list}
		if err := req.Validate(); err != nil {
			t.Fatal(err)
		}
		return middleware.Authorize(c, req, nil)
	}
	if err := allow("web", client); err != nil {
		t.Fatalf("listed exactly: %v", err)
	}
	for name, near := range map[string]string{
		"a trailing slash": client + "/",
		"one byte short":   client[:len(client)-1],
		"upper-case host":  strings.Replace(client, "mcp-client.example.com", "MCP-CLIENT.example.com", 1),
		"http":             "http" + strings.TrimPrefix(client, "https"),
		"the host only":    "https://mcp-client.example.com/",
	} {
		err := allow(near)
		var e *middleware.Error
		if !errors.Is(err, middleware.ErrClient) || !errors.As(err, &e) {
			t.Fatalf("%s: %v, want ErrClient", name, err)
		}
		if len(e.Description) > 200 || !strings.Contains(e.Description, `"https://mcp-client.example.com/`) || strings.Contains(e.Description, client) {
			t.Fatalf("%s: description %q, want the client ID quoted and capped", name, e.Description)
		}
		if rej := v.Reject(err); rej.Status != 403 || len(rej.Challenge) > 500 {
			t.Fatalf("%s: answer %d, challenge of %d bytes", name, rej.Status, len(rej.Challenge))
		}
	}

	// A refused token's log line names the client ID capped, on one line.
	mu.Lock()
	logs.Reset()
	mu.Unlock()
	if _, err := v.Verify(context.Background(), iss.UserToken("user-1", client+"\nlevel=ERROR", logtotest.ManagementAPI)); !errors.Is(err, middleware.ErrAudience) {
		t.Fatalf("got %v, want ErrAudience", err)
	}
	mu.Lock()
	line := logs.String()
	mu.Unlock()
	if strings.Count(line, "\n") != 1 || strings.Contains(line, client) || !strings.Contains(line, `client_id=https://mcp-client.example.com/`) || !strings.Contains(line, `...`) {
		t.Fatalf("log %q: want one line with the client ID capped", line)
	}
}

// TestURLClientIDNeverM2M: sub == client_id is what marks an M2M token,
// and Logto issues it only to apps whose client ID is an App ID: a Client
// ID Metadata Document names a public client, which has no client
// credentials grant, and no Logto user ID is a URL. A token with sub equal
// to a URL client ID is refused, so that no route takes it for an M2M
// app, nor for a user.
func TestURLClientIDNeverM2M(t *testing.T) {
	iss := logtotest.New(t)
	v := newValidator(t, iss, nil)
	client := urlClientID(200)
	_, err := v.Verify(context.Background(), iss.M2MToken(client, api))
	if !errors.Is(err, middleware.ErrMalformed) || middleware.CheckOf(err) != middleware.CheckSub {
		t.Fatalf("sub == a URL client_id: %v, want ErrMalformed by the sub check", err)
	}
	// Claims built by hand (WithClaims in a test) are not M2M either.
	c := &middleware.Claims{Subject: client, ClientID: client}
	if c.IsM2M() {
		t.Fatal("IsM2M with a URL client ID")
	}
	if err := middleware.Authorize(c, middleware.Requirement{AppIDs: []string{client}}, nil); !errors.Is(err, middleware.ErrClient) {
		t.Fatalf("AppIDs listing a URL: %v, want ErrClient", err)
	}
}
