package grpcguard

import (
	"context"
	"errors"
	"io"
	"sync"

	"google.golang.org/grpc"

	"github.com/logtoguard/logtoguard/middleware"
)

// claimsStream is a stream whose Context carries the claims.
type claimsStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *claimsStream) Context() context.Context { return s.ctx }

// sentFirst is the refusal of a stream whose handler sent before the
// first message was checked: the same words as connectguard's.
const sentFirst = "the method sent a message before the request named its organization"

// orgStream is the stream a handler gets when the method's requirement
// names an organization: the requirement is checked on the first message
// received, which the handler sees only if the check passes. A SendMsg
// before that refuses the stream; after a refusal every RecvMsg and
// SendMsg returns it, and so does the stream whatever the handler returns.
type orgStream struct {
	claimsStream
	g      *Guard
	method string
	claims *middleware.Claims
	need   *middleware.Requirement

	mu      sync.Mutex
	checked bool  // the first message arrived and was checked
	refused error // the answer to a failed check
}

func (s *orgStream) RecvMsg(m any) error {
	s.mu.Lock()
	refused := s.refused
	s.mu.Unlock()
	if refused != nil {
		return refused
	}
	if err := s.ServerStream.RecvMsg(m); err != nil {
		if !errors.Is(err, io.EOF) {
			return err
		}
		// The client sent all it will send: if that was nothing, the
		// request named no organization.
		if refused := s.verdict(); refused != nil {
			return refused
		}
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.checked {
		s.checked = true
		if err := s.g.authorize(s.ctx, s.method, s.claims, s.need, m); err != nil {
			s.refused = s.g.reject(err, s.ServerStream.SetHeader)
		}
	}
	return s.refused
}

// SendMsg sends m once the first message passed the check. Before that, it
// refuses the stream: nothing leaves the handler for a caller whose
// organization is not known yet.
func (s *orgStream) SendMsg(m any) error {
	s.mu.Lock()
	if !s.checked && s.refused == nil {
		s.refused = s.g.reject(&middleware.Error{Kind: middleware.ErrOrganization, Check: middleware.CheckOrganization, Description: sentFirst}, s.ServerStream.SetHeader)
	}
	refused := s.refused
	s.mu.Unlock()
	if refused != nil {
		return refused
	}
	return s.ServerStream.SendMsg(m)
}

// verdict returns nil once the first message passed the check, and
// otherwise the refusal that ends the stream: that of the failed check,
// or, when no message arrived, that of a request which names no
// organization.
func (s *orgStream) verdict() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.refused != nil:
		return s.refused
	case s.checked:
		return nil
	}
	s.refused = s.g.reject(middleware.Authorize(s.claims, *s.need, nil), s.ServerStream.SetHeader)
	return s.refused
}
