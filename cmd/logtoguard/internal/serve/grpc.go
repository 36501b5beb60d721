package serve

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"

	"github.com/logtoguard/logtoguard/middleware"
)

// authzServer is Envoy's external authorization service
// (envoy.service.auth.v3.Authorization) over gRPC.
type authzServer struct {
	authv3.UnimplementedAuthorizationServer
	s *server
}

// Check decides on the request Envoy describes. Allowed: OK, the identity
// headers set upstream (overwriting any of the same name) and every other
// x-logto-* header the client sent removed. Denied: the status gRPC's
// mapping gives the library's HTTP status, and an HTTP response with that
// status, the challenge and the JSON body, which Envoy sends to the client.
func (a *authzServer) Check(ctx context.Context, req *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	start := time.Now()
	g := a.s.gateway()
	h := req.GetAttributes().GetRequest().GetHttp()
	var d decision
	if h == nil {
		d = decision{err: invalidRequest("the check request carries no HTTP request")}
	} else {
		d = g.decide(ctx, original{
			method: h.GetMethod(),
			host:   h.GetHost(),
			scheme: strings.ToLower(h.GetScheme()),
			uri:    h.GetPath(),
			header: http.Header{"Authorization": envoyHeader(h, "authorization")},
		})
	}
	a.s.metrics.observe(d, start)
	if d.err != nil {
		return deniedResponse(g.v.Reject(d.err)), nil
	}
	ok := &authv3.OkHttpResponse{}
	set := make(map[string]bool, len(identityHeaders))
	if d.claims != nil {
		identity(d.claims, func(name, value string) {
			name = strings.ToLower(name)
			set[name] = true
			ok.Headers = append(ok.Headers, &corev3.HeaderValueOption{
				Header:       &corev3.HeaderValue{Key: name, Value: value},
				AppendAction: corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD,
			})
		})
	}
	ok.HeadersToRemove = headersToRemove(h, set)
	return &authv3.CheckResponse{
		Status:       &status.Status{Code: int32(codes.OK)},
		HttpResponse: &authv3.CheckResponse_OkResponse{OkResponse: ok},
	}, nil
}

// headersToRemove lists the identity headers not in set, and every other
// x-logto-* header of the client's request: whatever the client sent under
// those names never reaches the upstream.
func headersToRemove(h *authv3.AttributeContext_HttpRequest, set map[string]bool) []string {
	var names []string
	for _, n := range identityHeaders {
		if n = strings.ToLower(n); !set[n] {
			names = append(names, n)
		}
	}
	add := func(n string) {
		n = strings.ToLower(n)
		if strings.HasPrefix(n, "x-logto-") && !set[n] && !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	for n := range h.GetHeaders() {
		add(n)
	}
	for _, hv := range h.GetHeaderMap().GetHeaders() {
		add(hv.GetKey())
	}
	slices.Sort(names)
	return names
}

// envoyHeader returns the values of the header name (lower case) of h,
// from headers or, when Envoy sends raw headers, header_map.
func envoyHeader(h *authv3.AttributeContext_HttpRequest, name string) []string {
	if v, ok := h.GetHeaders()[name]; ok {
		return []string{v}
	}
	var vals []string
	for _, hv := range h.GetHeaderMap().GetHeaders() {
		if strings.EqualFold(hv.GetKey(), name) {
			v := hv.GetValue()
			if v == "" {
				v = string(hv.GetRawValue())
			}
			vals = append(vals, v)
		}
	}
	return vals
}

// deniedResponse carries rej to Envoy: the gRPC code of its status, and the
// HTTP answer for the client.
func deniedResponse(rej middleware.Rejection) *authv3.CheckResponse {
	code := codes.Unauthenticated
	switch rej.Status {
	case http.StatusBadRequest:
		code = codes.InvalidArgument
	case http.StatusForbidden:
		code = codes.PermissionDenied
	case http.StatusServiceUnavailable:
		code = codes.Unavailable
	}
	header := func(k, v string) *corev3.HeaderValueOption {
		return &corev3.HeaderValueOption{
			Header:       &corev3.HeaderValue{Key: k, Value: v},
			AppendAction: corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD,
		}
	}
	headers := []*corev3.HeaderValueOption{
		header("content-type", "application/json"),
		header("cache-control", "no-store"),
		header("x-content-type-options", "nosniff"),
	}
	if rej.Challenge != "" {
		headers = append(headers, header("www-authenticate", rej.Challenge))
	}
	if rej.RetryAfter != "" {
		headers = append(headers, header("retry-after", rej.RetryAfter))
	}
	return &authv3.CheckResponse{
		Status: &status.Status{Code: int32(code), Message: rej.Description},
		HttpResponse: &authv3.CheckResponse_DeniedResponse{DeniedResponse: &authv3.DeniedHttpResponse{
			Status:  &typev3.HttpStatus{Code: typev3.StatusCode(rej.Status)}, //nolint:gosec // G115: an HTTP status, 100 to 599
			Headers: headers,
			Body:    string(rej.Body()),
		}},
	}
}

// envoyHeadersToRemove is the HTTP service's way of saying headers_to_remove.
const envoyHeadersToRemove = "X-Envoy-Auth-Headers-To-Remove"

// removeList is the value of X-Envoy-Auth-Headers-To-Remove for an allowed
// request to /envoy/: the identity headers not set, and any other x-logto-*
// header the client sent.
func removeList(r *http.Request, d decision) string {
	set := make(map[string]bool, len(identityHeaders))
	if d.claims != nil {
		identity(d.claims, func(name, _ string) { set[strings.ToLower(name)] = true })
	}
	h := &authv3.AttributeContext_HttpRequest{Headers: map[string]string{}}
	for n := range r.Header {
		h.Headers[n] = ""
	}
	return strings.Join(headersToRemove(h, set), ", ")
}
