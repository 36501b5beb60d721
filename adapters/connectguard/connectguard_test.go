package connectguard_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/logtoguard/logtoguard/adapters/connectguard"
	"github.com/logtoguard/logtoguard/internal/adaptertest"
	"github.com/logtoguard/logtoguard/logtotest"
	"github.com/logtoguard/logtoguard/middleware"
)

// The contract's routes as procedures: each route of
// adaptertest.Requirements (and /auth, authenticate only) is a unary
// procedure of contract.v1.Unary and a server-stream procedure of
// contract.v1.Stream, named after the route. A route's {org} travels in the
// request message, a google.protobuf.Struct, as its field "org".
const (
	unaryService  = "/contract.v1.Unary/"
	streamService = "/contract.v1.Stream/"
)

// method names the procedure of a route pattern: "/orgs/{org}/products"
// becomes "OrgsProducts".
func method(pattern string) string {
	var b strings.Builder
	for _, seg := range strings.Split(pattern, "/") {
		if seg == "" || seg == "{org}" {
			continue
		}
		b.WriteString(strings.ToUpper(seg[:1]) + seg[1:])
	}
	return b.String()
}

// patterns are the contract's routes: those of adaptertest.Requirements
// and /auth, which, being authenticate only, is served by an unlisted
// procedure under connectguard.AuthenticateUnlisted.
func patterns() map[string]bool {
	p := map[string]bool{"/auth": true}
	for route := range adaptertest.Requirements {
		p[route] = true
	}
	return p
}

// structOrg resolves an Organization from the request's Struct: the field
// of that name.
func structOrg(_ context.Context, name string, _ http.Header, msg any) string {
	if s, ok := msg.(*structpb.Struct); ok {
		return s.GetFields()[name].GetStringValue()
	}
	return ""
}

// who is what the handlers answer: adaptertest.Who of the claims in their
// context.
func who(ctx context.Context) (*wrapperspb.StringValue, error) {
	claims, ok := middleware.ClaimsFromContext(ctx)
	if !ok {
		return nil, connect.NewError(connect.CodeInternal, errors.New("no claims in the context"))
	}
	return wrapperspb.String(adaptertest.Who(claims, true)), nil
}

// serve starts, on 127.0.0.1 over TLS with HTTP/2 (gRPC needs it), the
// contract's procedures behind an interceptor of v.
func serve(t *testing.T, v *middleware.Validator) *httptest.Server {
	t.Helper()
	procs := map[string]middleware.Requirement{}
	for p, req := range adaptertest.Requirements {
		procs[unaryService+method(p)] = req
		procs[streamService+method(p)] = req
	}
	guard, err := connectguard.New(v, procs, connectguard.WithOrganization(structOrg), connectguard.AuthenticateUnlisted())
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	var served []string
	for p := range patterns() {
		served = append(served, unaryService+method(p), streamService+method(p))
		mux.Handle(unaryService+method(p), connect.NewUnaryHandler(unaryService+method(p),
			func(ctx context.Context, _ *connect.Request[structpb.Struct]) (*connect.Response[wrapperspb.StringValue], error) {
				msg, err := who(ctx)
				if err != nil {
					return nil, err
				}
				return connect.NewResponse(msg), nil
			}, connect.WithInterceptors(guard)))
		mux.Handle(streamService+method(p), connect.NewServerStreamHandler(streamService+method(p),
			func(ctx context.Context, _ *connect.Request[structpb.Struct], stream *connect.ServerStream[wrapperspb.StringValue]) error {
				msg, err := who(ctx)
				if err != nil {
					return err
				}
				return stream.Send(msg)
			}, connect.WithInterceptors(guard)))
	}
	if err := guard.CheckServed(served...); err != nil {
		t.Fatal(err)
	}
	return start(t, mux)
}

// start serves h on 127.0.0.1 over TLS with HTTP/2, and fails the test if
// the server logged anything (net/http logs, for one, a trailer it drops).
func start(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.EnableHTTP2 = true
	var logged syncBuffer
	srv.Config.ErrorLog = log.New(&logged, "", 0)
	srv.StartTLS()
	t.Cleanup(func() {
		if s := logged.String(); s != "" {
			t.Errorf("the server logged:\n%s", s)
		}
	})
	t.Cleanup(srv.Close)
	return srv
}

// syncBuffer is a strings.Builder safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// protocols are the three the Connect client speaks.
var protocols = []struct {
	name string
	opts []connect.ClientOption
}{
	{"connect", nil},
	{"grpc", []connect.ClientOption{connect.WithGRPC()}},
	{"grpcweb", []connect.ClientOption{connect.WithGRPCWeb()}},
}

// codeNames spell connect's codes as adaptertest.Case.Code does.
var codeNames = map[connect.Code]string{
	connect.CodeInvalidArgument:  "InvalidArgument",
	connect.CodeUnauthenticated:  "Unauthenticated",
	connect.CodePermissionDenied: "PermissionDenied",
	connect.CodeUnavailable:      "Unavailable",
}

// answer is a call's outcome in the contract's terms.
type answer struct {
	Code, Message, Challenge, Body string
}

func answerOf(err error, body string) answer {
	if err == nil {
		return answer{Code: "OK", Body: body}
	}
	var cerr *connect.Error
	if !errors.As(err, &cerr) {
		return answer{Code: "not a connect error: " + err.Error()}
	}
	name, ok := codeNames[cerr.Code()]
	if !ok {
		name = cerr.Code().String()
	}
	return answer{Code: name, Message: cerr.Message(), Challenge: cerr.Meta().Get("WWW-Authenticate"), Body: body}
}

func ctxTimeout(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// callUnary calls procedure with the Authorization values and the org.
func callUnary(t *testing.T, srv *httptest.Server, opts []connect.ClientOption, procedure string, authorization []string, org string) answer {
	t.Helper()
	client := connect.NewClient[structpb.Struct, wrapperspb.StringValue](srv.Client(), srv.URL+procedure, opts...)
	req := connect.NewRequest(orgMessage(t, org))
	for _, a := range authorization {
		req.Header().Add("Authorization", a)
	}
	res, err := client.CallUnary(ctxTimeout(t), req)
	if err != nil {
		return answerOf(err, "")
	}
	return answerOf(nil, res.Msg.GetValue())
}

// callStream opens the server stream procedure and reads it to its end.
func callStream(t *testing.T, srv *httptest.Server, opts []connect.ClientOption, procedure string, authorization []string, org string) answer {
	t.Helper()
	client := connect.NewClient[structpb.Struct, wrapperspb.StringValue](srv.Client(), srv.URL+procedure, opts...)
	req := connect.NewRequest(orgMessage(t, org))
	for _, a := range authorization {
		req.Header().Add("Authorization", a)
	}
	stream, err := client.CallServerStream(ctxTimeout(t), req)
	if err != nil {
		return answerOf(err, "")
	}
	defer stream.Close()
	var got []string
	for stream.Receive() {
		got = append(got, stream.Msg().GetValue())
	}
	return answerOf(stream.Err(), strings.Join(got, "|"))
}

func orgMessage(t *testing.T, org string) *structpb.Struct {
	t.Helper()
	fields := map[string]any{}
	if org != "" {
		fields["org"] = org
	}
	s, err := structpb.NewStruct(fields)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestContract: every RPC case of the shared contract, through the Connect
// client in each protocol, unary and server stream, over a real socket.
func TestContract(t *testing.T) {
	iss := adaptertest.NewIssuer(t)
	v := adaptertest.NewValidator(t, iss, true)
	srv := serve(t, v)
	cases := adaptertest.Cases(iss)
	ran := 0
	for _, p := range protocols {
		for _, kind := range []string{"unary", "stream"} {
			t.Run(p.name+"/"+kind, func(t *testing.T) {
				for _, tt := range cases {
					if tt.HTTPOnly() {
						continue
					}
					t.Run(tt.Name, func(t *testing.T) {
						pattern, org := tt.Split()
						var got answer
						if kind == "unary" {
							got = callUnary(t, srv, p.opts, unaryService+method(pattern), tt.Authorization, org)
						} else {
							got = callStream(t, srv, p.opts, streamService+method(pattern), tt.Authorization, org)
						}
						want := answer{Code: tt.Code(), Message: tt.Description(), Challenge: tt.Challenge}
						if tt.Status == http.StatusOK {
							want.Body = tt.Body
						}
						if got != want {
							t.Errorf("got  %+v\nwant %+v", got, want)
						}
						ran++
					})
				}
			})
		}
	}
	if ran == 0 {
		t.Fatal("no case ran")
	}
}

// TestKeysNeverLoaded: while the issuer's keys were never loaded, calls get
// Unavailable with Retry-After and no challenge.
func TestKeysNeverLoaded(t *testing.T) {
	iss := logtotest.New(t)
	iss.AddResource(adaptertest.API, "read:products", "write:products")
	iss.SetJWKSDown(true)
	v := adaptertest.NewValidator(t, iss, false)
	srv := serve(t, v)
	token := []string{"Bearer " + iss.M2MToken("inventory-sync", adaptertest.API, "read:products", "write:products")}
	for _, p := range protocols {
		t.Run(p.name, func(t *testing.T) {
			for _, route := range adaptertest.KeysNeverLoadedRoutes {
				for _, got := range []answer{
					callUnary(t, srv, p.opts, unaryService+method(route), token, ""),
					callStream(t, srv, p.opts, streamService+method(route), token, ""),
				} {
					want := answer{Code: "Unavailable", Message: "the issuer's signing keys could not be loaded yet"}
					if got != want {
						t.Errorf("%s: got  %+v\nwant %+v", route, got, want)
					}
				}
			}
			client := connect.NewClient[structpb.Struct, wrapperspb.StringValue](srv.Client(), srv.URL+unaryService+"Read", p.opts...)
			req := connect.NewRequest(&structpb.Struct{})
			req.Header().Set("Authorization", token[0])
			_, err := client.CallUnary(ctxTimeout(t), req)
			var cerr *connect.Error
			if !errors.As(err, &cerr) || cerr.Meta().Get("Retry-After") == "" {
				t.Errorf("Retry-After: got none in %v", err)
			}
		})
	}
}

// TestUnlisted: a procedure without a requirement is refused whatever the
// token, unless the interceptor authenticates unlisted procedures; exempt
// procedures need no token.
func TestUnlisted(t *testing.T) {
	iss := adaptertest.NewIssuer(t)
	v := adaptertest.NewValidator(t, iss, true)
	token := []string{"Bearer " + iss.M2MToken("inventory-sync", adaptertest.API, "read:products")}
	const (
		unlisted = "/contract.v1.Other/Unlisted"
		health   = connectguard.HealthCheckProcedure
	)
	build := func(opts ...connectguard.Option) *httptest.Server {
		guard, err := connectguard.New(v, map[string]middleware.Requirement{unaryService + "Read": middleware.Scopes("read:products")}, opts...)
		if err != nil {
			t.Fatal(err)
		}
		mux := http.NewServeMux()
		for _, proc := range []string{unlisted, health, unaryService + "Read"} {
			mux.Handle(proc, connect.NewUnaryHandler(proc,
				func(ctx context.Context, _ *connect.Request[structpb.Struct]) (*connect.Response[wrapperspb.StringValue], error) {
					claims, ok := middleware.ClaimsFromContext(ctx)
					if !ok {
						return connect.NewResponse(wrapperspb.String("anonymous")), nil
					}
					return connect.NewResponse(wrapperspb.String(claims.Subject)), nil
				}, connect.WithInterceptors(guard)))
		}
		if err := guard.CheckServed(unlisted, health, unaryService+"Read"); err != nil {
			t.Fatal(err)
		}
		return start(t, mux)
	}
	denied := answer{Code: "PermissionDenied", Message: "the server lists no requirement for this method",
		Challenge: `Bearer realm="api", error="insufficient_scope", error_description="the server lists no requirement for this method"`}
	noToken := answer{Code: "Unauthenticated", Message: "a bearer token is required", Challenge: `Bearer realm="api"`}
	tests := []struct {
		name      string
		opts      []connectguard.Option
		procedure string
		token     []string
		want      answer
	}{
		{"unlisted, token", nil, unlisted, token, denied},
		{"unlisted, no token", nil, unlisted, nil, denied},
		{"health is not exempt by default", nil, health, nil, denied},
		{"authenticate unlisted, token", []connectguard.Option{connectguard.AuthenticateUnlisted()}, unlisted, token, answer{Code: "OK", Body: "inventory-sync"}},
		{"authenticate unlisted, no token", []connectguard.Option{connectguard.AuthenticateUnlisted()}, unlisted, nil, noToken},
		{"authenticate unlisted, health", []connectguard.Option{connectguard.AuthenticateUnlisted()}, health, nil, noToken},
		{"exempt health", []connectguard.Option{connectguard.Exempt(health)}, health, nil, answer{Code: "OK", Body: "anonymous"}},
		{"exempt health, with a token", []connectguard.Option{connectguard.Exempt(health)}, health, token, answer{Code: "OK", Body: "anonymous"}},
		{"exempt health, unlisted still denied", []connectguard.Option{connectguard.Exempt(health)}, unlisted, token, denied},
		{"exempt health, listed still guarded", []connectguard.Option{connectguard.Exempt(health)}, unaryService + "Read", nil, noToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := build(tt.opts...)
			for _, p := range protocols {
				if got := callUnary(t, srv, p.opts, tt.procedure, tt.token, ""); got != tt.want {
					t.Errorf("%s: got  %+v\nwant %+v", p.name, got, tt.want)
				}
			}
		})
	}
}

// TestMisspeltProcedure: a requirement keyed by a procedure name that
// differs from the served one by a letter's case protects nothing. Under
// AuthenticateUnlisted, the procedure it meant to protect is refused to a
// token without the scope and to an organization token until CheckServed
// has passed, and CheckServed does not pass: it names the key, and the
// procedure it resembles.
func TestMisspeltProcedure(t *testing.T) {
	iss := adaptertest.NewIssuer(t)
	v := adaptertest.NewValidator(t, iss, true)
	write := unaryService + "Write"
	misspelt := unaryService + "write"
	guard, err := connectguard.New(v, map[string]middleware.Requirement{misspelt: middleware.Scopes("write:products")}, connectguard.AuthenticateUnlisted())
	if err != nil {
		t.Fatal(err)
	}
	ran := 0
	mux := http.NewServeMux()
	mux.Handle(write, connect.NewUnaryHandler(write,
		func(context.Context, *connect.Request[structpb.Struct]) (*connect.Response[wrapperspb.StringValue], error) {
			ran++
			return connect.NewResponse(wrapperspb.String("written")), nil
		}, connect.WithInterceptors(guard)))
	srv := start(t, mux)
	for name, token := range map[string]string{
		"a token without the scope": iss.M2MToken("inventory-sync", adaptertest.API, "read:products"),
		"an organization token":     iss.OrganizationToken("user-1", "spa", "acme", "write:products"),
	} {
		for _, p := range protocols {
			if got := callUnary(t, srv, p.opts, write, []string{"Bearer " + token}, ""); got.Code != "PermissionDenied" {
				t.Errorf("%s, %s: got %+v, want PermissionDenied", name, p.name, got)
			}
		}
	}
	if ran != 0 {
		t.Errorf("the handler ran %d times, want 0", ran)
	}
	want := "connectguard: procedures listed or exempt that no handler serves: /contract.v1.Unary/write (served: /contract.v1.Unary/Write)"
	if err := guard.CheckServed(write); err == nil || err.Error() != want {
		t.Errorf("CheckServed:\n got %v\nwant %s", err, want)
	}
}

// TestCheckServed: CheckServed reads a service path's procedures from the
// protobuf registry, and refuses what is neither a service path nor a
// procedure, or a service the registry does not hold.
func TestCheckServed(t *testing.T) {
	iss := adaptertest.NewIssuer(t)
	v := adaptertest.NewValidator(t, iss, false)
	fd, err := protodesc.NewFile(&descriptorpb.FileDescriptorProto{
		Name:       proto.String("connectguard_test/registered.proto"),
		Package:    proto.String("connectguard.test.v1"),
		Syntax:     proto.String("proto3"),
		Dependency: []string{"google/protobuf/struct.proto"},
		Service: []*descriptorpb.ServiceDescriptorProto{{
			Name: proto.String("Registered"),
			Method: []*descriptorpb.MethodDescriptorProto{
				{Name: proto.String("Read"), InputType: proto.String(".google.protobuf.Struct"), OutputType: proto.String(".google.protobuf.Struct")},
				{Name: proto.String("Write"), InputType: proto.String(".google.protobuf.Struct"), OutputType: proto.String(".google.protobuf.Struct")},
			},
		}},
	}, protoregistry.GlobalFiles)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := protoregistry.GlobalFiles.FindFileByPath(fd.Path()); err != nil {
		if err := protoregistry.GlobalFiles.RegisterFile(fd); err != nil {
			t.Fatal(err)
		}
	}
	const svc = "/connectguard.test.v1.Registered/"
	guard := func(names ...string) *connectguard.Interceptor {
		procs := map[string]middleware.Requirement{}
		for _, n := range names {
			procs[n] = middleware.Scopes("read:products")
		}
		g, err := connectguard.New(v, procs)
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	if err := guard(svc+"Read", svc+"Write").CheckServed(svc); err != nil {
		t.Errorf("CheckServed of the service's methods: %v", err)
	}
	if err := guard(svc+"Read", svc+"Delete").CheckServed(svc); err == nil || !strings.Contains(err.Error(), svc+"Delete") {
		t.Errorf("CheckServed of a method the service lacks: %v", err)
	}
	for _, path := range []string{"connectguard.test.v1.Registered/", "/a/b/c", "/"} {
		if err := guard().CheckServed(path); err == nil || !strings.Contains(err.Error(), "neither a service path") {
			t.Errorf("CheckServed(%q): %v", path, err)
		}
	}
	if err := guard().CheckServed("/connectguard.test.v1.Missing/"); err == nil || !strings.Contains(err.Error(), "not in the protobuf registry") {
		t.Errorf("CheckServed of a service the registry lacks: %v", err)
	}
}

func TestNewRefusesBadConfiguration(t *testing.T) {
	iss := logtotest.New(t)
	v := adaptertest.NewValidator(t, iss, false)
	tests := []struct {
		name  string
		v     *middleware.Validator
		procs map[string]middleware.Requirement
		opts  []connectguard.Option
		want  string
	}{
		{"nil validator", nil, nil, nil, "validator is nil"},
		{"no leading slash", v, map[string]middleware.Requirement{"shop.v1.Products/List": {}}, nil, "not a full procedure name"},
		{"no method", v, map[string]middleware.Requirement{"/shop.v1.Products": {}}, nil, "not a full procedure name"},
		{"empty method", v, map[string]middleware.Requirement{"/shop.v1.Products/": {}}, nil, "not a full procedure name"},
		{"three parts", v, map[string]middleware.Requirement{"/a/b/c": {}}, nil, "not a full procedure name"},
		{"invalid requirement", v, map[string]middleware.Requirement{"/a.B/C": middleware.Scopes("")}, nil, "/a.B/C"},
		{"user and m2m", v, map[string]middleware.Requirement{"/a.B/C": {User: true, M2M: true}}, nil, "cannot also require M2M or AppIDs"},
		{"exempt and listed", v, map[string]middleware.Requirement{"/a.B/C": {}}, []connectguard.Option{connectguard.Exempt("/a.B/C")}, "both exempt and listed"},
		{"bad exempt name", v, nil, []connectguard.Option{connectguard.Exempt("health")}, "not a full procedure name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := connectguard.New(tt.v, tt.procs, tt.opts...)
			if err == nil || !strings.Contains(err.Error(), tt.want) || g != nil {
				t.Fatalf("got %v, %v; want an error with %q", g, err, tt.want)
			}
		})
	}
}

// bidiServer serves, under a requirement naming an organization, a
// bidirectional stream whose handler greets first when greet is set and
// then echoes each message's org with the caller's subject, and a client
// stream that counts what it receives.
func bidiServer(t *testing.T, v *middleware.Validator, greet bool) (*httptest.Server, <-chan error) {
	t.Helper()
	const bidi, client = "/contract.v1.Org/Chat", "/contract.v1.Org/Upload"
	req := middleware.Requirement{Organization: "org"}
	guard, err := connectguard.New(v, map[string]middleware.Requirement{bidi: req, client: req}, connectguard.WithOrganization(structOrg))
	if err != nil {
		t.Fatal(err)
	}
	sendErrs := make(chan error, 1)
	mux := http.NewServeMux()
	mux.Handle(bidi, connect.NewBidiStreamHandler(bidi,
		func(ctx context.Context, stream *connect.BidiStream[structpb.Struct, wrapperspb.StringValue]) error {
			if greet {
				sendErrs <- stream.Send(wrapperspb.String("hello"))
			}
			claims, _ := middleware.ClaimsFromContext(ctx)
			for {
				msg, err := stream.Receive()
				if errors.Is(err, io.EOF) {
					return nil
				}
				if err != nil {
					return err
				}
				if err := stream.Send(wrapperspb.String(claims.Subject + "@" + msg.GetFields()["org"].GetStringValue())); err != nil {
					return err
				}
			}
		}, connect.WithInterceptors(guard)))
	mux.Handle(client, connect.NewClientStreamHandler(client,
		func(ctx context.Context, stream *connect.ClientStream[structpb.Struct]) (*connect.Response[wrapperspb.StringValue], error) {
			n := 0
			for stream.Receive() {
				n++
			}
			if err := stream.Err(); err != nil {
				return nil, err
			}
			return connect.NewResponse(wrapperspb.String(fmt.Sprint(n))), nil
		}, connect.WithInterceptors(guard)))
	return start(t, mux), sendErrs
}

// later is the answer to a stream refused after it answered body: with
// gRPC, the challenge went nowhere, since the response headers had gone
// with the first answer and net/http sends no WWW-Authenticate trailer.
func later(protocol string, refusal answer, body string) answer {
	refusal.Body = body
	if protocol == "grpc" {
		refusal.Challenge = ""
	}
	return refusal
}

// TestStreamOrganization: a stream whose requirement names an organization
// is checked on every message; nothing reaches the handler, and nothing
// leaves it, before the first check passes, and no message that does not
// pass reaches it.
func TestStreamOrganization(t *testing.T) {
	iss := adaptertest.NewIssuer(t)
	v := adaptertest.NewValidator(t, iss, true)
	acme := []string{"Bearer " + iss.Mint(logtotest.Token{Subject: "user-1", ClientID: "spa", Audience: adaptertest.API, OrganizationID: "acme"})}
	otherOrg := answer{Code: "PermissionDenied", Message: "the token is not for organization 'globex'",
		Challenge: `Bearer realm="api", error="insufficient_scope", error_description="the token is not for organization 'globex'"`}
	noOrg := answer{Code: "PermissionDenied", Message: "the request names no organization",
		Challenge: `Bearer realm="api", error="insufficient_scope", error_description="the request names no organization"`}

	// chat sends one message per org and returns the answers.
	chat := func(t *testing.T, srv *httptest.Server, opts []connect.ClientOption, auth []string, orgs ...string) answer {
		t.Helper()
		client := connect.NewClient[structpb.Struct, wrapperspb.StringValue](srv.Client(), srv.URL+"/contract.v1.Org/Chat", opts...)
		stream := client.CallBidiStream(ctxTimeout(t))
		for _, a := range auth {
			stream.RequestHeader().Add("Authorization", a)
		}
		var got []string
		var err error
		for _, org := range orgs {
			if err = stream.Send(orgMessage(t, org)); err != nil {
				break
			}
		}
		if err == nil || errors.Is(err, io.EOF) {
			err = stream.CloseRequest()
		}
		for err == nil {
			var msg *wrapperspb.StringValue
			if msg, err = stream.Receive(); err == nil {
				got = append(got, msg.GetValue())
			}
		}
		if errors.Is(err, io.EOF) {
			err = nil
		}
		_ = stream.CloseResponse()
		return answerOf(err, strings.Join(got, "|"))
	}

	for _, p := range protocols {
		if p.name == "grpcweb" {
			continue // gRPC-Web has no bidirectional streams
		}
		t.Run(p.name, func(t *testing.T) {
			srv, _ := bidiServer(t, v, false)
			tests := []struct {
				name string
				auth []string
				orgs []string
				want answer
			}{
				{"its organization", acme, []string{"acme", "acme"}, answer{Code: "OK", Body: "user-1@acme|user-1@acme"}},
				{"another organization", acme, []string{"globex"}, otherOrg},
				{"another organization first", acme, []string{"globex", "acme"}, otherOrg},
				// Every message is checked: the handler never sees a later
				// one that names another organization, or none, and the
				// stream ends with the refusal.
				{"another organization later", acme, []string{"acme", "globex", "acme"}, later(p.name, otherOrg, "user-1@acme")},
				{"no organization later", acme, []string{"acme", ""}, later(p.name, noOrg, "user-1@acme")},
				{"the organization in another case later", acme, []string{"acme", "ACME"}, later(p.name, answer{Code: "PermissionDenied", Message: "the token is not for organization 'ACME'",
					Challenge: `Bearer realm="api", error="insufficient_scope", error_description="the token is not for organization 'ACME'"`}, "user-1@acme")},
				{"no message", acme, nil, noOrg},
				{"no token", nil, []string{"acme"}, answer{Code: "Unauthenticated", Message: "a bearer token is required", Challenge: `Bearer realm="api"`}},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					if got := chat(t, srv, p.opts, tt.auth, tt.orgs...); got != tt.want {
						t.Errorf("got  %+v\nwant %+v", got, tt.want)
					}
				})
			}
		})
		t.Run(p.name+"/send before the check", func(t *testing.T) {
			srv, sendErrs := bidiServer(t, v, true)
			got := chat(t, srv, p.opts, acme, "acme")
			sendErr := <-sendErrs
			want := answer{Code: "PermissionDenied", Message: "the method sent a message before the request named its organization",
				Challenge: `Bearer realm="api", error="insufficient_scope", error_description="the method sent a message before the request named its organization"`}
			if answerOf(sendErr, "") != want {
				t.Errorf("handler's first Send: got %v, want the refusal %+v", sendErr, want)
			}
			// The handler went on to receive and answer: the stream still
			// ends with the refusal, and nothing the handler sent arrives.
			if got != want {
				t.Errorf("got  %+v\nwant %+v", got, want)
			}
		})
	}

	for _, p := range protocols {
		if p.name == "grpcweb" {
			continue // gRPC-Web has no client streams
		}
		t.Run(p.name+"/client stream", func(t *testing.T) {
			srv, _ := bidiServer(t, v, false)
			upload := func(orgs ...string) answer {
				client := connect.NewClient[structpb.Struct, wrapperspb.StringValue](srv.Client(), srv.URL+"/contract.v1.Org/Upload", p.opts...)
				stream := client.CallClientStream(ctxTimeout(t))
				stream.RequestHeader().Set("Authorization", acme[0])
				for _, org := range orgs {
					if stream.Send(orgMessage(t, org)) != nil {
						break
					}
				}
				res, err := stream.CloseAndReceive()
				if err != nil {
					return answerOf(err, "")
				}
				return answerOf(nil, res.Msg.GetValue())
			}
			for _, tt := range []struct {
				orgs []string
				want answer
			}{
				{[]string{"acme", "acme", "acme"}, answer{Code: "OK", Body: "3"}},
				{[]string{"globex", "acme"}, otherOrg},
				{[]string{"acme", "globex"}, otherOrg},
				{[]string{"acme", "acme", ""}, noOrg},
				{nil, noOrg},
			} {
				if got := upload(tt.orgs...); got != tt.want {
					t.Errorf("%v: got  %+v\nwant %+v", tt.orgs, got, tt.want)
				}
			}
		})
	}
}

// TestClientPassesThrough: the interceptor on a client adds nothing and
// refuses nothing.
func TestClientPassesThrough(t *testing.T) {
	iss := adaptertest.NewIssuer(t)
	v := adaptertest.NewValidator(t, iss, true)
	guard, err := connectguard.New(v, nil)
	if err != nil {
		t.Fatal(err)
	}
	var headers []string
	mux := http.NewServeMux()
	const proc = "/contract.v1.Open/Ping"
	mux.Handle(proc, connect.NewUnaryHandler(proc, func(_ context.Context, req *connect.Request[structpb.Struct]) (*connect.Response[wrapperspb.StringValue], error) {
		headers = append(headers, fmt.Sprint(req.Header().Values("Authorization")))
		return connect.NewResponse(wrapperspb.String("pong")), nil
	}))
	const sproc = "/contract.v1.Open/Watch"
	mux.Handle(sproc, connect.NewServerStreamHandler(sproc, func(_ context.Context, _ *connect.Request[structpb.Struct], s *connect.ServerStream[wrapperspb.StringValue]) error {
		return s.Send(wrapperspb.String("tick"))
	}))
	srv := start(t, mux)
	for _, p := range protocols {
		opts := append([]connect.ClientOption{connect.WithInterceptors(guard)}, p.opts...)
		client := connect.NewClient[structpb.Struct, wrapperspb.StringValue](srv.Client(), srv.URL+proc, opts...)
		res, err := client.CallUnary(ctxTimeout(t), connect.NewRequest(&structpb.Struct{}))
		if err != nil || res.Msg.GetValue() != "pong" {
			t.Fatalf("%s unary: %v %v", p.name, res, err)
		}
		sclient := connect.NewClient[structpb.Struct, wrapperspb.StringValue](srv.Client(), srv.URL+sproc, opts...)
		stream, err := sclient.CallServerStream(ctxTimeout(t), connect.NewRequest(&structpb.Struct{}))
		if err != nil {
			t.Fatalf("%s stream: %v", p.name, err)
		}
		if !stream.Receive() || stream.Msg().GetValue() != "tick" {
			t.Fatalf("%s stream: %v", p.name, stream.Err())
		}
		stream.Close()
	}
	sort.Strings(headers)
	if strings.Join(headers, "") != "[][][]" {
		t.Fatalf("Authorization at the server: %q, want none", headers)
	}
}

// TestServerSideError: on the server, an interceptor outside the guard sees
// the refusal unwrap to the middleware error, for its logs and metrics,
// while the caller gets only the description.
func TestServerSideError(t *testing.T) {
	iss := adaptertest.NewIssuer(t)
	v := adaptertest.NewValidator(t, iss, true)
	guard, err := connectguard.New(v, map[string]middleware.Requirement{unaryService + "Read": middleware.Scopes("read:products")})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var seen []error
	observer := connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			res, err := next(ctx, req)
			mu.Lock()
			seen = append(seen, err)
			mu.Unlock()
			return res, err
		}
	})
	mux := http.NewServeMux()
	for _, proc := range []string{unaryService + "Read", "/contract.v1.Other/Unlisted"} {
		mux.Handle(proc, connect.NewUnaryHandler(proc,
			func(context.Context, *connect.Request[structpb.Struct]) (*connect.Response[wrapperspb.StringValue], error) {
				return connect.NewResponse(wrapperspb.String("ok")), nil
			}, connect.WithInterceptors(observer, guard)))
	}
	srv := start(t, mux)
	expired := []string{"Bearer " + iss.ExpiredToken("inventory-sync", adaptertest.API, "read:products")}
	tests := []struct {
		procedure string
		auth      []string
		kind      error
		check     middleware.Check
		message   string
	}{
		{unaryService + "Read", expired, middleware.ErrExpired, middleware.CheckExp, "the token has expired"},
		{unaryService + "Read", nil, middleware.ErrNoToken, middleware.CheckRequest, "a bearer token is required"},
		{"/contract.v1.Other/Unlisted", expired, middleware.ErrClient, middleware.CheckClient, "the server lists no requirement for this method"},
	}
	for _, tt := range tests {
		seen = nil
		got := callUnary(t, srv, nil, tt.procedure, tt.auth, "")
		if got.Message != tt.message {
			t.Errorf("%s: the caller got %q, want %q", tt.procedure, got.Message, tt.message)
		}
		mu.Lock()
		if len(seen) != 1 {
			t.Fatalf("%s: the server saw %v, want one error", tt.procedure, seen)
		}
		if !errors.Is(seen[0], tt.kind) || middleware.CheckOf(seen[0]) != tt.check {
			t.Errorf("%s: the server saw %v (check %v), want %v (check %v)", tt.procedure, seen[0], middleware.CheckOf(seen[0]), tt.kind, tt.check)
		}
		mu.Unlock()
	}
}

// TestEndStreamsAtExpiry: a stream whose token has expired (here: before
// the stream opened, within the validator's leeway, which Verify allows)
// runs on by default; with EndStreamsAtExpiry it ends with Unauthenticated
// and its handler sees no message.
func TestEndStreamsAtExpiry(t *testing.T) {
	iss := adaptertest.NewIssuer(t)
	v := adaptertest.NewValidator(t, iss, true)
	expired := "Bearer " + iss.Mint(logtotest.Token{Subject: "user-1", ClientID: "spa", Audience: adaptertest.API,
		IssuedAt: time.Now().Add(-time.Minute), TTL: time.Minute - 5*time.Second})
	live := "Bearer " + iss.Mint(logtotest.Token{Subject: "user-1", ClientID: "spa", Audience: adaptertest.API})
	const upload = "/contract.v1.Expiry/Upload"
	serveUpload := func(opts ...connectguard.Option) (*httptest.Server, *atomic.Int32) {
		guard, err := connectguard.New(v, map[string]middleware.Requirement{upload: {}}, opts...)
		if err != nil {
			t.Fatal(err)
		}
		var received atomic.Int32
		mux := http.NewServeMux()
		mux.Handle(upload, connect.NewClientStreamHandler(upload,
			func(_ context.Context, stream *connect.ClientStream[structpb.Struct]) (*connect.Response[wrapperspb.StringValue], error) {
				for stream.Receive() {
					received.Add(1)
				}
				if err := stream.Err(); err != nil {
					return nil, err
				}
				return connect.NewResponse(wrapperspb.String(fmt.Sprint(received.Load()))), nil
			}, connect.WithInterceptors(guard)))
		return start(t, mux), &received
	}
	expiredAnswer := answer{Code: "Unauthenticated", Message: "the token has expired",
		Challenge: `Bearer realm="api", error="invalid_token", error_description="the token has expired"`}
	for _, tt := range []struct {
		name  string
		opts  []connectguard.Option
		token string
		want  answer
	}{
		{"by default, an expired token's stream runs on", nil, expired, answer{Code: "OK", Body: "2"}},
		{"ended at expiry", []connectguard.Option{connectguard.EndStreamsAtExpiry()}, expired, expiredAnswer},
		{"a live token, ended at expiry", []connectguard.Option{connectguard.EndStreamsAtExpiry()}, live, answer{Code: "OK", Body: "2"}},
	} {
		for _, p := range protocols {
			if p.name == "grpcweb" {
				continue // gRPC-Web has no client streams
			}
			t.Run(tt.name+"/"+p.name, func(t *testing.T) {
				srv, received := serveUpload(tt.opts...)
				client := connect.NewClient[structpb.Struct, wrapperspb.StringValue](srv.Client(), srv.URL+upload, p.opts...)
				stream := client.CallClientStream(ctxTimeout(t))
				stream.RequestHeader().Set("Authorization", tt.token)
				for range 2 {
					if stream.Send(orgMessage(t, "")) != nil {
						break
					}
				}
				var got answer
				if res, err := stream.CloseAndReceive(); err != nil {
					got = answerOf(err, "")
				} else {
					got = answerOf(nil, res.Msg.GetValue())
				}
				if got != tt.want {
					t.Errorf("got  %+v\nwant %+v", got, tt.want)
				}
				if tt.want.Code != "OK" && received.Load() != 0 {
					t.Errorf("the handler received %d messages, want 0", received.Load())
				}
			})
		}
	}
}
