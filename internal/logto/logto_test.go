package logto_test

import (
	"fmt"
	"testing"

	"github.com/logtoguard/logtoguard/internal/logto"
)

func TestLogtoRules(t *testing.T) {
	orgs := []struct {
		aud, id string
		ok      bool
	}{
		{"urn:logto:organization:acme", "acme", true},
		{"urn:logto:organization:", "", false},
		{"urn:logto:organization", "", false},
		{"URN:LOGTO:ORGANIZATION:acme", "", false},
		{"urn:logto:other:acme", "", false},
		{"https://api.example.com", "", false},
		{"", "", false},
	}
	for _, tt := range orgs {
		if id, ok := logto.OrganizationAudience(tt.aud); id != tt.id || ok != tt.ok {
			t.Errorf("OrganizationAudience(%q) = %q, %t; want %q, %t", tt.aud, id, ok, tt.id, tt.ok)
		}
	}
	management := map[string]bool{
		"https://default.logto.app/api":   true,
		"https://admin.logto.app/api":     true,
		"https://abc123.logto.app/api":    true,
		"https://ABC123.LOGTO.APP/api":    true,
		"https://abc123.logto.app/api/":   false,
		"https://abc123.logto.app/oidc":   false,
		"https://logto.app.evil.com/api":  false,
		"https://api.example.com":         false,
		"urn:logto:organization:acme/api": false,
	}
	for aud, want := range management {
		if got := logto.IsManagementAudience(aud); got != want {
			t.Errorf("IsManagementAudience(%q) = %t, want %t", aud, got, want)
		}
	}
	types := map[string]bool{
		"at+jwt": true, "AT+JWT": true, "application/at+jwt": true, "Application/At+JWT": true,
		"JWT": false, "": false, "at+jwt ": false, "application/jwt": false,
	}
	for typ, want := range types {
		if got := logto.IsAccessTokenType(typ); got != want {
			t.Errorf("IsAccessTokenType(%q) = %t, want %t", typ, got, want)
		}
	}
}

func ExampleOrganizationAudience() {
	fmt.Println(logto.OrganizationAudience("urn:logto:organization:acme"))
	fmt.Println(logto.OrganizationAudience("https://api.example.com"))
	// Output:
	// acme true
	//  false
}
