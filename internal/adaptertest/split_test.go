package adaptertest

import "testing"

func TestSplit(t *testing.T) {
	tests := []struct{ route, pattern, org string }{
		{"/read", "/read", ""},
		{"/auth", "/auth", ""},
		{"/members/acme", "/members/{org}", "acme"},
		{"/orgs/globex/products", "/orgs/{org}/products", "globex"},
		{"/orgs/a/b/products", "/orgs/a/b/products", ""},
		{"/members/", "/members/", ""},
	}
	for _, tt := range tests {
		pattern, org := Case{Route: tt.route}.Split()
		if pattern != tt.pattern || org != tt.org {
			t.Errorf("Split(%q) = %q, %q; want %q, %q", tt.route, pattern, org, tt.pattern, tt.org)
		}
	}
	// Every case of the contract splits into a route it serves.
	for _, c := range Cases(NewIssuer(t)) {
		pattern, _ := c.Split()
		if _, ok := Requirements[pattern]; !ok && pattern != "/auth" {
			t.Errorf("case %q: route %q splits into %q, which is not a route of the contract", c.Name, c.Route, pattern)
		}
	}
}
