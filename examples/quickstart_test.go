package examples_test

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/logtoguard/logtoguard/logtotest"
)

func TestQuickstart(t *testing.T) {
	// Built before the clock starts: a build with a cold cache alone can
	// take longer than the run is allowed.
	quickstart := binary(t, "quickstart")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	out, err := exec.CommandContext(ctx, quickstart).Output()
	if err != nil {
		t.Fatalf("quickstart: %v\n%s", err, out)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("quickstart took %s", d)
	}
	steps := []string{
		"token request: POST ",
		"GET /products with the token: 200 ",
		"POST /products without write:products: 403 ",
		`error="insufficient_scope"`,
		"tampered token (write:products added to its payload): 401 ",
		"signature is invalid",
		"key rotation survived",
		"a new token gets 200",
		`GET /whoami, the claims the handler saw: 200 {"sub":"inventory-sync","client_id":"inventory-sync","m2m":true,"scopes":["read:products"]}`,
		"\ndone\n",
	}
	last := -1
	for _, s := range steps {
		i := strings.Index(string(out), s)
		if i < 0 {
			t.Errorf("output lacks %q", s)
			continue
		}
		if i < last {
			t.Errorf("%q out of order", s)
		}
		last = i
	}
	if t.Failed() {
		t.Logf("output:\n%s", out)
	}
}

// TestQuickstartAgainstTenant runs the quick start with LOGTO_ENDPOINT set,
// as against a real tenant (here an issuer the test starts itself).
func TestQuickstartAgainstTenant(t *testing.T) {
	iss := logtotest.New(t)
	iss.AddResource("https://shop.example.com", "read:products", "write:products")
	iss.AddM2MApp("shop-sync", "shop-secret", "read:products")
	quickstart := binary(t, "quickstart")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, quickstart)
	cmd.Env = append(os.Environ(), "LOGTO_ENDPOINT="+iss.Endpoint(), "LOGTO_API_RESOURCE=https://shop.example.com",
		"LOGTO_APP_ID=shop-sync", "LOGTO_APP_SECRET=shop-secret")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("quickstart: %v\n%s", err, out)
	}
	for _, want := range []string{"1. Logto tenant at " + iss.Endpoint(), "4. GET /products with the token: 200", "5. POST /products without write:products: 403",
		"6. GET /products with a tampered token", "7. key rotation: rotate the signing key in the Logto console", `"sub":"shop-sync"`, "done"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	cmd = exec.CommandContext(ctx, quickstart)
	cmd.Env = append(os.Environ(), "LOGTO_ENDPOINT="+iss.Endpoint())
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "LOGTO_API_RESOURCE") {
		t.Fatalf("missing LOGTO_API_RESOURCE: %v\n%s", err, out)
	}
}
