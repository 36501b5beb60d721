package middleware

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
)

// retryAfterSeconds is sent with 503 while keys were never loaded: the key
// set retries in the background with backoff starting well under this.
const retryAfterSeconds = "5"

// overloadRetryAfterSeconds is sent with 503 when admission control turned
// a request away: a line of signature checks drains in well under this.
const overloadRetryAfterSeconds = "1"

// Rejection is the answer to a refused request, whatever carries it: an
// HTTP response ([Validator.WriteError] writes it), a gRPC status, a
// gateway's decision. Every adapter builds it with [Validator.Reject], so
// every transport says the same thing.
type Rejection struct {
	// Status is the HTTP status: 400, 401, 403 or 503.
	Status int
	// Error is the RFC 6750 error code (invalid_request, invalid_token,
	// insufficient_scope, temporarily_unavailable), or "unauthorized" when
	// the request carried no token.
	Error string
	// Description is the error_description: which check failed, safe to
	// send to the caller.
	Description string
	// Challenge is the WWW-Authenticate value, "" with a 503.
	Challenge string
	// RetryAfter is the Retry-After value of a 503, in seconds.
	RetryAfter string
}

// Body is the JSON body of the HTTP answer, with its final newline.
func (r Rejection) Body() []byte {
	b, _ := json.Marshal(struct {
		Error       string `json:"error"`
		Description string `json:"error_description,omitempty"`
	}{r.Error, r.Description})
	return append(b, '\n')
}

// Reject reports err as a rejection (the log and Hooks.Rejected, unless
// Verify already did) and returns the answer for it:
//
//	no token                      401, WWW-Authenticate: Bearer realm="..."
//	malformed request             400, error="invalid_request"
//	any token failure             401, error="invalid_token", error_description="..."
//	missing scope                 403, error="insufficient_scope", scope="<required>"
//	wrong organization or client  403, error="insufficient_scope"
//	keys never loaded, overloaded 503, Retry-After, no challenge
//
// An error that is none of this package's is answered 401 invalid_token,
// never 500. When Config.ResourceMetadataURL is set, 401 and 403 challenges
// carry it as resource_metadata (RFC 9728, section 5.1; the MCP
// authorization specification asks it of a 403 insufficient_scope, for
// consistency with the 401).
func (v *Validator) Reject(err error) Rejection {
	if notFromVerify(err) {
		v.rejected(err, nil)
	}
	status, code, desc := http.StatusUnauthorized, "invalid_token", ""
	var scopeErr *ScopeError
	var e *Error
	if errors.As(err, &e) {
		desc = e.Description
	}
	switch {
	case errors.As(err, &scopeErr):
		status, code, desc = http.StatusForbidden, "insufficient_scope", scopeErr.description()
	case errors.Is(err, ErrOrganization), errors.Is(err, ErrClient), errors.Is(err, ErrInsufficientScope):
		status, code = http.StatusForbidden, "insufficient_scope"
	case errors.Is(err, ErrNoToken):
		code = ""
	case errors.Is(err, ErrInvalidRequest):
		status, code = http.StatusBadRequest, "invalid_request"
	case errors.Is(err, ErrKeysUnavailable), errors.Is(err, ErrOverloaded):
		status, code = http.StatusServiceUnavailable, "temporarily_unavailable"
	case e == nil && kindText(err) == "":
		desc = "the token could not be verified"
	}
	if desc == "" && code != "" {
		desc = kindText(err)
	}
	if desc == "" && code != "" {
		desc = "invalid token"
	}
	desc = sanitize(desc)

	rej := Rejection{Status: status, Error: code, Description: desc}
	if code == "" {
		rej.Error, rej.Description = "unauthorized", "a bearer token is required"
	}
	if status == http.StatusServiceUnavailable {
		rej.RetryAfter = retryAfterSeconds
		if errors.Is(err, ErrOverloaded) {
			rej.RetryAfter = overloadRetryAfterSeconds
		}
		return rej
	}
	var b strings.Builder
	b.WriteString(`Bearer realm="`)
	b.WriteString(v.cfg.Realm)
	b.WriteByte('"')
	if code != "" {
		b.WriteString(`, error="`)
		b.WriteString(code)
		b.WriteString(`", error_description="`)
		b.WriteString(desc)
		b.WriteByte('"')
	}
	if scopeErr != nil {
		b.WriteString(`, scope="`)
		b.WriteString(sanitize(scopeErr.Required))
		b.WriteByte('"')
	}
	if v.cfg.ResourceMetadataURL != "" {
		b.WriteString(`, resource_metadata="`)
		b.WriteString(v.cfg.ResourceMetadataURL)
		b.WriteByte('"')
	}
	rej.Challenge = b.String()
	return rej
}

// WriteError writes the RFC 6750 response for err ([Validator.Reject]):
// the status, WWW-Authenticate (or Retry-After with a 503) and the JSON
// body {"error": "...", "error_description": "..."}. The request may be
// nil.
func (v *Validator) WriteError(w http.ResponseWriter, _ *http.Request, err error) {
	rej := v.Reject(err)
	h := w.Header()
	if rej.RetryAfter != "" {
		h.Set("Retry-After", rej.RetryAfter)
	}
	if rej.Challenge != "" {
		h.Set("WWW-Authenticate", rej.Challenge)
	}
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(rej.Status)
	_, _ = w.Write(rej.Body())
}

// kindText names the class of err, for a default description.
func kindText(err error) string {
	for _, k := range append([]error{ErrInvalidRequest, ErrKeysUnavailable, ErrOverloaded, ErrOrganization, ErrClient, ErrInsufficientScope}, tokenKinds...) {
		if errors.Is(err, k) {
			return strings.TrimPrefix(k.Error(), "middleware: ")
		}
	}
	return ""
}

func (e *ScopeError) description() string {
	if e.AnyOf {
		return "the token needs one of the scopes: " + e.Required
	}
	return "the token lacks the scopes: " + strings.Join(e.Missing, " ")
}

// sanitize keeps a description to the characters allowed in an RFC 6750
// error_description (printable ASCII but '"' and '\'), so that nothing a
// caller put in a token can break the header.
func sanitize(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s) && b.Len() < 300; i++ {
		c := s[i]
		switch {
		case c == '"':
			b.WriteByte('\'')
		case c == '\\':
		case c >= 0x20 && c <= 0x7e:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// notFromVerify reports whether err is a rejection that Verify did not
// already report to the hooks and the log: one of the request or of a
// route's requirement.
func notFromVerify(err error) bool {
	for _, k := range []error{ErrNoToken, ErrInvalidRequest, ErrInsufficientScope, ErrOrganization, ErrClient} {
		if errors.Is(err, k) {
			return true
		}
	}
	return false
}
