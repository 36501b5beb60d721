package examples_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	shopv1 "github.com/logtoguard/logtoguard/examples/gen/shop/v1"
	"github.com/logtoguard/logtoguard/examples/gen/shop/v1/shopv1connect"
	"github.com/logtoguard/logtoguard/examples/internal/rpcapp"
	"github.com/logtoguard/logtoguard/internal/oidcprovider"
	"github.com/logtoguard/logtoguard/logtotest"
)

// connectProtocols are the three protocols of the Connect client.
var connectProtocols = []struct {
	name string
	opts []connect.ClientOption
}{
	{"connect", nil},
	{"grpc", []connect.ClientOption{connect.WithGRPC()}},
	{"grpcweb", []connect.ClientOption{connect.WithGRPCWeb()}},
}

// connectCodes name connect's codes as rpcRow.code does.
var connectCodes = map[connect.Code]string{
	connect.CodeInvalidArgument:  "InvalidArgument",
	connect.CodeUnauthenticated:  "Unauthenticated",
	connect.CodePermissionDenied: "PermissionDenied",
	connect.CodeUnavailable:      "Unavailable",
}

// h2cClient speaks HTTP/2 without TLS, as gRPC needs, to the example server.
func h2cClient(t *testing.T) *http.Client {
	p := new(http.Protocols)
	p.SetUnencryptedHTTP2(true)
	tr := &http.Transport{Protocols: p}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// unary calls one unary method with the Authorization values.
func unary[Req, Res any](ctx context.Context, call func(context.Context, *connect.Request[Req]) (*connect.Response[Res], error), msg any, authorization []string) ([]proto.Message, error) {
	req := connect.NewRequest(msg.(*Req))
	for _, a := range authorization {
		req.Header().Add("Authorization", a)
	}
	res, err := call(ctx, req)
	if err != nil {
		return nil, err
	}
	return []proto.Message{any(res.Msg).(proto.Message)}, nil
}

// connectCall makes the row's call with the generated Connect client and
// returns the responses, or the error and its code, message and challenge.
func connectCall(t *testing.T, client shopv1connect.ProductsClient, r rpcRow) (code, message, challenge string, got []proto.Message) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var err error
	switch r.method {
	case shopv1.Products_List_FullMethodName:
		got, err = unary(ctx, client.List, r.request, r.authorization)
	case shopv1.Products_Create_FullMethodName:
		got, err = unary(ctx, client.Create, r.request, r.authorization)
	case shopv1.Products_WhoAmI_FullMethodName:
		got, err = unary(ctx, client.WhoAmI, r.request, r.authorization)
	case shopv1.Products_ListOrgProducts_FullMethodName:
		got, err = unary(ctx, client.ListOrgProducts, r.request, r.authorization)
	case shopv1.Products_Sync_FullMethodName:
		got, err = unary(ctx, client.Sync, r.request, r.authorization)
	case shopv1.Products_Watch_FullMethodName:
		req := connect.NewRequest(r.request.(*shopv1.WatchRequest))
		for _, a := range r.authorization {
			req.Header().Add("Authorization", a)
		}
		var stream *connect.ServerStreamForClient[shopv1.WatchResponse]
		if stream, err = client.Watch(ctx, req); err == nil {
			for stream.Receive() {
				got = append(got, stream.Msg())
			}
			err = stream.Err()
			_ = stream.Close()
		}
	default:
		t.Fatalf("no call for %s", r.method)
	}
	if err == nil {
		return "OK", "", "", got
	}
	var cerr *connect.Error
	if !errors.As(err, &cerr) {
		t.Fatalf("not a connect error: %v", err)
	}
	code, ok := connectCodes[cerr.Code()]
	if !ok {
		code = cerr.Code().String()
	}
	return code, cerr.Message(), cerr.Meta().Get("WWW-Authenticate"), got
}

// TestConnectContract: the Connect example server, built with -race,
// answers the RPC contract in each protocol of the Connect client.
func TestConnectContract(t *testing.T) {
	iss := logtotest.New(t)
	rows := rpcRows(iss)
	s := start(t, "connect", append(logtoEnv(iss), "PUBLIC_URL="+publicURL+"/", "LOGTO_SYNC_APP_IDS=inventory-sync, inventory-admin")...)
	waitReady(t, s)
	for _, p := range connectProtocols {
		t.Run(p.name, func(t *testing.T) {
			client := shopv1connect.NewProductsClient(h2cClient(t), s.URL, p.opts...)
			for _, r := range rows {
				t.Run(r.name, func(t *testing.T) {
					code, message, challenge, got := connectCall(t, client, r)
					r.check(t, code, message, challenge, got)
				})
			}
		})
	}
	// A Connect unary call is plain HTTP: curl sees the status and the
	// challenge, as from the HTTP examples.
	req, _ := http.NewRequest(http.MethodPost, s.URL+shopv1connect.ProductsListProcedure, strings.NewReader("{}"))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	want := `Bearer realm="api", resource_metadata="` + publicURL + `/.well-known/oauth-protected-resource"`
	if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") != want {
		t.Errorf("HTTP/1.1 JSON call without a token: %d %q, want 401 %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"), want)
	}
}

// TestConnectKeysNeverLoaded: while Logto is unreachable, calls get
// Unavailable with Retry-After and no challenge; the server recovers by
// itself.
func TestConnectKeysNeverLoaded(t *testing.T) {
	iss := logtotest.New(t)
	iss.SetJWKSDown(true)
	s := start(t, "connect", logtoEnv(iss)...)
	if r := do(t, "GET", s.URL+"/readyz", nil); r.Status != 503 {
		t.Fatalf("readyz %d, want 503", r.Status)
	}
	row := rpcRow{method: shopv1.Products_List_FullMethodName, request: &shopv1.ListRequest{},
		authorization: []string{"Bearer " + iss.M2MToken("a", api, "read:products")},
		code:          "Unavailable", message: "the issuer's signing keys could not be loaded yet"}
	for _, p := range connectProtocols {
		client := shopv1connect.NewProductsClient(h2cClient(t), s.URL, p.opts...)
		code, message, challenge, got := connectCall(t, client, row)
		row.check(t, code, message, challenge, got)
	}
	iss.SetJWKSDown(false)
	waitReady(t, s)
	row.code, row.message, row.want = "OK", "", []proto.Message{&shopv1.ListResponse{Products: rpcapp.Products()}}
	for _, p := range connectProtocols {
		client := shopv1connect.NewProductsClient(h2cClient(t), s.URL, p.opts...)
		code, message, challenge, got := connectCall(t, client, row)
		row.check(t, code, message, challenge, got)
	}
}

// TestConnectRealProvider: genuine access tokens from oidc-provider through
// the Connect example server, in each protocol.
func TestConnectRealProvider(t *testing.T) {
	srv := startProvider(t, oidcprovider.Options{Key: oidcprovider.KeyECP384})
	read := []string{"Bearer " + providerToken(t, srv, "read:products")}
	write := []string{"Bearer " + providerToken(t, srv, "read:products write:products")}
	s := start(t, "connect", "LOGTO_ENDPOINT="+srv.URL, "LOGTO_API_RESOURCE="+api)
	waitReady(t, s)
	lamp := &shopv1.CreateRequest{Name: "Lamp", Price: 2500}
	rows := []rpcRow{
		{name: "list", method: shopv1.Products_List_FullMethodName, request: &shopv1.ListRequest{}, authorization: read,
			code: "OK", want: []proto.Message{&shopv1.ListResponse{Products: rpcapp.Products()}}},
		{name: "create with read only", method: shopv1.Products_Create_FullMethodName, request: lamp, authorization: read,
			code: "PermissionDenied", message: "the token lacks the scopes: write:products", challenge: `Bearer realm="api", error="insufficient_scope"`},
		{name: "create", method: shopv1.Products_Create_FullMethodName, request: lamp, authorization: write,
			code: "OK", want: []proto.Message{&shopv1.CreateResponse{Status: "created", Product: &shopv1.Product{Name: "Lamp", Price: 2500}}}},
		{name: "whoami", method: shopv1.Products_WhoAmI_FullMethodName, request: &shopv1.WhoAmIRequest{}, authorization: read,
			code: "OK", want: []proto.Message{&shopv1.WhoAmIResponse{Sub: oidcprovider.DefaultClientID, ClientId: oidcprovider.DefaultClientID, M2M: true, Scopes: []string{"read:products"}}}},
		{name: "tampered", method: shopv1.Products_List_FullMethodName, request: &shopv1.ListRequest{}, authorization: []string{tamper(read[0])},
			code: "Unauthenticated", challenge: `Bearer realm="api", error="invalid_token"`},
	}
	for _, p := range connectProtocols {
		t.Run(p.name, func(t *testing.T) {
			client := shopv1connect.NewProductsClient(h2cClient(t), s.URL, p.opts...)
			for _, r := range rows {
				t.Run(r.name, func(t *testing.T) {
					code, message, challenge, got := connectCall(t, client, r)
					r.check(t, code, message, challenge, got)
				})
			}
		})
	}
}
