package mcpguard

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/oauthex"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/logtoguard/logtoguard/middleware"
)

// ClientCredentials is the client side: an auth.OAuthHandler with which a
// machine-to-machine app of Logto calls an MCP server that Logto protects,
// through the SDK's client (mcp.StreamableClientTransport's OAuthHandler).
//
// On a 401 or 403 it follows the discovery of the MCP authorization
// specification: the challenge's resource_metadata, the protected resource
// metadata there (whose resource must be the URL called), the
// authorization server it names (RFC 8414 or OpenID Connect discovery),
// then the client credentials grant at its token endpoint, with
// resource=<the metadata's resource>, which Logto requires to issue a JWT
// for the API (without it, Logto answers invalid_target). It asks for the
// scopes of the challenge, or else the metadata's scopes_supported, plus
// those granted before, so a 403 insufficient_scope steps up. The SDK's
// own extauth.ClientCredentialsHandler sends no resource.
//
// It is safe for concurrent use.
type ClientCredentials struct {
	// ClientID and ClientSecret are the App ID and App secret of the
	// machine-to-machine app in Logto. Required.
	ClientID, ClientSecret string
	// HTTPClient makes the discovery and token requests. Default
	// http.DefaultClient.
	HTTPClient *http.Client

	mu      sync.Mutex
	source  oauth2.TokenSource
	granted []string
}

var _ auth.OAuthHandler = (*ClientCredentials)(nil)

// TokenSource returns the source of the tokens to send: nil before the
// first Authorize.
func (c *ClientCredentials) TokenSource(context.Context) (oauth2.TokenSource, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.source, nil
}

// Authorize gets a token for the MCP server that answered resp to req.
func (c *ClientCredentials) Authorize(ctx context.Context, req *http.Request, resp *http.Response) error {
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if c.ClientID == "" || c.ClientSecret == "" {
		return errors.New("mcpguard: ClientCredentials needs ClientID and ClientSecret")
	}
	client := c.HTTPClient
	if client == nil {
		client = http.DefaultClient
	}
	challenges, err := oauthex.ParseWWWAuthenticate(resp.Header.Values("WWW-Authenticate"))
	if err != nil {
		return fmt.Errorf("mcpguard: the server's challenge: %w", err)
	}
	var metadataURL string
	var wanted []string
	for _, ch := range challenges {
		if ch.Scheme != "bearer" {
			continue
		}
		if metadataURL == "" {
			metadataURL = ch.Params["resource_metadata"]
		}
		if wanted == nil {
			wanted = strings.Fields(ch.Params["scope"])
		}
	}
	resource := (&url.URL{Scheme: req.URL.Scheme, Host: req.URL.Host, Path: req.URL.Path}).String()
	if metadataURL == "" {
		if metadataURL, err = middleware.ResourceMetadataURL(resource); err != nil {
			return fmt.Errorf("mcpguard: %w", err)
		}
	}
	prm, err := oauthex.GetProtectedResourceMetadata(ctx, metadataURL, resource, client)
	if err != nil {
		return fmt.Errorf("mcpguard: protected resource metadata: %w", err)
	}
	if len(prm.AuthorizationServers) == 0 {
		return errors.New("mcpguard: the protected resource metadata names no authorization server")
	}
	asm, err := auth.GetAuthServerMetadata(ctx, prm.AuthorizationServers[0], client)
	if err != nil {
		return fmt.Errorf("mcpguard: authorization server metadata: %w", err)
	}
	if asm == nil || asm.TokenEndpoint == "" {
		return fmt.Errorf("mcpguard: no authorization server metadata for %s", prm.AuthorizationServers[0])
	}
	if len(wanted) == 0 {
		wanted = prm.ScopesSupported
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	scopes := slices.Concat(c.granted, wanted)
	slices.Sort(scopes)
	scopes = slices.Compact(scopes)
	cfg := &clientcredentials.Config{
		ClientID:       c.ClientID,
		ClientSecret:   c.ClientSecret,
		TokenURL:       asm.TokenEndpoint,
		Scopes:         scopes,
		EndpointParams: url.Values{"resource": {prm.Resource}},
		AuthStyle:      oauth2.AuthStyleInHeader,
	}
	source := cfg.TokenSource(context.WithValue(context.WithoutCancel(ctx), oauth2.HTTPClient, client))
	tok, err := source.Token()
	if err != nil {
		return fmt.Errorf("mcpguard: client credentials token: %w", err)
	}
	c.source = oauth2.ReuseTokenSource(tok, source)
	if s, ok := tok.Extra("scope").(string); ok {
		c.granted = strings.Fields(s)
	}
	return nil
}
