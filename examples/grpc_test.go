package examples_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/oauth2/clientcredentials"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/credentials/oauth"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	shopv1 "github.com/logtoguard/logtoguard/examples/gen/shop/v1"
	"github.com/logtoguard/logtoguard/examples/internal/app"
	"github.com/logtoguard/logtoguard/internal/oidcprovider"
	"github.com/logtoguard/logtoguard/logtotest"
)

// dialGRPC connects to the grpc example at addr, in plain text or, with
// clientTLS, over TLS; opts are added.
func dialGRPC(t testing.TB, addr string, clientTLS *tls.Config, opts ...grpc.DialOption) *grpc.ClientConn {
	t.Helper()
	creds := insecure.NewCredentials()
	if clientTLS != nil {
		creds = credentials.NewTLS(clientTLS)
	}
	conn, err := grpc.NewClient(addr, append(opts, grpc.WithTransportCredentials(creds))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// waitServing waits, on a health Watch stream (no polling), until the
// server reports SERVING.
func waitServing(t testing.TB, conn *grpc.ClientConn) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	stream, err := healthpb.NewHealthClient(conn).Watch(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for {
		res, err := stream.Recv()
		if err != nil {
			t.Fatalf("health watch: %v", err)
		}
		if res.GetStatus() == healthpb.HealthCheckResponse_SERVING {
			return
		}
	}
}

// rpcAnswer is a gRPC answer in the terms of the HTTP contract: the code,
// the status message, the www-authenticate header metadata and, for a
// success, the body the HTTP servers write for the same result.
type rpcAnswer struct {
	Code      codes.Code
	Message   string
	Challenge string
	Body      string
}

// httpCode is the gRPC code of an HTTP status of the contract.
func httpCode(status int) codes.Code {
	switch status {
	case 200, 201:
		return codes.OK
	case 400:
		return codes.InvalidArgument
	case 401:
		return codes.Unauthenticated
	case 403:
		return codes.PermissionDenied
	}
	return codes.Unavailable
}

// expected is the answer the grpc server must give for an HTTP response of
// the net/http example to the same request.
func expected(r response) rpcAnswer {
	a := rpcAnswer{Code: httpCode(r.Status), Challenge: r.Headers["WWW-Authenticate"]}
	if a.Code == codes.OK {
		a.Body = r.Body
		return a
	}
	var body struct {
		Description string `json:"error_description"`
	}
	_ = json.Unmarshal([]byte(r.Body), &body)
	a.Message = body.Description
	return a
}

// httpBody is what the HTTP examples write for the result msg.
func httpBody(t testing.TB, msg proto.Message) string {
	t.Helper()
	products := func(list []*shopv1.Product) []app.Product {
		out := []app.Product{}
		for _, p := range list {
			out = append(out, app.Product{ID: p.GetId(), Name: p.GetName(), Price: int(p.GetPrice())})
		}
		return out
	}
	var v any
	switch m := msg.(type) {
	case *shopv1.ListResponse:
		v = products(m.GetProducts())
	case *shopv1.CreateResponse:
		v = map[string]string{"status": m.GetStatus()}
	case *shopv1.WhoAmIResponse:
		scopes := m.GetScopes()
		if scopes == nil {
			scopes = []string{}
		}
		v = app.WhoAmI{Sub: m.GetSub(), ClientID: m.GetClientId(), M2M: m.GetM2M(), Scopes: scopes, OrganizationID: m.GetOrganizationId(), Act: m.GetAct()}
	case *shopv1.ListOrgProductsResponse:
		v = app.OrgProducts{OrganizationID: m.GetOrganizationId(), Products: products(m.GetProducts())}
	case *shopv1.SyncResponse:
		v = app.Synced{Status: m.GetStatus(), AppID: m.GetAppId()}
	default:
		t.Fatalf("no HTTP body for %T", msg)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b) + "\n"
}

// rpcFor maps a request of the HTTP contract to a call of
// shop.v1.Products: ok is false for requests gRPC has no counterpart of
// (the health and metadata routes, a query string).
func rpcFor(method, path string) (call func(context.Context, shopv1.ProductsClient, ...grpc.CallOption) (proto.Message, error), ok bool) {
	wrap := func(m proto.Message, err error) (proto.Message, error) { return m, err }
	switch {
	case method == "GET" && path == "/products":
		return func(ctx context.Context, c shopv1.ProductsClient, o ...grpc.CallOption) (proto.Message, error) {
			return wrap(c.List(ctx, &shopv1.ListRequest{}, o...))
		}, true
	case method == "POST" && path == "/products":
		return func(ctx context.Context, c shopv1.ProductsClient, o ...grpc.CallOption) (proto.Message, error) {
			return wrap(c.Create(ctx, &shopv1.CreateRequest{}, o...))
		}, true
	case method == "GET" && path == "/whoami":
		return func(ctx context.Context, c shopv1.ProductsClient, o ...grpc.CallOption) (proto.Message, error) {
			return wrap(c.WhoAmI(ctx, &shopv1.WhoAmIRequest{}, o...))
		}, true
	case method == "POST" && path == "/sync":
		return func(ctx context.Context, c shopv1.ProductsClient, o ...grpc.CallOption) (proto.Message, error) {
			return wrap(c.Sync(ctx, &shopv1.SyncRequest{}, o...))
		}, true
	case method == "GET" && strings.HasPrefix(path, "/orgs/") && strings.HasSuffix(path, "/products"):
		org := strings.TrimSuffix(strings.TrimPrefix(path, "/orgs/"), "/products")
		return func(ctx context.Context, c shopv1.ProductsClient, o ...grpc.CallOption) (proto.Message, error) {
			return wrap(c.ListOrgProducts(ctx, &shopv1.ListOrgProductsRequest{OrgId: org}, o...))
		}, true
	}
	return nil, false
}

// outgoing carries the Authorization values of header as metadata.
func outgoing(ctx context.Context, header http.Header) context.Context {
	if auth := header.Values("Authorization"); len(auth) > 0 {
		return metadata.NewOutgoingContext(ctx, metadata.MD{"authorization": auth})
	}
	return ctx
}

// answerOf is the rpcAnswer of a finished call.
func answerOf(t testing.TB, msg proto.Message, err error, header metadata.MD) rpcAnswer {
	s := status.Convert(err)
	a := rpcAnswer{Code: s.Code(), Message: s.Message(), Challenge: strings.Join(header.Get("www-authenticate"), ", ")}
	if err == nil {
		a.Body = httpBody(t, msg)
	}
	return a
}

// watch opens Products.Watch and gathers the products it streams, as the
// answer of GET /products would hold them.
func watch(t testing.TB, ctx context.Context, client shopv1.ProductsClient) rpcAnswer {
	t.Helper()
	stream, err := client.Watch(ctx, &shopv1.WatchRequest{})
	if err != nil {
		t.Fatal(err)
	}
	list := &shopv1.ListResponse{}
	for {
		res, err := stream.Recv()
		if err != nil {
			header, _ := stream.Header()
			if errors.Is(err, io.EOF) {
				return answerOf(t, list, nil, header)
			}
			return answerOf(t, nil, err, header)
		}
		list.Products = append(list.Products, res.GetProduct())
	}
}

// TestGRPCContract: the grpc example answers every request of the HTTP
// examples' contract that gRPC can carry as the net/http example does, in
// gRPC's terms: the code of the status, the error_description as the
// message, WWW-Authenticate as the www-authenticate header metadata, and
// for a success the same result. The products rows also go through the
// Watch stream.
func TestGRPCContract(t *testing.T) {
	iss := logtotest.New(t)
	rows := contractRows(iss)
	env := append(logtoEnv(iss), "PUBLIC_URL="+publicURL+"/", "LOGTO_SYNC_APP_IDS=inventory-sync, inventory-admin")
	ref := start(t, "nethttp", env...)
	waitReady(t, ref)
	s := start(t, "grpc", env...)
	conn := dialGRPC(t, s.URL, nil)
	waitServing(t, conn)
	client := shopv1.NewProductsClient(conn)

	checked := 0
	for _, r := range rows {
		call, ok := rpcFor(r.method, r.path)
		if !ok {
			continue
		}
		checked++
		t.Run(r.name, func(t *testing.T) {
			want := expected(do(t, r.method, ref.URL+r.path, r.header))
			if r.status != 0 && httpCode(r.status) != want.Code {
				t.Fatalf("the net/http example answered %+v, the contract says %d", want, r.status)
			}
			ctx, cancel := context.WithTimeout(outgoing(context.Background(), r.header), 10*time.Second)
			defer cancel()
			var header metadata.MD
			msg, err := call(ctx, client, grpc.Header(&header))
			if got := answerOf(t, msg, err, header); got != want {
				t.Errorf("\n got %+v\nwant %+v", got, want)
			}
			if r.method == "GET" && r.path == "/products" {
				if got := watch(t, ctx, client); got != want {
					t.Errorf("Watch:\n got %+v\nwant %+v", got, want)
				}
			}
		})
	}
	if checked < 20 {
		t.Errorf("only %d rows of the contract have a gRPC counterpart", checked)
	}
}

// writeTestCert writes a self-signed certificate for 127.0.0.1 and its key
// to dir and returns their paths and a client configuration that trusts
// it.
func writeTestCert(t testing.TB, dir string) (certFile, keyFile string, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "grpc example test"},
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
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
}

// TestGRPCClientCredentials: the grpc example over TLS, called by a grpc-go
// client whose per-RPC credentials come from
// golang.org/x/oauth2/clientcredentials against the issuer's token
// endpoint, as a Logto machine-to-machine app calls it.
func TestGRPCClientCredentials(t *testing.T) {
	iss := logtotest.New(t)
	iss.AddResource(api, "read:products", "write:products")
	iss.AddM2MApp("inventory-sync", "secret", "read:products")
	certFile, keyFile, clientTLS := writeTestCert(t, t.TempDir())
	s := start(t, "grpc", append(logtoEnv(iss), "TLS_CERT_FILE="+certFile, "TLS_KEY_FILE="+keyFile)...)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cc := clientcredentials.Config{
		ClientID:       "inventory-sync",
		ClientSecret:   "secret",
		TokenURL:       iss.TokenURL(),
		Scopes:         []string{"read:products"},
		EndpointParams: url.Values{"resource": {api}},
	}
	conn := dialGRPC(t, s.URL, clientTLS, grpc.WithPerRPCCredentials(oauth.TokenSource{TokenSource: cc.TokenSource(ctx)}))
	waitServing(t, conn)
	client := shopv1.NewProductsClient(conn)

	list, err := client.List(ctx, &shopv1.ListRequest{})
	if err != nil || len(list.GetProducts()) != len(app.Products) {
		t.Fatalf("List: %v, %v", list, err)
	}
	if got := watch(t, ctx, client); got.Code != codes.OK || got.Body != httpBody(t, list) {
		t.Errorf("Watch: got %+v, want the catalogue", got)
	}
	who, err := client.WhoAmI(ctx, &shopv1.WhoAmIRequest{})
	if err != nil || who.GetSub() != "inventory-sync" || !who.GetM2M() {
		t.Errorf("WhoAmI: %v, %v", who, err)
	}
	var header metadata.MD
	_, err = client.Create(ctx, &shopv1.CreateRequest{Name: "Cable"}, grpc.Header(&header))
	want := `Bearer realm="api", error="insufficient_scope", error_description="the token lacks the scopes: write:products", scope="write:products"`
	if status.Code(err) != codes.PermissionDenied || strings.Join(header.Get("www-authenticate"), "") != want {
		t.Errorf("Create: %v, www-authenticate %q; want PermissionDenied and %s", err, header.Get("www-authenticate"), want)
	}

	// grpc-go refuses to send per-RPC credentials over plain text.
	if _, err := grpc.NewClient(s.URL, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(oauth.TokenSource{TokenSource: cc.TokenSource(ctx)})); err == nil {
		t.Error("a client with per-RPC credentials over plain text: got no error")
	}
}

// TestGRPCKeysNeverLoaded: with Logto unreachable, health says
// NOT_SERVING, calls get Unavailable with retry-after, and both recover by
// themselves once Logto answers.
func TestGRPCKeysNeverLoaded(t *testing.T) {
	iss := logtotest.New(t)
	iss.SetJWKSDown(true)
	s := start(t, "grpc", logtoEnv(iss)...)
	conn := dialGRPC(t, s.URL, nil)
	client := shopv1.NewProductsClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	res, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil || res.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("health: %v, %v; want NOT_SERVING", res, err)
	}
	var header metadata.MD
	authed := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+iss.M2MToken("a", api, "read:products"))
	_, err = client.List(authed, &shopv1.ListRequest{}, grpc.Header(&header))
	if status.Code(err) != codes.Unavailable || len(header.Get("retry-after")) != 1 || len(header.Get("www-authenticate")) != 0 {
		t.Fatalf("List with keys never loaded: %v, header %v", err, header)
	}
	iss.SetJWKSDown(false)
	waitServing(t, conn) // recovers by itself, no restart
	if _, err := client.List(authed, &shopv1.ListRequest{}); err != nil {
		t.Fatalf("after recovery: %v", err)
	}
}

// TestGRPCSettings: the grpc example refuses bad settings in one line
// naming the variable, and stops on SIGTERM with status 0.
func TestGRPCSettings(t *testing.T) {
	base := []string{"LOGTO_ENDPOINT=http://127.0.0.1:1", "LOGTO_API_RESOURCE=" + api}
	for _, tt := range []struct {
		name string
		env  []string
		want string
	}{
		{"nothing", nil, "LOGTO_ENDPOINT"},
		{"no resource", []string{"LOGTO_ENDPOINT=http://127.0.0.1:1"}, "LOGTO_API_RESOURCE"},
		{"bad addr", append(base, "ADDR=nonsense"), "ADDR"},
		{"bad public URL", append(base, "PUBLIC_URL=api.example.com"), "PUBLIC_URL"},
		{"cert without key", append(base, "TLS_CERT_FILE=/nonexistent"), "TLS_KEY_FILE"},
		{"missing cert", append(base, "TLS_CERT_FILE=/nonexistent/cert.pem", "TLS_KEY_FILE=/nonexistent/key.pem"), "TLS_CERT_FILE"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out, err := runToEnd(t, "grpc", tt.env)
			if err == nil {
				t.Fatal("exit status 0 with a bad setting")
			}
			if strings.Count(out, "\n") != 0 || !strings.Contains(out, tt.want) {
				t.Fatalf("stderr %q: want one line naming %s", out, tt.want)
			}
		})
	}
	t.Run("SIGTERM", func(t *testing.T) {
		iss := logtotest.New(t)
		s := start(t, "grpc", logtoEnv(iss)...)
		waitServing(t, dialGRPC(t, s.URL, nil))
		if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- s.cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("exit after SIGTERM: %v; %s", err, s.stderr)
			}
		case <-time.After(15 * time.Second):
			t.Fatal("no exit after SIGTERM")
		}
	})
}

// TestGRPCRealProvider: genuine access tokens of oidc-provider, the engine
// Logto runs on, through the grpc example.
func TestGRPCRealProvider(t *testing.T) {
	srv := startProvider(t, oidcprovider.Options{})
	read := providerToken(t, srv, "read:products")
	s := start(t, "grpc", "LOGTO_ENDPOINT="+srv.URL, "LOGTO_API_RESOURCE="+api)
	conn := dialGRPC(t, s.URL, nil)
	waitServing(t, conn)
	client := shopv1.NewProductsClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+read)
	if _, err := client.List(ctx, &shopv1.ListRequest{}); err != nil {
		t.Errorf("List: %v", err)
	}
	if got := watch(t, ctx, client); got.Code != codes.OK {
		t.Errorf("Watch: %+v", got)
	}
	if _, err := client.Create(ctx, &shopv1.CreateRequest{}); status.Code(err) != codes.PermissionDenied {
		t.Errorf("Create: got %v, want PermissionDenied", err)
	}
	tampered := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+tamper(read))
	if _, err := client.List(tampered, &shopv1.ListRequest{}); status.Code(err) != codes.Unauthenticated {
		t.Errorf("tampered: got %v, want Unauthenticated", err)
	}
}

// runToEnd runs an example program with only env (and PATH) and returns
// its trimmed stderr and exit error; it fails the test if the program is
// still running after 10 seconds.
func runToEnd(t *testing.T, name string, env []string) (string, error) {
	t.Helper()
	cmd := exec.Command(binary(t, name))
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return strings.TrimSpace(stderr.String()), err
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		if err := <-done; err == nil {
			t.Log("exited 0 once killed")
		}
		t.Fatal("still running with a bad setting")
		return "", nil
	}
}
