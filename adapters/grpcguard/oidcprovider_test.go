package grpcguard_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"golang.org/x/oauth2/clientcredentials"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/oauth"

	"github.com/logtoguard/logtoguard/adapters/grpcguard"
	"github.com/logtoguard/logtoguard/internal/oidcprovider"
	"github.com/logtoguard/logtoguard/middleware"
)

// TestRealProvider: genuine access tokens from oidc-provider, the engine
// Logto runs on, configured as Logto configures it, fetched by
// golang.org/x/oauth2/clientcredentials as per-RPC credentials of a
// grpc-go client over TLS, unary and server stream.
func TestRealProvider(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	provider, err := oidcprovider.Start(ctx, oidcprovider.Options{})
	if err != nil {
		t.Fatalf("oidc-provider did not start: %v", err)
	}
	t.Cleanup(func() { _ = provider.Close() })

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
	// The contract's service: /read needs read:products, /write
	// write:products.
	guard, err := grpcguard.New(v, contractMethods())
	if err != nil {
		t.Fatal(err)
	}
	client := func(scopes ...string) *grpc.ClientConn {
		cc := clientcredentials.Config{
			ClientID:       oidcprovider.DefaultClientID,
			ClientSecret:   oidcprovider.DefaultClientSecret,
			TokenURL:       provider.TokenURL,
			Scopes:         scopes,
			EndpointParams: map[string][]string{"resource": {oidcprovider.DefaultResource}},
		}
		return serve(t, guard, func(s *grpc.Server) { s.RegisterService(contractService(), nil) },
			grpc.WithPerRPCCredentials(oauth.TokenSource{TokenSource: cc.TokenSource(ctx)}))
	}
	read, write := client("read:products"), client("read:products", "write:products")
	const who = "sub=m2m-app client_id=m2m-app m2m=true same=true"
	tests := []struct {
		name string
		got  answer
		want codes.Code
	}{
		{"read, unary", callUnary(t, read, unaryMethod("/read"), nil, ""), codes.OK},
		{"read, stream", callStream(t, read, streamMethod("/read"), nil, ""), codes.OK},
		{"write without the scope, unary", callUnary(t, read, unaryMethod("/write"), nil, ""), codes.PermissionDenied},
		{"write without the scope, stream", callStream(t, read, streamMethod("/write"), nil, ""), codes.PermissionDenied},
		{"write, unary", callUnary(t, write, unaryMethod("/write"), nil, ""), codes.OK},
		{"write, stream", callStream(t, write, streamMethod("/write"), nil, ""), codes.OK},
		{"user only", callUnary(t, write, unaryMethod("/me"), nil, ""), codes.PermissionDenied},
	}
	for _, tt := range tests {
		if tt.got.code != tt.want {
			t.Errorf("%s: got %+v, want %s", tt.name, tt.got, tt.want)
		}
		if tt.want == codes.OK && tt.got.body != who {
			t.Errorf("%s: body %q, want %q", tt.name, tt.got.body, who)
		}
		if tt.want != codes.OK && len(tt.got.challenge) != 1 {
			t.Errorf("%s: www-authenticate %q, want the challenge", tt.name, tt.got.challenge)
		}
	}
}
