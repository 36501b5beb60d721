package grpcguard

import (
	"context"
	"errors"
	"io"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/logtoguard/logtoguard/middleware"
)

// claimsStream is a stream whose Context carries the claims. With
// [EndStreamsAtExpiry] (expiry set), its Context ends when the token
// expires, and RecvMsg and SendMsg return the refusal after that.
type claimsStream struct {
	grpc.ServerStream
	ctx    context.Context
	g      *Guard
	expiry *expiry // nil unless ctx ends at the token's expiry (EndStreamsAtExpiry)
}

// expiry is the refusal of a stream whose token expired, made once: its
// challenge is sent once.
type expiry struct {
	once    sync.Once
	refusal error
}

func (s *claimsStream) Context() context.Context { return s.ctx }

// over returns the refusal of a stream whose token expired, under
// EndStreamsAtExpiry, and nil otherwise.
func (s *claimsStream) over() error {
	if s.expiry == nil || !errors.Is(context.Cause(s.ctx), errTokenExpired) {
		return nil
	}
	s.expiry.once.Do(func() { s.expiry.refusal = s.g.reject(expiredRefusal, s.setChallenge) })
	return s.expiry.refusal
}

func (s *claimsStream) RecvMsg(m any) error {
	if err := s.over(); err != nil {
		return err
	}
	if err := s.ServerStream.RecvMsg(m); err != nil {
		if over := s.over(); over != nil {
			return over
		}
		return err
	}
	return s.over()
}

func (s *claimsStream) SendMsg(m any) error {
	if err := s.over(); err != nil {
		return err
	}
	return s.ServerStream.SendMsg(m)
}

// setChallenge sends a refusal's metadata in the response header, or, once
// the header has gone with the stream's first message, in its trailer.
func (s *claimsStream) setChallenge(md metadata.MD) error {
	if err := s.ServerStream.SetHeader(md); err != nil {
		s.ServerStream.SetTrailer(md)
	}
	return nil
}

// errTokenExpired is the cause of the end of a stream's context at its
// token's expiry, under EndStreamsAtExpiry.
var errTokenExpired = errors.New("grpcguard: the token has expired")

// expiredRefusal is the refusal of a stream whose token expired.
var expiredRefusal = &middleware.Error{Kind: middleware.ErrExpired, Check: middleware.CheckExp, Description: "the token has expired"}

// sentFirst is the refusal of a stream whose handler sent before the
// first message was checked: the same words as connectguard's.
const sentFirst = "the method sent a message before the request named its organization"

// orgStream is the stream a handler gets when the method's requirement
// names an organization: the requirement is checked on every message
// received, which the handler sees only if the check passes. A SendMsg
// before the first message passed refuses the stream; after a refusal
// every RecvMsg and SendMsg returns it, and so does the stream whatever
// the handler returns.
type orgStream struct {
	claimsStream // its g is the Guard of the stream
	method       string
	claims       *middleware.Claims
	need         *middleware.Requirement

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
	if err := s.claimsStream.RecvMsg(m); err != nil {
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
	// Every message: a later one may name another organization, and is
	// handled only if the token speaks for that one too.
	err := s.g.authorize(s.ctx, s.method, s.claims, s.need, m)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.checked = true
	if err != nil && s.refused == nil {
		s.refused = s.g.reject(err, s.setChallenge)
	}
	return s.refused
}

// SendMsg sends m once the first message passed the check. Before that, it
// refuses the stream: nothing leaves the handler for a caller whose
// organization is not known yet.
func (s *orgStream) SendMsg(m any) error {
	s.mu.Lock()
	if !s.checked && s.refused == nil {
		s.refused = s.g.reject(&middleware.Error{Kind: middleware.ErrOrganization, Check: middleware.CheckOrganization, Description: sentFirst}, s.setChallenge)
	}
	refused := s.refused
	s.mu.Unlock()
	if refused != nil {
		return refused
	}
	return s.claimsStream.SendMsg(m)
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
	s.refused = s.g.reject(middleware.Authorize(s.claims, *s.need, nil), s.setChallenge)
	return s.refused
}
