package serve

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/logtoguard/logtoguard/cmd/logtoguard/internal/command"
	"github.com/logtoguard/logtoguard/internal/adaptertest"
	"github.com/logtoguard/logtoguard/internal/redistest"
	"github.com/logtoguard/logtoguard/logtotest"
)

const (
	testWebhookKey    = "0123456789abcdefghijklmnopqrstuv"
	testOldWebhookKey = "old456789abcdefghijklmnopqrstuvw"
)

// revokeRoundTrip checks that a token /verify allows is refused once Logto
// reports the user suspended on the webhook path of g.
func revokeRoundTrip(t *testing.T, iss *logtotest.Issuer, g *testGuard, signWith string, others ...*testGuard) {
	t.Helper()
	token := iss.Mint(logtotest.Token{Subject: "user-serve", ClientID: "spa", Audience: adaptertest.API, Scopes: []string{"read:products"}, IssuedAt: time.Now().Add(-time.Minute)})
	all := append([]*testGuard{g}, others...)
	for _, gg := range all {
		if r := gg.ask(t, "GET", "/read", serveBearer(token)); r.status != 200 {
			t.Fatalf("before: %d %s", r.status, r.body)
		}
	}
	sender := &logtotest.Webhook{URL: g.url + "/logto/webhooks", SigningKey: signWith}
	forged := &logtotest.Webhook{URL: g.url + "/logto/webhooks", SigningKey: "forged-0123456789abcdefghijklmno"}
	if status, body, err := forged.SuspendUser(context.Background(), "user-serve"); err != nil || status != 401 {
		t.Fatalf("forged delivery: %d %s %v, want 401", status, body, err)
	}
	if status, body, err := sender.SuspendUser(context.Background(), "user-serve"); err != nil || status != 200 {
		t.Fatalf("suspension: %d %s %v", status, body, err)
	}
	for _, gg := range all {
		deadline := time.Now().Add(5 * time.Second)
		for {
			r := gg.ask(t, "GET", "/read", serveBearer(token))
			if r.status == 401 && strings.Contains(r.header.Get("WWW-Authenticate"), "the token was revoked: user suspended") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %d %s %q five seconds after the webhook", gg.url, r.status, r.body, r.header.Get("WWW-Authenticate"))
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// TestServeWebhooks: with a webhooks section, serve receives Logto's
// webhooks on listen, with keys from the environment or a file, and a
// suspended user's token is refused at once; a reload keeps the
// revocations.
func TestServeWebhooks(t *testing.T) {
	iss := adaptertest.NewIssuer(t)
	t.Run("keys from the environment", func(t *testing.T) {
		t.Setenv("TEST_LOGTO_WEBHOOK_KEYS", testWebhookKey+","+testOldWebhookKey)
		g := startGuard(t, guardConfig(iss, "webhooks:\n  signing_key_env: TEST_LOGTO_WEBHOOK_KEYS\n"))
		revokeRoundTrip(t, iss, g, testOldWebhookKey)
		// A reload with another route keeps the store, and so the refusal.
		token := iss.Mint(logtotest.Token{Subject: "user-serve", ClientID: "spa", Audience: adaptertest.API, Scopes: []string{"read:products"}, IssuedAt: time.Now().Add(-time.Minute)})
		if err := os.WriteFile(g.file, []byte(strings.Replace(guardConfig(iss, "webhooks:\n  signing_key_env: TEST_LOGTO_WEBHOOK_KEYS\n"), "audiences: [", "audiences: [https://other.example.com, ", 1)), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := g.s.reload(g.file); err != nil {
			t.Fatal(err)
		}
		if r := g.ask(t, "GET", "/read", serveBearer(token)); r.status != 401 {
			t.Fatalf("after a reload with a new validator: %d %s, want 401", r.status, r.body)
		}
	})
	t.Run("keys from a file", func(t *testing.T) {
		keyFile := filepath.Join(t.TempDir(), "webhook-keys")
		if err := os.WriteFile(keyFile, []byte(testWebhookKey+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		g := startGuard(t, guardConfig(iss, "webhooks:\n  path: /hooks/logto\n  signing_key_file: "+keyFile+"\n"))
		r := serveDo(t, mustRequest(t, "POST", g.url+"/logto/webhooks"))
		if r.status != 404 {
			t.Fatalf("default path with another configured: %d", r.status)
		}
		token := iss.Mint(logtotest.Token{Subject: "user-file", ClientID: "spa", Audience: adaptertest.API, Scopes: []string{"read:products"}, IssuedAt: time.Now().Add(-time.Minute)})
		sender := &logtotest.Webhook{URL: g.url + "/hooks/logto", SigningKey: testWebhookKey}
		if status, body, err := sender.DeleteUser(context.Background(), "user-file"); err != nil || status != 200 {
			t.Fatalf("deletion: %d %s %v", status, body, err)
		}
		if r := g.ask(t, "GET", "/read", serveBearer(token)); r.status != 401 || !strings.Contains(r.body, "user deleted") {
			t.Fatalf("after the deletion: %d %s", r.status, r.body)
		}
	})
	t.Run("no section", func(t *testing.T) {
		g := startGuard(t, guardConfig(iss, ""))
		if r := serveDo(t, mustRequest(t, "POST", g.url+"/logto/webhooks")); r.status != 404 {
			t.Fatalf("POST /logto/webhooks without a webhooks section: %d", r.status)
		}
	})
}

// TestServeRevocationRedis: two serve processes' worth of servers on one
// Redis: a webhook received by the first refuses the token on the second;
// /readyz waits for the store to be in sync.
func TestServeRevocationRedis(t *testing.T) {
	iss := adaptertest.NewIssuer(t)
	t.Setenv("TEST_LOGTO_REDIS_URL", redistest.Start(t).URL())
	t.Setenv("TEST_LOGTO_WEBHOOK_KEYS", testWebhookKey)
	extra := "webhooks:\n  signing_key_env: TEST_LOGTO_WEBHOOK_KEYS\nrevocation:\n  redis_url_env: TEST_LOGTO_REDIS_URL\n"
	a, b := startGuard(t, guardConfig(iss, extra)), startGuard(t, guardConfig(iss, extra))
	for _, g := range []*testGuard{a, b} {
		deadline := time.Now().Add(10 * time.Second)
		for serveDo(t, mustRequest(t, "GET", g.url+"/readyz")).status != 200 {
			if time.Now().After(deadline) {
				t.Fatalf("%s not ready: %s", g.url, serveDo(t, mustRequest(t, "GET", g.url+"/readyz")).body)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	revokeRoundTrip(t, iss, a, testWebhookKey, b)
}

// TestServeRevocationConfigErrors: keys are never inline; what the sections
// name must exist; a URL with a password stays out of the file.
func TestServeRevocationConfigErrors(t *testing.T) {
	iss := adaptertest.NewIssuer(t)
	t.Setenv("TEST_SHORT_KEY", "short")
	t.Setenv("TEST_GOOD_KEY", testWebhookKey)
	t.Setenv("TEST_EMPTY", "")
	base := "endpoint: " + iss.Endpoint() + "\naudiences: [" + adaptertest.API + "]\nallow_insecure_http: true\nlisten: 127.0.0.1:0\n"
	tests := []struct{ name, config, want string }{
		{"inline key", base + "webhooks:\n  signing_key: " + testWebhookKey + "\n", "webhooks.signing_key: signing keys are never written in the file"},
		{"no key", base + "webhooks:\n  path: /hooks\n", "webhooks: signing_key_env or signing_key_file is required"},
		{"unset variable", base + "webhooks:\n  signing_key_env: TEST_NOT_SET_ANYWHERE\n", "webhooks.signing_key_env: the environment variable TEST_NOT_SET_ANYWHERE is not set"},
		{"empty variable", base + "webhooks:\n  signing_key_env: TEST_EMPTY\n", "is not set"},
		{"short key", base + "webhooks:\n  signing_key_env: TEST_SHORT_KEY\n", "signing key 1 is 5 characters, fewer than 16"},
		{"missing file", base + "webhooks:\n  signing_key_file: /nonexistent/keys\n", "webhooks.signing_key_file: open /nonexistent/keys"},
		{"reserved path", base + "webhooks:\n  path: /verify\n  signing_key_env: TEST_GOOD_KEY\n", "webhooks.path: /verify is an endpoint of serve"},
		{"envoy path", base + "webhooks:\n  path: /envoy/hooks\n  signing_key_env: TEST_GOOD_KEY\n", "is under an endpoint of serve"},
		{"relative path", base + "webhooks:\n  path: hooks\n  signing_key_env: TEST_GOOD_KEY\n", "must be a plain absolute path"},
		{"unknown field", base + "webhooks:\n  signing_keys: x\n", "webhooks.signing_keys: unknown field"},
		{"no URL", base + "revocation:\n  fail_closed: true\n", "revocation: redis_url or redis_url_env is required"},
		{"both URLs", base + "revocation:\n  redis_url: redis://127.0.0.1:6379\n  redis_url_env: X\n", "set redis_url or redis_url_env, not both"},
		{"password inline", base + "revocation:\n  redis_url: redis://:hunter2@127.0.0.1:6379\n", "the URL holds a password"},
		{"not redis", base + "revocation:\n  redis_url: http://127.0.0.1:6379\n", "revocation.redis_url: not a redis:// or rediss:// URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "bad.yaml")
			if err := os.WriteFile(file, []byte(tt.config), 0o600); err != nil {
				t.Fatal(err)
			}
			r := runServe(t, "--config", file, "--check")
			r.exit(t, command.ExitUsage)
			if strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, tt.want) {
				t.Errorf("stderr %q, want one line with %q", r.stderr, tt.want)
			}
			if strings.Contains(r.stderr, "hunter2") || strings.Contains(r.stderr, testWebhookKey) {
				t.Errorf("stderr holds a secret: %q", r.stderr)
			}
		})
	}
}

// TestServeReadmeRevocationConfig: the webhooks and revocation sections
// README.md shows load as they are.
func TestServeReadmeRevocationConfig(t *testing.T) {
	readme, err := os.ReadFile("../../../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	const start, end = "```yaml\nwebhooks:", "```\n"
	i := strings.Index(string(readme), start)
	if i < 0 {
		t.Fatal("README.md shows no webhooks section")
	}
	block := string(readme[i+len("```yaml\n"):])
	block = block[:strings.Index(block, end)]
	t.Setenv("LOGTO_WEBHOOK_SIGNING_KEY", testWebhookKey)
	t.Setenv("LOGTO_REDIS_URL", "redis://127.0.0.1:6379/0")
	cfg, err := parseConfig("README.md", []byte("endpoint: https://t.logto.app\naudiences: [https://api.example.com]\n"+block))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Webhooks.Path != "/logto/webhooks" || len(cfg.Webhooks.keys) != 1 || cfg.Revocation.url != "redis://127.0.0.1:6379/0" {
		t.Fatalf("parsed %+v %+v", cfg.Webhooks, cfg.Revocation)
	}
}
