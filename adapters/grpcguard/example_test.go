package grpcguard_test

import (
	"context"
	"fmt"
	"log"
	"net"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	"github.com/logtoguard/logtoguard/adapters/grpcguard"
	"github.com/logtoguard/logtoguard/logtotest"
	"github.com/logtoguard/logtoguard/middleware"
)

// The examples protect the standard health service, whose generated client
// and server ship with grpc-go, and serve it in process over bufconn.

const api = "https://api.example.com"

// startLogto starts a Logto-compatible issuer for the examples (it stands in
// for https://your-tenant.logto.app) and a validator that trusts it.
func startLogto() (*logtotest.Issuer, *middleware.Validator) {
	logto, err := logtotest.Start()
	if err != nil {
		log.Fatal(err)
	}
	v, err := middleware.New(middleware.Config{Endpoint: logto.Endpoint(), Audiences: []string{api}})
	if err != nil {
		log.Fatal(err)
	}
	if err := v.WaitReady(context.Background()); err != nil {
		log.Fatal(err)
	}
	return logto, v
}

// start serves srv in process and returns a client connection to it and
// the function that stops both.
func start(srv *grpc.Server) (*grpc.ClientConn, func()) {
	ln := bufconn.Listen(1 << 20)
	go func() { _ = srv.Serve(ln) }()
	conn, err := grpc.NewClient("passthrough:///bufconn",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return ln.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		log.Fatal(err)
	}
	return conn, func() { conn.Close(); srv.Stop() }
}

// check calls Health.Check with the token (none if empty) and prints the
// answer: the serving status, or the code, the message and the challenge.
func check(conn *grpc.ClientConn, token string) {
	ctx := context.Background()
	if token != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
	}
	var header metadata.MD
	res, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{}, grpc.Header(&header))
	if err != nil {
		s := status.Convert(err)
		fmt.Printf("%s: %s\n  www-authenticate: %s\n", s.Code(), s.Message(), header.Get("www-authenticate"))
		return
	}
	fmt.Println(res.GetStatus())
}

func ExampleNew() {
	logto, v := startLogto()
	defer logto.Close()
	defer v.Close()

	guard, err := grpcguard.New(v, map[string]middleware.Requirement{
		grpcguard.HealthCheckMethod: middleware.Scopes("read:health"),
	})
	if err != nil {
		log.Fatal(err)
	}
	srv := grpc.NewServer(guard.ServerOptions()...)
	healthpb.RegisterHealthServer(srv, health.NewServer())
	conn, stop := start(srv)
	defer stop()

	check(conn, logto.M2MToken("monitor", api, "read:health"))
	check(conn, logto.M2MToken("monitor", api))
	check(conn, "")
	// Output:
	// SERVING
	// PermissionDenied: the token lacks the scopes: read:health
	//   www-authenticate: [Bearer realm="api", error="insufficient_scope", error_description="the token lacks the scopes: read:health", scope="read:health"]
	// Unauthenticated: a bearer token is required
	//   www-authenticate: [Bearer realm="api"]
}

// Health checking is open without a token only when exempt; every other
// method needs an entry, or is refused whatever the token.
func ExampleExempt() {
	logto, v := startLogto()
	defer logto.Close()
	defer v.Close()

	guard, err := grpcguard.New(v, map[string]middleware.Requirement{},
		grpcguard.Exempt(grpcguard.HealthCheckMethod, grpcguard.HealthWatchMethod, grpcguard.HealthListMethod))
	if err != nil {
		log.Fatal(err)
	}
	srv := grpc.NewServer(guard.ServerOptions()...)
	healthpb.RegisterHealthServer(srv, health.NewServer())
	conn, stop := start(srv)
	defer stop()

	check(conn, "")
	// Output:
	// SERVING
}

// Unlisted methods take any valid token when the guard is built with
// AuthenticateUnlisted and checked against the server; a chained interceptor, like a handler, reads the
// caller from the context.
func ExampleAuthenticateUnlisted() {
	logto, v := startLogto()
	defer logto.Close()
	defer v.Close()

	guard, err := grpcguard.New(v, nil, grpcguard.AuthenticateUnlisted())
	if err != nil {
		log.Fatal(err)
	}
	caller := func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		claims, _ := middleware.ClaimsFromContext(ctx)
		fmt.Println("caller:", claims.Subject, "m2m:", claims.IsM2M())
		return handler(ctx, req)
	}
	srv := grpc.NewServer(append(guard.ServerOptions(), grpc.ChainUnaryInterceptor(caller))...)
	healthpb.RegisterHealthServer(srv, health.NewServer())
	// Unlisted methods are let through once every listed name is served.
	if err := guard.CheckServer(srv); err != nil {
		log.Fatal(err)
	}
	conn, stop := start(srv)
	defer stop()

	check(conn, logto.M2MToken("monitor", api))
	// Output:
	// caller: monitor m2m: true
	// SERVING
}

// The organization a call addresses can come from the metadata rather
// than from a field of the request message.
func ExampleWithOrganization() {
	logto, v := startLogto()
	defer logto.Close()
	defer v.Close()

	fromMetadata := func(ctx context.Context, fullMethod string, req any) string {
		md, _ := metadata.FromIncomingContext(ctx)
		if ids := md.Get("x-organization-id"); len(ids) == 1 {
			return ids[0]
		}
		return ""
	}
	guard, err := grpcguard.New(v, map[string]middleware.Requirement{
		grpcguard.HealthCheckMethod: {Organization: "organization"},
	}, grpcguard.WithOrganization(fromMetadata))
	if err != nil {
		log.Fatal(err)
	}
	srv := grpc.NewServer(guard.ServerOptions()...)
	healthpb.RegisterHealthServer(srv, health.NewServer())
	conn, stop := start(srv)
	defer stop()

	token := logto.Mint(logtotest.Token{Subject: "user-1", ClientID: "spa", Audience: api, OrganizationID: "acme"})
	for _, org := range []string{"acme", "globex"} {
		ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+token, "x-organization-id", org)
		_, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
		fmt.Printf("%s: %s\n", org, status.Code(err))
	}
	// Output:
	// acme: OK
	// globex: PermissionDenied
}

// A stream is checked when it opens; its handler reads the claims from the
// stream's context.
func ExampleGuard_StreamServerInterceptor() {
	logto, v := startLogto()
	defer logto.Close()
	defer v.Close()

	guard, err := grpcguard.New(v, map[string]middleware.Requirement{
		grpcguard.HealthWatchMethod: middleware.Scopes("read:health"),
	})
	if err != nil {
		log.Fatal(err)
	}
	caller := func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		claims, _ := middleware.ClaimsFromContext(ss.Context())
		fmt.Println("stream opened by", claims.Subject)
		return handler(srv, ss)
	}
	srv := grpc.NewServer(
		grpc.StreamInterceptor(guard.StreamServerInterceptor()),
		grpc.ChainStreamInterceptor(caller),
	)
	healthpb.RegisterHealthServer(srv, health.NewServer())
	conn, stop := start(srv)
	defer stop()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for _, token := range []string{logto.M2MToken("monitor", api, "read:health"), logto.M2MToken("monitor", api)} {
		ctx := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
		stream, err := healthpb.NewHealthClient(conn).Watch(ctx, &healthpb.HealthCheckRequest{})
		if err != nil {
			log.Fatal(err)
		}
		res, err := stream.Recv()
		if err != nil {
			fmt.Println(status.Code(err), status.Convert(err).Message())
			continue
		}
		fmt.Println(res.GetStatus())
	}
	// Output:
	// stream opened by monitor
	// SERVING
	// PermissionDenied the token lacks the scopes: read:health
}

// The interceptors can be installed one by one, here after a logging
// interceptor that sees every call, refused or not.
func ExampleGuard_UnaryServerInterceptor() {
	logto, v := startLogto()
	defer logto.Close()
	defer v.Close()

	guard, err := grpcguard.New(v, map[string]middleware.Requirement{
		grpcguard.HealthCheckMethod: middleware.Scopes("read:health"),
	})
	if err != nil {
		log.Fatal(err)
	}
	logging := func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		res, err := handler(ctx, req)
		fmt.Println(info.FullMethod, status.Code(err))
		return res, err
	}
	srv := grpc.NewServer(grpc.ChainUnaryInterceptor(logging, guard.UnaryServerInterceptor()))
	healthpb.RegisterHealthServer(srv, health.NewServer())
	conn, stop := start(srv)
	defer stop()

	check(conn, logto.M2MToken("monitor", api, "read:health"))
	// Output:
	// /grpc.health.v1.Health/Check OK
	// SERVING
}

// CheckServer finds a requirement keyed by a name the server does not
// serve: here a letter's case.
func ExampleGuard_CheckServer() {
	logto, v := startLogto()
	defer logto.Close()
	defer v.Close()

	guard, err := grpcguard.New(v, map[string]middleware.Requirement{
		"/grpc.health.v1.Health/check": middleware.Scopes("read:health"),
	}, grpcguard.AuthenticateUnlisted())
	if err != nil {
		log.Fatal(err)
	}
	srv := grpc.NewServer(guard.ServerOptions()...)
	healthpb.RegisterHealthServer(srv, health.NewServer())
	fmt.Println(guard.CheckServer(srv))
	conn, stop := start(srv)
	defer stop()

	// Until CheckServer passes, AuthenticateUnlisted lets nothing through.
	check(conn, logto.M2MToken("monitor", api))
	// Output:
	// grpcguard: methods listed or exempt that the server does not serve: /grpc.health.v1.Health/check (the server has /grpc.health.v1.Health/Check)
	// PermissionDenied: the server lists no requirement for this method
	//   www-authenticate: [Bearer realm="api", error="insufficient_scope", error_description="the server lists no requirement for this method"]
}

// With EndStreamsAtExpiry a stream ends when its token expires. This token
// expired five seconds ago, within the validator's leeway, so the stream
// opens, and ends at once.
func ExampleEndStreamsAtExpiry() {
	logto, v := startLogto()
	defer logto.Close()
	defer v.Close()

	guard, err := grpcguard.New(v, map[string]middleware.Requirement{
		grpcguard.HealthWatchMethod: middleware.Scopes("read:health"),
	}, grpcguard.EndStreamsAtExpiry())
	if err != nil {
		log.Fatal(err)
	}
	srv := grpc.NewServer(guard.ServerOptions()...)
	healthpb.RegisterHealthServer(srv, health.NewServer())
	conn, stop := start(srv)
	defer stop()

	token := logto.Mint(logtotest.Token{Subject: "monitor", ClientID: "monitor", Audience: api, Scopes: []string{"read:health"},
		IssuedAt: time.Now().Add(-time.Minute), TTL: 55 * time.Second})
	ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+token)
	stream, err := healthpb.NewHealthClient(conn).Watch(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		log.Fatal(err)
	}
	_, err = stream.Recv()
	fmt.Println(status.Code(err), status.Convert(err).Message())
	// Output:
	// Unauthenticated the token has expired
}
