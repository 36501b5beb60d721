package redisstore

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/logtoguard/logtoguard/internal/redistest"
	"github.com/logtoguard/logtoguard/revocation"
	"github.com/redis/go-redis/v9"
)

// waitFor bounds every wait of these tests for something to happen: far
// above what it takes on a loaded machine, so that only a defect reaches it.
const waitFor = 15 * time.Second

// testPrefix keeps each test's keys apart, though each test runs its own
// server.
var testPrefix atomic.Int64

// newClient is a client of addr with short timeouts and no retries, so
// that a test with Redis down moves on quickly.
func newClient(t testing.TB, addr string) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{
		Addr:         addr,
		DialTimeout:  time.Second,
		ReadTimeout:  time.Second,
		WriteTimeout: time.Second,
		MaxRetries:   -1,
	})
	t.Cleanup(func() { c.Close() })
	return c
}

// newTestStore starts a store on addr with its own client and closes it
// when the test ends. onApply, when not nil, sees every entry it applies
// from Redis.
func newTestStore(t testing.TB, addr string, cfg Config, onApply func(revocation.Entry)) *Store {
	t.Helper()
	cfg.Client = newClient(t, addr)
	if cfg.MaxRetryWait == 0 {
		cfg.MaxRetryWait = 200 * time.Millisecond
	}
	if cfg.RetryWait == 0 {
		cfg.RetryWait = 10 * time.Millisecond
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s, err := newStore(cfg, onApply)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func waitReady(t testing.TB, stores ...*Store) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	for i, s := range stores {
		if err := s.WaitReady(ctx); err != nil {
			t.Fatalf("store %d: %v (last error: %v)", i, err, s.Stats().LastError)
		}
	}
}

// eventually waits until cond holds, failing the test with what after
// waitFor.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s, still not: %s", waitFor, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// entry revokes sub's tokens issued up to now, for an hour.
func entry(sub string) revocation.Entry {
	now := time.Now()
	return revocation.Entry{Kind: revocation.Subject, Subject: sub, At: now, Until: now.Add(time.Hour), Reason: "suspended"}
}

// tokenOf is a token of sub issued a minute ago.
func tokenOf(sub string) revocation.Token {
	return revocation.Token{Subject: sub, Client: "app", IssuedAt: time.Now().Add(-time.Minute)}
}

func revoked(s *Store, sub string) bool {
	_, ok := s.Revoked(tokenOf(sub))
	return ok
}

// storeGoroutines lists the goroutines running the store's code.
func storeGoroutines() []string {
	buf := make([]byte, 1<<20)
	var out []string
	for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
		if strings.Contains(g, "redisstore.(*Store)") {
			out = append(out, g)
		}
	}
	return out
}

// checkNoStoreGoroutines fails the test if a store's goroutine is still
// running once Close returned.
func checkNoStoreGoroutines(t testing.TB) {
	t.Helper()
	if gs := storeGoroutines(); len(gs) > 0 {
		t.Fatalf("%d store goroutines left after Close:\n%s", len(gs), strings.Join(gs, "\n\n"))
	}
}

func uniquePrefix() string {
	return fmt.Sprintf("test%d:", testPrefix.Add(1))
}

func startRedis(t testing.TB) *redistest.Server { return redistest.Start(t) }
