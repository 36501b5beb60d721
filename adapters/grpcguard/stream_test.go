package grpcguard_test

import (
	"context"
	"io"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/logtoguard/logtoguard/adapters/grpcguard"
	"github.com/logtoguard/logtoguard/internal/adaptertest"
	"github.com/logtoguard/logtoguard/logtotest"
	"github.com/logtoguard/logtoguard/middleware"
)

// The organization service's bidirectional streams: Echo receives, then
// answers each message; Eager sends before it receives anything.
const (
	orgService = "org.v1.Org"
	echo       = "/" + orgService + "/Echo"
	eager      = "/" + orgService + "/Eager"
)

// orgServiceDesc serves Echo and Eager; handled counts the messages the
// handlers received.
func orgServiceDesc(handled chan<- string) *grpc.ServiceDesc {
	bidi := func(name string, handler grpc.StreamHandler) grpc.StreamDesc {
		return grpc.StreamDesc{StreamName: name, Handler: handler, ServerStreams: true, ClientStreams: true}
	}
	return &grpc.ServiceDesc{
		ServiceName: orgService,
		HandlerType: (*any)(nil),
		Streams: []grpc.StreamDesc{
			bidi("Echo", func(_ any, stream grpc.ServerStream) error {
				for {
					in := dynamicpb.NewMessage(requestDesc)
					if err := stream.RecvMsg(in); err == io.EOF {
						return nil
					} else if err != nil {
						return err
					}
					org := in.Get(requestDesc.Fields().ByName("org")).String()
					handled <- org
					c, _ := middleware.ClaimsFromContext(stream.Context())
					if err := stream.SendMsg(wrapperspb.String(c.Subject + "@" + org)); err != nil {
						return err
					}
				}
			}),
			bidi("Eager", func(_ any, stream grpc.ServerStream) error {
				if err := stream.SendMsg(wrapperspb.String("too early")); err != nil {
					return err
				}
				handled <- "sent"
				return nil
			}),
		},
	}
}

// exchange opens a bidirectional stream with auth, sends a request per
// org, closes its side and returns the answers, the header and trailer
// metadata, and the stream's end.
func exchange(t *testing.T, conn *grpc.ClientConn, method string, auth string, orgs ...string) (answers []string, header metadata.MD, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ctx = metadata.AppendToOutgoingContext(ctx, "authorization", auth)
	cs, err := conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true, ClientStreams: true}, method)
	if err != nil {
		t.Fatalf("NewStream: %v", err)
	}
	for _, org := range orgs {
		if err := cs.SendMsg(newRequest(org)); err != nil {
			break // the stream ended: RecvMsg says how
		}
	}
	if err := cs.CloseSend(); err != nil {
		t.Fatal(err)
	}
	for {
		out := &wrapperspb.StringValue{}
		if err = cs.RecvMsg(out); err != nil {
			break
		}
		answers = append(answers, out.GetValue())
	}
	header, _ = cs.Header()
	// A refusal after the first answer carries its challenge in the
	// trailer: the header went with that answer.
	header = metadata.Join(header, cs.Trailer())
	if err == io.EOF {
		err = nil
	}
	return answers, header, err
}

// TestStreamOrganization: a stream whose requirement names an organization
// is checked on every message; the handler sees nothing before the first
// passed, and no message that does not pass.
func TestStreamOrganization(t *testing.T) {
	iss := adaptertest.NewIssuer(t)
	v := adaptertest.NewValidator(t, iss, true)
	need := middleware.Requirement{Organization: "org", Scopes: []string{"read:products"}}
	guard, err := grpcguard.New(v, map[string]middleware.Requirement{echo: need, eager: need})
	if err != nil {
		t.Fatal(err)
	}
	handled := make(chan string, 10)
	conn := serve(t, guard, func(s *grpc.Server) { s.RegisterService(orgServiceDesc(handled), nil) })
	acme := "Bearer " + iss.Mint(logtotest.Token{Subject: "user-1", ClientID: "spa", Audience: adaptertest.API, OrganizationID: "acme", Scopes: []string{"read:products"}})

	tests := []struct {
		name        string
		method      string
		orgs        []string
		wantAnswers []string
		wantHandled []string
		wantCode    codes.Code
		wantMessage string
	}{
		{"its organization", echo, []string{"acme", "acme"}, []string{"user-1@acme", "user-1@acme"}, []string{"acme", "acme"}, codes.OK, ""},
		// Every message is checked: the handler never sees a later one
		// that names another organization, or none.
		{"another organization later", echo, []string{"acme", "globex", "acme"}, []string{"user-1@acme"}, []string{"acme"}, codes.PermissionDenied, "the token is not for organization 'globex'"},
		{"no organization later", echo, []string{"acme", ""}, []string{"user-1@acme"}, []string{"acme"}, codes.PermissionDenied, "the request names no organization"},
		{"the organization in another case later", echo, []string{"acme", "ACME"}, []string{"user-1@acme"}, []string{"acme"}, codes.PermissionDenied, "the token is not for organization 'ACME'"},
		{"another organization first", echo, []string{"globex", "acme"}, nil, nil, codes.PermissionDenied, "the token is not for organization 'globex'"},
		{"no message", echo, nil, nil, nil, codes.PermissionDenied, "the request names no organization"},
		{"empty organization", echo, []string{""}, nil, nil, codes.PermissionDenied, "the request names no organization"},
		{"a send before the first message", eager, []string{"acme"}, nil, nil, codes.PermissionDenied, "the method sent a message before the request named its organization"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			answers, header, err := exchange(t, conn, tt.method, acme, tt.orgs...)
			if s := status.Convert(err); s.Code() != tt.wantCode || s.Message() != tt.wantMessage {
				t.Errorf("status: got %s %q, want %s %q", s.Code(), s.Message(), tt.wantCode, tt.wantMessage)
			}
			if tt.wantCode != codes.OK && len(header.Get("www-authenticate")) != 1 {
				t.Errorf("www-authenticate: got %q, want the challenge", header.Get("www-authenticate"))
			}
			if len(answers) != len(tt.wantAnswers) {
				t.Fatalf("answers: got %q, want %q", answers, tt.wantAnswers)
			}
			for i := range answers {
				if answers[i] != tt.wantAnswers[i] {
					t.Errorf("answer %d: got %q, want %q", i, answers[i], tt.wantAnswers[i])
				}
			}
			// The handler has returned (the stream ended): what it handled
			// is in the channel.
			var got []string
			for len(handled) > 0 {
				got = append(got, <-handled)
			}
			if len(got) != len(tt.wantHandled) {
				t.Errorf("handled: got %q, want %q", got, tt.wantHandled)
			}
		})
	}
}

// TestWithOrganization: the organization read from the metadata, for a
// unary call and a stream, instead of a message field.
func TestWithOrganization(t *testing.T) {
	iss := adaptertest.NewIssuer(t)
	v := adaptertest.NewValidator(t, iss, true)
	fromMetadata := func(ctx context.Context, fullMethod string, _ any) string {
		md, _ := metadata.FromIncomingContext(ctx)
		if v := md.Get("x-organization-id"); len(v) == 1 {
			return v[0]
		}
		return ""
	}
	guard, err := grpcguard.New(v, contractMethods(), grpcguard.WithOrganization(fromMetadata))
	if err != nil {
		t.Fatal(err)
	}
	conn := serve(t, guard, func(s *grpc.Server) { s.RegisterService(contractService(), nil) })
	acme := []string{"Bearer " + iss.Mint(logtotest.Token{Subject: "user-1", ClientID: "spa", Audience: adaptertest.API, OrganizationID: "acme"})}
	call := func(org, field string) (unary, stream answer) {
		ctx := context.Background()
		if org != "" {
			ctx = metadata.AppendToOutgoingContext(ctx, "x-organization-id", org)
		}
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", acme[0])
		var header metadata.MD
		out := &wrapperspb.StringValue{}
		err := conn.Invoke(ctx, unaryMethod("/members/{org}"), newRequest(field), out, grpc.Header(&header))
		unary = answerOf(err, header, out)
		cs, err := conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true}, streamMethod("/members/{org}"))
		if err != nil {
			t.Fatal(err)
		}
		_ = cs.SendMsg(newRequest(field))
		_ = cs.CloseSend()
		out = &wrapperspb.StringValue{}
		err = cs.RecvMsg(out)
		header, _ = cs.Header()
		return unary, answerOf(err, header, out)
	}
	for _, tt := range []struct {
		name, org, field string
		want             codes.Code
	}{
		{"metadata names the organization", "acme", "", codes.OK},
		{"the field is not read", "", "acme", codes.PermissionDenied},
		{"metadata names another", "globex", "acme", codes.PermissionDenied},
	} {
		t.Run(tt.name, func(t *testing.T) {
			unary, stream := call(tt.org, tt.field)
			if unary.code != tt.want || stream.code != tt.want {
				t.Errorf("unary %+v, stream %+v; want %s", unary, stream, tt.want)
			}
		})
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
	for _, tt := range []struct {
		name        string
		opts        []grpcguard.Option
		token       string
		wantCode    codes.Code
		wantAnswers int
	}{
		{"by default, an expired token's stream runs on", nil, expired, codes.OK, 2},
		{"ended at expiry", []grpcguard.Option{grpcguard.EndStreamsAtExpiry()}, expired, codes.Unauthenticated, 0},
		{"a live token, ended at expiry", []grpcguard.Option{grpcguard.EndStreamsAtExpiry()}, live, codes.OK, 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			guard, err := grpcguard.New(v, map[string]middleware.Requirement{echo: {}, eager: {}}, tt.opts...)
			if err != nil {
				t.Fatal(err)
			}
			handled := make(chan string, 10)
			conn := serve(t, guard, func(s *grpc.Server) { s.RegisterService(orgServiceDesc(handled), nil) })
			answers, header, err := exchange(t, conn, echo, tt.token, "acme", "acme")
			st := status.Convert(err)
			if st.Code() != tt.wantCode || len(answers) != tt.wantAnswers || len(handled) != tt.wantAnswers {
				t.Fatalf("got %s %q, answers %q, %d handled; want %s and %d", st.Code(), st.Message(), answers, len(handled), tt.wantCode, tt.wantAnswers)
			}
			if tt.wantCode == codes.Unauthenticated {
				want := `Bearer realm="api", error="invalid_token", error_description="the token has expired"`
				if st.Message() != "the token has expired" || len(header.Get("www-authenticate")) != 1 || header.Get("www-authenticate")[0] != want {
					t.Errorf("got %q, www-authenticate %q; want %q", st.Message(), header.Get("www-authenticate"), want)
				}
			}
		})
	}
}
