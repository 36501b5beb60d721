package mcpguard_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/logtoguard/logtoguard/internal/oidcprovider"
)

// TestRealProvider runs the discovery flow with tokens from oidc-provider,
// the engine Logto runs on, configured as Logto configures it, with the MCP
// server's URL as the API resource.
func TestRealProvider(t *testing.T) {
	for _, key := range []string{oidcprovider.KeyECP384, oidcprovider.KeyRSA} {
		t.Run(key, func(t *testing.T) {
			var provider *oidcprovider.Server
			s := startMCPFor(t, func(resource string) string {
				config, err := json.Marshal(map[string]any{
					"clients": []map[string]any{
						{"client_id": "agent", "client_secret": "agent-secret", "scopes": []string{readProducts, writeProducts}},
						{"client_id": "reader", "client_secret": "reader-secret", "scopes": []string{readProducts}},
					},
					"resources": []map[string]any{{"indicator": resource, "scopes": []string{readProducts, writeProducts}, "ttl": 3600}},
				})
				if err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				provider, err = oidcprovider.Start(ctx, oidcprovider.Options{Key: key, Config: string(config)})
				if err != nil {
					t.Fatalf("oidc-provider did not start: %v", err)
				}
				t.Cleanup(func() { _ = provider.Close() })
				return provider.URL
			})

			cs, creds, err := s.connect(t, "agent", "agent-secret")
			if err != nil {
				t.Fatalf("connect: %v (provider: %s)", err, provider.Stderr())
			}
			src, _ := creds.TokenSource(context.Background())
			tok, err := src.Token()
			if err != nil {
				t.Fatal(err)
			}
			if c := decodeClaims(t, tok.AccessToken); c["aud"] != s.URL || c["iss"] != provider.Issuer || c["sub"] != "agent" {
				t.Errorf("token claims: %v", c)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			if tools, err := cs.ListTools(ctx, nil); err != nil || len(tools.Tools) != 3 {
				t.Fatalf("tools/list: %v, %v", tools, err)
			}
			res, err := callTool(t, cs, "create_product", map[string]any{"name": "Desk"})
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

			// A read-only app: 403 naming write:products.
			tr, err := provider.ClientCredentials(ctx, "reader", "reader-secret", s.URL, readProducts)
			if err != nil || tr.Status != http.StatusOK {
				t.Fatalf("reader token: %+v, %v", tr, err)
			}
			session := openSession(t, s.URL, tr.AccessToken)
			if got := post(t, s.URL, tr.AccessToken, session, toolCall(2, "create_product")); got.Status != http.StatusForbidden ||
				!strings.HasSuffix(got.Challenge, `error="insufficient_scope", error_description="the token lacks the scopes: write:products", scope="write:products", resource_metadata="`+s.MetadataURL+`"`) {
				t.Errorf("create_product, read-only: %+v", got)
			}
			// Another subject in the reader's session.
			if got := post(t, s.URL, tok.AccessToken, session, toolCall(3, "list_products")); got.Status != http.StatusForbidden {
				t.Errorf("agent in reader's session: %+v", got)
			}
			// A tampered token mid-session.
			if got := post(t, s.URL, tamper(tr.AccessToken), session, toolCall(4, "list_products")); got.Status != http.StatusUnauthorized ||
				!strings.Contains(got.Challenge, `resource_metadata="`+s.MetadataURL+`"`) {
				t.Errorf("tampered token: %+v", got)
			}
		})
	}
}

// tamper changes one character in the middle of the token's payload.
func tamper(tok string) string {
	parts := strings.Split(tok, ".")
	p := []byte(parts[1])
	i := len(p) / 2
	if p[i] == 'A' {
		p[i] = 'B'
	} else {
		p[i] = 'A'
	}
	return parts[0] + "." + string(p) + "." + parts[2]
}
