// Package mcpguard protects an MCP server built on the official Go SDK
// (github.com/modelcontextprotocol/go-sdk) with Logto access tokens, as the
// MCP authorization specification (2025-11-25) wants of a resource server:
// it refuses tokens not issued for the server, points clients to its
// protected resource metadata (RFC 9728) in the 401 challenge, and answers a
// call that needs more scope with 403 insufficient_scope naming the scope,
// so that the client can step up.
//
// The MCP server's canonical URL, such as https://mcp.example.com/mcp, is
// the API identifier of its API resource in Logto: the validator's audience.
//
//	const resource = "https://mcp.example.com/mcp"
//	metadataURL, err := middleware.ResourceMetadataURL(resource)
//	...
//	v, err := middleware.New(middleware.Config{
//		Endpoint:            "https://your-tenant.logto.app",
//		Audiences:           []string{resource},
//		ResourceMetadataURL: metadataURL, // 401 challenges name it
//	})
//	...
//	guard, err := mcpguard.New(v, mcpguard.Options{
//		Tools: map[string]middleware.Requirement{
//			"create_product": middleware.Scopes("write:products"),
//		},
//	})
//	...
//	server := mcp.NewServer(&mcp.Implementation{Name: "products"}, nil)
//	mcpguard.AddTool(guard, server, &mcp.Tool{Name: "list_products"}, middleware.Scopes("read:products"), listProducts)
//	...
//	if err := guard.CheckServer(ctx, server); err != nil { // every listed tool is served
//		...
//	}
//	mux := http.NewServeMux()
//	mux.Handle("/mcp", guard.Handler(mcp.NewStreamableHTTPHandler(
//		func(*http.Request) *mcp.Server { return server }, nil)))
//	mux.Handle(guard.MetadataPath(), guard.MetadataHandler())
//
// # What the handler does
//
// [Guard.Handler] verifies the bearer token of every request and checks the
// server-wide requirement (Options.Require). For a POST, it also reads the
// JSON-RPC body, a message or a batch, at most Options.MaxBodyBytes
// ([DefaultMaxBodyBytes], 4 MiB, the SDK's own limit), and checks the
// requirement of every tool that a tools/call names (Options.Tools,
// [Guard.Tool], [AddTool]); other methods need only the server-wide
// requirement. A tools/call of a tool that no requirement lists is refused
// (403) unless Options.AuthenticateUnlistedTools is set and
// [Guard.CheckServer] has passed: a requirement keyed by a misspelt name
// must not leave the real tool open. CheckServer reports, where the server
// is built, every listed name the server does not serve. Requirements are middleware.Requirement values checked with
// middleware.Authorize, as in every other adapter. A body it cannot read
// exactly as the SDK would is refused with 400 invalid_request, never passed
// on unchecked. Every refusal is the validator's answer
// (middleware.Validator.WriteError): the RFC 6750 challenge, with
// resource_metadata on a 401, scope="<the tool's scopes>" on a 403, and a
// JSON body.
//
// # Sessions
//
// A session is bound to everything the request that opened it was
// authorized for: the token's subject (the Logto user ID, or the App ID of
// a machine-to-machine app), the route (the ServeMux pattern and the path)
// and the organization of the server-wide requirement. A request in the
// session (Mcp-Session-Id) with a token of another subject, or on another
// route or for another organization, is refused with 403 through the
// validator, whatever its own token may do there: a session opened on
// /orgs/A/mcp with a token for A cannot be driven from /orgs/B/mcp with a
// token for B, nor after its user leaves A. The request then goes
// through the SDK's own auth.RequireBearerToken with the token info of the
// claims ([TokenInfo]) whose UserID is that binding, so that the SDK,
// which binds a session to the UserID of the request that opened it,
// refuses it elsewhere too (its plain-text 403 "session user mismatch"),
// for a session this guard does not know (opened through another Guard, or
// named by no request for a day).
//
// [Verifier] maps tokens for auth.RequireBearerToken alone, with UserID the
// subject. It refuses an organization token as an invalid token, as
// middleware.Authorize does on a route that names no organization: its
// scopes are an organization's permissions, which must not pass the SDK's
// Scopes check.
//
// A browser-based client's CORS preflight carries no token: put CORS
// middleware, if any, outside the handler, so that it answers preflights.
//
// # Claims in tool handlers
//
// The claims of the token that carried a call are in the SDK's token info
// of the request, under Extra[ExtraKey]; read them with [Claims]:
//
//	func whoami(ctx context.Context, req *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, any, error) {
//		claims, ok := mcpguard.Claims(req) // req.Extra.TokenInfo.Extra[mcpguard.ExtraKey]
//		...
//	}
//
// Do not read them with middleware.ClaimsFromContext in a tool handler: the
// SDK runs handlers in a context derived from the request that opened the
// session, which holds the claims of that first request. In the HTTP
// handler that Handler wraps, middleware.ClaimsFromContext(r.Context())
// holds the claims of the request.
//
// # Metadata
//
// [Guard.Metadata] is the protected resource metadata: resource the
// server's URL, authorization_servers the validator's issuers, and
// scopes_supported the union of the server-wide and tool scopes. Serve it
// with [Guard.MetadataHandler] at [Guard.MetadataPath], where
// [Guard.MetadataURL] says it is.
package mcpguard
