package redisstore_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/logtoguard/logtoguard/adapters/nethttp"
	"github.com/logtoguard/logtoguard/internal/redistest"
	"github.com/logtoguard/logtoguard/logtotest"
	"github.com/logtoguard/logtoguard/middleware"
	"github.com/logtoguard/logtoguard/revocation"
	"github.com/logtoguard/logtoguard/revocation/redisstore"
	"github.com/logtoguard/logtoguard/webhook"
	"github.com/redis/go-redis/v9"
)

const api = "https://api.example.com"

// signingKey is the Logto webhook's signing key in these tests.
const signingKey = "whsec-test-signing-key"

// replica is one API server on a 127.0.0.1 port: a validator on its own
// Redis store behind the net/http adapter, and Logto's webhook receiver at
// POST /logto/webhooks recording into the validator.
type replica struct {
	store *redisstore.Store
	v     *middleware.Validator
	url   string
	logto *logtotest.Webhook // sends Logto's deliveries to this replica

	// hits and misses count the tokens the validator accepted from its
	// cache and from a signature check.
	hits, misses atomic.Int64
}

// newReplica starts a replica; opts, if any, change its store's Config.
func newReplica(t testing.TB, logto *logtotest.Issuer, redisAddr string, opts ...func(*redisstore.Config)) *replica {
	t.Helper()
	client := redis.NewClient(&redis.Options{Addr: redisAddr, DialTimeout: time.Second, MaxRetries: -1})
	t.Cleanup(func() { client.Close() })
	cfg := redisstore.Config{
		Client:       client,
		RetryWait:    10 * time.Millisecond,
		MaxRetryWait: 200 * time.Millisecond,
		Logger:       slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	for _, o := range opts {
		o(&cfg)
	}
	store, err := redisstore.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	r := &replica{store: store}
	v, err := middleware.New(middleware.Config{
		Endpoint: logto.Endpoint(), Audiences: []string{api}, Revocations: store,
		Hooks: middleware.Hooks{Verified: func(_ *middleware.Claims, cached bool) {
			if cached {
				r.hits.Add(1)
			} else {
				r.misses.Add(1)
			}
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	hooks, err := webhook.New(webhook.Config{
		SigningKeys: []string{signingKey},
		Store:       v,
		Logger:      slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("POST /logto/webhooks", hooks)
	mux.Handle("/", nethttp.New(v).Authenticate(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok")
	})))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	r.v, r.url = v, srv.URL
	r.logto = &logtotest.Webhook{URL: srv.URL + "/logto/webhooks", SigningKey: signingKey}
	return r
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

// wantHit sends token to the replica and wants it accepted from the
// validator's cache.
func wantHit(t *testing.T, r *replica, token, what string) {
	t.Helper()
	hits, misses := r.hits.Load(), r.misses.Load()
	wantStatus(t, r, token, http.StatusOK, what)
	if r.hits.Load() != hits+1 || r.misses.Load() != misses {
		t.Errorf("%s: cache hits %d to %d, signature checks %d to %d: want one hit", what, hits, r.hits.Load(), misses, r.misses.Load())
	}
}

func waitAllReady(t testing.TB, rs ...*replica) {
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
// net/http adapter, on one Redis). Each replica caches its verdict on
// every token and, on a cache hit, remembers that no revocation refused it
// at its store's version. Logto's suspension webhook to the first is
// answered 200, and the token is refused by the other two on a cache hit:
// the entry applied from Redis grew their store's version. Redis is then
// killed: a suspension
// webhook to the second is answered 503 (so Logto delivers it again) and
// the token refused there at once, while the others, cut off, still
// accept it. Redis restarted
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
			// The first hit looks the token up and remembers the store's
			// version; the second finds it unchanged and does not.
			wantHit(t, r, tok, fmt.Sprintf("first hit before any revocation, replica %d", i))
			wantHit(t, r, tok, fmt.Sprintf("second hit before any revocation, replica %d", i))
		}
	}

	// Logto's webhook: the status the replica answered.
	suspend := func(r *replica, sub string) int {
		status, body, err := r.logto.SuspendUser(context.Background(), sub)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("suspension of %s: %d %s", sub, status, body)
		return status
	}
	if status := suspend(rs[0], "alice"); status/100 != 2 {
		t.Fatalf("the webhook answered %d to a suspension with Redis up", status)
	}
	wantStatus(t, rs[0], alice, http.StatusUnauthorized, "the replica that recorded it, when Revoke returned")
	refusedEventually(t, rs[1], alice, "second replica")
	refusedEventually(t, rs[2], alice, "third replica")
	wantHit(t, rs[1], carol, "another user on the second replica")

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
	if status := suspend(rs[1], "bob"); status != http.StatusServiceUnavailable {
		t.Fatalf("the webhook answered %d with Redis down, want 503: Logto would not deliver the event again", status)
	}
	wantStatus(t, rs[1], bob, http.StatusUnauthorized, "the replica that got the suspension while Redis was down")
	wantStatus(t, rs[0], bob, http.StatusOK, "a replica cut off from Redis (it cannot know)")
	for i, r := range rs {
		wantStatus(t, r, alice, http.StatusUnauthorized, fmt.Sprintf("a revocation held before Redis went down, replica %d", i))
	}

	srv.Restart(t)
	waitAllReady(t, rs...)
	if status := suspend(rs[1], "bob"); status/100 != 2 {
		t.Errorf("Logto's delivery again after the restart answered %d, want 2xx", status)
	}
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

// TestFailClosedRefusesCachedTokens: with FailClosed, a token the
// validator has cached, and found unrevoked at its store's version, is
// refused on its next cache hit once the store reports it lost Redis: going
// out of sync grows the version, so the hit looks the token up again and
// the store refuses it. Once Redis is back, the same cached verdict is
// accepted again, without a signature check.
func TestFailClosedRefusesCachedTokens(t *testing.T) {
	logto := logtotest.New(t)
	srv := redistest.Start(t)
	r := newReplica(t, logto, srv.Addr(), func(c *redisstore.Config) { c.FailClosed = true })
	waitAllReady(t, r)

	dave := logto.UserToken("dave", "web-app", api, "read:products")
	wantStatus(t, r, dave, http.StatusOK, "in sync, verified")
	wantHit(t, r, dave, "in sync, first hit (looked up)")
	wantHit(t, r, dave, "in sync, second hit (version unchanged)")
	before := r.store.Version()

	srv.Kill()
	eventually(t, "the store reports it is out of sync", func() bool { return !r.store.Ready() })
	if v := r.store.Version(); v <= before {
		t.Errorf("Version %d out of sync, %d in sync: want it grown", v, before)
	}
	refusals := r.store.Stats().FailClosedRefusals
	status, challenge := r.get(t, dave)
	if status != http.StatusUnauthorized || !strings.Contains(challenge, "not in sync with Redis") {
		t.Fatalf("cached token with the store out of sync: %d %q, want 401 for %q", status, challenge, redisstore.OutOfSyncReason)
	}
	if got := r.store.Stats().FailClosedRefusals; got != refusals+1 {
		t.Errorf("FailClosedRefusals %d to %d, want one more", refusals, got)
	}

	srv.Restart(t)
	waitAllReady(t, r)
	// Still in the cache: the refusal above was a cache hit too.
	wantHit(t, r, dave, "back in sync")
	if n := r.misses.Load(); n != 1 {
		t.Errorf("%d signature checks, want 1: the token left the cache", n)
	}
}

// eventually waits until cond holds, failing the test with what after 15s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after 15s, still not: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// BenchmarkWebhookPropagation is BenchmarkPropagation end to end: each
// operation is Logto's suspension webhook (logtotest.Webhook, signed) to
// the first of three replicas, timed from the moment its 2xx is read to
// the moment both others' validators refuse the user's tokens
// (middleware.Validator.Revoked, polled every pollEvery: the time is up to
// that much late). Run with -benchtime 1000x for 1,000 revocations.
//
// The poll sleeps rather than spins: a goroutine spinning on a busy
// machine keeps the scheduler from looking at the network, and the
// replicas' subscriptions would wait for it.
func BenchmarkWebhookPropagation(b *testing.B) {
	const pollEvery = 50 * time.Microsecond
	logto := logtotest.New(b)
	srv := redistest.Start(b)
	var rs []*replica
	for range 3 {
		rs = append(rs, newReplica(b, logto, srv.Addr()))
	}
	waitAllReady(b, rs...)
	ctx := context.Background()
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		sub := fmt.Sprintf("user-%d", i)
		status, body, err := rs[0].logto.SuspendUser(ctx, sub)
		if err != nil || status/100 != 2 {
			b.Fatalf("webhook: %d %s %v", status, body, err)
		}
		acked := time.Now()
		tok := revocation.Token{Subject: sub, IssuedAt: acked.Add(-time.Minute)}
		for _, r := range rs[1:] {
			for deadline := acked.Add(15 * time.Second); ; {
				if _, ok := r.v.Revoked(tok); ok {
					break
				}
				if time.Now().After(deadline) {
					b.Fatalf("%s not refused 15s after the webhook's 2xx", sub)
				}
				time.Sleep(pollEvery)
			}
		}
		lat = append(lat, time.Since(acked))
	}
	b.StopTimer()
	slices.Sort(lat)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	pct := func(p int) time.Duration { return lat[max((len(lat)*p+99)/100-1, 0)] }
	b.ReportMetric(ms(pct(50)), "p50-ms")
	b.ReportMetric(ms(pct(99)), "p99-ms")
	b.ReportMetric(ms(lat[len(lat)-1]), "max-ms")
}

// unversioned hides the store's Version: the validator then looks the
// token up on every cache hit, as it did before the store counted its
// changes.
type unversioned struct{ revocation.Store }

// BenchmarkCacheHit is middleware's BenchmarkCacheHitRevocations on this
// store: a verified-token cache hit, revocation check included, with a
// redisstore.Store holding 0 or 100,000 entries (none of them the token's)
// as Config.Revocations, and the same store with its Version hidden
// (store=unversioned), which looks the token up on every hit. An M2M token
// is one ID to look up, a user's organization token three.
// benchmarks/README.md has the numbers.
func BenchmarkCacheHit(b *testing.B) {
	logto := logtotest.New(b)
	srv := redistest.Start(b)
	tokens := []struct{ name, token string }{
		{"m2m", logto.M2MToken("inventory-sync", api, "read:products", "write:products")},
		{"user-org", logto.OrganizationToken("user-00000001", "spa-000000000001", "org-000000000001", "read:products")},
	}
	client := redis.NewClient(&redis.Options{Addr: srv.Addr(), DialTimeout: time.Second, MaxRetries: -1})
	b.Cleanup(func() { client.Close() })
	for _, n := range []int{0, 100_000} {
		store, err := redisstore.New(redisstore.Config{
			Client: client,
			Prefix: fmt.Sprintf("bench%d:", n),
			Memory: revocation.MemoryConfig{MaxEntries: n + 1},
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { store.Close() })
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		if err := store.WaitReady(ctx); err != nil {
			b.Fatal(err)
		}
		cancel()
		fill(b, store, n)
		runtime.GC() // the fill's garbage, not the hits', to collect
		for _, st := range []struct {
			name  string
			store revocation.Store
		}{{"redisstore", store}, {"unversioned", unversioned{store}}} {
			v, err := middleware.New(middleware.Config{
				Endpoint: logto.Endpoint(), Audiences: []string{api}, Revocations: st.store, AcceptOrganizationTokens: true,
			})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { v.Close() })
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			if err := v.WaitReady(ctx); err != nil {
				b.Fatal(err)
			}
			cancel()
			for _, tok := range tokens {
				b.Run(fmt.Sprintf("store=%s/token=%s/entries=%d", st.name, tok.name, n), func(b *testing.B) {
					ctx := context.Background()
					if _, err := v.Verify(ctx, tok.token); err != nil {
						b.Fatal(err)
					}
					b.ReportAllocs()
					for b.Loop() {
						if _, err := v.Verify(ctx, tok.token); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		}
	}
}

// fill records n entries, mostly suspended users, from 16 goroutines (each
// Revoke is a round trip to Redis), and waits until the store has applied
// them all.
func fill(b *testing.B, s *redisstore.Store, n int) {
	b.Helper()
	now := time.Now()
	const workers = 16
	errs := make(chan error, workers)
	for w := range workers {
		go func() {
			for i := w; i < n; i += workers {
				e := revocation.Entry{At: now, Until: now.Add(25 * time.Hour), Reason: "user suspended"}
				switch i % 10 {
				case 0, 1, 2, 3, 4, 5, 6, 7:
					e.Kind, e.Subject = revocation.Subject, fmt.Sprintf("u%011d", i)
				case 8:
					e.Kind, e.Organization = revocation.Organization, fmt.Sprintf("org%09d", i)
				default:
					e.Kind, e.Client = revocation.Client, fmt.Sprintf("app%017d", i)
				}
				if err := s.Revoke(context.Background(), e); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range workers {
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
	}
	if got := s.Stats().Entries; got != n {
		b.Fatalf("%d entries held, want %d", got, n)
	}
}
