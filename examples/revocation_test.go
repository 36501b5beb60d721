package examples_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/logtoguard/logtoguard/logtotest"
)

const (
	webhookKey    = "0123456789abcdefghijklmnopqrstuv"
	oldWebhookKey = "old456789abcdefghijklmnopqrstuvw"
)

// TestWebhookRevocation: with LOGTO_WEBHOOK_SIGNING_KEY set (two keys, as
// while rotating), each server receives Logto's webhooks on POST
// /logto/webhooks, and a token that worked is refused once Logto reports the
// user suspended, the member removed or the organization deleted; a
// delivery that is not signed is refused. The three servers answer byte for
// byte the same.
func TestWebhookRevocation(t *testing.T) {
	iss := logtotest.New(t)
	results := map[string][]response{}
	for _, name := range servers {
		t.Run(name, func(t *testing.T) {
			s := start(t, name, append(logtoEnv(iss), "LOGTO_WEBHOOK_SIGNING_KEY="+webhookKey+", "+oldWebhookKey)...)
			waitReady(t, s)
			ctx := context.Background()
			past := time.Now().Add(-time.Minute)
			user := iss.Mint(logtotest.Token{Subject: "user-" + name, ClientID: "spa", Audience: api, Scopes: []string{"read:products"}, IssuedAt: past})
			member := iss.Mint(logtotest.Token{Subject: "user-m-" + name, ClientID: "spa", Audience: api, OrganizationID: "org-" + name, Scopes: []string{"read:products"}, IssuedAt: past})
			record := func(r response) { results[name] = append(results[name], r) }
			for _, tok := range []string{user, member} {
				if r := do(t, "GET", s.URL+"/products", bearer(tok)); r.Status != 200 {
					t.Fatalf("before: %+v", r)
				}
			}
			url := s.URL + "/logto/webhooks"
			sender := &logtotest.Webhook{URL: url, SigningKey: oldWebhookKey}
			forged := &logtotest.Webhook{URL: url, SigningKey: "not-the-key-0123456789abcdefghij"}
			if status, body, err := forged.SuspendUser(ctx, "user-"+name); err != nil || status != 401 {
				t.Fatalf("unsigned delivery: %d %s %v, want 401", status, body, err)
			}
			if r := do(t, "GET", s.URL+"/products", bearer(user)); r.Status != 200 {
				t.Fatalf("after a forged delivery: %+v", r)
			}
			if status, body, err := sender.SuspendUser(ctx, "user-"+name); err != nil || status != 200 {
				t.Fatalf("suspension: %d %s %v", status, body, err)
			}
			if status, body, err := sender.RemoveMember(ctx, "org-"+name, "user-m-"+name); err != nil || status != 200 {
				t.Fatalf("removal: %d %s %v", status, body, err)
			}
			for _, tok := range []string{user, member} {
				r := do(t, "GET", s.URL+"/products", bearer(tok))
				if r.Status != 401 || !strings.Contains(r.Headers["WWW-Authenticate"], "the token was revoked") {
					t.Fatalf("after: %+v, want 401 revoked", r)
				}
				r.Body = strings.ReplaceAll(r.Body, name, "NAME")
				record(r)
			}
			r := do(t, "GET", url, nil)
			if r.Status != 405 || r.Headers["Content-Type"] != "application/json" {
				t.Fatalf("GET %s: %+v, want 405", url, r)
			}
			record(r)
		})
	}
	for _, name := range servers[1:] {
		if fmt.Sprint(results[name]) != fmt.Sprint(results[servers[0]]) {
			t.Errorf("%s differs from %s:\n got %+v\nwant %+v", name, servers[0], results[name], results[servers[0]])
		}
	}
}

// TestWebhookOff: without LOGTO_WEBHOOK_SIGNING_KEY no server receives
// webhooks.
func TestWebhookOff(t *testing.T) {
	iss := logtotest.New(t)
	for _, name := range servers {
		t.Run(name, func(t *testing.T) {
			s := start(t, name, logtoEnv(iss)...)
			waitReady(t, s)
			sender := &logtotest.Webhook{URL: s.URL + "/logto/webhooks", SigningKey: webhookKey}
			status, _, err := sender.SuspendUser(context.Background(), "user-1")
			if err != nil || status != http.StatusNotFound {
				t.Fatalf("POST /logto/webhooks without a key: %d %v, want 404", status, err)
			}
		})
	}
}
