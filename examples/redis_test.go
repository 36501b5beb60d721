package examples_test

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/logtoguard/logtoguard/internal/redistest"
	"github.com/logtoguard/logtoguard/logtotest"
)

// TestWebhookRedis: three replicas (net/http, gin, echo) on one Redis
// (LOGTO_REDIS_URL): a suspension webhook received by the first refuses the
// user's token on the other two.
func TestWebhookRedis(t *testing.T) {
	redisURL := redistest.Start(t).URL()
	iss := logtotest.New(t)
	env := append(logtoEnv(iss), "LOGTO_WEBHOOK_SIGNING_KEY="+webhookKey, "LOGTO_REDIS_URL="+redisURL)
	replicas := map[string]*server{}
	for _, name := range servers {
		replicas[name] = start(t, name, env...)
		waitReady(t, replicas[name])
	}
	token := iss.Mint(logtotest.Token{Subject: "user-redis", ClientID: "spa", Audience: api, Scopes: []string{"read:products"}, IssuedAt: time.Now().Add(-time.Minute)})
	for name, s := range replicas {
		if r := do(t, "GET", s.URL+"/products", bearer(token)); r.Status != 200 {
			t.Fatalf("%s before: %+v", name, r)
		}
	}
	sender := &logtotest.Webhook{URL: replicas[servers[0]].URL + "/logto/webhooks", SigningKey: webhookKey}
	if status, body, err := sender.SuspendUser(context.Background(), "user-redis"); err != nil || status != 200 {
		t.Fatalf("suspension: %d %s %v", status, body, err)
	}
	for _, name := range servers {
		deadline := time.Now().Add(5 * time.Second)
		for {
			r := do(t, "GET", replicas[name].URL+"/products", bearer(token))
			if r.Status == 401 && strings.Contains(r.Headers["WWW-Authenticate"], "the token was revoked: user suspended") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: still %+v five seconds after the webhook", name, r)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// TestRedisBadURL: a LOGTO_REDIS_URL that is not one fails at start,
// naming the variable.
func TestRedisBadURL(t *testing.T) {
	for _, name := range servers {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, binary(t, name))
			cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "LOGTO_ENDPOINT=http://127.0.0.1:1", "LOGTO_API_RESOURCE=" + api, "LOGTO_REDIS_URL=http://nope"}
			out, err := cmd.CombinedOutput()
			if err == nil || !strings.Contains(string(out), "LOGTO_REDIS_URL") {
				t.Fatalf("%v: %s", err, out)
			}
		})
	}
}
