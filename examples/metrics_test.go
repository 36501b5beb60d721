package examples_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/logtoguard/logtoguard/logtotest"
)

// TestMetrics drives the metrics example over HTTP and reads its /metrics
// as Prometheus would scrape it.
func TestMetrics(t *testing.T) {
	iss := logtotest.New(t)
	s := start(t, "metrics", logtoEnv(iss)...)
	waitReady(t, s)

	read := iss.M2MToken("inventory-sync", api, "read:products")
	requests := []struct {
		method, path, token string
		status              int
	}{
		{"GET", "/products", read, 200},                                       // miss
		{"GET", "/products", read, 200},                                       // hit
		{"GET", "/whoami", read, 200},                                         // hit
		{"GET", "/products", iss.ExpiredToken("inventory-sync", api), 401},    // expired
		{"GET", "/products", iss.OpaqueToken(), 401},                          // opaque_token
		{"GET", "/products", "", 401},                                         // no_token
		{"POST", "/products", read, 403},                                      // hit, then insufficient_scope
		{"GET", "/orgs/org-1/products", read, 403},                            // hit, then organization
		{"POST", "/sync", iss.UserToken("user-1", "spa", api), 403},           // miss, then client
		{"GET", "/products", iss.ForeignKeyToken("inventory-sync", api), 401}, // unknown_key
	}
	for _, r := range requests {
		var h http.Header
		if r.token != "" {
			h = bearer(r.token)
		}
		if got := do(t, r.method, s.URL+r.path, h); got.Status != r.status {
			t.Fatalf("%s %s: %d, want %d (%s)", r.method, r.path, got.Status, r.status, got.Body)
		}
	}

	metrics := do(t, "GET", s.URL+"/metrics", nil).Body
	want := []string{
		// A token refused by a route's requirement was still verified.
		`logtoguard_verified_total{cache="miss"} 2`,
		`logtoguard_verified_total{cache="hit"} 4`,
		`logtoguard_rejected_total{reason="expired"} 1`,
		`logtoguard_rejected_total{reason="opaque_token"} 1`,
		`logtoguard_rejected_total{reason="no_token"} 1`,
		`logtoguard_rejected_total{reason="insufficient_scope"} 1`,
		`logtoguard_rejected_total{reason="organization"} 1`,
		`logtoguard_rejected_total{reason="client"} 1`,
		`logtoguard_rejected_total{reason="unknown_key"} 1`,
	}
	for _, line := range want {
		if !strings.Contains(metrics, line+"\n") {
			t.Errorf("/metrics lacks %q", line)
		}
	}
	// The initial fetch, and the refetch for the foreign key's unknown kid.
	fetches := regexp.MustCompile(`logtoguard_key_fetches_total\{issuer="` + regexp.QuoteMeta(iss.Issuer()) + `",result="ok"\} (\d+)`).FindStringSubmatch(metrics)
	if fetches == nil || fetches[1] == "0" {
		t.Errorf("/metrics lacks successful key fetches for %s:\n%s", iss.Issuer(), metrics)
	}
	if strings.Contains(metrics, read[:20]) {
		t.Error("/metrics holds part of a token")
	}
}
