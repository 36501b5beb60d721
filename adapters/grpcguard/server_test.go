package grpcguard_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/logtoguard/logtoguard/adapters/grpcguard"
	"github.com/logtoguard/logtoguard/internal/adaptertest"
	"github.com/logtoguard/logtoguard/middleware"
)

// The contract's service: one unary method and one server-streaming method
// (named ...Stream) per route of adaptertest.Requirements, plus "/auth".
// Their request message has a string field org, the name the contract's
// requirements give their organization.
const service = "contract.v1.Contract"

// routeMethods names the method of each route of the contract.
var routeMethods = map[string]string{
	"/read":                "Read",
	"/write":               "Write",
	"/both":                "Both",
	"/any":                 "Any",
	"/check":               "Check",
	"/members/{org}":       "Members",
	"/sync":                "Sync",
	"/me":                  "Me",
	"/own":                 "Own",
	"/agents":              "Agents",
	"/clients":             "Clients",
	"/orgs/{org}/products": "OrgProducts",
	"/auth":                "Auth",
}

func unaryMethod(route string) string  { return "/" + service + "/" + routeMethods[route] }
func streamMethod(route string) string { return "/" + service + "/" + routeMethods[route] + "Stream" }

// contractMethods are the requirements of the contract's methods; /auth is
// left unlisted, for AuthenticateUnlisted.
func contractMethods() map[string]middleware.Requirement {
	m := map[string]middleware.Requirement{}
	for route, req := range adaptertest.Requirements {
		m[unaryMethod(route)] = req
		m[streamMethod(route)] = req
	}
	return m
}

// requestDesc is contract.v1.Request { string org = 1; }, built at run
// time, so that the adapter's module needs no generated code.
var requestDesc = func() protoreflect.MessageDescriptor {
	fd, err := protodesc.NewFile(&descriptorpb.FileDescriptorProto{
		Name:    proto.String("contract/v1/contract.proto"),
		Package: proto.String("contract.v1"),
		Syntax:  proto.String("proto3"),
		MessageType: []*descriptorpb.DescriptorProto{{
			Name: proto.String("Request"),
			Field: []*descriptorpb.FieldDescriptorProto{{
				Name:     proto.String("org"),
				JsonName: proto.String("org"),
				Number:   proto.Int32(1),
				Type:     descriptorpb.FieldDescriptorProto_TYPE_STRING.Enum(),
				Label:    descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(),
			}},
		}},
	}, nil)
	if err != nil {
		panic(err)
	}
	return fd.Messages().ByName("Request")
}()

// newRequest returns a contract.v1.Request naming org.
func newRequest(org string) *dynamicpb.Message {
	m := dynamicpb.NewMessage(requestDesc)
	if org != "" {
		m.Set(requestDesc.Fields().ByName("org"), protoreflect.ValueOfString(org))
	}
	return m
}

// who is every method's answer: adaptertest.Who of the claims in ctx.
func who(ctx context.Context) (*wrapperspb.StringValue, error) {
	c, ok := middleware.ClaimsFromContext(ctx)
	if !ok {
		return nil, status.Error(codes.Internal, "no claims in the handler's context")
	}
	return wrapperspb.String(adaptertest.Who(c, true)), nil
}

// contractService is the grpc.ServiceDesc of the contract's service.
func contractService() *grpc.ServiceDesc {
	desc := &grpc.ServiceDesc{ServiceName: service, HandlerType: (*any)(nil)}
	for _, name := range routeMethods {
		full := "/" + service + "/" + name
		desc.Methods = append(desc.Methods, grpc.MethodDesc{
			MethodName: name,
			Handler: func(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
				in := dynamicpb.NewMessage(requestDesc)
				if err := dec(in); err != nil {
					return nil, err
				}
				handler := func(ctx context.Context, _ any) (any, error) { return who(ctx) }
				if interceptor == nil {
					return handler(ctx, in)
				}
				return interceptor(ctx, in, &grpc.UnaryServerInfo{Server: srv, FullMethod: full}, handler)
			},
		})
		desc.Streams = append(desc.Streams, grpc.StreamDesc{
			StreamName:    name + "Stream",
			ServerStreams: true,
			Handler: func(_ any, stream grpc.ServerStream) error {
				if err := stream.RecvMsg(dynamicpb.NewMessage(requestDesc)); err != nil {
					return err
				}
				msg, err := who(stream.Context())
				if err != nil {
					return err
				}
				return stream.SendMsg(msg)
			},
		})
	}
	return desc
}

// testTLS returns the TLS configurations of a server on 127.0.0.1 and of
// its clients, with a self-signed certificate made for the test.
func testTLS(t testing.TB) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "grpcguard test"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	server = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}}, MinVersion: tls.VersionTLS12}
	client = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return server, client
}

// serve starts a gRPC server over TLS on 127.0.0.1 with the guard's
// interceptors and the services register adds, checked with
// Guard.CheckServer, and returns a client connection to it made with opts
// (besides the transport credentials).
func serve(t testing.TB, guard *grpcguard.Guard, register func(*grpc.Server), opts ...grpc.DialOption) *grpc.ClientConn {
	t.Helper()
	return serveUnchecked(t, guard, func(srv *grpc.Server) {
		register(srv)
		if err := guard.CheckServer(srv); err != nil {
			t.Fatal(err)
		}
	}, opts...)
}

// serveUnchecked is serve without Guard.CheckServer.
func serveUnchecked(t testing.TB, guard *grpcguard.Guard, register func(*grpc.Server), opts ...grpc.DialOption) *grpc.ClientConn {
	t.Helper()
	serverTLS, clientTLS := testTLS(t)
	srv := grpc.NewServer(append(guard.ServerOptions(), grpc.Creds(credentials.NewTLS(serverTLS)))...)
	register(srv)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	conn, err := grpc.NewClient(ln.Addr().String(), append(opts, grpc.WithTransportCredentials(credentials.NewTLS(clientTLS)))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = conn.Close()
		srv.Stop()
		<-done
	})
	return conn
}
