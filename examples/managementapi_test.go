package examples_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/logtoguard/logtoguard/logtotest"
)

// TestManagementAPI runs the Management API example against a stand-in
// tenant: logtotest answers /oidc, and /api/applications checks that the
// token is for the Management API with the all scope.
func TestManagementAPI(t *testing.T) {
	iss := logtotest.New(t)
	iss.AddResource(logtotest.ManagementAPI, "all")
	iss.AddM2MApp("ops-bot", "ops-secret", "all")
	target, _ := url.Parse(iss.Endpoint())
	proxy := httputil.NewSingleHostReverseProxy(target)
	tenant := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/applications" {
			proxy.ServeHTTP(w, r)
			return
		}
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		parts := strings.Split(tok, ".")
		if !ok || len(parts) != 3 {
			http.Error(w, "no token", http.StatusUnauthorized)
			return
		}
		raw, _ := base64.RawURLEncoding.DecodeString(parts[1])
		var c struct {
			Aud   string `json:"aud"`
			Scope string `json:"scope"`
			Sub   string `json:"sub"`
		}
		if json.Unmarshal(raw, &c) != nil || c.Aud != logtotest.ManagementAPI || c.Scope != "all" {
			http.Error(w, "wrong token", http.StatusForbidden)
			return
		}
		_ = json.NewEncoder(w).Encode([]map[string]string{{"id": c.Sub, "type": "MachineToMachine"}})
	}))
	defer tenant.Close()

	cmd := exec.Command(binary(t, "managementapi"))
	cmd.Env = append(os.Environ(), "LOGTO_ENDPOINT="+tenant.URL, "LOGTO_APP_ID=ops-bot", "LOGTO_APP_SECRET=ops-secret")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("managementapi: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "GET /api/applications: 200") || !strings.Contains(string(out), `"id":"ops-bot"`) {
		t.Fatalf("output:\n%s", out)
	}

	cmd = exec.Command(binary(t, "managementapi"))
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "LOGTO_ENDPOINT=" + tenant.URL}
	out, err = cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "LOGTO_APP_ID") {
		t.Fatalf("missing LOGTO_APP_ID: %v\n%s", err, out)
	}
}
