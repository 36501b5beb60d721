package serve

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/logtoguard/logtoguard/middleware"
)

// FuzzServeMatch sends arbitrary forwarded methods, hosts and URIs through
// the contract's and the spellings' routes: never a panic, every refusal a
// 400 invalid_request, and a route matched only when the readings that
// upstreams apply agree with it. Emulated readings: repeated
// percent-decoding and dot-segment removal (any server); ";parameters"
// dropped per segment before decoding (Tomcat, Jetty: servlets); "\" as "/"
// (IIS, ASP.NET); upper-case methods (Werkzeug); case-insensitive hosts.
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
	cfg.Routes = nil
	if err := yaml.Unmarshal([]byte(spellingRoutes), &cfg); err != nil {
		f.Fatal(err)
	}
	sp, err := buildRoutes(cfg.Routes)
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range [][3]string{
		{"GET", "", "/read"}, {"GET", "", "/public/x?a=b"}, {"GET", "", "/public/../read"}, {"GET", "", "/public/%2e%2e/read"},
		{"GET", "", "/public%2F..%2Fread"}, {"HEAD", "", "/orgs/acme/products"}, {"GET", "", "/members/%61cme"},
		{"DELETE", "", "//read"}, {"GET", "", "/public/%5c..%5cread"}, {"GET", "", "/a#b"}, {"GET", "", "/public/%252e%252e/read"}, {"G ET", "", "/read"}, {"GET", "", "/%zz"},
		{"GET", "", "/public/..;/read"}, {"GET", "", "/public/%2e%2e;/read"}, {"GET", "", "/orgs/evil/..;/acme/products"},
		{"GET", "", "/public/x;v=1"}, {"GET", "", "/admin;x/users"}, {"GET", "", "/public/..%3b/read"},
		{"GET", "ADMIN.example.com", "/x"}, {"GET", "admin.example.com.", "/x"}, {"GET", "admin.example.com:443", "/x"},
		{"GET", "[::1]:80", "/x"}, {"GET", "a..b", "/x"}, {"get", "", "/reports"}, {"Get", "", "/read"},
		{"GET", "", "/admin"}, {"GET", "", "/ADMIN/x"}, {"GET", "", "/reports/"}, {"GET", "", "/public"},
	} {
		f.Add(seed[0], seed[1], seed[2])
	}
	f.Fuzz(func(t *testing.T, method, host, uri string) {
		for _, routes := range []*routes{rs, sp} {
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
			if rt == nil || !rt.public {
				continue
			}
			raw, _, _ := strings.Cut(uri, "?")
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
