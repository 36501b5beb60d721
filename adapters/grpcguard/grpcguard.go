package grpcguard

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/logtoguard/logtoguard/middleware"
)

// Methods of gRPC health checking (google.golang.org/grpc/health) and
// server reflection (google.golang.org/grpc/reflection), for [Exempt].
const (
	HealthCheckMethod       = "/grpc.health.v1.Health/Check"
	HealthWatchMethod       = "/grpc.health.v1.Health/Watch"
	HealthListMethod        = "/grpc.health.v1.Health/List"
	ReflectionMethod        = "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"
	ReflectionV1AlphaMethod = "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"
)

// unlisted is the description of the refusal of a method that has no
// requirement: the same words as connectguard's.
const unlisted = "the server lists no requirement for this method"

// Guard holds the unary and stream server interceptors that verify the
// caller's token and check the requirement of each method. Build it with
// [New]; it is safe for concurrent use.
type Guard struct {
	v       *middleware.Validator
	methods map[string]*middleware.Requirement
	exempt  map[string]bool
	// authenticateUnlisted lets unlisted methods through with any valid
	// token.
	authenticateUnlisted bool
	// organization is WithOrganization's function, nil for messageField.
	organization OrganizationFunc
	// checked is set once CheckServer found every name served.
	checked atomic.Bool
	// endAtExpiry ends streams when their token expires.
	endAtExpiry bool
}

// OrganizationFunc returns the organization a call addresses, for a
// requirement that names one: "" when the call names none. req is the
// request message of a unary call, or the first message a stream's handler
// receives (see [Guard.StreamServerInterceptor]); the request metadata is
// in ctx (metadata.FromIncomingContext).
type OrganizationFunc func(ctx context.Context, fullMethod string, req any) string

// Option configures a [Guard].
type Option func(*Guard)

// AuthenticateUnlisted lets a method without an entry through with any
// valid token instead of refusing it with PermissionDenied: the token is
// verified and nothing more is asked of it, as the HTTP adapters'
// Authenticate does. An organization token passes too; a listed method's
// requirement, even the zero one, refuses it unless the requirement names
// an organization (see middleware.Authorize).
//
// It takes effect once [Guard.CheckServer] has found every listed name
// among the server's methods: until then an unlisted method is refused
// as without it, since a key misspelt by a letter's case
// ("/shop.v1.Products/create") would leave the method it meant to protect
// ("/shop.v1.Products/Create") to any valid token.
func AuthenticateUnlisted() Option {
	return func(g *Guard) { g.authenticateUnlisted = true }
}

// Exempt lets the methods through with no token at all, and without claims
// in the context: health checking and reflection, typically
// ([HealthCheckMethod], [HealthWatchMethod], [HealthListMethod],
// [ReflectionMethod], [ReflectionV1AlphaMethod]). Nothing is exempt unless
// listed here.
func Exempt(fullMethods ...string) Option {
	return func(g *Guard) {
		for _, m := range fullMethods {
			g.exempt[m] = true
		}
	}
}

// EndStreamsAtExpiry ends a stream when its token expires (the claims'
// ExpiresAt): the Context of the handler's stream ends then, with
// context.Cause an error that says so; every RecvMsg and SendMsg after it
// returns Unauthenticated "the token has expired" (with the invalid_token
// challenge), and so does the stream, whatever its handler returns. The
// client fetches a new token and opens a new stream. A handler blocked in
// RecvMsg sees it when the client's next message arrives, or at once if it
// watches stream.Context(). Without it, a stream runs on after its token
// expires, until its handler or the client ends it.
func EndStreamsAtExpiry() Option {
	return func(g *Guard) { g.endAtExpiry = true }
}

// WithOrganization replaces how a requirement's Organization is resolved.
// By default it names a string field of the request message, read with
// protoreflect (see the package documentation).
func WithOrganization(f OrganizationFunc) Option {
	return func(g *Guard) {
		if f != nil {
			g.organization = f
		}
	}
}

// New returns a Guard that protects a server's methods with v. methods maps
// full method names ("/shop.v1.Products/List", the generated
// <Service>_<Method>_FullMethodName constants) to what each requires; a
// method missing from it is refused with PermissionDenied, unless
// [AuthenticateUnlisted] or [Exempt] says otherwise. New copies the map.
//
// It returns an error for a nil validator, a method name that is not
// "/package.Service/Method", a requirement that
// middleware.Requirement.Validate refuses, or a method both exempt and
// listed.
func New(v *middleware.Validator, methods map[string]middleware.Requirement, opts ...Option) (*Guard, error) {
	if v == nil {
		return nil, errors.New("grpcguard: the validator is nil")
	}
	g := &Guard{
		v:       v,
		methods: make(map[string]*middleware.Requirement, len(methods)),
		exempt:  map[string]bool{},
	}
	for _, opt := range opts {
		opt(g)
	}
	for name, req := range methods {
		if err := checkMethod(name); err != nil {
			return nil, err
		}
		if err := req.Validate(); err != nil {
			return nil, fmt.Errorf("grpcguard: method %s: %w", name, err)
		}
		if g.exempt[name] {
			return nil, fmt.Errorf("grpcguard: method %s is both exempt and listed with a requirement", name)
		}
		g.methods[name] = &req
	}
	for name := range g.exempt {
		if err := checkMethod(name); err != nil {
			return nil, err
		}
	}
	return g, nil
}

// CheckServer reports, as an error, every method that the guard lists or
// exempts and srv does not serve (grpc.Server.GetServiceInfo): a
// requirement keyed by a name that matches nothing protects nothing. Call
// it once the services are registered, before srv serves:
//
//	srv := grpc.NewServer(guard.ServerOptions()...)
//	shopv1.RegisterProductsServer(srv, products)
//	if err := guard.CheckServer(srv); err != nil {
//		log.Fatal(err)
//	}
//
// Once it has passed, [AuthenticateUnlisted] takes effect.
func (g *Guard) CheckServer(srv interface {
	GetServiceInfo() map[string]grpc.ServiceInfo
}) error {
	if srv == nil {
		return errors.New("grpcguard: CheckServer: nil server")
	}
	served := map[string]bool{}
	for svc, info := range srv.GetServiceInfo() {
		for _, m := range info.Methods {
			served["/"+svc+"/"+m.Name] = true
		}
	}
	if err := unserved("grpcguard", served, g.methods, g.exempt); err != nil {
		return err
	}
	g.checked.Store(true)
	return nil
}

// unserved reports the names of listed and exempt that served lacks,
// with the served name each matches but for case, if any.
func unserved[V any](pkg string, served map[string]bool, listed map[string]V, exempt map[string]bool) error {
	var missing []string
	for _, names := range []map[string]bool{keys(listed), exempt} {
		for name := range names {
			if !served[name] {
				missing = append(missing, name)
			}
		}
	}
	if len(missing) == 0 {
		return nil
	}
	slices.Sort(missing)
	var b strings.Builder
	for i, name := range missing {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(name)
		for s := range served {
			if strings.EqualFold(s, name) {
				b.WriteString(" (the server has " + s + ")")
			}
		}
	}
	return fmt.Errorf("%s: methods listed or exempt that the server does not serve: %s", pkg, b.String())
}

func keys[V any](m map[string]V) map[string]bool {
	k := make(map[string]bool, len(m))
	for name := range m {
		k[name] = true
	}
	return k
}

// checkMethod reports a name that is not a full method name.
func checkMethod(name string) error {
	svc, method, ok := strings.Cut(strings.TrimPrefix(name, "/"), "/")
	if !strings.HasPrefix(name, "/") || !ok || svc == "" || method == "" || strings.Contains(method, "/") {
		return fmt.Errorf("grpcguard: %q is not a full method name such as /shop.v1.Products/List", name)
	}
	return nil
}

// ServerOptions returns the options that install both interceptors, ahead
// of any chained after them:
//
//	srv := grpc.NewServer(guard.ServerOptions()...)
func (g *Guard) ServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(g.UnaryServerInterceptor()),
		grpc.ChainStreamInterceptor(g.StreamServerInterceptor()),
	}
}

// UnaryServerInterceptor returns the interceptor of unary calls: the
// handler runs only when the token is valid and meets the method's
// requirement, with the claims in its context; otherwise the call ends
// with the rejection's status and its challenge in the www-authenticate
// header.
func (g *Guard) UnaryServerInterceptor() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if g.exempt[info.FullMethod] {
			return handler(ctx, req)
		}
		need, claims, err := g.open(ctx, info.FullMethod)
		if err == nil && need != nil {
			err = g.authorize(ctx, info.FullMethod, claims, need, req)
		}
		if err != nil {
			return nil, g.reject(err, func(md metadata.MD) error { return grpc.SetHeader(ctx, md) })
		}
		return handler(middleware.WithClaims(ctx, claims), req)
	}
}

// StreamServerInterceptor returns the interceptor of streams. A stream is
// checked once, when it opens, before its handler runs: then only the
// method and the request metadata exist, not a message. The token is
// verified and the requirement checked there, with one exception: a
// requirement that names an organization is checked on the first message
// the handler receives, the only place the organization can come from.
// For a server stream that is still before the handler's own code runs
// (the generated code receives the one request first); a client or
// bidirectional stream's handler runs (the interceptor cannot receive a
// message of a type only the handler knows), but its first RecvMsg returns
// the message only if the check passes, SendMsg refuses until then, and a
// stream whose check did not pass ends with the refusal whatever the
// handler returns. Every later message of a client or bidirectional stream
// is checked the same way: one that names another organization, or none,
// is handled only if the token speaks for it; otherwise RecvMsg returns
// the refusal instead of the message, and the stream ends with it. The
// handler's stream carries the claims in its Context.
//
// The token is verified once, when the stream opens: by default a stream
// runs on after its token expires, or after Logto removes the key that
// signed it, until the handler or the client ends it. [EndStreamsAtExpiry]
// ends it when the token expires, with Unauthenticated, so that the client
// fetches a new token and opens a new stream.
func (g *Guard) StreamServerInterceptor() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		if g.exempt[info.FullMethod] {
			return handler(srv, ss)
		}
		ctx := ss.Context()
		need, claims, err := g.open(ctx, info.FullMethod)
		if err == nil && need != nil && need.Organization == "" {
			err = middleware.Authorize(claims, *need, nil)
		}
		if err != nil {
			return g.reject(err, ss.SetHeader)
		}
		cs := claimsStream{ServerStream: ss, ctx: middleware.WithClaims(ctx, claims), g: g}
		if g.endAtExpiry {
			cs.expiry = new(expiry)
			var cancel context.CancelFunc
			cs.ctx, cancel = context.WithDeadlineCause(cs.ctx, claims.ExpiresAt, errTokenExpired)
			defer cancel()
		}
		if need == nil || need.Organization == "" {
			err = handler(srv, &cs)
		} else {
			stream := &orgStream{claimsStream: cs, method: info.FullMethod, claims: claims, need: need}
			err = handler(srv, stream)
			if refused := stream.verdict(); refused != nil {
				return refused
			}
		}
		if expired := cs.over(); expired != nil {
			return expired
		}
		return err
	}
}

// open is where both interceptors start for a method that is not exempt:
// the method's rule and the caller's claims. need is nil when a valid
// token is all it takes; err is the refusal of an unlisted method or of
// the token, and otherwise claims are not nil.
func (g *Guard) open(ctx context.Context, fullMethod string) (need *middleware.Requirement, claims *middleware.Claims, err error) {
	need, listed := g.methods[fullMethod]
	if !listed && !(g.authenticateUnlisted && g.checked.Load()) {
		return nil, nil, &middleware.Error{Kind: middleware.ErrClient, Check: middleware.CheckClient, Description: unlisted}
	}
	if c, ok := middleware.ClaimsFromContext(ctx); ok {
		return need, c, nil
	}
	// ValueFromIncomingContext copies the one key's values, not the
	// whole metadata as FromIncomingContext does.
	token, err := middleware.AuthorizationToken(metadata.ValueFromIncomingContext(ctx, "authorization"))
	if err != nil {
		return need, nil, err
	}
	claims, err = g.v.Verify(ctx, token)
	return need, claims, err
}

// authorize checks need with middleware.Authorize, the organization read
// from req.
func (g *Guard) authorize(ctx context.Context, fullMethod string, claims *middleware.Claims, need *middleware.Requirement, req any) error {
	return middleware.Authorize(claims, *need, func(name string) string {
		if g.organization != nil {
			return g.organization(ctx, fullMethod, req)
		}
		return messageField(name, req)
	})
}

// reject returns the status of the validator's answer to err (its code,
// with the description as the message) and sends its challenge as
// www-authenticate (and Retry-After as retry-after) through setHeader.
func (g *Guard) reject(err error, setHeader func(metadata.MD) error) error {
	rej := g.v.Reject(err)
	md := metadata.MD{}
	if rej.Challenge != "" {
		md.Set("www-authenticate", rej.Challenge)
	}
	if rej.RetryAfter != "" {
		md.Set("retry-after", rej.RetryAfter)
	}
	if len(md) > 0 {
		_ = setHeader(md)
	}
	return status.Error(code(rej.Status), rej.Description)
}

// code maps a rejection's HTTP status to its gRPC code.
func code(httpStatus int) codes.Code {
	switch httpStatus {
	case http.StatusBadRequest:
		return codes.InvalidArgument
	case http.StatusForbidden:
		return codes.PermissionDenied
	case http.StatusServiceUnavailable:
		return codes.Unavailable
	default:
		return codes.Unauthenticated
	}
}

// messageField is the default organization: the singular string field
// of the request message whose proto name is the requirement's
// Organization ("org_id"), read with protoreflect. Anything else (no such
// field, another type, a message that is not protobuf, no message) names no
// organization.
func messageField(name string, req any) string {
	m, ok := req.(proto.Message)
	if !ok || m == nil {
		return ""
	}
	r := m.ProtoReflect()
	if !r.IsValid() {
		return ""
	}
	fd := r.Descriptor().Fields().ByName(protoreflect.Name(name))
	if fd == nil || fd.Kind() != protoreflect.StringKind || fd.Cardinality() == protoreflect.Repeated {
		return ""
	}
	return r.Get(fd).String()
}
