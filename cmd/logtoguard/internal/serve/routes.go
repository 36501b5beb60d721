package serve

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"strings"
	"sync"

	"github.com/logtoguard/logtoguard/middleware"
)

// route is one configured route. It is also the handler the routes'
// ServeMux holds for its pattern: serving a request only records the match
// (see routes.match), so that matching is exactly net/http's.
type route struct {
	match  string
	public bool
	req    middleware.Requirement
}

// ServeHTTP records in w, a *matcher, that the request matched rt.
func (rt *route) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if m, ok := w.(*matcher); ok {
		m.route, m.req = rt, r
	}
}

// matcher is the ResponseWriter of a lookup. The ServeMux's own answers
// (not found, method not allowed, a redirect to a subtree's slash) are
// written into it and dropped: they all mean that no route matched.
type matcher struct {
	route *route
	req   *http.Request
	hdr   http.Header
}

func (m *matcher) Header() http.Header {
	if m.hdr == nil {
		m.hdr = http.Header{}
	}
	return m.hdr
}
func (m *matcher) Write(b []byte) (int, error) { return len(b), nil }
func (m *matcher) WriteHeader(int)             {}

// routes are the configured routes in a ServeMux of their patterns.
type routes struct {
	mux *http.ServeMux
	n   int
}

// anyToken is the route of an unmatched request under default: authenticate.
var anyToken = &route{match: "(default)"}

// buildRoutes checks every route and registers its pattern; an error names
// the route and the field.
func buildRoutes(cfgs []routeConfig) (*routes, error) {
	rs := &routes{mux: http.NewServeMux(), n: len(cfgs)}
	for i, rc := range cfgs {
		at := fmt.Sprintf("routes[%d]", i)
		if strings.TrimSpace(rc.Match) == "" {
			return nil, fmt.Errorf("%s.match: required (a net/http ServeMux pattern such as \"GET /products\")", at)
		}
		at += fmt.Sprintf(" (%q)", rc.Match)
		req, err := rc.requirement()
		if err != nil {
			return nil, fmt.Errorf("%s.%v", at, err)
		}
		if err := handle(rs.mux, rc.Match, &route{match: rc.Match, public: rc.Public, req: req}); err != nil {
			return nil, fmt.Errorf("%s.match: %v", at, err)
		}
	}
	return rs, nil
}

// registeredAt is what ServeMux adds to its messages about a conflict: the
// Go source line of each registration, which says nothing about the file.
var registeredAt = regexp.MustCompile(`\s*\(registered at [^)]*\)`)

// handle registers h for pattern on mux, returning ServeMux's panic over a
// pattern it cannot parse, or one that conflicts with another, as an error.
func handle(mux *http.ServeMux, pattern string, h http.Handler) (err error) {
	defer func() {
		if p := recover(); p != nil {
			msg := registeredAt.ReplaceAllString(fmt.Sprint(p), "")
			err = errors.New(strings.Join(strings.Fields(msg), " "))
		}
	}()
	mux.Handle(pattern, h)
	return nil
}

// requirement is the route's middleware.Requirement, with every value
// checked and named by its field in the file.
func (r routeConfig) requirement() (middleware.Requirement, error) {
	var req middleware.Requirement
	if r.Public && (len(r.Scopes) > 0 || len(r.AnyScopes) > 0 || r.M2M || len(r.AppIDs) > 0 || r.User || r.Organization != "") {
		return req, errors.New("public: a public route requires nothing: leave out scopes, any_scopes, organization, m2m, app_ids and user")
	}
	// The library's own rules (middleware.Requirement.Validate), field by
	// field, so that the error names the field of the file.
	for _, f := range []struct {
		field string
		req   middleware.Requirement
	}{
		{"scopes", middleware.Requirement{Scopes: r.Scopes}},
		{"any_scopes", middleware.Requirement{AnyScopes: r.AnyScopes}},
		{"app_ids", middleware.Requirement{AppIDs: r.AppIDs}},
		{"user", middleware.Requirement{User: r.User, M2M: r.M2M || len(r.AppIDs) > 0}},
	} {
		if err := f.req.Validate(); err != nil {
			_, why, _ := strings.Cut(err.Error(), ": ")
			if _, rest, ok := strings.Cut(why, ": "); ok && strings.HasPrefix(why, "requirement ") {
				why = rest
			}
			return req, fmt.Errorf("%s: %s", f.field, why)
		}
	}
	req = middleware.Requirement{Scopes: r.Scopes, AnyScopes: r.AnyScopes, M2M: r.M2M, AppIDs: r.AppIDs, User: r.User}
	if r.Organization != "" {
		name, ok := strings.CutPrefix(r.Organization, "{")
		name, ok2 := strings.CutSuffix(name, "}")
		if !ok || !ok2 || name == "" || strings.ContainsAny(name, "{}/ .") {
			return req, fmt.Errorf("organization: %q must name a wildcard of match, such as \"{org}\"", r.Organization)
		}
		if !strings.Contains(r.Match, "{"+name+"}") {
			return req, fmt.Errorf("organization: match has no wildcard {%s}", name)
		}
		req.Organization = name
	}
	if err := req.Validate(); err != nil {
		return req, errors.New(strings.TrimPrefix(err.Error(), "middleware: requirement"))
	}
	return req, nil
}

// synthetic is the request a lookup builds of the original request, pooled:
// a decision reads it (path values, Authorization, query) only while it
// runs.
type synthetic struct {
	req http.Request
	url url.URL
}

var synthetics = sync.Pool{New: func() any { return new(synthetic) }}

func getSynthetic() *synthetic {
	s := synthetics.Get().(*synthetic)
	s.req.URL = &s.url
	return s
}

func putSynthetic(s *synthetic) {
	s.req, s.url = http.Request{}, url.URL{}
	synthetics.Put(s)
}

// match fills r, the request of a synthetic, with the original request and returns
// its route: nil when no route matches. r then carries the path values of
// the match and the Authorization header. The error is of kind
// middleware.ErrInvalidRequest when the values are not a request that an
// upstream would route as this gateway does.
func (rs *routes) match(o original, r *http.Request) (*route, error) {
	if !validMethod(o.method) {
		return nil, invalidRequest("the forwarded method is not an HTTP method")
	}
	if o.uri == "" || o.uri[0] != '/' {
		return nil, invalidRequest("the forwarded URI is not an absolute path")
	}
	if err := parseRequestURI(o.uri, r.URL); err != nil {
		return nil, invalidRequest("the forwarded URI cannot be parsed")
	}
	if !canonical(r.URL) {
		return nil, invalidRequest("the request path is not canonical (dot segments, empty segments, encoded slashes or percent signs, control characters)")
	}
	r.Method, r.Host, r.RequestURI = o.method, o.host, o.uri
	r.Proto, r.ProtoMajor, r.ProtoMinor = "HTTP/1.1", 1, 1
	r.Header = o.header
	if rs.n == 0 {
		return nil, nil
	}
	m := matcher{req: r}
	rs.mux.ServeHTTP(&m, r)
	return m.route, nil
}

// parseRequestURI parses uri, an origin-form request target
// ("/path?query"), into u.
func parseRequestURI(uri string, u *url.URL) error {
	for i := 0; i < len(uri); i++ {
		if c := uri[i]; c <= ' ' || c == 0x7f || c == '#' {
			return errors.New("invalid character")
		}
	}
	rawPath, query, _ := strings.Cut(uri, "?")
	p, err := url.PathUnescape(rawPath)
	if err != nil {
		return err
	}
	u.Path, u.RawQuery = p, query
	if p != rawPath {
		u.RawPath = rawPath
	}
	return nil
}

// canonical reports whether u's path, escaped and unescaped, is clean as
// ServeMux cleans paths, with no encoded slash, backslash or percent sign
// (which a server that decodes twice reads as another escape) and no control
// character: the one spelling of a path that an upstream cannot read as
// another route than the gateway did ("/public/%2e%2e/admin" would match
// /public/ here and be /admin to a server that decodes before it cleans).
func canonical(u *url.URL) bool {
	esc := u.EscapedPath()
	if cleanPath(esc) != esc || cleanPath(u.Path) != u.Path {
		return false
	}
	// The path as sent must be the one escaping of the path as read (hex
	// digits in either case): a byte the URL syntax does not allow raw,
	// such as a quote, makes EscapedPath re-escape the decoded path, and the
	// checks below would judge that spelling, not the one the upstream gets
	// ("/public%2F\"" is "/public/%22" re-escaped).
	raw := u.RawPath
	if raw == "" {
		raw = u.Path
	}
	if !strings.EqualFold(esc, raw) {
		return false
	}
	if strings.Count(esc, "/") != strings.Count(u.Path, "/") {
		return false
	}
	for i := 0; i < len(u.Path); i++ {
		if c := u.Path[i]; c < 0x20 || c == 0x7f || c == '\\' || c == '%' {
			return false
		}
	}
	return true
}

// cleanPath is ServeMux's: path.Clean keeping a trailing slash.
func cleanPath(p string) string {
	if p == "" {
		return "/"
	}
	if p[0] != '/' {
		p = "/" + p
	}
	np := path.Clean(p)
	if p[len(p)-1] == '/' && np != "/" {
		np += "/"
	}
	return np
}

// validMethod reports whether m is an RFC 9110 method token.
func validMethod(m string) bool {
	if m == "" || len(m) > 32 {
		return false
	}
	for i := 0; i < len(m); i++ {
		c := m[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// invalidRequest is a 400 invalid_request with description desc, answered
// by the library's responder like any other.
func invalidRequest(desc string) error {
	return &middleware.Error{Kind: middleware.ErrInvalidRequest, Description: desc}
}

// errNoRoute refuses a request that no route matches under default: deny.
var errNoRoute error = &middleware.Error{Kind: middleware.ErrInsufficientScope, Description: "no route of the gateway admits this request"}
