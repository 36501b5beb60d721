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
	"unicode"
	"unicode/utf8"

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
	route  *route
	req    *http.Request
	hdr    http.Header
	status int
}

func (m *matcher) Header() http.Header {
	if m.hdr == nil {
		m.hdr = http.Header{}
	}
	return m.hdr
}
func (m *matcher) Write(b []byte) (int, error) { return len(b), nil }
func (m *matcher) WriteHeader(status int)      { m.status = status }

// routes are the configured routes in a ServeMux of their patterns.
type routes struct {
	mux *http.ServeMux
	// folded holds the same routes with their paths in lower case, as an
	// upstream that routes paths case-insensitively (ASP.NET) reads them:
	// mux itself when no pattern has an upper-case letter in its path.
	folded *http.ServeMux
	n      int
}

// anyToken is the route of an unmatched request under default: authenticate.
var anyToken = &route{match: "(default)"}

// buildRoutes checks every route and registers its pattern; an error names
// the route and the field.
func buildRoutes(cfgs []routeConfig) (*routes, error) {
	rs := &routes{mux: http.NewServeMux(), n: len(cfgs)}
	rts := make([]*route, len(cfgs))
	patterns := make([]string, len(cfgs))
	upper := false
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
		rts[i] = &route{match: rc.Match, public: rc.Public, req: req}
		patterns[i] = lowerHost(rc.Match)
		if _, _, path := splitPattern(patterns[i]); strings.Contains(path, ";") {
			return nil, fmt.Errorf("%s.match: a path with \";\" would never match: a request so spelled is another route to a servlet container, and is refused", at)
		}
		if err := handle(rs.mux, patterns[i], rts[i]); err != nil {
			return nil, fmt.Errorf("%s.match: %v", at, err)
		}
		_, _, path := splitPattern(patterns[i])
		upper = upper || strings.ToLower(path) != path
	}
	rs.folded = rs.mux
	if upper {
		rs.folded = http.NewServeMux()
		for i, p := range patterns {
			prefix, host, path := splitPattern(p)
			if err := handle(rs.folded, prefix+host+strings.ToLower(path), rts[i]); err != nil {
				return nil, fmt.Errorf("routes[%d] (%q).match: once paths are read case-insensitively, as ASP.NET routes them: %v", i, cfgs[i].Match, err)
			}
		}
	}
	return rs, nil
}

// splitPattern splits a ServeMux pattern into its method with the space
// after it (or ""), its host (or "") and its path.
func splitPattern(pattern string) (prefix, host, path string) {
	rest := pattern
	if i := strings.IndexAny(pattern, " \t"); i >= 0 {
		j := len(pattern) - len(strings.TrimLeft(pattern[i:], " \t"))
		prefix, rest = pattern[:j], pattern[j:]
	}
	i := strings.IndexByte(rest, '/')
	if i < 0 {
		return prefix, "", rest
	}
	return prefix, rest[:i], rest[i:]
}

// lowerHost is pattern with its host, if any, in lower case and without a
// trailing dot: requests are matched on their host so spelled
// (canonicalHost).
func lowerHost(pattern string) string {
	prefix, host, path := splitPattern(pattern)
	if host == "" {
		return pattern
	}
	return prefix + strings.TrimSuffix(strings.ToLower(host), ".") + path
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
	if r.Public && (len(r.Scopes) > 0 || len(r.AnyScopes) > 0 || r.M2M || len(r.AppIDs) > 0 || r.User || r.Organization != "" ||
		len(r.Clients) > 0 || r.NoDelegation || len(r.Actors) > 0) {
		return req, errors.New("public: a public route requires nothing: leave out scopes, any_scopes, organization, m2m, app_ids, user, clients, no_delegation and actors")
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
		{"clients", middleware.Requirement{Clients: r.Clients}},
		{"actors", middleware.Requirement{Actors: r.Actors}},
		{"no_delegation", middleware.Requirement{NoDelegation: r.NoDelegation, Actors: r.Actors}},
	} {
		if err := f.req.Validate(); err != nil {
			_, why, _ := strings.Cut(err.Error(), ": ")
			if _, rest, ok := strings.Cut(why, ": "); ok && strings.HasPrefix(why, "requirement ") {
				why = rest
			}
			return req, fmt.Errorf("%s: %s", f.field, why)
		}
	}
	req = middleware.Requirement{Scopes: r.Scopes, AnyScopes: r.AnyScopes, M2M: r.M2M, AppIDs: r.AppIDs, User: r.User,
		Clients: r.Clients, NoDelegation: r.NoDelegation, Actors: r.Actors}
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
		return nil, invalidRequest("the forwarded method is not an HTTP method in upper case")
	}
	host, ok := canonicalHost(o.host, o.scheme)
	if !ok {
		return nil, invalidRequest("the forwarded host is not a host name or address, with an optional port")
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
	if foldsToASCII(r.URL.Path) {
		return nil, invalidRequest("the request path holds a character that is an ASCII letter once case is ignored (such as U+017F, an s to Java), as some upstreams compare paths")
	}
	servlet, err := servletPath(r.URL.EscapedPath())
	if err != nil {
		return nil, err
	}
	r.Method, r.Host, r.RequestURI = o.method, host, o.uri
	r.Proto, r.ProtoMajor, r.ProtoMinor = "HTTP/1.1", 1, 1
	r.Header = o.header
	if rs.n == 0 {
		return nil, nil
	}
	p := r.URL.Path
	rt := lookup(rs.mux, r)
	// The other readings of the path that upstreams route by must reach
	// the same route: a servlet container drops ;parameters (and the
	// organization it reads must be the same), Express and others fold a
	// trailing slash, ASP.NET routes paths case-insensitively.
	if servlet != p {
		if srt, sr := readAs(rs.mux, r, servlet); srt != rt || rt != nil && rt.req.Organization != "" &&
			sr.PathValue(rt.req.Organization) != r.PathValue(rt.req.Organization) {
			return nil, invalidRequest("the request path is another route once its ;parameters are dropped, as a servlet container reads it")
		}
	}
	// Each of those readings of the path as read, and of the path a
	// servlet container reads ("/Admin;x/users" is /admin/users to Spring
	// matching paths case-insensitively on Tomcat).
	for _, q := range [...]string{p, servlet} {
		lower := strings.ToLower(q)
		for _, alt := range [...]struct {
			mux  *http.ServeMux
			path string
		}{{rs.mux, trimSlash(q)}, {rs.folded, lower}, {rs.folded, trimSlash(lower)}} {
			if alt.path == p && alt.mux == rs.mux {
				continue
			}
			if art, _ := readAs(alt.mux, r, alt.path); art != rt {
				return nil, invalidRequest("the request path is another route when read case-insensitively or without its trailing slash, as some upstreams route paths")
			}
		}
		if servlet == p {
			break
		}
	}
	return rt, nil
}

// trimSlash is p without a trailing slash, but "/".
func trimSlash(p string) string {
	if len(p) > 1 && p[len(p)-1] == '/' {
		return p[:len(p)-1]
	}
	return p
}

// readAs looks up, in mux, r with path instead of its own, and returns the
// route and the request that carries the path values.
func readAs(mux *http.ServeMux, r *http.Request, path string) (*route, *http.Request) {
	s := new(synthetic)
	s.req, s.url = *r, url.URL{Path: path, RawQuery: r.URL.RawQuery}
	s.req.URL = &s.url
	return lookup(mux, &s.req), &s.req
}

// lookup runs r through mux, a ServeMux of routes, and returns the route it
// matched, or nil. Where ServeMux redirects a path to its subtree ("/admin"
// to "/admin/", which many upstreams serve alike), the subtree's route
// applies: r's path then ends with the slash.
func lookup(mux *http.ServeMux, r *http.Request) *route {
	m := matcher{req: r}
	mux.ServeHTTP(&m, r)
	if m.route != nil || m.status < 300 || m.status > 399 {
		return m.route
	}
	loc, err := url.Parse(m.hdr.Get("Location"))
	if err != nil || loc.Path != r.URL.Path+"/" {
		return nil
	}
	r.URL.Path += "/"
	if r.URL.RawPath != "" {
		r.URL.RawPath += "/"
	}
	m = matcher{req: r}
	mux.ServeHTTP(&m, r)
	return m.route
}

// servletPath is the path esc (escaped) as a Java servlet container reads
// it (Tomcat, Jetty, Undertow; Spring MVC on them): each segment's
// ";parameters" dropped, then percent-decoded once. The error, a 400, says
// why that reading is refused: a dot segment ("/public/..;/admin" is
// "/admin" to Tomcat), an empty segment, or an encoded semicolon, which a
// server that decodes before it drops parameters reads as one.
func servletPath(esc string) (string, error) {
	if strings.Contains(esc, "%3B") || strings.Contains(esc, "%3b") {
		return "", invalidRequest("the request path holds an encoded semicolon (%3B), which some servers read as a ;parameter")
	}
	if !strings.Contains(esc, ";") {
		return url.PathUnescape(esc)
	}
	var b strings.Builder
	for seg := range strings.SplitSeq(esc, "/") {
		seg, _, _ = strings.Cut(seg, ";")
		d, err := url.PathUnescape(seg)
		if err != nil {
			return "", invalidRequest("the forwarded URI cannot be parsed")
		}
		if d == "." || d == ".." {
			return "", invalidRequest("the request path has a dot segment once its ;parameters are dropped, as a servlet container reads it (..;)")
		}
		if b.Len() > 0 || seg != "" {
			b.WriteByte('/')
		}
		b.WriteString(d)
	}
	p := b.String()
	if cleanPath(p) != p {
		return "", invalidRequest("the request path has an empty segment once its ;parameters are dropped, as a servlet container reads it")
	}
	return p, nil
}

// canonicalHost is host as the routes match it, and as most servers route
// it: in lower case, without one trailing dot, and without the default port
// of scheme (":443" for https, ":80" for http, either when the scheme is not
// known). ok is false when host is not a name or an address with an
// optional port.
func canonicalHost(host, scheme string) (string, bool) {
	if host == "" {
		return "", true
	}
	name, port := host, ""
	if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.Contains(host[i:], "]") {
		name, port = host[:i], host[i+1:]
		if port == "" || len(port) > 5 || strings.Trim(port, "0123456789") != "" {
			return "", false
		}
	}
	if strings.HasPrefix(name, "[") {
		if len(name) < 3 || name[len(name)-1] != ']' || strings.Trim(name[1:len(name)-1], "0123456789abcdefABCDEF:.") != "" {
			return "", false
		}
	} else {
		name = strings.TrimSuffix(name, ".")
		if name == "" || name[0] == '.' || name[len(name)-1] == '.' || strings.Contains(name, "..") ||
			strings.Trim(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_") != "" {
			return "", false
		}
	}
	name = strings.ToLower(name)
	defaultPort := port == "443" && (scheme == "https" || scheme == "") ||
		port == "80" && (scheme == "http" || scheme == "")
	if port != "" && !defaultPort {
		name += ":" + port
	}
	return name, true
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

// foldsToASCII reports whether p, decoded, holds a character other than an
// ASCII letter that is one once case is ignored: the long s (U+017F) is
// "s" and the dotless i (U+0131) "i" to Java's equalsIgnoreCase and
// .NET's OrdinalIgnoreCase, the Kelvin sign (U+212A) is "k" and the dotted
// capital I (U+0130) "i" in lower case. "/\u017fecret" matches no route
// here (nor in the folded routes: strings.ToLower keeps it) but is
// /secret to a case-insensitive upstream, so it is refused whatever the
// routes. Every mapping Go's tables know is tried (upper, lower and title
// case, and the simple case folding orbit), so no list of such characters
// is kept by hand.
func foldsToASCII(p string) bool {
	for i := 0; i < len(p); i++ {
		if p[i] >= utf8.RuneSelf {
			for _, r := range p[i:] {
				if r >= utf8.RuneSelf && runeFoldsToASCII(r) {
					return true
				}
			}
			return false
		}
	}
	return false
}

// runeFoldsToASCII reports whether r, not ASCII, is an ASCII letter in
// another case or in its case folding orbit.
func runeFoldsToASCII(r rune) bool {
	if isASCIILetter(unicode.ToLower(r)) || isASCIILetter(unicode.ToUpper(r)) || isASCIILetter(unicode.ToTitle(r)) {
		return true
	}
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		if isASCIILetter(f) {
			return true
		}
	}
	return false
}

func isASCIILetter(r rune) bool { return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' }

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

// validMethod reports whether m is an RFC 9110 method token in upper case.
// Methods are case-sensitive, but Werkzeug (Flask) upper-cases them and
// ASP.NET routes them case-insensitively: "get" would skip a "GET /reports"
// route here and reach that handler there.
func validMethod(m string) bool {
	if m == "" || len(m) > 32 {
		return false
	}
	for i := 0; i < len(m); i++ {
		c := m[i]
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
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
