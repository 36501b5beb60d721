package webhook_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/logtoguard/logtoguard/logtotest"
	"github.com/logtoguard/logtoguard/middleware"
	"github.com/logtoguard/logtoguard/revocation"
	"github.com/logtoguard/logtoguard/webhook"
)

const (
	api    = "https://api.example.com"
	key    = "whsec0123456789abcdefghijklmnopq" // 32 characters, as Logto's
	oldKey = "old0123456789abcdefghijklmnopqrs"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// store records entries into a Memory, or fails with err.
type store struct {
	*revocation.Memory
	mu      sync.Mutex
	err     error
	revokes int
}

func (s *store) Revoke(ctx context.Context, e revocation.Entry) error {
	s.mu.Lock()
	s.revokes++
	err := s.err
	s.mu.Unlock()
	if err != nil {
		return err
	}
	return s.Memory.Revoke(ctx, e)
}

func serve(t *testing.T, cfg webhook.Config) *httptest.Server {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = quiet
	}
	h, err := webhook.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/logto/webhooks", h)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// TestEndToEnd: a validator, its webhook, and a Logto-shaped sender: a token
// that worked is refused once Logto reports the suspension, on a cache hit;
// a token issued after it works. The same for a removed member and a deleted
// organization.
func TestEndToEnd(t *testing.T) {
	logto := logtotest.New(t)
	v, err := middleware.New(middleware.Config{Endpoint: logto.Endpoint(), Audiences: []string{api}, AcceptOrganizationTokens: true, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	ctx := context.Background()
	if err := v.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	srv := serve(t, webhook.Config{SigningKeys: []string{key}, Store: v})
	sender := &logtotest.Webhook{URL: srv.URL + "/logto/webhooks", SigningKey: key}
	past := time.Now().Add(-time.Minute)

	tokens := map[string]string{
		"user":   logto.Mint(logtotest.Token{Subject: "user-1", ClientID: "spa", Audience: api, IssuedAt: past}),
		"member": logto.Mint(logtotest.Token{Subject: "user-2", ClientID: "spa", Audience: middleware.OrganizationAudiencePrefix + "org-1", IssuedAt: past}),
		"org":    logto.Mint(logtotest.Token{Subject: "m2m-1", ClientID: "m2m-1", Audience: api, OrganizationID: "org-2", IssuedAt: past}),
	}
	for name, tok := range tokens {
		if _, err := v.Verify(ctx, tok); err != nil {
			t.Fatalf("%s before: %v", name, err)
		}
	}
	send := []func() (int, []byte, error){
		func() (int, []byte, error) { return sender.SuspendUser(ctx, "user-1") },
		func() (int, []byte, error) { return sender.RemoveMember(ctx, "org-1", "user-2") },
		func() (int, []byte, error) { return sender.DeleteOrganization(ctx, "org-2") },
	}
	for i, f := range send {
		status, body, err := f()
		if err != nil || status != 200 || !strings.Contains(string(body), `"revoked":1`) {
			t.Fatalf("delivery %d: %d %s %v", i, status, body, err)
		}
	}
	for name, tok := range tokens {
		if _, err := v.Verify(ctx, tok); !errors.Is(err, middleware.ErrRevoked) {
			t.Errorf("%s after: %v, want ErrRevoked", name, err)
		}
	}
	_, err = v.Verify(ctx, tokens["user"])
	if got := v.Reject(err).Description; got != "the token was revoked: user suspended" {
		t.Errorf("description %q", got)
	}
	// A token issued after the event (iat is in whole seconds) works.
	later := logto.Mint(logtotest.Token{Subject: "user-1", ClientID: "spa", Audience: api, IssuedAt: time.Now().Add(2 * time.Second)})
	if _, err := v.Verify(ctx, later); err != nil {
		t.Errorf("token issued after the suspension: %v", err)
	}
	// The user's deletion, reported later, keeps the later time.
	if status, body, err := sender.DeleteUser(ctx, "user-1"); err != nil || status != 200 {
		t.Fatalf("deletion: %d %s %v", status, body, err)
	}
}

// TestSignature: only a delivery signed with one of the keys is acted on;
// nothing is recorded for the others, and none gets 5xx.
func TestSignature(t *testing.T) {
	s := &store{Memory: revocation.NewMemory(revocation.MemoryConfig{})}
	srv := serve(t, webhook.Config{SigningKeys: []string{key, oldKey}, Store: s})
	url := srv.URL + "/logto/webhooks"
	body := []byte(`{"event":"User.Deleted","createdAt":"` + time.Now().UTC().Format(time.RFC3339Nano) + `","params":{"userId":"u1"},"hookId":"h"}`)
	good := logtotest.SignWebhook(key, body)
	tests := []struct {
		name    string
		headers []string
		want    int
	}{
		{"signed", []string{good}, 200},
		{"signed with the old key, during a rotation", []string{logtotest.SignWebhook(oldKey, body)}, 200},
		{"sha256= prefix, as newer Logto sends it", []string{"sha256=" + good}, 200},
		{"upper-case hex", []string{strings.ToUpper(good)}, 200},
		{"no signature", nil, 401},
		{"empty", []string{""}, 401},
		{"another key", []string{logtotest.SignWebhook("another0123456789abcdefghijklmno", body)}, 401},
		{"another body", []string{logtotest.SignWebhook(key, append([]byte(" "), body...))}, 401},
		{"not hex", []string{strings.Repeat("zz", 32)}, 401},
		{"cut short", []string{good[:62]}, 401},
		{"too long", []string{good + "00"}, 401},
		{"prefix only", []string{"sha256="}, 401},
		{"twice", []string{good, good}, 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s.mu.Lock()
			s.revokes = 0
			s.mu.Unlock()
			req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
			for _, h := range tt.headers {
				req.Header.Add(webhook.SignatureHeader, h)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.want)
			}
			s.mu.Lock()
			defer s.mu.Unlock()
			if recorded := s.revokes > 0; recorded != (tt.want == 200) {
				t.Fatalf("recorded %v with status %d", recorded, resp.StatusCode)
			}
		})
	}
}

// TestRefusals: replays, sizes, methods, malformed payloads and unused
// events; a store that fails gets 503, so that Logto retries.
func TestRefusals(t *testing.T) {
	now := time.Now()
	s := &store{Memory: revocation.NewMemory(revocation.MemoryConfig{})}
	srv := serve(t, webhook.Config{SigningKeys: []string{key}, Store: s, MaxBodyBytes: 4096, Window: 5 * time.Minute, Now: func() time.Time { return now }})
	sender := &logtotest.Webhook{URL: srv.URL + "/logto/webhooks", SigningKey: key, Now: func() time.Time { return now }}
	ctx := context.Background()
	at := func(d time.Duration) string { return now.Add(d).UTC().Format(time.RFC3339Nano) }
	deleted := func(created string) map[string]any {
		return map[string]any{"event": "User.Deleted", "createdAt": created, "params": map[string]any{"userId": "u1"}}
	}
	tests := []struct {
		name    string
		payload map[string]any
		raw     string
		want    int
		revoked int
	}{
		{"now", deleted(at(0)), "", 200, 1},
		{"4 minutes old", deleted(at(-4 * time.Minute)), "", 200, 1},
		{"6 minutes old: a replay", deleted(at(-6 * time.Minute)), "", 400, 0},
		{"6 minutes ahead", deleted(at(6 * time.Minute)), "", 400, 0},
		{"a year old", deleted("2025-12-07T12:00:00.000Z"), "", 400, 0},
		{"unused event", map[string]any{"event": "Role.Scopes.Updated", "params": map[string]any{"id": "r1"}}, "", 200, 0},
		{"unknown event", map[string]any{"event": "Something.New"}, "", 200, 0},
		{"used event, no user", map[string]any{"event": "User.Deleted"}, "", 400, 0},
		{"no event", map[string]any{"data": 1}, "", 400, 0},
		{"not JSON", nil, "not json", 400, 0},
		{"too large", map[string]any{"event": "PostSignIn", "padding": strings.Repeat("x", 5000)}, "", 413, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var status int
			var body []byte
			var err error
			if tt.raw != "" {
				status, body, err = sender.SendRaw(ctx, []byte(tt.raw), logtotest.SignWebhook(key, []byte(tt.raw)))
			} else {
				status, body, err = sender.Send(ctx, tt.payload)
			}
			if err != nil {
				t.Fatal(err)
			}
			if status != tt.want {
				t.Fatalf("status %d (%s), want %d", status, body, tt.want)
			}
			var res struct {
				Revoked int    `json:"revoked"`
				Error   string `json:"error"`
			}
			if err := json.Unmarshal(body, &res); err != nil || res.Revoked != tt.revoked || (status != 200) != (res.Error != "") {
				t.Fatalf("body %s (%v), want revoked %d", body, err, tt.revoked)
			}
		})
	}

	resp, err := http.Get(srv.URL + "/logto/webhooks")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 405 || resp.Header.Get("Allow") != "POST" {
		t.Errorf("GET: %d, Allow %q; want 405, POST", resp.StatusCode, resp.Header.Get("Allow"))
	}

	for _, failure := range []error{errors.New("redis: connection refused"), revocation.ErrFull} {
		s.mu.Lock()
		s.err = failure
		s.mu.Unlock()
		status, body, err := sender.SuspendUser(ctx, "u7")
		if err != nil || status != 503 {
			t.Errorf("store failing with %v: %d %s %v, want 503", failure, status, body, err)
		}
	}
	// A store refusing the entry as invalid is the payload's fault: 400.
	s.mu.Lock()
	s.err = revocation.ErrInvalidEntry
	s.mu.Unlock()
	if status, _, _ := sender.SuspendUser(ctx, "u7"); status != 400 {
		t.Errorf("store refusing the entry: %d, want 400", status)
	}
}

func TestNewConfig(t *testing.T) {
	s := revocation.NewMemory(revocation.MemoryConfig{})
	tests := []struct {
		name string
		cfg  webhook.Config
		want string
	}{
		{"no keys", webhook.Config{Store: s}, "SigningKeys is required"},
		{"short key", webhook.Config{SigningKeys: []string{"short"}, Store: s}, "fewer than 16"},
		{"no store", webhook.Config{SigningKeys: []string{key}}, "Store is required"},
		{"negative window", webhook.Config{SigningKeys: []string{key}, Store: s, Window: -1}, "must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := webhook.New(tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New = %v, want an error with %q", err, tt.want)
			}
			if strings.Contains(err.Error(), key) {
				t.Fatal("the error holds the key")
			}
		})
	}
}

func TestParseSigningKeys(t *testing.T) {
	got := webhook.ParseSigningKeys(" new-key , old-key,,")
	if len(got) != 2 || got[0] != "new-key" || got[1] != "old-key" {
		t.Fatalf("ParseSigningKeys = %q", got)
	}
	if got := webhook.ParseSigningKeys(""); got != nil {
		t.Fatalf("ParseSigningKeys(\"\") = %q, want nil", got)
	}
}
