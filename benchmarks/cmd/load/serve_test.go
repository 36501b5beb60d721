package main

import (
	"net/http"
	"testing"

	"github.com/logtoguard/logtoguard/logtotest"
)

// TestServe checks that the bare-process case answers 200, and that the
// logtoguard-serve case answers as the table
// assumes: 401 without a token, 403 without read:products, 200 to the
// token load sends.
func TestServe(t *testing.T) {
	iss := logtotest.New(t)
	s, err := startServe(t.Context(), iss)
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	bare, err := startBareProcess()
	if err != nil {
		t.Fatal(err)
	}
	defer bare.close()
	if resp, err := http.Get(bare.target()); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("bare-process: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	for _, c := range []struct {
		name, token string
		want        int
	}{
		{"no token", "", http.StatusUnauthorized},
		{"no read:products", iss.M2MToken("inventory-sync", api, "write:products"), http.StatusForbidden},
		{"good token", iss.M2MToken("inventory-sync", api, "read:products"), http.StatusOK},
	} {
		req, err := http.NewRequest(http.MethodGet, s.target(), nil)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range s.header {
			req.Header[k] = v
		}
		if c.token != "" {
			req.Header.Set("Authorization", "Bearer "+c.token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("%s: got %d, want %d", c.name, resp.StatusCode, c.want)
		}
	}
}
