package connectguard

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/logtoguard/logtoguard/middleware"
)

// Procedures of gRPC health checking (connectrpc.com/grpchealth) and server
// reflection (connectrpc.com/grpcreflect), for [Exempt].
const (
	HealthCheckProcedure       = "/grpc.health.v1.Health/Check"
	HealthWatchProcedure       = "/grpc.health.v1.Health/Watch"
	ReflectionProcedure        = "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"
	ReflectionV1AlphaProcedure = "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"
)

// unlisted is the description of the refusal of a procedure that has no
// requirement.
const unlisted = "the server lists no requirement for this method"

// Interceptor is a connect.Interceptor that verifies the bearer token of
// every call a handler receives and checks the requirement of its procedure.
// Calls a client makes pass through untouched. Build it with [New]; it is
// safe for concurrent use.
type Interceptor struct {
	v          *middleware.Validator
	procedures map[string]*middleware.Requirement
	exempt     map[string]bool
	// authenticateUnlisted lets unlisted procedures through with any
	// valid token.
	authenticateUnlisted bool
	organization         OrganizationFunc
	// checked is set once CheckServed found every name served.
	checked atomic.Bool
	// endAtExpiry ends streams when their token expires.
	endAtExpiry bool
}

var _ connect.Interceptor = (*Interceptor)(nil)

// OrganizationFunc returns the organization a call addresses, for a
// requirement whose Organization is name: "" when the call names none. msg
// is the request message of a unary call, or the first message of a stream
// (see the package documentation), and header holds the request headers.
type OrganizationFunc func(ctx context.Context, name string, header http.Header, msg any) string

// Option configures an [Interceptor].
type Option func(*Interceptor)

// AuthenticateUnlisted lets a procedure without an entry through with any
// valid token instead of refusing it with PermissionDenied: the token is
// verified and nothing more is asked of it, as the HTTP adapters'
// Authenticate does. An organization token passes too; a listed
// procedure's requirement, even the zero one, refuses it unless the
// requirement names an organization (see middleware.Authorize).
//
// It takes effect once [Interceptor.CheckServed] has found every listed
// name among the procedures served: until then an unlisted procedure is
// refused as without it, since a key misspelt by a letter's case
// ("/shop.v1.Products/create") would leave the procedure it meant to
// protect ("/shop.v1.Products/Create") to any valid token.
func AuthenticateUnlisted() Option {
	return func(i *Interceptor) { i.authenticateUnlisted = true }
}

// Exempt lets the procedures through with no token at all, and without
// claims in the context: health checking and reflection, typically
// ([HealthCheckProcedure], [HealthWatchProcedure], [ReflectionProcedure],
// [ReflectionV1AlphaProcedure]). Nothing is exempt unless listed here.
func Exempt(procedures ...string) Option {
	return func(i *Interceptor) {
		for _, p := range procedures {
			i.exempt[p] = true
		}
	}
}

// EndStreamsAtExpiry ends a stream when its token expires (the claims'
// ExpiresAt): the context of the stream's handler ends then, with
// context.Cause an error that says so; every Receive and Send after it
// returns Unauthenticated "the token has expired", and so does the stream,
// whatever its handler returns. The client fetches a new token and opens a
// new stream. A handler blocked in Receive sees it when the client's next
// message arrives, or at once if it watches its context. Without it, a
// stream runs on after its token expires, until its handler or the client
// ends it.
func EndStreamsAtExpiry() Option {
	return func(i *Interceptor) { i.endAtExpiry = true }
}

// WithOrganization replaces how a requirement's Organization is resolved.
// By default it names a string field of the request message, read with
// protoreflect (see the package documentation).
func WithOrganization(f OrganizationFunc) Option {
	return func(i *Interceptor) {
		if f != nil {
			i.organization = f
		}
	}
}

// New returns an interceptor that protects the procedures of a handler with
// v. procedures maps full procedure names ("/shop.v1.Products/List", the
// generated ...Procedure constants) to what each requires; a procedure
// missing from it is refused with PermissionDenied, unless
// [AuthenticateUnlisted] or [Exempt] says otherwise. New copies the map.
//
// It returns an error for a nil validator, a procedure name that is not
// "/package.Service/Method", a requirement that middleware.Requirement.Validate
// refuses, or a procedure both exempt and listed.
func New(v *middleware.Validator, procedures map[string]middleware.Requirement, opts ...Option) (*Interceptor, error) {
	if v == nil {
		return nil, errors.New("connectguard: the validator is nil")
	}
	i := &Interceptor{
		v:            v,
		procedures:   make(map[string]*middleware.Requirement, len(procedures)),
		exempt:       map[string]bool{},
		organization: messageField,
	}
	for _, opt := range opts {
		opt(i)
	}
	for name, req := range procedures {
		if err := checkProcedure(name); err != nil {
			return nil, err
		}
		if err := req.Validate(); err != nil {
			return nil, fmt.Errorf("connectguard: procedure %s: %w", name, err)
		}
		if i.exempt[name] {
			return nil, fmt.Errorf("connectguard: procedure %s is both exempt and listed with a requirement", name)
		}
		i.procedures[name] = &req
	}
	for name := range i.exempt {
		if err := checkProcedure(name); err != nil {
			return nil, err
		}
	}
	return i, nil
}

// CheckServed reports, as an error, every procedure that the interceptor
// lists or exempts and that none of paths serves: a requirement keyed by a
// name that matches nothing protects nothing. paths are where the handlers
// that use the interceptor are mounted: the path that a generated
// New...Handler returns ("/shop.v1.Products/"), whose procedures are the
// methods of that service in the protobuf registry
// (protoregistry.GlobalFiles, where the generated code registers it), or a
// procedure's own path ("/shop.v1.Products/List"), for a handler built with
// connect.NewUnaryHandler and the like. Call it where the handlers are
// mounted:
//
//	path, handler := shopv1connect.NewProductsHandler(products, connect.WithInterceptors(guard))
//	if err := guard.CheckServed(path); err != nil {
//		log.Fatal(err)
//	}
//	mux.Handle(path, handler)
//
// Once it has passed, [AuthenticateUnlisted] takes effect.
func (i *Interceptor) CheckServed(paths ...string) error {
	served := map[string]bool{}
	for _, path := range paths {
		svc, method, ok := strings.Cut(strings.TrimPrefix(path, "/"), "/")
		switch {
		case !strings.HasPrefix(path, "/") || !ok || svc == "" || strings.Contains(method, "/"):
			return fmt.Errorf("connectguard: CheckServed: %q is neither a service path such as /shop.v1.Products/ nor a procedure", path)
		case method != "":
			served[path] = true
			continue
		}
		d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(svc))
		if err != nil {
			return fmt.Errorf("connectguard: CheckServed: service %s is not in the protobuf registry: %w", svc, err)
		}
		sd, ok := d.(protoreflect.ServiceDescriptor)
		if !ok {
			return fmt.Errorf("connectguard: CheckServed: %s is not a service", svc)
		}
		for j := 0; j < sd.Methods().Len(); j++ {
			served[path+string(sd.Methods().Get(j).Name())] = true
		}
	}
	var missing []string
	for _, names := range []map[string]bool{i.listedNames(), i.exempt} {
		for name := range names {
			if !served[name] {
				missing = append(missing, name)
			}
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		var b strings.Builder
		for n, name := range missing {
			if n > 0 {
				b.WriteString(", ")
			}
			b.WriteString(name)
			for s := range served {
				if strings.EqualFold(s, name) {
					b.WriteString(" (served: " + s + ")")
				}
			}
		}
		return fmt.Errorf("connectguard: procedures listed or exempt that no handler serves: %s", b.String())
	}
	i.checked.Store(true)
	return nil
}

// listedNames returns the names of the listed procedures.
func (i *Interceptor) listedNames() map[string]bool {
	names := make(map[string]bool, len(i.procedures))
	for name := range i.procedures {
		names[name] = true
	}
	return names
}

// checkProcedure reports a name that is not a full procedure name.
func checkProcedure(name string) error {
	svc, method, ok := strings.Cut(strings.TrimPrefix(name, "/"), "/")
	if !strings.HasPrefix(name, "/") || !ok || svc == "" || method == "" || strings.Contains(method, "/") {
		return fmt.Errorf("connectguard: %q is not a full procedure name such as /shop.v1.Products/List", name)
	}
	return nil
}

// rule returns what procedure requires: need is nil when a valid token is
// all it takes (an unlisted procedure under AuthenticateUnlisted), guarded
// is false when the procedure is exempt, and err is the refusal of an
// unlisted procedure.
func (i *Interceptor) rule(procedure string) (need *middleware.Requirement, guarded bool, err error) {
	if req, ok := i.procedures[procedure]; ok {
		return req, true, nil
	}
	if i.exempt[procedure] {
		return nil, false, nil
	}
	if i.authenticateUnlisted && i.checked.Load() {
		return nil, true, nil
	}
	return nil, true, &middleware.Error{Kind: middleware.ErrClient, Check: middleware.CheckClient, Description: unlisted}
}

// authenticate returns the claims of the call: those already in ctx (put
// there by an outer HTTP middleware), or else those of the bearer token of
// header.
func (i *Interceptor) authenticate(ctx context.Context, header http.Header) (*middleware.Claims, error) {
	if c, ok := middleware.ClaimsFromContext(ctx); ok {
		return c, nil
	}
	token, err := middleware.AuthorizationToken(header.Values("Authorization"))
	if err != nil {
		return nil, err
	}
	return i.v.Verify(ctx, token)
}

// WrapUnary implements connect.Interceptor: a handler's unary call runs only
// when the token is valid and meets the procedure's requirement, with the
// claims in its context; a client's call passes through.
func (i *Interceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if req.Spec().IsClient {
			return next(ctx, req)
		}
		need, guarded, err := i.rule(req.Spec().Procedure)
		if !guarded {
			return next(ctx, req)
		}
		var claims *middleware.Claims
		if err == nil {
			claims, err = i.authenticate(ctx, req.Header())
		}
		if err == nil && need != nil {
			err = middleware.Authorize(claims, *need, func(name string) string {
				return i.organization(ctx, name, req.Header(), req.Any())
			})
		}
		if err != nil {
			cerr := i.reject(err)
			if info, ok := connect.CallInfoForHandlerContext(ctx); ok {
				return nil, grpcChallenge(req.Peer().Protocol, info.ResponseHeader(), cerr)
			}
			return nil, cerr
		}
		return next(middleware.WithClaims(ctx, claims), req)
	}
}

// WrapStreamingClient implements connect.Interceptor: a client's streams
// pass through.
func (i *Interceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

// WrapStreamingHandler implements connect.Interceptor: a stream is checked
// once, when it opens, before the handler runs; a requirement that names an
// organization is checked on the stream's first message (see the package
// documentation).
func (i *Interceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		need, guarded, err := i.rule(conn.Spec().Procedure)
		if !guarded {
			return next(ctx, conn)
		}
		var claims *middleware.Claims
		if err == nil {
			claims, err = i.authenticate(ctx, conn.RequestHeader())
		}
		if err == nil && need != nil && need.Organization == "" {
			err = middleware.Authorize(claims, *need, nil)
		}
		if err != nil {
			return streamReject(conn, i.reject(err))
		}
		ctx = middleware.WithClaims(ctx, claims)
		var expiring *expiringConn
		handlerConn := conn
		if i.endAtExpiry {
			var cancel context.CancelFunc
			ctx, cancel = context.WithDeadlineCause(ctx, claims.ExpiresAt, errTokenExpired)
			defer cancel()
			expiring = &expiringConn{StreamingHandlerConn: conn, ctx: ctx, refusal: i.reject(expiredRefusal)}
			handlerConn = expiring
		}
		if need == nil || need.Organization == "" {
			err = next(ctx, handlerConn)
		} else {
			oc := &orgConn{StreamingHandlerConn: handlerConn, i: i, ctx: ctx, claims: claims, need: *need}
			err = next(ctx, oc)
			if refused := oc.verdict(); refused != nil {
				return streamReject(conn, refused)
			}
		}
		if expiring != nil {
			if over := expiring.over(); over != nil {
				return streamReject(conn, over)
			}
		}
		return err
	}
}

// expiredRefusal is the refusal of a stream whose token expired.
var expiredRefusal = &middleware.Error{Kind: middleware.ErrExpired, Check: middleware.CheckExp, Description: "the token has expired"}

// reject turns err into the connect error of the validator's answer:
// the code of its status, its description as the message and its challenge
// as WWW-Authenticate (Retry-After with Unavailable) in the error's
// metadata, which every protocol sends to the client.
func (i *Interceptor) reject(err error) *connect.Error {
	rej := i.v.Reject(err)
	cerr := connect.NewError(code(rej.Status), &rejection{description: rej.Description, err: err})
	if rej.Challenge != "" {
		cerr.Meta().Set("WWW-Authenticate", rej.Challenge)
	}
	if rej.RetryAfter != "" {
		cerr.Meta().Set("Retry-After", rej.RetryAfter)
	}
	return cerr
}

// grpcChallenge returns cerr with its challenge moved from the error's
// metadata to the response headers when the protocol is gRPC: connect sends
// a gRPC error's metadata as HTTP trailers, and net/http drops
// WWW-Authenticate from trailers (it is not a permitted trailer field) with
// a line in the server's log. The headers of the error response arrive, and
// the client merges them into the error's metadata. cerr itself, which the
// handler may hold, is left as it is.
func grpcChallenge(protocol string, header http.Header, cerr *connect.Error) *connect.Error {
	challenge := cerr.Meta().Get("WWW-Authenticate")
	if protocol != connect.ProtocolGRPC || challenge == "" {
		return cerr
	}
	header.Set("WWW-Authenticate", challenge)
	moved := connect.NewError(cerr.Code(), cerr.Unwrap())
	for k, vs := range cerr.Meta() {
		if k != "Www-Authenticate" {
			moved.Meta()[k] = vs
		}
	}
	return moved
}

// streamReject returns the refusal of a stream (see grpcChallenge).
func streamReject(conn connect.StreamingHandlerConn, cerr *connect.Error) error {
	return grpcChallenge(conn.Peer().Protocol, conn.ResponseHeader(), cerr)
}

// code maps a rejection's HTTP status to its connect code.
func code(status int) connect.Code {
	switch status {
	case http.StatusBadRequest:
		return connect.CodeInvalidArgument
	case http.StatusForbidden:
		return connect.CodePermissionDenied
	case http.StatusServiceUnavailable:
		return connect.CodeUnavailable
	default:
		return connect.CodeUnauthenticated
	}
}

// rejection is the error inside a refusal's connect.Error: its message,
// the one sent to the client, is the description; it unwraps to the
// middleware error, so that errors.Is and middleware.CheckOf work on the
// server side.
type rejection struct {
	description string
	err         error
}

func (r *rejection) Error() string { return r.description }
func (r *rejection) Unwrap() error { return r.err }
