package middleware_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/logtoguard/logtoguard/middleware"
)

func TestBearerToken(t *testing.T) {
	tests := []struct {
		name    string
		headers []string
		query   string
		want    string
		wantErr error
	}{
		{"bearer", []string{"Bearer abc.def.ghi"}, "", "abc.def.ghi", nil},
		{"lowercase scheme", []string{"bearer abc.def.ghi"}, "", "abc.def.ghi", nil},
		{"uppercase scheme", []string{"BEARER abc.def.ghi"}, "", "abc.def.ghi", nil},
		{"extra spaces", []string{"Bearer   abc.def.ghi  "}, "", "abc.def.ghi", nil},
		{"none", nil, "", "", middleware.ErrNoToken},
		{"basic", []string{"Basic dXNlcjpwYXNz"}, "", "", middleware.ErrNoToken},
		{"scheme only", []string{"Bearer"}, "", "", middleware.ErrInvalidRequest},
		{"scheme and space", []string{"Bearer "}, "", "", middleware.ErrInvalidRequest},
		{"empty header", []string{""}, "", "", middleware.ErrInvalidRequest},
		{"two values", []string{"Bearer a b"}, "", "", middleware.ErrInvalidRequest},
		{"comma list", []string{"Bearer a.b.c, Bearer d.e.f"}, "", "", middleware.ErrInvalidRequest},
		{"two headers", []string{"Bearer a.b.c", "Bearer d.e.f"}, "", "", middleware.ErrInvalidRequest},
		{"query only", nil, "access_token=a.b.c", "", middleware.ErrInvalidRequest},
		{"header and query", []string{"Bearer a.b.c"}, "access_token=a.b.c", "", middleware.ErrInvalidRequest},
		{"other query", []string{"Bearer a.b.c"}, "page=2&token_type=x", "a.b.c", nil},
		// Percent-encoded names, the first with its percent sign at the
		// very start of the query.
		{"encoded name first", []string{"Bearer a.b.c"}, "%61ccess_token=a.b.c", "", middleware.ErrInvalidRequest},
		{"encoded name later", []string{"Bearer a.b.c"}, "page=2&access%5Ftoken=a.b.c", "", middleware.ErrInvalidRequest},
		{"encoded other name", []string{"Bearer a.b.c"}, "%70age=2", "a.b.c", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/?"+tt.query, nil)
			for _, h := range tt.headers {
				r.Header.Add("Authorization", h)
			}
			got, err := middleware.BearerToken(r)
			if got != tt.want || !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("BearerToken = %q, %v; want %q, %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func FuzzBearerToken(f *testing.F) {
	for _, s := range []string{"Bearer abc.def.ghi", "bearer x", "Basic abc", "Bearer", "", "Bearer a b", "Bearer \x00", "BEARER   a.b.c "} {
		f.Add(s, "")
	}
	f.Add("Bearer a.b.c", "access_token=x")
	f.Add("Bearer a.b.c", "access%5Ftoken")
	f.Fuzz(func(t *testing.T, header, query string) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.URL.RawQuery = query
		r.Header.Set("Authorization", header)
		tok, err := middleware.BearerToken(r)
		if q, _ := url.ParseQuery(query); q.Has("access_token") && !errors.Is(err, middleware.ErrInvalidRequest) {
			t.Fatalf("query %q names access_token, BearerToken = %q, %v", query, tok, err)
		}
		if err != nil {
			if tok != "" {
				t.Fatalf("token %q with error %v", tok, err)
			}
			if !errors.Is(err, middleware.ErrNoToken) && !errors.Is(err, middleware.ErrInvalidRequest) {
				t.Fatalf("unexpected error class: %v", err)
			}
			return
		}
		if tok == "" || strings.ContainsAny(tok, " \t,") || !strings.Contains(header, tok) {
			t.Fatalf("BearerToken(%q) = %q", header, tok)
		}
	})
}
