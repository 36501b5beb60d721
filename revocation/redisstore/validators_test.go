package redisstore_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/logtoguard/logtoguard/adapters/nethttp"
	"github.com/logtoguard/logtoguard/logtotest"
	"github.com/logtoguard/logtoguard/middleware"
	"github.com/logtoguard/logtoguard/revocation"
	"github.com/logtoguard/logtoguard/revocation/redisstore"
	"github.com/logtoguard/logtoguard/revocation/redisstore/internal/redistest"
	"github.com/redis/go-redis/v9"
)

const api = "https://api.example.com"

// replica is one API server: a validator on its own Redis store, behind
// the net/http adapter on a 127.0.0.1 port.
type replica struct {
	store *redisstore.Store
	v     *middleware.Validator
	url   string
}

func newReplica(t *testing.T, logto *logtotest.Issuer, redisAddr string) *replica {
	t.Helper()
	client := redis.NewClient(&redis.Options{Addr: redisAddr, DialTimeout: time.Second, MaxRetries: -1})
	t.Cleanup(func() { client.Close() })
	store, err := redisstore.New(redisstore.Config{
		Client:       client,
		RetryWait:    10 * time.Millisecond,
		MaxRetryWait: 200 * time.Millisecond,
		Logger:       slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	v, err := middleware.New(middleware.Config{Endpoint: logto.Endpoint(), Audiences: []string{api}, Revocations: store})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	h := nethttp.New(v).Authenticate(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok")
	}))
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &replica{store: store, v: v, url: srv.URL}
}

// get sends token to the replica and returns the status and the
// WWW-Authenticate header.
func (r *replica) get(t *testing.T, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, r.url+"/products", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Header.Get("WWW-Authenticate")
}

func waitAllReady(t *testing.T, rs ...*replica) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	for i, r := range rs {
		if err := r.v.WaitReady(ctx); err != nil {
			t.Fatalf("replica %d: %v", i, err)
		}
		if err := r.store.WaitReady(ctx); err != nil {
			t.Fatalf("replica %d: %v (%v)", i, err, r.store.Stats().LastError)
		}
	}
}

// refusedEventually waits until the replica answers 401 with a description
// that says the token was revoked.
func refusedEventually(t *testing.T, r *replica, token, what string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		status, challenge := r.get(t, token)
		if status == http.StatusUnauthorized && strings.Contains(challenge, `error="invalid_token"`) && strings.Contains(challenge, "revoked") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still %d %q after 15s, want 401 revoked", what, status, challenge)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func wantStatus(t *testing.T, r *replica, token string, want int, what string) {
	t.Helper()
	if got, challenge := r.get(t, token); got != want {
		t.Errorf("%s: %d %q, want %d", what, got, challenge, want)
	}
}

// TestThreeValidatorsOneRedis: three API replicas (validators behind the
// net/http adapter, on one Redis). A suspension recorded on the first is
// refused by the other two, though each had already cached the token's
// verdict. Redis is then killed: a suspension recorded on the second is
// refused there at once, its Revoke reports the failure (the webhook's
// 503), and the others, cut off, still accept that token. Redis restarted
// on the same port: every replica is back in sync, the second records what
// Redis missed, and every replica, and one started afterwards, refuses
// both tokens.
func TestThreeValidatorsOneRedis(t *testing.T) {
	logto := logtotest.New(t)
	srv := redistest.Start(t)
	rs := []*replica{newReplica(t, logto, srv.Addr()), newReplica(t, logto, srv.Addr()), newReplica(t, logto, srv.Addr())}
	waitAllReady(t, rs...)

	alice := logto.UserToken("alice", "web-app", api, "read:products")
	bob := logto.UserToken("bob", "web-app", api, "read:products")
	carol := logto.UserToken("carol", "web-app", api, "read:products")
	for i, r := range rs {
		for _, tok := range []string{alice, bob, carol} {
			wantStatus(t, r, tok, http.StatusOK, fmt.Sprintf("before any revocation, replica %d", i))
		}
	}

	suspend := func(r *replica, sub string) error {
		return r.v.Revoke(context.Background(), revocation.Entry{Kind: revocation.Subject, Subject: sub, At: time.Now(), Reason: "user suspended"})
	}
	if err := suspend(rs[0], "alice"); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, rs[0], alice, http.StatusUnauthorized, "the replica that recorded it, when Revoke returned")
	refusedEventually(t, rs[1], alice, "second replica")
	refusedEventually(t, rs[2], alice, "third replica")
	wantStatus(t, rs[1], carol, http.StatusOK, "another user on the second replica")

	srv.Kill()
	for i, r := range rs {
		deadline := time.Now().Add(15 * time.Second)
		for r.store.Ready() {
			if time.Now().After(deadline) {
				t.Fatalf("replica %d still in sync 15s after Redis was killed", i)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	if err := suspend(rs[1], "bob"); err == nil {
		t.Fatal("Revoke with Redis down returned nil: the webhook would acknowledge an event the fleet did not record")
	}
	wantStatus(t, rs[1], bob, http.StatusUnauthorized, "the replica that got the suspension while Redis was down")
	wantStatus(t, rs[0], bob, http.StatusOK, "a replica cut off from Redis (it cannot know)")
	for i, r := range rs {
		wantStatus(t, r, alice, http.StatusUnauthorized, fmt.Sprintf("a revocation held before Redis went down, replica %d", i))
	}

	srv.Restart(t)
	waitAllReady(t, rs...)
	for i, r := range rs {
		refusedEventually(t, r, alice, fmt.Sprintf("alice after the restart, replica %d", i))
		refusedEventually(t, r, bob, fmt.Sprintf("bob after the restart, replica %d", i))
		wantStatus(t, r, carol, http.StatusOK, "carol after the restart")
	}
	late := newReplica(t, logto, srv.Addr())
	waitAllReady(t, late)
	wantStatus(t, late, alice, http.StatusUnauthorized, "alice on a replica started after the restart")
	wantStatus(t, late, bob, http.StatusUnauthorized, "bob on a replica started after the restart")
	wantStatus(t, late, carol, http.StatusOK, "carol on a replica started after the restart")
}
