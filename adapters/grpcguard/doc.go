// Package grpcguard protects gRPC services (google.golang.org/grpc) with
// logtoguard: unary and stream server interceptors, built from one check,
// that verify the caller's Logto access token and the requirement of each
// method.
//
//	guard, err := grpcguard.New(v, map[string]middleware.Requirement{ // v is a *middleware.Validator
//		shopv1.Products_List_FullMethodName:   middleware.Scopes("read:products"),
//		shopv1.Products_Create_FullMethodName: middleware.Scopes("write:products"),
//		shopv1.Products_WhoAmI_FullMethodName: {}, // any valid token
//		shopv1.Products_ListOrgProducts_FullMethodName: {
//			Organization: "org_id", // a field of the request message
//			Scopes:       []string{"read:products"},
//		},
//	}, grpcguard.Exempt(grpcguard.HealthCheckMethod, grpcguard.HealthWatchMethod))
//	if err != nil { ... }
//	srv := grpc.NewServer(guard.ServerOptions()...)
//	shopv1.RegisterProductsServer(srv, products)
//	if err := guard.CheckServer(srv); err != nil { ... } // every listed name is served
//
// # Requirements
//
// Each method, by its full name ("/shop.v1.Products/List"), maps to a
// middleware.Requirement, the type every logtoguard adapter uses: scopes
// (all of, any of), machine-to-machine apps (optionally by App ID), users
// only, an organization, a Check; middleware.Authorize checks it, as it
// does for every HTTP route. A method missing from the map is refused with
// PermissionDenied, whatever the token, unless the guard was built with
// [AuthenticateUnlisted] and [Guard.CheckServer] has passed (then any
// valid token will do). Nothing is exempt from the token, health checking
// and reflection included, unless [Exempt] lists it.
//
// Names are compared as they are, case included. A name that matches no
// method of the server protects nothing: [Guard.CheckServer] reports every
// listed or exempt name that the server does not serve
// (grpc.Server.GetServiceInfo), naming the method it resembles, and until
// it passes AuthenticateUnlisted lets nothing through, so that a misspelt
// key cannot leave the real method to any valid token.
//
// # Tokens and answers
//
// The token is the Bearer value of the authorization metadata (the scheme
// in any case), read with middleware.AuthorizationToken and verified with
// middleware.Validator.Verify. A call that fails gets the status of
// middleware.Validator.Reject, the answer every logtoguard adapter gives:
//
//	400 malformed request (two authorization values)      InvalidArgument
//	401 no token, a bad, expired or foreign token         Unauthenticated
//	403 missing scope, wrong organization, caller refused PermissionDenied
//	503 the issuer's keys were never loaded               Unavailable
//
// Its message is the rejection's description (which check failed, safe to
// show the caller), and the response header metadata carries the RFC 6750
// challenge as www-authenticate (with Unavailable, retry-after), so that a
// client can read which scope to ask for:
//
//	var header metadata.MD
//	_, err := client.List(ctx, &shopv1.ListRequest{}, grpc.Header(&header))
//	fmt.Println(status.Code(err), header.Get("www-authenticate"))
//
// A call that passes reaches its handler with the claims in its context:
//
//	claims, ok := middleware.ClaimsFromContext(ctx)            // unary
//	claims, ok := middleware.ClaimsFromContext(stream.Context()) // stream
//
// Claims that an outer interceptor already put in the context
// (middleware.WithClaims) are used as they are.
//
// # Organizations
//
// A requirement's Organization names a field of the request message: by
// default the singular string field of that proto name (Organization:
// "org_id" reads ListOrgProductsRequest.org_id with protoreflect). A call
// whose message has no such field, or leaves it empty, names no
// organization and is refused. [WithOrganization] replaces that lookup, to
// read a nested field or the metadata, for one.
//
// # Streams
//
// A stream's token is verified once, when it opens, before its handler
// runs; a requirement that names an organization is checked on every
// message the stream receives: a message that names another organization
// than its token speaks for, or none, is refused and ends the stream with
// PermissionDenied. A token that expires while its stream is open does not
// end the stream, unless the guard was built with [EndStreamsAtExpiry]:
// then the stream ends with Unauthenticated when its token expires.
// [Guard.StreamServerInterceptor] says more.
//
// # Clients
//
// Callers send the token as per-RPC credentials, which gRPC sends only over
// TLS: grpc.WithPerRPCCredentials(oauth.TokenSource{TokenSource: ts}), with
// google.golang.org/grpc/credentials/oauth and, for a machine-to-machine
// app, ts from golang.org/x/oauth2/clientcredentials with EndpointParams
// resource=<your API identifier>.
package grpcguard
