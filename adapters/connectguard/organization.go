package connectguard

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/logtoguard/logtoguard/middleware"
)

// messageField is the default OrganizationFunc: the singular string field
// of the request message whose proto name is name ("org_id"), read with
// protoreflect. Anything else (no such field, another type, a message that
// is not protobuf) names no organization.
func messageField(_ context.Context, name string, _ http.Header, msg any) string {
	m, ok := msg.(proto.Message)
	if !ok || m == nil {
		return ""
	}
	r := m.ProtoReflect()
	fd := r.Descriptor().Fields().ByName(protoreflect.Name(name))
	if fd == nil || fd.Kind() != protoreflect.StringKind || fd.Cardinality() == protoreflect.Repeated {
		return ""
	}
	return r.Get(fd).String()
}

// expiringConn is the connection a stream's handler gets under
// EndStreamsAtExpiry: once ctx ended at the token's expiry, Receive and
// Send return the refusal.
type expiringConn struct {
	connect.StreamingHandlerConn
	ctx     context.Context
	refusal *connect.Error
}

// over returns the refusal once the token expired, and nil before.
func (c *expiringConn) over() *connect.Error {
	if errors.Is(context.Cause(c.ctx), errTokenExpired) {
		return c.refusal
	}
	return nil
}

func (c *expiringConn) Receive(msg any) error {
	if over := c.over(); over != nil {
		return over
	}
	if err := c.StreamingHandlerConn.Receive(msg); err != nil {
		if over := c.over(); over != nil {
			return over
		}
		return err
	}
	if over := c.over(); over != nil {
		return over
	}
	return nil
}

func (c *expiringConn) Send(msg any) error {
	if over := c.over(); over != nil {
		return over
	}
	return c.StreamingHandlerConn.Send(msg)
}

// errTokenExpired is the cause of the end of a stream's context at its
// token's expiry, under EndStreamsAtExpiry.
var errTokenExpired = errors.New("connectguard: the token has expired")

// sentFirst is the refusal of a stream whose handler sent before the
// first message was checked.
const sentFirst = "the method sent a message before the request named its organization"

// orgConn is the connection a stream's handler gets when the procedure's
// requirement names an organization: the requirement is checked on every
// message received, which the handler sees only if the check passes. A
// Send before the first message passed refuses the stream; after a refusal
// every Receive and Send returns it, and so does the stream whatever the
// handler returns.
type orgConn struct {
	connect.StreamingHandlerConn
	i      *Interceptor
	ctx    context.Context
	claims *middleware.Claims
	need   middleware.Requirement

	mu      sync.Mutex
	checked bool           // the first message arrived and was checked
	refused *connect.Error // the answer to a failed check
}

func (c *orgConn) Receive(msg any) error {
	c.mu.Lock()
	refused := c.refused
	c.mu.Unlock()
	if refused != nil {
		return refused
	}
	if err := c.StreamingHandlerConn.Receive(msg); err != nil {
		if !errors.Is(err, io.EOF) {
			return err
		}
		// The client sent all it will send: if that was nothing, the
		// request named no organization.
		if refused := c.verdict(); refused != nil {
			return refused
		}
		return err
	}
	// Every message: a later one may name another organization, and is
	// handled only if the token speaks for that one too. Outside the
	// lock: the OrganizationFunc is the user's code. Receive is never
	// called concurrently with itself.
	header := c.RequestHeader()
	err := middleware.Authorize(c.claims, c.need, func(name string) string {
		return c.i.organization(c.ctx, name, header, msg)
	})
	c.mu.Lock()
	defer c.mu.Unlock()
	c.checked = true
	if err != nil && c.refused == nil {
		c.refused = c.i.reject(err)
	}
	if c.refused != nil {
		return c.refused
	}
	return nil
}

// Send sends msg once the first message passed the check. Before that, it
// refuses the stream: nothing leaves the handler for a caller whose
// organization is not known yet.
func (c *orgConn) Send(msg any) error {
	c.mu.Lock()
	if !c.checked && c.refused == nil {
		c.refused = c.i.reject(&middleware.Error{Kind: middleware.ErrOrganization, Check: middleware.CheckOrganization, Description: sentFirst})
	}
	refused := c.refused
	c.mu.Unlock()
	if refused != nil {
		return refused
	}
	return c.StreamingHandlerConn.Send(msg)
}

// verdict returns nil once the first message passed the check, and
// otherwise the refusal that ends the stream: that of the failed check,
// or, when no message arrived, that of a request which names no
// organization.
func (c *orgConn) verdict() *connect.Error {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.refused != nil:
		return c.refused
	case c.checked:
		return nil
	}
	c.refused = c.i.reject(middleware.Authorize(c.claims, c.need, nil))
	return c.refused
}
