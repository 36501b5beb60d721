package middleware_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/logtoguard/logtoguard/logtotest"
	"github.com/logtoguard/logtoguard/middleware"
)

func TestResourceMetadataURL(t *testing.T) {
	tests := []struct {
		resource, want string
	}{
		{"https://api.example.com", "https://api.example.com/.well-known/oauth-protected-resource"},
		{"https://api.example.com/", "https://api.example.com/.well-known/oauth-protected-resource"},
		{"https://api.example.com/v1", "https://api.example.com/.well-known/oauth-protected-resource/v1"},
		{"https://api.example.com:8443/a/b/", "https://api.example.com:8443/.well-known/oauth-protected-resource/a/b"},
		{"http://127.0.0.1:8080", "http://127.0.0.1:8080/.well-known/oauth-protected-resource"},
		{"http://localhost/api", "http://localhost/.well-known/oauth-protected-resource/api"},
		{"http://api.example.com", ""},
		{"https://api.example.com/?x=1", ""},
		{"https://api.example.com/#f", ""},
		{"https://user@api.example.com", ""},
		{"api.example.com", ""},
		{"urn:logto:organization:o1", ""},
		{"", ""},
		{"https://[::1", ""},
	}
	for _, tt := range tests {
		got, err := middleware.ResourceMetadataURL(tt.resource)
		if got != tt.want || (err == nil) != (tt.want != "") {
			t.Errorf("ResourceMetadataURL(%q) = %q, %v; want %q", tt.resource, got, err, tt.want)
		}
	}
}

func TestResourceMetadataHandler(t *testing.T) {
	iss := logtotest.New(t)
	v := newValidator(t, iss, func(c *middleware.Config) { c.Audiences = []string{api, "https://legacy.example.com"} })
	md := v.ResourceMetadata("read:products", "write:products")
	md.ResourceName = "Products"
	srv := httptest.NewServer(middleware.ResourceMetadataHandler(md))
	defer srv.Close()

	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" || resp.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Fatalf("status %d, headers %v", resp.StatusCode, resp.Header)
	}
	var got map[string]any
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	want := map[string]any{
		"resource":                 api,
		"authorization_servers":    []any{iss.Issuer()},
		"scopes_supported":         []any{"read:products", "write:products"},
		"bearer_methods_supported": []any{"header"},
		"resource_name":            "Products",
	}
	if len(got) != len(want) {
		t.Errorf("members %v, want %v", got, want)
	}
	for k, w := range want {
		gb, _ := json.Marshal(got[k])
		wb, _ := json.Marshal(w)
		if string(gb) != string(wb) {
			t.Errorf("%s: got %s, want %s", k, gb, wb)
		}
	}

	req, _ := http.NewRequest(http.MethodHead, srv.URL, nil)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("HEAD: status %d", resp.StatusCode)
	}
	resp, err = http.Post(srv.URL, "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST: status %d, Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
	}
}
