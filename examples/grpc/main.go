// Command grpc is the example Products API (examples/proto/shop/v1) served
// over gRPC and protected by logtoguard's grpcguard. It reads the same
// environment variables as the HTTP example servers (see app.FromEnv), and
// TLS_CERT_FILE and TLS_KEY_FILE to serve TLS, as production does: gRPC
// clients send per-RPC credentials only over TLS.
//
//	LOGTO_ENDPOINT=https://your-tenant.logto.app LOGTO_API_RESOURCE=https://api.example.com go run ./grpc
//
// Health checking (grpc.health.v1, SERVING once the issuer's keys are
// loaded, like /readyz) and server reflection are open without a token;
// every method of shop.v1.Products requires what rpcapp.Requirements says.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"

	"github.com/logtoguard/logtoguard/adapters/grpcguard"
	shopv1 "github.com/logtoguard/logtoguard/examples/gen/shop/v1"
	"github.com/logtoguard/logtoguard/examples/internal/app"
	"github.com/logtoguard/logtoguard/examples/internal/rpcapp"
	"github.com/logtoguard/logtoguard/middleware"
)

const name = "grpc"

func main() {
	settings, err := app.FromEnv()
	if err != nil {
		app.Fatal(name, err)
	}
	creds, err := tlsFromEnv()
	if err != nil {
		app.Fatal(name, err)
	}
	v, err := middleware.New(settings.Config)
	if err != nil {
		app.Fatal(name, err)
	}
	defer v.Close()
	if err := run(v, settings, creds); err != nil {
		app.Fatal(name, err)
	}
}

// tlsFromEnv reads TLS_CERT_FILE and TLS_KEY_FILE: both or neither.
func tlsFromEnv() (credentials.TransportCredentials, error) {
	certFile := strings.TrimSpace(os.Getenv("TLS_CERT_FILE"))
	keyFile := strings.TrimSpace(os.Getenv("TLS_KEY_FILE"))
	switch {
	case certFile == "" && keyFile == "":
		return nil, nil
	case certFile == "":
		return nil, errors.New("TLS_CERT_FILE is required with TLS_KEY_FILE")
	case keyFile == "":
		return nil, errors.New("TLS_KEY_FILE is required with TLS_CERT_FILE")
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("TLS_CERT_FILE %q and TLS_KEY_FILE %q: %v", certFile, keyFile, err)
	}
	return credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}), nil
}

// products is the gRPC server of shop.v1.Products, on rpcapp.Service.
type products struct {
	shopv1.UnimplementedProductsServer
	svc rpcapp.Service
}

func (p products) List(ctx context.Context, req *shopv1.ListRequest) (*shopv1.ListResponse, error) {
	return p.svc.List(ctx, req)
}

func (p products) Create(ctx context.Context, req *shopv1.CreateRequest) (*shopv1.CreateResponse, error) {
	return p.svc.Create(ctx, req)
}

func (p products) WhoAmI(ctx context.Context, req *shopv1.WhoAmIRequest) (*shopv1.WhoAmIResponse, error) {
	return p.svc.WhoAmI(ctx, req)
}

func (p products) ListOrgProducts(ctx context.Context, req *shopv1.ListOrgProductsRequest) (*shopv1.ListOrgProductsResponse, error) {
	return p.svc.ListOrgProducts(ctx, req)
}

func (p products) Sync(ctx context.Context, req *shopv1.SyncRequest) (*shopv1.SyncResponse, error) {
	return p.svc.Sync(ctx, req)
}

func (p products) Watch(_ *shopv1.WatchRequest, stream grpc.ServerStreamingServer[shopv1.WatchResponse]) error {
	return p.svc.Watch(stream.Context(), stream.Send)
}

// run serves until SIGINT or SIGTERM, then stops gracefully. It prints
// "listening on <addr>" once the port is bound.
func run(v *middleware.Validator, settings app.Settings, creds credentials.TransportCredentials) error {
	guard, err := grpcguard.New(v, rpcapp.Requirements(settings), grpcguard.Exempt(
		grpcguard.HealthCheckMethod, grpcguard.HealthWatchMethod, grpcguard.HealthListMethod,
		grpcguard.ReflectionMethod, grpcguard.ReflectionV1AlphaMethod,
	))
	if err != nil {
		return err
	}
	opts := guard.ServerOptions()
	if creds != nil {
		opts = append(opts, grpc.Creds(creds))
	}
	srv := grpc.NewServer(opts...)
	shopv1.RegisterProductsServer(srv, products{})
	hs := health.NewServer()
	healthpb.RegisterHealthServer(srv, hs)
	reflection.Register(srv)
	// Every method the guard lists or exempts must be one the server serves.
	if err := guard.CheckServer(srv); err != nil {
		return err
	}

	ln, err := net.Listen("tcp", settings.Addr)
	if err != nil {
		return fmt.Errorf("ADDR %q: %v", settings.Addr, err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	// Not serving until the issuer's keys are loaded, as /readyz answers
	// 503 until then; the validator keeps trying in the background.
	for _, svc := range []string{"", shopv1.Products_ServiceDesc.ServiceName} {
		hs.SetServingStatus(svc, healthpb.HealthCheckResponse_NOT_SERVING)
	}
	ready := make(chan struct{})
	go func() {
		defer close(ready)
		if v.WaitReady(ctx) == nil {
			for _, svc := range []string{"", shopv1.Products_ServiceDesc.ServiceName} {
				hs.SetServingStatus(svc, healthpb.HealthCheckResponse_SERVING)
			}
		}
	}()

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	fmt.Printf("%s: listening on %s\n", name, ln.Addr())
	select {
	case err := <-errc:
		stop()
		<-ready
		return err
	case <-ctx.Done():
	}
	<-ready
	// Health watchers learn that the server goes away; GracefulStop waits
	// for calls in flight, and open streams get 10 seconds to end.
	hs.Shutdown()
	stopped := make(chan struct{})
	go func() {
		srv.GracefulStop()
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		srv.Stop()
		<-stopped
	}
	return nil
}
