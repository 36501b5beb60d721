package examples_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	shopv1 "github.com/logtoguard/logtoguard/examples/gen/shop/v1"
	"github.com/logtoguard/logtoguard/examples/gen/shop/v1/shopv1connect"
	"github.com/logtoguard/logtoguard/examples/internal/rpcapp"
	"github.com/logtoguard/logtoguard/internal/oidcprovider"
	"github.com/logtoguard/logtoguard/logtotest"
)

// rpcServers are the example servers that answer the settings and
// shutdown tests of the HTTP servers as they do (the grpc example has its
// own, for its TLS settings).
var rpcServers = []string{"connect"}

// connectProtocols are the three protocols of the Connect client.
var connectProtocols = []struct {
	name string
	opts []connect.ClientOption
}{
	{"connect", nil},
	{"grpc", []connect.ClientOption{connect.WithGRPC()}},
	{"grpcweb", []connect.ClientOption{connect.WithGRPCWeb()}},
}

// h2cClient speaks HTTP/2 without TLS, as gRPC needs, to the connect
// example.
func h2cClient(t *testing.T) *http.Client {
	p := new(http.Protocols)
	p.SetUnencryptedHTTP2(true)
	tr := &http.Transport{Protocols: p}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// connectCall is a call of shop.v1.Products through the Connect client,
// with the values of the Authorization header.
type connectCall func(ctx context.Context, c shopv1connect.ProductsClient, authorization []string) (proto.Message, error)

// unary makes a call that call makes with msg and the Authorization
// values.
func unary[Req, Res any](call func(shopv1connect.ProductsClient) func(context.Context, *connect.Request[Req]) (*connect.Response[Res], error), msg *Req) connectCall {
	return func(ctx context.Context, c shopv1connect.ProductsClient, authorization []string) (proto.Message, error) {
		req := connect.NewRequest(msg)
		for _, a := range authorization {
			req.Header().Add("Authorization", a)
		}
		res, err := call(c)(ctx, req)
		if err != nil {
			return nil, err
		}
		return any(res.Msg).(proto.Message), nil
	}
}

// connectFor maps a request of the HTTP contract to a call of
// shop.v1.Products, as rpcFor does for grpc-go: ok is false for requests
// with no counterpart (the health and metadata routes, a query string).
func connectFor(method, path string) (call connectCall, ok bool) {
	switch {
	case method == "GET" && path == "/products":
		return unary(func(c shopv1connect.ProductsClient) func(context.Context, *connect.Request[shopv1.ListRequest]) (*connect.Response[shopv1.ListResponse], error) {
			return c.List
		}, &shopv1.ListRequest{}), true
	case method == "POST" && path == "/products":
		return unary(func(c shopv1connect.ProductsClient) func(context.Context, *connect.Request[shopv1.CreateRequest]) (*connect.Response[shopv1.CreateResponse], error) {
			return c.Create
		}, &shopv1.CreateRequest{}), true
	case method == "GET" && path == "/whoami":
		return unary(func(c shopv1connect.ProductsClient) func(context.Context, *connect.Request[shopv1.WhoAmIRequest]) (*connect.Response[shopv1.WhoAmIResponse], error) {
			return c.WhoAmI
		}, &shopv1.WhoAmIRequest{}), true
	case method == "POST" && path == "/sync":
		return unary(func(c shopv1connect.ProductsClient) func(context.Context, *connect.Request[shopv1.SyncRequest]) (*connect.Response[shopv1.SyncResponse], error) {
			return c.Sync
		}, &shopv1.SyncRequest{}), true
	case method == "GET" && strings.HasPrefix(path, "/orgs/") && strings.HasSuffix(path, "/products"):
		org := strings.TrimSuffix(strings.TrimPrefix(path, "/orgs/"), "/products")
		return unary(func(c shopv1connect.ProductsClient) func(context.Context, *connect.Request[shopv1.ListOrgProductsRequest]) (*connect.Response[shopv1.ListOrgProductsResponse], error) {
			return c.ListOrgProducts
		}, &shopv1.ListOrgProductsRequest{OrgId: org}), true
	}
	return nil, false
}

// connectWatch opens Products.Watch and gathers the products it streams, as
// the answer of GET /products would hold them.
func connectWatch(ctx context.Context, c shopv1connect.ProductsClient, authorization []string) (proto.Message, error) {
	req := connect.NewRequest(&shopv1.WatchRequest{})
	for _, a := range authorization {
		req.Header().Add("Authorization", a)
	}
	stream, err := c.Watch(ctx, req)
	if err != nil {
		return nil, err
	}
	defer stream.Close()
	list := &shopv1.ListResponse{}
	for stream.Receive() {
		list.Products = append(list.Products, stream.Msg().GetProduct())
	}
	if err := stream.Err(); err != nil {
		return nil, err
	}
	return list, nil
}

// connectAnswer is the answer of a finished Connect call in the terms of
// the HTTP contract (see rpcAnswer): connect's codes are gRPC's.
func connectAnswer(t testing.TB, msg proto.Message, err error) rpcAnswer {
	t.Helper()
	if err == nil {
		return rpcAnswer{Code: codes.OK, Body: httpBody(t, msg)}
	}
	var cerr *connect.Error
	if !errors.As(err, &cerr) {
		t.Fatalf("not a connect error: %v", err)
	}
	return rpcAnswer{
		Code:      codes.Code(cerr.Code()),
		Message:   cerr.Message(),
		Challenge: strings.Join(cerr.Meta().Values("WWW-Authenticate"), ", "),
	}
}

// askConnect makes call in each protocol and fails t unless each answer is
// want.
func askConnect(t *testing.T, url string, call connectCall, authorization []string, want rpcAnswer) {
	t.Helper()
	for _, p := range connectProtocols {
		client := shopv1connect.NewProductsClient(h2cClient(t), url, p.opts...)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		msg, err := call(ctx, client, authorization)
		cancel()
		if got := connectAnswer(t, msg, err); got != want {
			t.Errorf("%s:\n got %+v\nwant %+v", p.name, got, want)
		}
	}
}

// TestConnectContract: the connect example, built with -race, answers every
// request of the HTTP examples' contract that an RPC can carry as the
// net/http example does, in each protocol of the Connect client: the code,
// the error_description as the message, WWW-Authenticate in the error's
// metadata, and for a success the same result. The products rows also go
// through the Watch stream.
func TestConnectContract(t *testing.T) {
	iss := logtotest.New(t)
	rows := contractRows(iss)
	env := append(logtoEnv(iss), "PUBLIC_URL="+publicURL+"/", "LOGTO_SYNC_APP_IDS=inventory-sync, inventory-admin")
	ref := start(t, "nethttp", env...)
	waitReady(t, ref)
	s := start(t, "connect", env...)
	waitReady(t, s)

	checked := 0
	for _, r := range rows {
		call, ok := connectFor(r.method, r.path)
		if !ok {
			continue
		}
		checked++
		t.Run(r.name, func(t *testing.T) {
			want := expected(do(t, r.method, ref.URL+r.path, r.header))
			if r.status != 0 && httpCode(r.status) != want.Code {
				t.Fatalf("the net/http example answered %+v, the contract says %d", want, r.status)
			}
			askConnect(t, s.URL, call, r.header.Values("Authorization"), want)
			if r.method == "GET" && r.path == "/products" {
				askConnect(t, s.URL, connectWatch, r.header.Values("Authorization"), want)
			}
		})
	}
	if checked < 20 {
		t.Errorf("only %d rows of the contract have an RPC counterpart", checked)
	}

	// A unary call of the Connect protocol is plain HTTP: curl sees the
	// status and the challenge that the HTTP examples send.
	req, _ := http.NewRequest(http.MethodPost, s.URL+shopv1connect.ProductsListProcedure, strings.NewReader("{}"))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	want := do(t, "GET", ref.URL+"/products", nil).Headers["WWW-Authenticate"]
	if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") != want {
		t.Errorf("HTTP/1.1 JSON call without a token: %d %q, want 401 %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"), want)
	}
}

// TestConnectOrganizationField: ListOrgProducts reads its organization from
// org_id; a request that leaves it empty names none.
func TestConnectOrganizationField(t *testing.T) {
	iss := logtotest.New(t)
	s := start(t, "connect", logtoEnv(iss)...)
	waitReady(t, s)
	user := []string{"Bearer " + iss.Mint(logtotest.Token{Subject: "user-1", ClientID: "spa-app", Audience: api, Scopes: []string{"read:products"}, OrganizationID: "org-1"})}
	call, _ := connectFor("GET", "/orgs//products")
	askConnect(t, s.URL, call, user, rpcAnswer{Code: codes.PermissionDenied, Message: "the request names no organization",
		Challenge: `Bearer realm="api", error="insufficient_scope", error_description="the request names no organization"`})
}

// TestConnectKeysNeverLoaded: while Logto is unreachable, calls get
// Unavailable and no challenge; the server recovers by itself.
func TestConnectKeysNeverLoaded(t *testing.T) {
	iss := logtotest.New(t)
	iss.SetJWKSDown(true)
	s := start(t, "connect", logtoEnv(iss)...)
	if r := do(t, "GET", s.URL+"/readyz", nil); r.Status != 503 {
		t.Fatalf("readyz %d, want 503", r.Status)
	}
	list, _ := connectFor("GET", "/products")
	token := []string{"Bearer " + iss.M2MToken("a", api, "read:products")}
	unavailable := rpcAnswer{Code: codes.Unavailable, Message: "the issuer's signing keys could not be loaded yet"}
	askConnect(t, s.URL, list, token, unavailable)
	askConnect(t, s.URL, connectWatch, token, unavailable)
	iss.SetJWKSDown(false)
	waitReady(t, s)
	askConnect(t, s.URL, list, token, rpcAnswer{Code: codes.OK, Body: httpBody(t, &shopv1.ListResponse{Products: rpcapp.Products()})})
}

// TestConnectRealProvider: genuine access tokens from oidc-provider, through
// the connect example in each protocol, answered as the net/http example
// answers them.
func TestConnectRealProvider(t *testing.T) {
	srv := startProvider(t, oidcprovider.Options{Key: oidcprovider.KeyECP384})
	read := providerToken(t, srv, "read:products")
	write := providerToken(t, srv, "read:products write:products")
	env := []string{"LOGTO_ENDPOINT=" + srv.URL, "LOGTO_API_RESOURCE=" + api}
	ref := start(t, "nethttp", env...)
	waitReady(t, ref)
	s := start(t, "connect", env...)
	waitReady(t, s)
	for _, c := range []struct {
		name, method, path, token string
		status                    int
	}{
		{"read", "GET", "/products", read, 200},
		{"create with read only", "POST", "/products", read, 403},
		{"create", "POST", "/products", write, 201},
		{"whoami", "GET", "/whoami", read, 200},
		{"tampered", "GET", "/products", tamper(read), 401},
	} {
		t.Run(c.name, func(t *testing.T) {
			want := expected(do(t, c.method, ref.URL+c.path, bearer(c.token)))
			if httpCode(c.status) != want.Code {
				t.Fatalf("the net/http example answered %+v, want status %d", want, c.status)
			}
			call, _ := connectFor(c.method, c.path)
			askConnect(t, s.URL, call, []string{"Bearer " + c.token}, want)
		})
	}
}

// TestConnectClientCredentials: a Connect client whose *http.Client comes
// from golang.org/x/oauth2/clientcredentials, against the issuer's token
// endpoint, as a Logto machine-to-machine app calls: the token goes in the
// Authorization header of every call, in each protocol.
func TestConnectClientCredentials(t *testing.T) {
	iss := logtotest.New(t)
	iss.AddResource(api, "read:products", "write:products")
	iss.AddM2MApp("inventory-sync", "secret", "read:products")
	s := start(t, "connect", logtoEnv(iss)...)
	waitReady(t, s)

	cc := clientcredentials.Config{
		ClientID:       "inventory-sync",
		ClientSecret:   "secret",
		TokenURL:       iss.TokenURL(),
		Scopes:         []string{"read:products"},
		EndpointParams: url.Values{"resource": {api}},
	}
	// The calls go over h2c, which gRPC needs here without TLS; the token
	// source asks the token endpoint (plain HTTP/1.1) once and reuses the
	// token until it expires.
	httpClient := &http.Client{Transport: &oauth2.Transport{
		Source: cc.TokenSource(context.Background()),
		Base:   h2cClient(t).Transport,
	}}
	catalogue := rpcAnswer{Code: codes.OK, Body: httpBody(t, &shopv1.ListResponse{Products: rpcapp.Products()})}
	list, _ := connectFor("GET", "/products")
	create, _ := connectFor("POST", "/products")
	want := `Bearer realm="api", error="insufficient_scope", error_description="the token lacks the scopes: write:products", scope="write:products"`
	for _, p := range connectProtocols {
		client := shopv1connect.NewProductsClient(httpClient, s.URL, p.opts...)
		callCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		msg, err := list(callCtx, client, nil)
		if got := connectAnswer(t, msg, err); got != catalogue {
			t.Errorf("%s List: got %+v, want the catalogue", p.name, got)
		}
		msg, err = connectWatch(callCtx, client, nil)
		if got := connectAnswer(t, msg, err); got != catalogue {
			t.Errorf("%s Watch: got %+v, want the catalogue", p.name, got)
		}
		msg, err = create(callCtx, client, nil)
		if got := connectAnswer(t, msg, err); got.Code != codes.PermissionDenied || got.Challenge != want {
			t.Errorf("%s Create: got %+v, want PermissionDenied and %s", p.name, got, want)
		}
		cancel()
	}
}
