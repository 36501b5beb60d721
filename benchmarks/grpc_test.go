package benchmarks_test

import (
	"context"
	"net"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/logtoguard/logtoguard/adapters/grpcguard"
	"github.com/logtoguard/logtoguard/middleware"
)

// grpcList is the method of the gRPC benchmark.
const grpcList = "/shop.v1.Products/List"

// grpcListService serves grpcList, a unary method from StringValue to
// StringValue that answers "ok".
var grpcListService = &grpc.ServiceDesc{
	ServiceName: "shop.v1.Products",
	HandlerType: (*any)(nil),
	Methods: []grpc.MethodDesc{{
		MethodName: "List",
		Handler: func(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
			in := new(wrapperspb.StringValue)
			if err := dec(in); err != nil {
				return nil, err
			}
			handler := func(context.Context, any) (any, error) { return wrapperspb.String("ok"), nil }
			if interceptor == nil {
				return handler(ctx, in)
			}
			return interceptor(ctx, in, &grpc.UnaryServerInfo{Server: srv, FullMethod: grpcList}, handler)
		},
	}},
}

// BenchmarkGRPCUnary makes a unary call of grpc-go in process, client and
// server over bufconn (HTTP/2 framing, no socket): to a server behind
// grpcguard, whose requirement the token meets and whose verdict is
// already cached, and to one behind nothing (bare). Both calls carry the
// same authorization metadata and reach the same handler. The issue's
// target: grpcguard at most 1.3x bare.
//
// server=interceptor is the guard's work alone: its unary interceptor
// called directly, with the incoming metadata of such a call, around a
// handler that does nothing.
func BenchmarkGRPCUnary(b *testing.B) {
	f := newFixture(b, "ES384")
	tok := f.token()
	v := newLogtoguard(b, f, true)
	guard, err := grpcguard.New(v, map[string]middleware.Requirement{grpcList: middleware.Scopes("read:products")})
	if err != nil {
		b.Fatal(err)
	}
	ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+tok)
	req := wrapperspb.String("p1")
	for _, s := range []struct {
		name string
		opts []grpc.ServerOption
	}{
		{"server=bare", nil},
		{"server=grpcguard", guard.ServerOptions()},
	} {
		conn := bufconnServer(b, s.opts...)
		call := func(b *testing.B) bool {
			out := new(wrapperspb.StringValue)
			if err := conn.Invoke(ctx, grpcList, req, out); err != nil || out.GetValue() != "ok" {
				b.Errorf("got %v, %v; want ok", out, err)
				return false
			}
			return true
		}
		if !call(b) { // warm: connection up, keys fetched, token cached
			b.FailNow()
		}
		b.Run(s.name, func(b *testing.B) {
			b.ReportAllocs()
			defer cpuMetric(b)()
			for b.Loop() {
				if !call(b) {
					return
				}
			}
		})
	}

	interceptor := guard.UnaryServerInterceptor()
	info := &grpc.UnaryServerInfo{FullMethod: grpcList}
	incoming := metadata.NewIncomingContext(context.Background(), metadata.MD{"authorization": {"Bearer " + tok}})
	nop := func(context.Context, any) (any, error) { return nil, nil }
	if _, err := interceptor(incoming, req, info, nop); err != nil {
		b.Fatal(err)
	}
	b.Run("server=interceptor", func(b *testing.B) {
		b.ReportAllocs()
		defer cpuMetric(b)()
		for b.Loop() {
			if _, err := interceptor(incoming, req, info, nop); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// bufconnServer serves grpcListService with opts over bufconn and returns
// a client connection to it.
func bufconnServer(b *testing.B, opts ...grpc.ServerOption) *grpc.ClientConn {
	b.Helper()
	ln := bufconn.Listen(1 << 20)
	srv := grpc.NewServer(opts...)
	srv.RegisterService(grpcListService, nil)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	conn, err := grpc.NewClient("passthrough:///bufconn",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return ln.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = conn.Close()
		srv.Stop()
		<-done
	})
	return conn
}
