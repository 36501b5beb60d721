package serve

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/logtoguard/logtoguard/middleware"
)

// FuzzServeMatch sends arbitrary forwarded methods and URIs through the
// contract's routes: never a panic, every refusal a 400 invalid_request,
// and the public subtree matched only by a path that is under /public/
// however an upstream decodes it.
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
	for _, seed := range [][2]string{
		{"GET", "/read"}, {"GET", "/public/x?a=b"}, {"GET", "/public/../read"}, {"GET", "/public/%2e%2e/read"},
		{"GET", "/public%2F..%2Fread"}, {"HEAD", "/orgs/acme/products"}, {"GET", "/members/%61cme"},
		{"DELETE", "//read"}, {"GET", "/public/%5c..%5cread"}, {"GET", "/a#b"}, {"GET", "/public/%252e%252e/read"}, {"G ET", "/read"}, {"GET", "/%zz"},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, method, uri string) {
		s := getSynthetic()
		defer putSynthetic(s)
		rt, err := rs.match(original{method: method, uri: uri}, &s.req)
		if err != nil {
			if !errors.Is(err, middleware.ErrInvalidRequest) {
				t.Fatalf("%q %q: %v is not an invalid request", method, uri, err)
			}
			return
		}
		if rt == nil || !rt.public {
			return
		}
		raw, _, _ := strings.Cut(uri, "?")
		decoded := raw
		for range 3 { // an upstream may decode more than once
			d, err := url.PathUnescape(decoded)
			if err != nil {
				break
			}
			decoded = d
		}
		if !strings.HasPrefix(raw, "/public/") || !strings.HasPrefix(cleanPath(decoded), "/public/") {
			t.Fatalf("%q %q matched the public route, but an upstream may read %q", method, uri, cleanPath(decoded))
		}
	})
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
