package middleware_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/logtoguard/logtoguard/logtotest"
	"github.com/logtoguard/logtoguard/middleware"
)

// TestConcurrentFirstSight: many concurrent requests with the same token,
// never seen before, cost one signature check. The token's kid is new (the
// issuer rotated its key), so every request also waits for the refetch:
// they all arrive before any verdict exists.
func TestConcurrentFirstSight(t *testing.T) {
	for _, cache := range []bool{true, false} {
		name := "cache"
		if !cache {
			name = "no cache"
		}
		t.Run(name, func(t *testing.T) {
			iss := logtotest.New(t)
			var fresh, shared atomic.Int64
			v := newValidator(t, iss, func(c *middleware.Config) {
				c.Cache.Disabled = !cache
				c.Hooks.Verified = func(_ *middleware.Claims, cached bool) {
					if cached {
						shared.Add(1)
					} else {
						fresh.Add(1)
					}
				}
			})
			iss.RotateKeys()
			iss.SetJWKSDelay(50 * time.Millisecond) // all of them wait for the same refetch
			tok := iss.M2MToken("fleet-app", api, "read:products")
			before := middleware.SignatureChecks(v)
			const n = 64
			var wg sync.WaitGroup
			start := make(chan struct{})
			var failed atomic.Int64
			for range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					if _, err := v.Verify(context.Background(), tok); err != nil {
						failed.Add(1)
						t.Error(err)
					}
				}()
			}
			close(start)
			wg.Wait()
			if failed.Load() != 0 {
				t.Fatalf("%d of %d requests failed", failed.Load(), n)
			}
			if got := middleware.SignatureChecks(v) - before; got != 1 && cache {
				t.Fatalf("%d signature checks for %d concurrent requests with one token, want 1", got, n)
			} else if got < 1 || got > n {
				t.Fatalf("%d signature checks", got)
			}
			if fresh.Load()+shared.Load() != n || (cache && fresh.Load() != 1) {
				t.Fatalf("Verified hook: %d fresh, %d shared, want %d in all", fresh.Load(), shared.Load(), n)
			}
		})
	}
}

// TestConcurrentFirstSightForged: a forged token is checked once for all
// the concurrent requests that carry it, and each of them is refused.
func TestConcurrentFirstSightForged(t *testing.T) {
	iss := logtotest.New(t)
	var rejected atomic.Int64
	v := newValidator(t, iss, func(c *middleware.Config) {
		c.Hooks.Rejected = func(error) { rejected.Add(1) }
	})
	iss.RotateKeys()
	iss.SetJWKSDelay(50 * time.Millisecond)
	tok := iss.M2MToken("app-1", api)
	forged := tok[:len(tok)-4] + "AAAA"
	before := middleware.SignatureChecks(v)
	const n = 32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			if _, err := v.Verify(context.Background(), forged); !errors.Is(err, middleware.ErrSignature) {
				t.Errorf("got %v, want ErrSignature", err)
			}
		}()
	}
	close(start)
	wg.Wait()
	if got := middleware.SignatureChecks(v) - before; got < 1 || got >= n {
		t.Fatalf("%d signature checks for %d concurrent requests with one forged token", got, n)
	}
	if rejected.Load() != n {
		t.Fatalf("Rejected hook called %d times, want %d", rejected.Load(), n)
	}
}

// TestOverloadedResponse: the rejection of admission control is a 503 with
// Retry-After and a JSON body, named by Reason and CheckOf.
func TestOverloadedResponse(t *testing.T) {
	iss := logtotest.New(t)
	v := newValidator(t, iss, nil)
	err := middleware.NewOverloadedForTest()
	w := httptest.NewRecorder()
	v.WriteError(w, httptest.NewRequest(http.MethodGet, "/", nil), err)
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") != "1" || w.Header().Get("WWW-Authenticate") != "" {
		t.Fatalf("got %d, Retry-After %q, WWW-Authenticate %q", w.Code, w.Header().Get("Retry-After"), w.Header().Get("WWW-Authenticate"))
	}
	if body := w.Body.String(); body != `{"error":"temporarily_unavailable","error_description":"the server is verifying too many tokens: retry shortly"}`+"\n" {
		t.Fatalf("body %s", body)
	}
	if middleware.Reason(err) != "overloaded" || middleware.CheckOf(err) != middleware.CheckAdmission {
		t.Fatalf("Reason %q, CheckOf %v", middleware.Reason(err), middleware.CheckOf(err))
	}
	if errors.Is(err, middleware.ErrInvalidToken) {
		t.Fatal("an overloaded request matches ErrInvalidToken: the token was not judged")
	}
}
