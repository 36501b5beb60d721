package connectguard_test

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/logtoguard/logtoguard/adapters/connectguard"
	"github.com/logtoguard/logtoguard/internal/oidcprovider"
	"github.com/logtoguard/logtoguard/middleware"
)

// TestRealProvider: genuine access tokens from oidc-provider, the engine
// Logto runs on and configured as Logto configures it, through the
// interceptor in each protocol, unary and server stream.
func TestRealProvider(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	provider, err := oidcprovider.Start(ctx, oidcprovider.Options{})
	if err != nil {
		t.Fatalf("oidc-provider did not start: %v", err)
	}
	t.Cleanup(func() { _ = provider.Close() })
	token := func(scope string) []string {
		t.Helper()
		tr, err := provider.ClientCredentials(ctx, oidcprovider.DefaultClientID, oidcprovider.DefaultClientSecret, oidcprovider.DefaultResource, scope)
		if err != nil || tr.Status != http.StatusOK || tr.AccessToken == "" {
			t.Fatalf("token request: %v %+v", err, tr)
		}
		return []string{"Bearer " + tr.AccessToken}
	}
	read, write := token("read:products"), token("read:products write:products")

	v, err := middleware.New(middleware.Config{
		Endpoint:  provider.URL,
		Audiences: []string{oidcprovider.DefaultResource},
		Logger:    slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	if err := v.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	const (
		list   = "/shop.v1.Products/List"
		create = "/shop.v1.Products/Create"
		watch  = "/shop.v1.Products/Watch"
	)
	guard, err := connectguard.New(v, map[string]middleware.Requirement{
		list:   middleware.Scopes("read:products"),
		create: middleware.Scopes("write:products"),
		watch:  middleware.Scopes("read:products"),
	})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	for _, p := range []string{list, create} {
		mux.Handle(p, connect.NewUnaryHandler(p, func(ctx context.Context, _ *connect.Request[structpb.Struct]) (*connect.Response[wrapperspb.StringValue], error) {
			msg, err := who(ctx)
			if err != nil {
				return nil, err
			}
			return connect.NewResponse(msg), nil
		}, connect.WithInterceptors(guard)))
	}
	mux.Handle(watch, connect.NewServerStreamHandler(watch, func(ctx context.Context, _ *connect.Request[structpb.Struct], s *connect.ServerStream[wrapperspb.StringValue]) error {
		msg, err := who(ctx)
		if err != nil {
			return err
		}
		return s.Send(msg)
	}, connect.WithInterceptors(guard)))
	srv := start(t, mux)

	tampered := []string{tamper(read[0])}
	const ok = "sub=m2m-app client_id=m2m-app m2m=true same=true"
	scopeHint := `Bearer realm="api", error="insufficient_scope", error_description="the token lacks the scopes: write:products", scope="write:products"`
	for _, p := range protocols {
		t.Run(p.name, func(t *testing.T) {
			checks := []struct {
				name string
				got  answer
				want answer
			}{
				{"list", callUnary(t, srv, p.opts, list, read, ""), answer{Code: "OK", Body: ok}},
				{"watch", callStream(t, srv, p.opts, watch, read, ""), answer{Code: "OK", Body: ok}},
				{"create with read only", callUnary(t, srv, p.opts, create, read, ""),
					answer{Code: "PermissionDenied", Message: "the token lacks the scopes: write:products", Challenge: scopeHint}},
				{"create", callUnary(t, srv, p.opts, create, write, ""), answer{Code: "OK", Body: ok}},
				{"tampered", callUnary(t, srv, p.opts, list, tampered, ""), answer{Code: "Unauthenticated", Message: "the token's signature is invalid",
					Challenge: `Bearer realm="api", error="invalid_token", error_description="the token's signature is invalid"`}},
				{"tampered stream", callStream(t, srv, p.opts, watch, tampered, ""), answer{Code: "Unauthenticated", Message: "the token's signature is invalid",
					Challenge: `Bearer realm="api", error="invalid_token", error_description="the token's signature is invalid"`}},
			}
			for _, c := range checks {
				if c.got != c.want {
					t.Errorf("%s: got  %+v\nwant %+v", c.name, c.got, c.want)
				}
			}
		})
	}
}

// tamper changes one character in the middle of the token's signature.
func tamper(authorization string) string {
	parts := strings.Split(authorization, ".")
	p := []byte(parts[2])
	i := len(p) / 2
	if p[i] == 'A' {
		p[i] = 'B'
	} else {
		p[i] = 'A'
	}
	return parts[0] + "." + parts[1] + "." + string(p)
}
