package examples_test

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func TestQuickstart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	out, err := exec.CommandContext(ctx, binary(t, "quickstart")).Output()
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
