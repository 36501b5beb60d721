package mcpguard

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/logtoguard/logtoguard/middleware"
)

// sessionHeader is the header of the streamable HTTP transport that names
// a session.
const sessionHeader = "Mcp-Session-Id"

// binding is what the request that opened a session was authorized for:
// the token's subject and actor (act.sub of a delegated token, "" for the
// subject's own), the route (the ServeMux pattern and the path), and the
// organization that the server-wide requirement resolved ("" when it
// names none). A later request in the session must have been authorized
// for the same: a session the user opened is not continued by an actor
// calling on the user's behalf, nor the reverse.
type binding struct {
	subject      string
	pattern      string
	path         string
	organization string
	actor        string
}

// bindingOf returns the binding of r, whose claims c met the server-wide
// requirement req.
func bindingOf(r *http.Request, c *middleware.Claims, req middleware.Requirement) binding {
	b := binding{subject: c.Subject, pattern: r.Pattern, path: r.URL.EscapedPath(), actor: c.Actor}
	if req.Organization != "" {
		b.organization = r.PathValue(req.Organization)
	}
	return b
}

// userID is the TokenInfo.UserID that the SDK binds a session to: every
// field of the binding, so that the SDK's own check refuses the session
// wherever the guard's does, even for a session the guard does not know.
// The fields are joined by NUL, which none of them can hold (a subject is
// a JSON string the validator refuses control characters in; a pattern and
// an escaped path have none either); the actor comes last, so that even a
// NUL in it could not make two bindings read the same.
func (b binding) userID() string {
	return strings.Join([]string{b.subject, b.pattern, b.path, b.organization, b.actor}, "\x00")
}

// refusal is the answer to a request in a session that b opened, when the
// request was authorized as other: a 403 through the validator.
func (b binding) refusal(other binding) error {
	if b.subject != other.subject || b.actor != other.actor {
		return &middleware.Error{Kind: middleware.ErrClient, Check: middleware.CheckClient,
			Description: "the session belongs to another caller"}
	}
	return &middleware.Error{Kind: middleware.ErrOrganization, Check: middleware.CheckOrganization,
		Description: "the session was opened on another route or for another organization",
		Detail:      "opened on " + strconv.Quote(b.path) + ", organization " + strconv.Quote(b.organization) + "; requested on " + strconv.Quote(other.path)}
}

// sessionForget is how long the guard remembers a session that no request
// names. A session the SDK still serves after that is still bound by the
// SDK's own check of UserID; its refusal is then the SDK's plain-text 403.
const sessionForget = 24 * time.Hour

// sessionSweep is how often, at most, recording a session looks for
// sessions to forget.
const sessionSweep = time.Minute

// sessions are the bindings of the sessions that requests through the
// guard opened, by session ID.
type sessions struct {
	now func() time.Time

	mu        sync.Mutex
	byID      map[string]*session
	lastSweep time.Time
}

type session struct {
	binding  binding
	lastSeen atomic.Int64 // unix nanoseconds
}

// check returns the refusal of a request authorized as b in the session
// id, or nil: nil too when the guard does not know the session (the SDK
// answers an unknown session 404, and refuses a known one bound otherwise).
func (s *sessions) check(id string, b binding) error {
	s.mu.Lock()
	e := s.byID[id]
	s.mu.Unlock()
	if e == nil {
		return nil
	}
	e.lastSeen.Store(s.now().UnixNano())
	if e.binding != b {
		return e.binding.refusal(b)
	}
	return nil
}

// record remembers that the session id was opened by a request authorized
// as b.
func (s *sessions) record(id string, b binding) {
	now := s.now()
	e := &session{binding: b}
	e.lastSeen.Store(now.UnixNano())
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.byID == nil {
		s.byID = make(map[string]*session)
	}
	if _, ok := s.byID[id]; ok {
		// Session IDs are the SDK's to choose: never rebind one.
		return
	}
	s.byID[id] = e
	if now.Sub(s.lastSweep) < sessionSweep {
		return
	}
	s.lastSweep = now
	for k, e := range s.byID {
		if now.Sub(time.Unix(0, e.lastSeen.Load())) > sessionForget {
			delete(s.byID, k)
		}
	}
}

// forget drops the session id: the SDK ended it (DELETE) or no longer
// knows it (404).
func (s *sessions) forget(id string) {
	s.mu.Lock()
	delete(s.byID, id)
	s.mu.Unlock()
}

// sessionWriter watches the SDK's answer to a request: the session ID that
// an answer to a request without one opens, and the end of a session.
type sessionWriter struct {
	http.ResponseWriter
	onHeader func(status int, h http.Header)
	done     bool
}

func (w *sessionWriter) WriteHeader(status int) {
	if !w.done {
		w.done = true
		w.onHeader(status, w.Header())
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *sessionWriter) Write(p []byte) (int, error) {
	if !w.done {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(p)
}

// Unwrap gives http.ResponseController, which the SDK flushes its event
// streams with, the writer underneath.
func (w *sessionWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush flushes the writer underneath, for code that asserts
// http.Flusher.
func (w *sessionWriter) Flush() {
	if !w.done {
		w.WriteHeader(http.StatusOK)
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}
