// Command connect is the example Products service (examples/proto) over
// Connect, gRPC and gRPC-Web, protected by logtoguard's connectguard. It is
// configured as the HTTP example servers are (see package app: FromEnv):
//
//	LOGTO_ENDPOINT=https://your-tenant.logto.app LOGTO_API_RESOURCE=https://api.example.com go run ./connect
//
// It serves HTTP/1.1 and, without TLS, HTTP/2 (h2c) for gRPC clients, and
// /healthz, /readyz and the resource metadata as the HTTP examples do. What
// each method requires is in package rpcapp.
package main

import (
	"context"
	"net/http"

	"connectrpc.com/connect"

	"github.com/logtoguard/logtoguard/adapters/connectguard"
	shopv1 "github.com/logtoguard/logtoguard/examples/gen/shop/v1"
	"github.com/logtoguard/logtoguard/examples/gen/shop/v1/shopv1connect"
	"github.com/logtoguard/logtoguard/examples/internal/app"
	"github.com/logtoguard/logtoguard/examples/internal/rpcapp"
	"github.com/logtoguard/logtoguard/middleware"
)

func main() {
	settings, err := app.FromEnv()
	if err != nil {
		app.Fatal("connect", err)
	}
	v, err := middleware.New(settings.Config)
	if err != nil {
		app.Fatal("connect", err)
	}
	defer v.Close()
	guard, err := connectguard.New(v, rpcapp.Requirements(settings))
	if err != nil {
		app.Fatal("connect", err)
	}

	mux := http.NewServeMux()
	path, handler := shopv1connect.NewProductsHandler(products{}, connect.WithInterceptors(guard))
	// Every procedure the guard lists must be one the handler serves.
	if err := guard.CheckServed(path); err != nil {
		app.Fatal("connect", err)
	}
	mux.Handle(path, handler)
	mux.Handle("GET "+middleware.ResourceMetadataPath, app.Metadata(v))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		app.WriteJSON(w, http.StatusOK, app.Status{Status: "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if !v.Ready() {
			app.WriteJSON(w, http.StatusServiceUnavailable, app.Status{Status: "keys not loaded"})
			return
		}
		app.WriteJSON(w, http.StatusOK, app.Status{Status: "ready"})
	})
	if err := app.RunH2C("connect", settings.Addr, mux); err != nil {
		app.Fatal("connect", err)
	}
}

// products serves shop.v1.Products over Connect with the shared service:
// connectguard has checked each call and put the claims in its context.
type products struct{ svc rpcapp.Service }

func (p products) List(ctx context.Context, req *connect.Request[shopv1.ListRequest]) (*connect.Response[shopv1.ListResponse], error) {
	return respond(p.svc.List(ctx, req.Msg))
}

func (p products) Create(ctx context.Context, req *connect.Request[shopv1.CreateRequest]) (*connect.Response[shopv1.CreateResponse], error) {
	return respond(p.svc.Create(ctx, req.Msg))
}

func (p products) WhoAmI(ctx context.Context, req *connect.Request[shopv1.WhoAmIRequest]) (*connect.Response[shopv1.WhoAmIResponse], error) {
	return respond(p.svc.WhoAmI(ctx, req.Msg))
}

func (p products) ListOrgProducts(ctx context.Context, req *connect.Request[shopv1.ListOrgProductsRequest]) (*connect.Response[shopv1.ListOrgProductsResponse], error) {
	return respond(p.svc.ListOrgProducts(ctx, req.Msg))
}

func (p products) Sync(ctx context.Context, req *connect.Request[shopv1.SyncRequest]) (*connect.Response[shopv1.SyncResponse], error) {
	return respond(p.svc.Sync(ctx, req.Msg))
}

func (p products) Watch(ctx context.Context, _ *connect.Request[shopv1.WatchRequest], stream *connect.ServerStream[shopv1.WatchResponse]) error {
	return p.svc.Watch(ctx, stream.Send)
}

// respond wraps a message of the shared service in a Connect response.
func respond[T any](msg *T, err error) (*connect.Response[T], error) {
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(msg), nil
}
