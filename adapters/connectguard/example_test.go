package connectguard_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/logtoguard/logtoguard/adapters/connectguard"
	"github.com/logtoguard/logtoguard/logtotest"
	"github.com/logtoguard/logtoguard/middleware"
)

// The examples' procedures. A real service uses the constants that
// protoc-gen-connect-go generates, such as shopv1connect.ProductsListProcedure.
const (
	listProcedure   = "/shop.v1.Products/List"
	whoAmIProcedure = "/shop.v1.Products/WhoAmI"
	orgProcedure    = "/shop.v1.Products/ListOrgProducts"
	healthProcedure = connectguard.HealthCheckProcedure
)

// startLogto starts a Logto-compatible issuer for the examples (it stands in
// for https://your-tenant.logto.app) and a validator that trusts it.
func startLogto() (*logtotest.Issuer, *middleware.Validator) {
	logto, err := logtotest.Start()
	if err != nil {
		log.Fatal(err)
	}
	v, err := middleware.New(middleware.Config{
		Endpoint:  logto.Endpoint(),
		Audiences: []string{"https://api.example.com"},
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := v.WaitReady(context.Background()); err != nil {
		log.Fatal(err)
	}
	return logto, v
}

// serveProducts starts a server with a unary procedure for each name, behind guard,
// that answers the caller's subject and the request's value.
func serveProducts(guard *connectguard.Interceptor, procedures ...string) *httptest.Server {
	mux := http.NewServeMux()
	for _, p := range procedures {
		mux.Handle(p, connect.NewUnaryHandler(p,
			func(ctx context.Context, req *connect.Request[wrapperspb.StringValue]) (*connect.Response[wrapperspb.StringValue], error) {
				who := "anonymous"
				if claims, ok := middleware.ClaimsFromContext(ctx); ok {
					who = claims.Subject
				}
				return connect.NewResponse(wrapperspb.String(who + " " + req.Msg.GetValue())), nil
			}, connect.WithInterceptors(guard)))
	}
	return httptest.NewServer(mux)
}

// call calls procedure with the token (none if empty) and prints the answer
// or the error's code and message.
func call(srv *httptest.Server, procedure, token, value string) {
	client := connect.NewClient[wrapperspb.StringValue, wrapperspb.StringValue](srv.Client(), srv.URL+procedure)
	req := connect.NewRequest(wrapperspb.String(value))
	if token != "" {
		req.Header().Set("Authorization", "Bearer "+token)
	}
	res, err := client.CallUnary(context.Background(), req)
	if err != nil {
		fmt.Println(connect.CodeOf(err), err.(*connect.Error).Message())
		return
	}
	fmt.Println("ok", res.Msg.GetValue())
}

func ExampleNew() {
	logto, v := startLogto()
	defer logto.Close()
	defer v.Close()

	guard, err := connectguard.New(v, map[string]middleware.Requirement{
		listProcedure:   middleware.Scopes("read:products"),
		whoAmIProcedure: {}, // any valid token
	})
	if err != nil {
		log.Fatal(err)
	}
	srv := serveProducts(guard, listProcedure, whoAmIProcedure)
	defer srv.Close()

	call(srv, listProcedure, "", "")
	call(srv, listProcedure, logto.M2MToken("inventory-sync", "https://api.example.com"), "")
	call(srv, listProcedure, logto.M2MToken("inventory-sync", "https://api.example.com", "read:products"), "products")
	call(srv, whoAmIProcedure, logto.UserToken("user-1", "spa", "https://api.example.com"), "")
	// Output:
	// unauthenticated a bearer token is required
	// permission_denied the token lacks the scopes: read:products
	// ok inventory-sync products
	// ok user-1
}

// The challenge, as in an HTTP 401 or 403, is in the error's metadata:
// it names the scope to ask for.
func ExampleNew_challenge() {
	logto, v := startLogto()
	defer logto.Close()
	defer v.Close()

	guard, err := connectguard.New(v, map[string]middleware.Requirement{
		listProcedure: middleware.Scopes("read:products"),
	})
	if err != nil {
		log.Fatal(err)
	}
	srv := serveProducts(guard, listProcedure)
	defer srv.Close()

	client := connect.NewClient[wrapperspb.StringValue, wrapperspb.StringValue](srv.Client(), srv.URL+listProcedure)
	req := connect.NewRequest(&wrapperspb.StringValue{})
	req.Header().Set("Authorization", "Bearer "+logto.M2MToken("inventory-sync", "https://api.example.com"))
	_, err = client.CallUnary(context.Background(), req)
	var cerr *connect.Error
	if errors.As(err, &cerr) {
		fmt.Println(cerr.Code())
		fmt.Println(cerr.Meta().Get("WWW-Authenticate"))
	}
	// Output:
	// permission_denied
	// Bearer realm="api", error="insufficient_scope", error_description="the token lacks the scopes: read:products", scope="read:products"
}

// A procedure the map does not list is refused, whatever the token.
func ExampleNew_unlisted() {
	logto, v := startLogto()
	defer logto.Close()
	defer v.Close()

	guard, err := connectguard.New(v, map[string]middleware.Requirement{
		listProcedure: middleware.Scopes("read:products"),
	})
	if err != nil {
		log.Fatal(err)
	}
	srv := serveProducts(guard, listProcedure, whoAmIProcedure)
	defer srv.Close()

	call(srv, whoAmIProcedure, logto.M2MToken("inventory-sync", "https://api.example.com", "read:products"), "")
	// Output: permission_denied the server lists no requirement for this method
}

func ExampleAuthenticateUnlisted() {
	logto, v := startLogto()
	defer logto.Close()
	defer v.Close()

	guard, err := connectguard.New(v, map[string]middleware.Requirement{
		listProcedure: middleware.Scopes("read:products"),
	}, connectguard.AuthenticateUnlisted())
	if err != nil {
		log.Fatal(err)
	}
	srv := serveProducts(guard, listProcedure, whoAmIProcedure)
	defer srv.Close()
	// Unlisted procedures are let through once every listed name is served.
	if err := guard.CheckServed(listProcedure, whoAmIProcedure); err != nil {
		log.Fatal(err)
	}

	call(srv, whoAmIProcedure, "", "")
	call(srv, whoAmIProcedure, logto.M2MToken("inventory-sync", "https://api.example.com"), "")
	// Output:
	// unauthenticated a bearer token is required
	// ok inventory-sync
}

func ExampleExempt() {
	logto, v := startLogto()
	defer logto.Close()
	defer v.Close()

	guard, err := connectguard.New(v, map[string]middleware.Requirement{
		listProcedure: middleware.Scopes("read:products"),
	}, connectguard.Exempt(connectguard.HealthCheckProcedure))
	if err != nil {
		log.Fatal(err)
	}
	// A stand-in for grpchealth.NewHandler(checker, connect.WithInterceptors(guard)).
	srv := serveProducts(guard, listProcedure, healthProcedure)
	defer srv.Close()

	call(srv, healthProcedure, "", "serving")
	call(srv, listProcedure, "", "")
	// Output:
	// ok anonymous serving
	// unauthenticated a bearer token is required
}

// A requirement's Organization names a string field of the request message;
// here the value field of a google.protobuf.StringValue.
func ExampleNew_organization() {
	logto, v := startLogto()
	defer logto.Close()
	defer v.Close()

	guard, err := connectguard.New(v, map[string]middleware.Requirement{
		orgProcedure: {Organization: "value", Scopes: []string{"read:products"}},
	})
	if err != nil {
		log.Fatal(err)
	}
	srv := serveProducts(guard, orgProcedure)
	defer srv.Close()

	// An organization-level API resource token for acme.
	token := logto.Mint(logtotest.Token{
		Subject: "user-1", ClientID: "spa", Audience: "https://api.example.com",
		OrganizationID: "acme", Scopes: []string{"read:products"},
	})
	call(srv, orgProcedure, token, "acme")
	call(srv, orgProcedure, token, "globex")
	call(srv, orgProcedure, token, "")
	// Output:
	// ok user-1 acme
	// permission_denied the token is not for organization 'globex'
	// permission_denied the request names no organization
}

// WithOrganization reads the organization from elsewhere: a header, here.
func ExampleWithOrganization() {
	logto, v := startLogto()
	defer logto.Close()
	defer v.Close()

	fromHeader := func(_ context.Context, _ string, header http.Header, _ any) string {
		return header.Get("X-Organization")
	}
	guard, err := connectguard.New(v, map[string]middleware.Requirement{
		orgProcedure: {Organization: "org"},
	}, connectguard.WithOrganization(fromHeader))
	if err != nil {
		log.Fatal(err)
	}
	srv := serveProducts(guard, orgProcedure)
	defer srv.Close()

	token := logto.Mint(logtotest.Token{
		Subject: "user-1", ClientID: "spa", Audience: "https://api.example.com", OrganizationID: "acme",
	})
	client := connect.NewClient[wrapperspb.StringValue, wrapperspb.StringValue](srv.Client(), srv.URL+orgProcedure)
	for _, org := range []string{"acme", "globex"} {
		req := connect.NewRequest(&wrapperspb.StringValue{})
		req.Header().Set("Authorization", "Bearer "+token)
		req.Header().Set("X-Organization", org)
		if _, err := client.CallUnary(context.Background(), req); err != nil {
			fmt.Println(org, connect.CodeOf(err))
		} else {
			fmt.Println(org, "ok")
		}
	}
	// Output:
	// acme ok
	// globex permission_denied
}

// CheckServed finds a requirement keyed by a name that no handler serves:
// here a letter's case.
func ExampleInterceptor_CheckServed() {
	logto, v := startLogto()
	defer logto.Close()
	defer v.Close()

	guard, err := connectguard.New(v, map[string]middleware.Requirement{
		"/shop.v1.Products/list": middleware.Scopes("read:products"),
	}, connectguard.AuthenticateUnlisted())
	if err != nil {
		log.Fatal(err)
	}
	// The paths the handlers are mounted at: a procedure's own, or the
	// path a generated New...Handler returns.
	fmt.Println(guard.CheckServed(listProcedure))
	srv := serveProducts(guard, listProcedure)
	defer srv.Close()

	// Until CheckServed passes, AuthenticateUnlisted lets nothing through.
	call(srv, listProcedure, logto.M2MToken("inventory-sync", "https://api.example.com"), "")
	// Output:
	// connectguard: procedures listed or exempt that no handler serves: /shop.v1.Products/list (served: /shop.v1.Products/List)
	// permission_denied the server lists no requirement for this method
}

// With EndStreamsAtExpiry a stream ends when its token expires. This token
// expired five seconds ago, within the validator's leeway, so the stream
// opens, and ends at once: its handler's first Send is refused.
func ExampleEndStreamsAtExpiry() {
	logto, v := startLogto()
	defer logto.Close()
	defer v.Close()

	const watch = "/shop.v1.Products/Watch"
	guard, err := connectguard.New(v, map[string]middleware.Requirement{watch: middleware.Scopes("read:products")},
		connectguard.EndStreamsAtExpiry())
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(watch, connect.NewServerStreamHandler(watch,
		func(ctx context.Context, _ *connect.Request[wrapperspb.StringValue], stream *connect.ServerStream[wrapperspb.StringValue]) error {
			for {
				if err := stream.Send(wrapperspb.String("tick")); err != nil {
					return err
				}
				select {
				case <-ctx.Done(): // at the token's expiry
					return ctx.Err()
				case <-time.After(time.Second):
				}
			}
		}, connect.WithInterceptors(guard)))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	token := logto.Mint(logtotest.Token{Subject: "inventory-sync", ClientID: "inventory-sync", Audience: "https://api.example.com",
		Scopes: []string{"read:products"}, IssuedAt: time.Now().Add(-time.Minute), TTL: 55 * time.Second})
	client := connect.NewClient[wrapperspb.StringValue, wrapperspb.StringValue](srv.Client(), srv.URL+watch)
	req := connect.NewRequest(wrapperspb.String(""))
	req.Header().Set("Authorization", "Bearer "+token)
	stream, err := client.CallServerStream(context.Background(), req)
	if err != nil {
		log.Fatal(err)
	}
	for stream.Receive() {
		fmt.Println(stream.Msg().GetValue())
	}
	fmt.Println(connect.CodeOf(stream.Err()), stream.Err().(*connect.Error).Message())
	// Output:
	// unauthenticated the token has expired
}
