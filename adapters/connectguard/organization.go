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

// sentFirst is the refusal of a stream whose handler sent before the
// first message was checked.
const sentFirst = "the method sent a message before the request named its organization"

// orgConn is the connection a stream's handler gets when the procedure's
// requirement names an organization: the requirement is checked on the
// first message received, which the handler sees only if the check passes.
// A Send before that refuses the stream; after a refusal every Receive and
// Send returns it, and so does the stream whatever the handler returns.
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
	c.mu.Lock()
	first := !c.checked
	c.mu.Unlock()
	var err error
	if first {
		// Outside the lock: the OrganizationFunc is the user's code.
		// Receive is never called concurrently with itself.
		header := c.RequestHeader()
		err = middleware.Authorize(c.claims, c.need, func(name string) string {
			return c.i.organization(c.ctx, name, header, msg)
		})
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if first {
		c.checked = true
		if err != nil && c.refused == nil {
			c.refused = c.i.reject(err)
		}
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
