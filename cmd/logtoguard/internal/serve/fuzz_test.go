package serve

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"unicode"

	"go.yaml.in/yaml/v3"

	"github.com/logtoguard/logtoguard/middleware"
)

// FuzzServeMatch sends arbitrary forwarded methods, hosts and URIs through
// the contract's and the spellings' routes: never a panic, every refusal a
// 400 invalid_request, and a route matched only when the readings that
// upstreams apply agree with it. Emulated readings: repeated
// percent-decoding and dot-segment removal (any server); ";parameters"
// dropped per segment before decoding (Tomcat, Jetty: servlets); "\" as "/"
// (IIS, ASP.NET); upper-case methods (Werkzeug); case-insensitive hosts;
// and, for every route or none, paths compared case-insensitively as Java's
// equalsIgnoreCase does (ASP.NET, Spring), with or without a trailing slash
// (Express, Flask), of the path as read and as a servlet container reads it:
// each of those must reach the route the gateway matched, in routes of the
// test's own making (oracleRoutes).
func FuzzServeMatch(f *testing.F) {
	var cfg struct {
		Routes []routeConfig `yaml:"routes"`
	}
	if err := yaml.Unmarshal([]byte(contractRoutes), &cfg); err != nil {
		f.Fatal(err)
	}
	rs, err := buildRoutes(cfg.Routes)
	if err != nil {
		f.Fatal(err)
	}
	rsOracle := newOracleRoutes(cfg.Routes)
	cfg.Routes = nil
	if err := yaml.Unmarshal([]byte(spellingRoutes), &cfg); err != nil {
		f.Fatal(err)
	}
	sp, err := buildRoutes(cfg.Routes)
	if err != nil {
		f.Fatal(err)
	}
	spOracle := newOracleRoutes(cfg.Routes)
	for _, seed := range [][3]string{
		{"GET", "", "/read"}, {"GET", "", "/public/x?a=b"}, {"GET", "", "/public/../read"}, {"GET", "", "/public/%2e%2e/read"},
		{"GET", "", "/public%2F..%2Fread"}, {"HEAD", "", "/orgs/acme/products"}, {"GET", "", "/members/%61cme"},
		{"DELETE", "", "//read"}, {"GET", "", "/public/%5c..%5cread"}, {"GET", "", "/a#b"}, {"GET", "", "/public/%252e%252e/read"}, {"G ET", "", "/read"}, {"GET", "", "/%zz"},
		{"GET", "", "/public/..;/read"}, {"GET", "", "/public/%2e%2e;/read"}, {"GET", "", "/orgs/evil/..;/acme/products"},
		{"GET", "", "/public/x;v=1"}, {"GET", "", "/admin;x/users"}, {"GET", "", "/public/..%3b/read"},
		{"GET", "ADMIN.example.com", "/x"}, {"GET", "admin.example.com.", "/x"}, {"GET", "admin.example.com:443", "/x"},
		{"GET", "[::1]:80", "/x"}, {"GET", "a..b", "/x"}, {"get", "", "/reports"}, {"Get", "", "/read"},
		{"GET", "", "/admin"}, {"GET", "", "/ADMIN/x"}, {"GET", "", "/reports/"}, {"GET", "", "/public"},
		// Characters that are ASCII letters once case is ignored: the long
		// s, the dotless i, the dotted capital I, the Kelvin sign.
		{"GET", "", "/report%C5%BF"}, {"GET", "", "/adm%C4%B1n/users"}, {"GET", "", "/%C4%B0tems"},
		{"GET", "", "/public/%E2%84%AA"}, {"GET", "", "/%C5%BFync"}, {"GET", "", "/auth"}, {"GET", "", "/public/caf%C3%A9"},
		{"GET", "", "/REPORTS;x=1"}, {"GET", "", "/Admin;x/users"}, {"GET", "", "/READ/"},
	} {
		f.Add(seed[0], seed[1], seed[2])
	}
	f.Fuzz(func(t *testing.T, method, host, uri string) {
		for i, routes := range []*routes{rs, sp} {
			oracle := []*oracleRoutes{rsOracle, spOracle}[i]
			s := getSynthetic()
			rt, err := routes.match(original{method: method, host: host, uri: uri}, &s.req)
			putSynthetic(s)
			if err != nil {
				if !errors.Is(err, middleware.ErrInvalidRequest) {
					t.Fatalf("%q %q %q: %v is not an invalid request", method, host, uri, err)
				}
				continue
			}
			if strings.ToUpper(method) != method {
				t.Fatalf("%q %q %q: a method not in upper case was matched", method, host, uri)
			}
			// A host is one host however it is spelled.
			for _, other := range []string{strings.ToUpper(host), strings.ToLower(host)} {
				s := getSynthetic()
				ort, oerr := routes.match(original{method: method, host: other, uri: uri}, &s.req)
				putSynthetic(s)
				if oerr != nil || ort != rt {
					t.Fatalf("%q %q %q: host %q is another route (%v)", method, host, uri, other, oerr)
				}
			}
			// Every reading of the path as case-insensitive upstreams read
			// it reaches the route matched, or none when none matched
			// (under default: authenticate, any token passes then).
			raw, _, _ := strings.Cut(uri, "?")
			want := ""
			if rt != nil {
				want = rt.match
			}
			chost, _ := canonicalHost(host, "")
			for _, read := range oracleReadings(raw) {
				if got := oracle.lookup(method, chost, read.path, read.folded); got != want {
					t.Fatalf("%q %q %q matched route %q, but an upstream may read the path as %q, route %q", method, host, uri, want, read.path, got)
				}
			}
			if rt == nil || !rt.public {
				continue
			}
			for _, read := range upstreamReadings(raw) {
				if !strings.HasPrefix(read, "/public") {
					t.Fatalf("%q %q matched the public route, but an upstream may read %q", method, uri, read)
				}
			}
		}
	})
}

// upstreamReadings are the paths upstreams may read raw (escaped) as:
// decoded up to three times, with or without each segment's ;parameters,
// with "\" as "/", and cleaned of dot segments.
func upstreamReadings(raw string) []string {
	var out []string
	for _, servlet := range []bool{false, true} {
		p := raw
		if servlet {
			segs := strings.Split(p, "/")
			for i, seg := range segs {
				segs[i], _, _ = strings.Cut(seg, ";")
			}
			p = strings.Join(segs, "/")
		}
		for range 3 { // an upstream may decode more than once
			if d, err := url.PathUnescape(p); err == nil {
				p = d
			}
		}
		out = append(out, cleanPath(p), cleanPath(strings.ReplaceAll(p, "\\", "/")))
	}
	return out
}

// oracleRoutes are the routes of a file registered by the test itself, as
// written and with their paths in lower case, each handler naming its
// route's match.
type oracleRoutes struct {
	exact, folded *http.ServeMux
}

type oracleRoute string

func (o oracleRoute) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Oracle-Route", string(o))
}

func newOracleRoutes(cfgs []routeConfig) *oracleRoutes {
	o := &oracleRoutes{exact: http.NewServeMux(), folded: http.NewServeMux()}
	for _, rc := range cfgs {
		pattern := lowerHost(rc.Match)
		o.exact.Handle(pattern, oracleRoute(rc.Match))
		prefix, host, path := splitPattern(pattern)
		o.folded.Handle(prefix+host+strings.ToLower(path), oracleRoute(rc.Match))
	}
	return o
}

// lookup is the match of the route that method, host and path reach, ""
// for none: path is compared with the routes in lower case when folded.
// A redirect to the path with a slash added (a subtree) reaches the
// subtree's route, as the gateway has it.
func (o *oracleRoutes) lookup(method, host, path string, folded bool) string {
	mux := o.exact
	if folded {
		mux = o.folded
	}
	for range 2 {
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, &http.Request{Method: method, Host: host, URL: &url.URL{Path: path}, Header: http.Header{}})
		if rt := w.Header().Get("Oracle-Route"); rt != "" || w.Code < 300 || w.Code > 399 {
			return rt
		}
		loc, err := url.Parse(w.Header().Get("Location"))
		if err != nil || loc.Path != path+"/" {
			return ""
		}
		path += "/"
	}
	return ""
}

// oracleReading is a path an upstream may read, compared with the routes
// in lower case when folded.
type oracleReading struct {
	path   string
	folded bool
}

// oracleReadings are the readings of raw (escaped) that must reach the
// route the gateway matched: decoded once, or as a servlet container
// reads it (each segment's ;parameters dropped, then decoded); each with
// and without a trailing slash; each as it is and case-folded as Java's
// String.equalsIgnoreCase compares characters (the lower case of the upper
// case: the long s is "s" there).
func oracleReadings(raw string) []oracleReading {
	var out []oracleReading
	for _, servlet := range []bool{false, true} {
		p := raw
		if servlet {
			segs := strings.Split(p, "/")
			for i, seg := range segs {
				segs[i], _, _ = strings.Cut(seg, ";")
			}
			p = strings.Join(segs, "/")
		}
		d, err := url.PathUnescape(p)
		if err != nil {
			continue
		}
		for _, q := range []string{d, trimSlash(d)} {
			out = append(out, oracleReading{q, false}, oracleReading{javaFold(q), true})
		}
	}
	return out
}

// javaFold is s with each character as Java's equalsIgnoreCase compares
// it: the lower case of its upper case.
func javaFold(s string) string {
	return strings.Map(func(r rune) rune { return unicode.ToLower(unicode.ToUpper(r)) }, s)
}

// FuzzServeConfig parses arbitrary files: never a panic, every error one
// line.
func FuzzServeConfig(f *testing.F) {
	f.Add([]byte("endpoint: https://t.logto.app\naudiences: [https://api.example.com]\n" + contractRoutes))
	f.Add([]byte("routes:\n  - match: GET /a/{x\n"))
	f.Add([]byte("a: &a [*a, *a]\n"))
	f.Add([]byte("routes: [{match: \"GET /o/{org}\", organization: \"{org}\", scopes: [a, \"\"]}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 4096 {
			return
		}
		_, err := parseConfig("fuzz.yaml", data)
		if err != nil && strings.Contains(err.Error(), "\n") {
			t.Fatalf("a multi-line error: %q", err)
		}
	})
}
