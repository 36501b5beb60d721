package serve

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/logtoguard/logtoguard/internal/adaptertest"
)

// checkClient is a gRPC client of the guard's ext_authz service, as Envoy
// calls it.
func checkClient(t *testing.T, g *testGuard) authv3.AuthorizationClient {
	t.Helper()
	conn, err := grpc.NewClient(g.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return authv3.NewAuthorizationClient(conn)
}

// checkRequest is the CheckRequest Envoy sends for method path with the
// request headers h (lower-case names, as Envoy sends them).
func checkRequest(method, path string, h map[string]string) *authv3.CheckRequest {
	return &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
			Method: method, Path: path, Host: "api.example.com", Scheme: "http", Headers: h, Protocol: "HTTP/1.1",
		}},
	}}
}

func grpcCheck(t *testing.T, c authv3.AuthorizationClient, req *authv3.CheckRequest) *authv3.CheckResponse {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := c.Check(ctx, req)
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	return res
}

// headerValues returns the headers of options as a map.
func headerValues(opts []*corev3.HeaderValueOption) map[string]string {
	m := map[string]string{}
	for _, o := range opts {
		m[o.GetHeader().GetKey()] = o.GetHeader().GetValue()
	}
	return m
}

// TestServeGRPCContract runs the adapters' contract through
// envoy.service.auth.v3.Authorization/Check.
func TestServeGRPCContract(t *testing.T) {
	iss := adaptertest.NewIssuer(t)
	g := startGuard(t, guardConfig(iss, ""))
	c := checkClient(t, g)
	for _, tc := range adaptertest.Cases(iss) {
		if tc.Route == "/check" || tc.Name == "Authenticate alone lets an organization token through" {
			continue // as in TestServeContract
		}
		if len(tc.Authorization) > 1 {
			continue // Envoy joins repeated headers into one value
		}
		t.Run(tc.Name, func(t *testing.T) {
			h := map[string]string{}
			if len(tc.Authorization) == 1 {
				h["authorization"] = tc.Authorization[0]
			}
			path := tc.Route
			if tc.Query != "" {
				path += "?" + tc.Query
			}
			res := grpcCheck(t, c, checkRequest("GET", path, h))
			if got := codes.Code(res.GetStatus().GetCode()).String(); got != tc.Code() {
				t.Fatalf("code %s (%s), want %s", got, res.GetStatus().GetMessage(), tc.Code())
			}
			if tc.Status == 200 {
				ok := res.GetOkResponse()
				set := headerValues(ok.GetHeaders())
				got := "sub=" + set["x-logto-subject"] + " client_id=" + set["x-logto-client-id"] + " m2m=" + set["x-logto-m2m"] + " same=true"
				if got != tc.Body {
					t.Errorf("identity headers say %q, want %q", got, tc.Body)
				}
				for _, o := range ok.GetHeaders() {
					if o.GetAppendAction() != corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD {
						t.Errorf("%s is not set with OVERWRITE_IF_EXISTS_OR_ADD", o.GetHeader().GetKey())
					}
				}
				return
			}
			if msg := res.GetStatus().GetMessage(); msg != tc.Description() {
				t.Errorf("status message %q, want %q", msg, tc.Description())
			}
			d := res.GetDeniedResponse()
			if int(d.GetStatus().GetCode()) != tc.Status {
				t.Errorf("HTTP status %d, want %d", d.GetStatus().GetCode(), tc.Status)
			}
			hs := headerValues(d.GetHeaders())
			if hs["www-authenticate"] != tc.Challenge {
				t.Errorf("challenge %q, want %q", hs["www-authenticate"], tc.Challenge)
			}
			if hs["content-type"] != "application/json" {
				t.Errorf("content-type %q", hs["content-type"])
			}
			if d.GetBody() != tc.Body {
				t.Errorf("body %q, want %q", d.GetBody(), tc.Body)
			}
		})
	}
}

// TestServeGRPCSpoofedHeaders checks that the identity headers a client
// sends never reach the upstream: set ones are overwritten, the others
// removed, allowed or public.
func TestServeGRPCSpoofedHeaders(t *testing.T) {
	iss := adaptertest.NewIssuer(t)
	g := startGuard(t, guardConfig(iss, ""))
	c := checkClient(t, g)
	spoof := func(h map[string]string) map[string]string {
		for k, v := range map[string]string{
			"x-logto-subject": "admin", "x-logto-organization-id": "acme", "x-logto-m2m": "true",
			"x-logto-scopes": "admin", "x-logto-role": "root", "x-logto-actor": "admin-agent",
		} {
			h[k] = v
		}
		return h
	}
	token := iss.M2MToken("inventory-sync", adaptertest.API, "read:products")

	res := grpcCheck(t, c, checkRequest("GET", "/read", spoof(map[string]string{"authorization": "Bearer " + token})))
	ok := res.GetOkResponse()
	if ok == nil {
		t.Fatalf("allowed request denied: %v", res.GetStatus())
	}
	set := headerValues(ok.GetHeaders())
	if set["x-logto-subject"] != "inventory-sync" || set["x-logto-scopes"] != "read:products" || set["x-logto-m2m"] != "true" {
		t.Errorf("set headers %v", set)
	}
	if want := []string{"x-logto-actor", "x-logto-organization-id", "x-logto-role"}; !slices.Equal(ok.GetHeadersToRemove(), want) {
		t.Errorf("headers_to_remove %v, want %v", ok.GetHeadersToRemove(), want)
	}

	res = grpcCheck(t, c, checkRequest("GET", "/public/x", spoof(map[string]string{})))
	ok = res.GetOkResponse()
	if ok == nil || len(ok.GetHeaders()) != 0 {
		t.Fatalf("public route: %v", res)
	}
	rm := strings.Join(ok.GetHeadersToRemove(), ",")
	if want := "x-logto-actor,x-logto-client-id,x-logto-m2m,x-logto-organization-id,x-logto-role,x-logto-scopes,x-logto-subject"; rm != want {
		t.Errorf("public route: headers_to_remove %s, want %s", rm, want)
	}

	res = grpcCheck(t, c, &authv3.CheckRequest{})
	if codes.Code(res.GetStatus().GetCode()) != codes.InvalidArgument || res.GetDeniedResponse().GetStatus().GetCode() != 400 {
		t.Errorf("a check without an HTTP request: %v", res)
	}
}
