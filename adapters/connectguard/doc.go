// Package connectguard protects Connect services (connectrpc.com/connect)
// with logtoguard: one connect.Interceptor serves the Connect, gRPC and
// gRPC-Web protocols alike.
//
//	guard, err := connectguard.New(v, map[string]middleware.Requirement{ // v is a *middleware.Validator
//		shopv1connect.ProductsListProcedure:   middleware.Scopes("read:products"),
//		shopv1connect.ProductsCreateProcedure: middleware.Scopes("write:products"),
//		shopv1connect.ProductsWhoAmIProcedure: {}, // any valid token
//		shopv1connect.ProductsListOrgProductsProcedure: {
//			Organization: "org_id", // a field of the request message
//			Scopes:       []string{"read:products"},
//		},
//	})
//	if err != nil { ... }
//	path, handler := shopv1connect.NewProductsHandler(products, connect.WithInterceptors(guard))
//	if err := guard.CheckServed(path); err != nil { ... } // every listed name is served
//	mux.Handle(path, handler)
//
// # Requirements
//
// Each procedure, by its full name ("/shop.v1.Products/List"), maps to a
// middleware.Requirement, the type every logtoguard adapter uses: scopes
// (all of, any of), machine-to-machine apps (optionally by App ID), users
// only, an organization, a Check. A procedure missing from the map is
// refused with PermissionDenied, whatever the token, unless the interceptor
// was built with [AuthenticateUnlisted] and [Interceptor.CheckServed] has
// passed (then any valid token will do). Nothing is exempt from the token,
// health checking and reflection included, unless [Exempt] lists it.
//
// Names are compared as they are, case included. A name that matches no
// procedure served protects nothing: [Interceptor.CheckServed] reports
// every listed or exempt name that none of the handlers' paths serves,
// naming the procedure it resembles, and until it passes
// AuthenticateUnlisted lets nothing through, so that a misspelt key cannot
// leave the real procedure to any valid token.
//
// # Tokens and answers
//
// The token is read from the request's Authorization header (the gRPC
// authorization metadata) with middleware.AuthorizationToken and verified
// with middleware.Validator.Verify. A call that fails gets a
// *connect.Error built from middleware.Validator.Reject, the answer every
// logtoguard adapter gives:
//
//	400 malformed request (two Authorization headers)      InvalidArgument
//	401 no token, a bad, expired or foreign token          Unauthenticated
//	403 missing scope, wrong organization, caller refused  PermissionDenied
//	503 the issuer's keys were never loaded                Unavailable
//
// Its message is the rejection's description (which check failed, safe to
// show the caller), and its metadata carries the RFC 6750 challenge as
// WWW-Authenticate (with Unavailable, Retry-After), which every protocol
// sends back, so that a client can read which scope to ask for:
//
//	var cerr *connect.Error
//	if errors.As(err, &cerr) {
//		fmt.Println(cerr.Meta().Get("WWW-Authenticate"))
//	}
//
// With gRPC, the challenge travels in the response headers rather than in
// the trailers, from which net/http drops WWW-Authenticate; the client's
// error metadata holds it either way.
//
// On the server, the error unwraps to the middleware error (errors.Is with
// middleware.ErrExpired, middleware.CheckOf).
//
// A call that passes reaches its handler with the claims in its context:
//
//	claims, ok := middleware.ClaimsFromContext(ctx)
//
// Claims that an outer HTTP middleware already put in the request context
// (adapters/nethttp) are used as they are. Calls that a client makes
// through the interceptor pass untouched.
//
// # Organizations
//
// A requirement's Organization names a field of the request message: by
// default the singular string field of that proto name (Organization:
// "org_id" reads ListOrgProductsRequest.org_id with protoreflect). A call
// whose message has no such field, or leaves it empty, names no
// organization and is refused. [WithOrganization] replaces that lookup, to
// read a nested field or a header, for one.
//
// # Streams
//
// A stream is checked once, when it opens, before its handler runs: then
// only the procedure and the request headers exist, not a message. The
// token is verified and the requirement checked there, with one exception:
// a requirement that names an organization is checked on the stream's
// first message, the only place the organization can come from. For a
// server stream that is still before the handler runs (connect receives
// its one request first); a client or bidirectional stream's handler runs,
// but its first Receive returns the message only if the check passes, Send
// refuses until then, and a stream whose check did not pass ends with the
// refusal whatever the handler returns. Every later message is checked the
// same way: one that names another organization than the token speaks for,
// or none, never reaches the handler; Receive returns the refusal instead,
// and the stream ends with it (with gRPC, once the response headers have
// gone with a first answer, without the challenge: net/http sends no
// WWW-Authenticate trailer).
//
// The token is verified once, when the stream opens: by default a token
// that expires while its stream is open does not end the stream. With
// [EndStreamsAtExpiry], the stream ends with Unauthenticated when its token
// expires, so that the client fetches a new token and opens a new stream.
//
// # Order of work
//
// connect decodes a unary request before any interceptor runs, so a call
// without a token still costs its decoding: bound it with
// connect.WithReadMaxBytes.
package connectguard
