package examples_test

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestRevocationDemo runs make demo-revocation's program: a token that
// works, a forged webhook refused, the signed suspension webhook, and the
// same token refused.
func TestRevocationDemo(t *testing.T) {
	demo := binary(t, "revocation")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, demo).Output()
	if err != nil {
		t.Fatalf("revocation: %v\n%s", err, out)
	}
	steps := []string{
		"GET /products: 200 ",
		"a suspension webhook signed with another key: 401 ",
		`200 {"event":"User.SuspensionStatus.Updated","revoked":1}`,
		`the same token, a moment later: GET /products: 401 {"error":"invalid_token","error_description":"the token was revoked: user suspended"}`,
		`WWW-Authenticate: Bearer realm="api", error="invalid_token", error_description="the token was revoked: user suspended"`,
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
