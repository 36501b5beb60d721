// Package mcpguard protects an MCP server built on the official Go SDK
// (github.com/modelcontextprotocol/go-sdk) with Logto access tokens, as the
// MCP authorization specification (2026-07-28) wants of a resource server:
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
// resource_metadata on a 401 and a 403, scope="<every scope the request
// needs>" on a 403, and a JSON body.
//
// # Sessions
//
// A session is bound to everything the request that opened it was
// authorized for: the token's subject (the Logto user ID, or the App ID of
// a machine-to-machine app) and its actor (a delegated token's act.sub),
// the route (the ServeMux pattern and the path) and the organization of
// the server-wide requirement. A request in the session (Mcp-Session-Id)
// with a token of another subject or actor, or on another
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
//
// # The MCP authorization specification, point by point
//
// Each MUST and SHOULD of the MCP authorization specification (revision
// 2026-07-28: basic/authorization, its security considerations, and the
// discovery requirements it refers to) that binds an MCP server, and what
// shows that mcpguard meets it (tests of this package unless another is
// named), or why it does not apply.
//
//	requirement (binds the MCP server)                       shown by, or why not
//	--------------------------------------------------------  -------------------------------------------
//	MUST implement Protected Resource Metadata (RFC 9728);     TestDiscovery (the SDK's client follows it
//	  it MUST list at least one authorization_servers          from a bare 401), TestSpecResourceIdentifier
//	MUST offer PRM discovery: resource_metadata in the 401     TestDiscovery, TestMidSession (every 401,
//	  WWW-Authenticate, or the well-known URI                  with or without a token); MetadataPath is the
//	                                                           RFC 9728 well-known path of the resource
//	SHOULD put scope in WWW-Authenticate (401 and 403)         a 403 names it (TestToolScope); a 401 for a
//	                                                           request without a token does not: the
//	                                                           scopes of a call are known only from its
//	                                                           token-checked body, and clients then use
//	                                                           scopes_supported, as the spec says
//	MUST validate access tokens (OAuth 2.1, section 5.2)       middleware.Validator.Verify; TestMidSession
//	                                                           (expired, foreign key, tampered, opaque)
//	MUST validate that tokens were issued for this server      TestSpecAudience (another API, Logto's
//	  (audience, RFC 8707); MUST reject tokens that do not     Management API, a trailing slash, another
//	  include it in aud; MUST NOT accept other tokens          case of the host), TestMidSession
//	MUST answer invalid or expired tokens with 401             TestMidSession, TestSpecStateless
//	MUST NOT pass the client's token through upstream          not applicable: mcpguard calls nothing
//	                                                           upstream; the claims, never the token, reach
//	                                                           the tools (Claims)
//	MUST return 401 / 403 / 400 as the error table says        TestMidSession (401), TestToolScope (403),
//	                                                           TestBody (400 for a body it cannot read)
//	SHOULD answer insufficient scope with 403,                 TestToolScope, TestSpecOneChallenge, and
//	  error="insufficient_scope", scope, resource_metadata     ExampleGuard_Handler (the exact challenge)
//	SHOULD name all scopes the operation needs in a single     TestSpecOneChallenge (server-wide and tool
//	  challenge, not one at a time                             scopes together; every tool of a batch),
//	                                                           TestBatch
//	SHOULD be consistent in the scope inclusion strategy       one rule, in one place: every scope of every
//	                                                           requirement the request meets (authorizeAll)
//	MUST account for scope hierarchies                         not applicable: Logto's scopes are flat
//	                                                           permission names; a Check can add a
//	                                                           hierarchy of the API's own
//	SHOULD NOT include offline_access in a challenge or in     TestSpecNoOfflineAccess: a requirement that
//	  scopes_supported                                         names it is refused by New and Tool
//	SHOULD use resource identifiers without a trailing slash   TestSpecResourceIdentifier: the metadata's
//	                                                           resource is the configured audience, exactly
//	                                                           (no slash added); the SDK's client compares
//	                                                           it exactly. The SDK's own audience helper,
//	                                                           oauthex.MatchesResource, would accept an aud
//	                                                           with or without the trailing slash;
//	                                                           logtoguard compares aud exactly (RFC 9728,
//	                                                           section 3.3) and refuses it (TestSpecAudience)
//	SHOULD accept upper-case scheme and host                   addressed to clients choosing the resource
//	                                                           parameter: Logto issues aud as the API
//	                                                           identifier was registered, which is what
//	                                                           the validator compares (TestSpecAudience)
//	Authorization in every HTTP request; never in the query    middleware.BearerToken; every request is
//	                                                           verified (TestMidSession, TestSpecStateless);
//	                                                           a token in the query is 400, alone or beside
//	                                                           the header (TestSpecTokenInQuery)
//	MUST follow secure token storage; tokens not logged        the validator never logs a token nor hands it
//	                                                           to hooks (middleware:
//	                                                           TestHooksAndLogsNeverSeeTheToken)
//	MUST serve over HTTPS (communication security)             New refuses a resource that is not https,
//	                                                           but on a loopback host (TestNewErrors)
//	Session binding (2026-07-28 removes protocol sessions)     stateful handler: a session is bound to the
//	                                                           subject, actor, route and organization that
//	                                                           opened it (TestSessionBoundToSubject,
//	                                                           TestSessionBoundToActor); the SDK's
//	                                                           stateless mode has no session: every request
//	                                                           is authorized on its own token, and one
//	                                                           caller's request opens nothing to another's
//	                                                           (TestSpecStateless)
//
// Client ID Metadata Documents give MCP clients an HTTPS URL as client_id;
// Logto issues their tokens with that client_id, which Requirement.Clients
// compares exactly and which is never taken for a machine-to-machine app
// (see middleware.Claims.IsM2M).
package mcpguard
