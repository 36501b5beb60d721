package grpcguard_test

import (
	"context"
	"io"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2/clientcredentials"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/oauth"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/logtoguard/logtoguard/adapters/grpcguard"
	"github.com/logtoguard/logtoguard/internal/adaptertest"
	"github.com/logtoguard/logtoguard/logtotest"
	"github.com/logtoguard/logtoguard/middleware"
)

// answer is what a call got: its code, its status message, the
// www-authenticate and retry-after header metadata and the body of a
// success.
type answer struct {
	code                  codes.Code
	message               string
	challenge, retryAfter []string
	body                  string
}

// callUnary calls method with the authorization metadata values auth
// (none if empty) and a request naming org.
func callUnary(t *testing.T, conn *grpc.ClientConn, method string, auth []string, org string) answer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if len(auth) > 0 {
		ctx = metadata.NewOutgoingContext(ctx, metadata.MD{"authorization": auth})
	}
	var header metadata.MD
	out := &wrapperspb.StringValue{}
	err := conn.Invoke(ctx, method, newRequest(org), out, grpc.Header(&header))
	return answerOf(err, header, out)
}

// callStream opens the server stream method as callUnary calls a unary
// one, sends the request and reads the one answer.
func callStream(t *testing.T, conn *grpc.ClientConn, method string, auth []string, org string) answer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if len(auth) > 0 {
		ctx = metadata.NewOutgoingContext(ctx, metadata.MD{"authorization": auth})
	}
	cs, err := conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true}, method)
	if err != nil {
		t.Fatalf("NewStream: %v", err)
	}
	if err := cs.SendMsg(newRequest(org)); err != nil && err != io.EOF {
		t.Fatalf("SendMsg: %v", err)
	}
	if err := cs.CloseSend(); err != nil {
		t.Fatalf("CloseSend: %v", err)
	}
	out := &wrapperspb.StringValue{}
	err = cs.RecvMsg(out)
	header, _ := cs.Header()
	if err == nil {
		if extra := cs.RecvMsg(&wrapperspb.StringValue{}); extra != io.EOF {
			t.Errorf("after the one answer: got %v, want io.EOF", extra)
		}
	}
	return answerOf(err, header, out)
}

func answerOf(err error, header metadata.MD, out *wrapperspb.StringValue) answer {
	s := status.Convert(err)
	a := answer{code: s.Code(), message: s.Message(), challenge: header.Get("www-authenticate"), retryAfter: header.Get("retry-after")}
	if err == nil {
		a.body = out.GetValue()
	}
	return a
}

// TestContract runs every request of the shared adapter contract through a
// grpc-go client over TLS on 127.0.0.1, as a unary call and as a server
// stream, and checks each answer in gRPC's terms: the code, the
// description as the status message and the challenge as www-authenticate.
func TestContract(t *testing.T) {
	iss := adaptertest.NewIssuer(t)
	v := adaptertest.NewValidator(t, iss, true)
	guard, err := grpcguard.New(v, contractMethods(), grpcguard.AuthenticateUnlisted())
	if err != nil {
		t.Fatal(err)
	}
	conn := serve(t, guard, func(s *grpc.Server) { s.RegisterService(contractService(), nil) })
	for _, c := range adaptertest.Cases(iss) {
		if c.HTTPOnly() {
			continue
		}
		route, org := c.Split()
		for _, kind := range []string{"unary", "stream"} {
			t.Run(c.Name+"/"+kind, func(t *testing.T) {
				var got answer
				if kind == "unary" {
					got = callUnary(t, conn, unaryMethod(route), c.Authorization, org)
				} else {
					got = callStream(t, conn, streamMethod(route), c.Authorization, org)
				}
				if got.code.String() != c.Code() {
					t.Errorf("code: got %s, want %s (message %q)", got.code, c.Code(), got.message)
				}
				if got.message != c.Description() {
					t.Errorf("message:\n got %q\nwant %q", got.message, c.Description())
				}
				var wantChallenge []string
				if c.Challenge != "" {
					wantChallenge = []string{c.Challenge}
				}
				if strings.Join(got.challenge, "|") != strings.Join(wantChallenge, "|") || len(got.challenge) != len(wantChallenge) {
					t.Errorf("www-authenticate:\n got %q\nwant %q", got.challenge, wantChallenge)
				}
				if c.Status == 200 && got.body != c.Body {
					t.Errorf("body: got %q, want %q", got.body, c.Body)
				}
			})
		}
	}
}

// TestClientCredentials: a grpc-go client whose per-RPC credentials come
// from golang.org/x/oauth2/clientcredentials against the issuer's token
// endpoint, over TLS, as a Logto machine-to-machine app calls.
func TestClientCredentials(t *testing.T) {
	iss := adaptertest.NewIssuer(t)
	v := adaptertest.NewValidator(t, iss, true)
	guard, err := grpcguard.New(v, contractMethods())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cc := clientcredentials.Config{
		ClientID:       "inventory-sync",
		ClientSecret:   "secret",
		TokenURL:       iss.TokenURL(),
		Scopes:         []string{"read:products"},
		EndpointParams: url.Values{"resource": {adaptertest.API}},
	}
	conn := serve(t, guard, func(s *grpc.Server) { s.RegisterService(contractService(), nil) },
		grpc.WithPerRPCCredentials(oauth.TokenSource{TokenSource: cc.TokenSource(ctx)}))

	const ok = "sub=inventory-sync client_id=inventory-sync m2m=true same=true"
	tests := []struct {
		name   string
		call   func(*testing.T, *grpc.ClientConn, string, []string, string) answer
		method string
		want   answer
	}{
		{"unary", callUnary, unaryMethod("/read"), answer{code: codes.OK, body: ok}},
		{"stream", callStream, streamMethod("/read"), answer{code: codes.OK, body: ok}},
		{"unary without the scope", callUnary, unaryMethod("/write"), answer{
			code:      codes.PermissionDenied,
			message:   "the token lacks the scopes: write:products",
			challenge: []string{`Bearer realm="api", error="insufficient_scope", error_description="the token lacks the scopes: write:products", scope="write:products"`},
		}},
		{"stream without the scope", callStream, streamMethod("/write"), answer{
			code:      codes.PermissionDenied,
			message:   "the token lacks the scopes: write:products",
			challenge: []string{`Bearer realm="api", error="insufficient_scope", error_description="the token lacks the scopes: write:products", scope="write:products"`},
		}},
		{"an app that is listed", callUnary, unaryMethod("/sync"), answer{code: codes.OK, body: ok}},
		{"unlisted method", callUnary, unaryMethod("/auth"), answer{
			code:      codes.PermissionDenied,
			message:   "the server lists no requirement for this method",
			challenge: []string{`Bearer realm="api", error="insufficient_scope", error_description="the server lists no requirement for this method"`},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.call(t, conn, tt.method, nil, "")
			if got.code != tt.want.code || got.message != tt.want.message || got.body != tt.want.body ||
				strings.Join(got.challenge, "|") != strings.Join(tt.want.challenge, "|") {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// TestKeysNeverLoaded: Logto unreachable since the start: Unavailable with
// retry-after and no challenge, the handler never called.
func TestKeysNeverLoaded(t *testing.T) {
	iss := logtotest.New(t)
	iss.AddResource(adaptertest.API, "read:products", "write:products")
	iss.SetJWKSDown(true)
	v := adaptertest.NewValidator(t, iss, false)
	guard, err := grpcguard.New(v, contractMethods())
	if err != nil {
		t.Fatal(err)
	}
	conn := serve(t, guard, func(s *grpc.Server) { s.RegisterService(contractService(), nil) })
	auth := []string{"Bearer " + iss.M2MToken("inventory-sync", adaptertest.API, "read:products", "write:products")}
	for _, route := range adaptertest.KeysNeverLoadedRoutes {
		for name, got := range map[string]answer{
			"unary":  callUnary(t, conn, unaryMethod(route), auth, ""),
			"stream": callStream(t, conn, streamMethod(route), auth, ""),
		} {
			if got.code != codes.Unavailable || got.message != "the issuer's signing keys could not be loaded yet" ||
				len(got.retryAfter) != 1 || got.retryAfter[0] == "" || len(got.challenge) != 0 {
				t.Errorf("%s %s: got %+v, want Unavailable with retry-after and no challenge", route, name, got)
			}
		}
	}
}

// TestUnlistedAndExempt: a method without a requirement is refused before
// its token is looked at; health checking is served without a token only
// when exempt.
func TestUnlistedAndExempt(t *testing.T) {
	iss := adaptertest.NewIssuer(t)
	v := adaptertest.NewValidator(t, iss, true)
	read := []string{"Bearer " + iss.M2MToken("inventory-sync", adaptertest.API, "read:products")}
	register := func(s *grpc.Server) {
		s.RegisterService(contractService(), nil)
		healthpb.RegisterHealthServer(s, health.NewServer())
	}
	healthCheck := func(t *testing.T, conn *grpc.ClientConn, auth []string) answer {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if len(auth) > 0 {
			ctx = metadata.NewOutgoingContext(ctx, metadata.MD{"authorization": auth})
		}
		var header metadata.MD
		res, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{}, grpc.Header(&header))
		a := answerOf(err, header, nil)
		a.body = res.GetStatus().String()
		return a
	}
	const unlisted = "the server lists no requirement for this method"

	t.Run("deny by default", func(t *testing.T) {
		guard, err := grpcguard.New(v, contractMethods())
		if err != nil {
			t.Fatal(err)
		}
		conn := serve(t, guard, register)
		for name, got := range map[string]answer{
			"unary without a token":  callUnary(t, conn, unaryMethod("/auth"), nil, ""),
			"unary with a token":     callUnary(t, conn, unaryMethod("/auth"), read, ""),
			"stream with a token":    callStream(t, conn, streamMethod("/auth"), read, ""),
			"health without a token": healthCheck(t, conn, nil),
			"health with a token":    healthCheck(t, conn, read),
		} {
			if got.code != codes.PermissionDenied || got.message != unlisted {
				t.Errorf("%s: got %+v, want PermissionDenied %q", name, got, unlisted)
			}
		}
	})
	t.Run("authenticate unlisted", func(t *testing.T) {
		guard, err := grpcguard.New(v, contractMethods(), grpcguard.AuthenticateUnlisted())
		if err != nil {
			t.Fatal(err)
		}
		conn := serve(t, guard, register)
		if got := healthCheck(t, conn, nil); got.code != codes.Unauthenticated {
			t.Errorf("health without a token: got %+v, want Unauthenticated", got)
		}
		if got := healthCheck(t, conn, read); got.code != codes.OK || got.body != "SERVING" {
			t.Errorf("health with a token: got %+v, want SERVING", got)
		}
	})
	t.Run("exempt", func(t *testing.T) {
		guard, err := grpcguard.New(v, contractMethods(), grpcguard.Exempt(grpcguard.HealthCheckMethod))
		if err != nil {
			t.Fatal(err)
		}
		conn := serve(t, guard, register)
		for name, auth := range map[string][]string{"no token": nil, "a token": read, "a bad token": {"Bearer nonsense"}} {
			if got := healthCheck(t, conn, auth); got.code != codes.OK || got.body != "SERVING" || len(got.challenge) != 0 {
				t.Errorf("health with %s: got %+v, want SERVING", name, got)
			}
		}
		if got := callUnary(t, conn, unaryMethod("/auth"), read, ""); got.code != codes.PermissionDenied {
			t.Errorf("unlisted method beside an exemption: got %+v, want PermissionDenied", got)
		}
	})
}

// TestMisspeltMethod: a requirement keyed by a method name that differs
// from the served one by a letter's case protects nothing. Under
// AuthenticateUnlisted, the method it meant to protect is refused to a
// token without the scope and to an organization token until CheckServer
// has passed, and CheckServer does not pass: it names the key, and the
// method it resembles.
func TestMisspeltMethod(t *testing.T) {
	iss := adaptertest.NewIssuer(t)
	v := adaptertest.NewValidator(t, iss, true)
	methods := contractMethods()
	delete(methods, unaryMethod("/write"))
	misspelt := "/" + service + "/write"
	methods[misspelt] = middleware.Scopes("write:products")
	guard, err := grpcguard.New(v, methods, grpcguard.AuthenticateUnlisted())
	if err != nil {
		t.Fatal(err)
	}
	register := func(s *grpc.Server) { s.RegisterService(contractService(), nil) }
	conn := serveUnchecked(t, guard, register)
	for name, token := range map[string]string{
		"a token without the scope": iss.M2MToken("inventory-sync", adaptertest.API, "read:products"),
		"an organization token":     iss.OrganizationToken("user-1", "spa", "acme", "write:products"),
	} {
		if got := callUnary(t, conn, unaryMethod("/write"), []string{"Bearer " + token}, ""); got.code != codes.PermissionDenied {
			t.Errorf("%s on %s: got %+v, want PermissionDenied", name, unaryMethod("/write"), got)
		}
	}
	srv := grpc.NewServer(guard.ServerOptions()...)
	register(srv)
	want := "grpcguard: methods listed or exempt that the server does not serve: /contract.v1.Contract/write (the server has /contract.v1.Contract/Write)"
	if err := guard.CheckServer(srv); err == nil || err.Error() != want {
		t.Errorf("CheckServer:\n got %v\nwant %s", err, want)
	}
	exempt, err := grpcguard.New(v, contractMethods(), grpcguard.Exempt(grpcguard.HealthCheckMethod))
	if err != nil {
		t.Fatal(err)
	}
	if err := exempt.CheckServer(srv); err == nil || !strings.Contains(err.Error(), grpcguard.HealthCheckMethod) {
		t.Errorf("CheckServer of an exempt method the server does not serve: %v", err)
	}
	if err := exempt.CheckServer(nil); err == nil {
		t.Error("CheckServer(nil): no error")
	}
}

func TestNewRefusesBadConfiguration(t *testing.T) {
	iss := adaptertest.NewIssuer(t)
	v := adaptertest.NewValidator(t, iss, false)
	ok := middleware.Scopes("read:products")
	tests := []struct {
		name    string
		v       *middleware.Validator
		methods map[string]middleware.Requirement
		opts    []grpcguard.Option
		want    string
	}{
		{"nil validator", nil, nil, nil, "validator is nil"},
		{"no leading slash", v, map[string]middleware.Requirement{"shop.v1.Products/List": ok}, nil, "not a full method name"},
		{"no method", v, map[string]middleware.Requirement{"/shop.v1.Products/": ok}, nil, "not a full method name"},
		{"no service", v, map[string]middleware.Requirement{"//List": ok}, nil, "not a full method name"},
		{"three parts", v, map[string]middleware.Requirement{"/shop.v1.Products/List/x": ok}, nil, "not a full method name"},
		{"bad requirement", v, map[string]middleware.Requirement{"/shop.v1.Products/List": {Scopes: []string{""}}}, nil, "not a valid value"},
		{"user and m2m", v, map[string]middleware.Requirement{"/shop.v1.Products/List": {User: true, M2M: true}}, nil, "cannot also require M2M or AppIDs"},
		{"exempt and listed", v, map[string]middleware.Requirement{grpcguard.HealthCheckMethod: ok}, []grpcguard.Option{grpcguard.Exempt(grpcguard.HealthCheckMethod)}, "both exempt and listed"},
		{"bad exemption", v, nil, []grpcguard.Option{grpcguard.Exempt("/grpc.health.v1.Health/")}, "not a full method name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := grpcguard.New(tt.v, tt.methods, tt.opts...)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "grpcguard: ") {
				t.Fatalf("New: got %v, %v; want an error containing %q", g, err, tt.want)
			}
		})
	}
}

// TestNewCopiesTheMap: changing the map after New changes nothing.
func TestNewCopiesTheMap(t *testing.T) {
	iss := adaptertest.NewIssuer(t)
	v := adaptertest.NewValidator(t, iss, true)
	methods := contractMethods()
	guard, err := grpcguard.New(v, methods)
	if err != nil {
		t.Fatal(err)
	}
	methods[unaryMethod("/read")] = middleware.Requirement{}
	methods[unaryMethod("/auth")] = middleware.Requirement{}
	conn := serve(t, guard, func(s *grpc.Server) { s.RegisterService(contractService(), nil) })
	noScope := []string{"Bearer " + iss.M2MToken("inventory-sync", adaptertest.API)}
	if got := callUnary(t, conn, unaryMethod("/read"), noScope, ""); got.code != codes.PermissionDenied {
		t.Errorf("/read: got %+v, want PermissionDenied", got)
	}
	if got := callUnary(t, conn, unaryMethod("/auth"), noScope, ""); got.code != codes.PermissionDenied {
		t.Errorf("/auth: got %+v, want PermissionDenied", got)
	}
}
