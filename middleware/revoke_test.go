package middleware_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/logtoguard/logtoguard/logtotest"
	"github.com/logtoguard/logtoguard/middleware"
	"github.com/logtoguard/logtoguard/revocation"
)

// TestRevoked: a revocation refuses a token that verified, on its first
// check and on a cache hit alike: 401 invalid_token saying why, its own
// Reason and Check, the Rejected hook. Tokens issued after the event, and
// other subjects', still pass.
func TestRevoked(t *testing.T) {
	now := time.Now().Truncate(time.Second)
	iss := logtotest.New(t)
	var mu sync.Mutex
	var rejected []error
	v := newValidator(t, iss, func(c *middleware.Config) {
		c.AcceptOrganizationTokens = true
		c.Hooks.Rejected = func(err error) { mu.Lock(); rejected = append(rejected, err); mu.Unlock() }
	})
	ctx := context.Background()
	old := func(spec logtotest.Token) string {
		spec.IssuedAt = now.Add(-10 * time.Minute)
		if spec.Audience == nil {
			spec.Audience = api
		}
		return iss.Mint(spec)
	}
	fresh := func(spec logtotest.Token) string {
		spec.IssuedAt = now.Add(time.Second)
		if spec.Audience == nil {
			spec.Audience = api
		}
		return iss.Mint(spec)
	}
	tests := []struct {
		name    string
		entry   revocation.Entry
		refused []string
		passed  []string
	}{
		{
			"suspended user",
			revocation.Entry{Kind: revocation.Subject, Subject: "user-1", Reason: "user suspended"},
			[]string{old(logtotest.Token{Subject: "user-1", ClientID: "spa"}), old(logtotest.Token{Subject: "user-1", ClientID: "spa", Audience: middleware.OrganizationAudiencePrefix + "org-1"})},
			[]string{fresh(logtotest.Token{Subject: "user-1", ClientID: "spa"}), old(logtotest.Token{Subject: "user-2", ClientID: "spa"})},
		},
		{
			"removed member",
			revocation.Entry{Kind: revocation.Member, Subject: "user-3", Organization: "org-1", Reason: "removed from the organization"},
			[]string{
				old(logtotest.Token{Subject: "user-3", ClientID: "spa", Audience: middleware.OrganizationAudiencePrefix + "org-1"}),
				old(logtotest.Token{Subject: "user-3", ClientID: "spa", OrganizationID: "org-1"}),
			},
			[]string{
				old(logtotest.Token{Subject: "user-3", ClientID: "spa"}),
				old(logtotest.Token{Subject: "user-3", ClientID: "spa", Audience: middleware.OrganizationAudiencePrefix + "org-2"}),
				fresh(logtotest.Token{Subject: "user-3", ClientID: "spa", OrganizationID: "org-1"}),
			},
		},
		{
			"deleted organization",
			revocation.Entry{Kind: revocation.Organization, Organization: "org-9", Reason: "organization deleted"},
			[]string{
				old(logtotest.Token{Subject: "user-4", ClientID: "spa", Audience: middleware.OrganizationAudiencePrefix + "org-9"}),
				old(logtotest.Token{Subject: "m2m-1", ClientID: "m2m-1", OrganizationID: "org-9"}),
			},
			[]string{old(logtotest.Token{Subject: "user-4", ClientID: "spa"})},
		},
		{
			"deleted app",
			revocation.Entry{Kind: revocation.Client, Client: "m2m-2", Reason: "application deleted"},
			[]string{old(logtotest.Token{Subject: "m2m-2", ClientID: "m2m-2"})},
			[]string{fresh(logtotest.Token{Subject: "m2m-2", ClientID: "m2m-2"}), old(logtotest.Token{Subject: "m2m-3", ClientID: "m2m-3"})},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Every token verifies first, twice, so that the refusals below
			// are cache hits of tokens already found unrevoked on a hit (the
			// store's version then changes under them).
			for _, tok := range append(append([]string(nil), tt.refused...), tt.passed...) {
				for range 2 {
					if _, err := v.Verify(ctx, tok); err != nil {
						t.Fatalf("before the revocation: %v", err)
					}
				}
			}
			e := tt.entry
			e.At = now
			if err := v.Revoke(ctx, e); err != nil {
				t.Fatal(err)
			}
			for i, tok := range tt.refused {
				mu.Lock()
				rejected = nil
				mu.Unlock()
				_, err := v.Verify(ctx, tok)
				if !errors.Is(err, middleware.ErrRevoked) || !errors.Is(err, middleware.ErrInvalidToken) {
					t.Fatalf("refused[%d]: got %v, want ErrRevoked", i, err)
				}
				if got := middleware.Reason(err); got != "revoked" {
					t.Errorf("Reason = %q, want revoked", got)
				}
				if got := middleware.CheckOf(err); got != middleware.CheckRevoked || got.String() != "revoked" {
					t.Errorf("CheckOf = %v, want revoked", got)
				}
				mu.Lock()
				if len(rejected) != 1 || !errors.Is(rejected[0], middleware.ErrRevoked) {
					t.Errorf("Rejected hook saw %v, want the one ErrRevoked", rejected)
				}
				mu.Unlock()
				rec := httptest.NewRecorder()
				v.WriteError(rec, nil, err)
				want := `error="invalid_token", error_description="the token was revoked: ` + tt.entry.Reason + `"`
				if rec.Code != 401 || !strings.Contains(rec.Header().Get("WWW-Authenticate"), want) {
					t.Errorf("response %d %q, want 401 with %s", rec.Code, rec.Header().Get("WWW-Authenticate"), want)
				}
			}
			for i, tok := range tt.passed {
				if _, err := v.Verify(ctx, tok); err != nil {
					t.Errorf("passed[%d]: %v, want accepted", i, err)
				}
			}
		})
	}
	// Without the cache: the check follows the signature check too.
	nocache := newValidator(t, iss, func(c *middleware.Config) { c.Cache.Disabled = true })
	if err := nocache.Revoke(ctx, revocation.Entry{Kind: revocation.Subject, Subject: "user-1", At: now}); err != nil {
		t.Fatal(err)
	}
	_, err := nocache.Verify(ctx, old(logtotest.Token{Subject: "user-1", ClientID: "spa"}))
	if !errors.Is(err, middleware.ErrRevoked) {
		t.Fatalf("without the cache: got %v, want ErrRevoked", err)
	}
	if rej := nocache.Reject(err); rej.Description != "the token was revoked" {
		t.Errorf("description without a reason = %q", rej.Description)
	}
}

// TestRevokedActor: suspending or deleting a user ends the delegated tokens
// it acts with (act.sub), not only its own: on a token's first
// verification and on a cache hit of a token already found unrevoked. The
// subject's own tokens, other actors' and tokens issued after the event
// pass.
func TestRevokedActor(t *testing.T) {
	now := time.Now().Truncate(time.Second)
	iss := logtotest.New(t)
	ctx := context.Background()
	mint := func(sub, actor string, iat time.Time) string {
		return iss.Mint(logtotest.Token{Subject: sub, Actor: actor, ClientID: "helpdesk", Audience: api, IssuedAt: iat})
	}
	old := now.Add(-10 * time.Minute)
	for _, cached := range []bool{false, true} {
		t.Run(fmt.Sprintf("cached=%t", cached), func(t *testing.T) {
			v := newValidator(t, iss, func(c *middleware.Config) { c.Cache.Disabled = !cached })
			delegated := mint("user-1", "agent-1", old)
			passed := []string{
				mint("user-1", "", old),                         // the subject's own
				mint("user-1", "agent-2", old),                  // another actor's
				mint("user-1", "agent-1", now.Add(time.Second)), // after the event
			}
			for _, tok := range append([]string{delegated}, passed...) {
				for range 2 { // a cache hit found unrevoked, when cached
					if c, err := v.Verify(ctx, tok); err != nil || c.Subject != "user-1" {
						t.Fatalf("before the revocation: %v, %v", c, err)
					}
				}
			}
			if err := v.Revoke(ctx, revocation.Entry{Kind: revocation.Subject, Subject: "agent-1", At: now, Reason: "user suspended"}); err != nil {
				t.Fatal(err)
			}
			_, err := v.Verify(ctx, delegated)
			if !errors.Is(err, middleware.ErrRevoked) || middleware.CheckOf(err) != middleware.CheckRevoked {
				t.Fatalf("the suspended actor's delegated token: %v, want ErrRevoked", err)
			}
			if rej := v.Reject(err); rej.Description != "the token was revoked: user suspended" {
				t.Errorf("description %q", rej.Description)
			}
			for i, tok := range passed {
				if _, err := v.Verify(ctx, tok); err != nil {
					t.Errorf("passed[%d]: %v, want accepted", i, err)
				}
			}
		})
	}
}

// recordingStore is a revocation.Store that records what it is given.
type recordingStore struct {
	revocation.Store
	mu      sync.Mutex
	entries []revocation.Entry
	err     error
}

func (s *recordingStore) Revoke(ctx context.Context, e revocation.Entry) error {
	s.mu.Lock()
	s.entries = append(s.entries, e)
	s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	return s.Store.Revoke(ctx, e)
}

// TestRevokeUntil: Validator.Revoke keeps an entry at least as long as a
// token it refuses can live (MaxTokenLifetime plus leeway after At), in the
// configured store, and passes the store's error on.
func TestRevokeUntil(t *testing.T) {
	iss := logtotest.New(t)
	store := &recordingStore{Store: revocation.NewMemory(revocation.MemoryConfig{})}
	v := newValidator(t, iss, func(c *middleware.Config) {
		c.Revocations = store
		c.MaxTokenLifetime = 2 * time.Hour
		c.Leeway = 10 * time.Second
	})
	at := time.Now()
	for _, until := range []time.Time{{}, at.Add(time.Minute), at.Add(5 * time.Hour)} {
		if err := v.Revoke(context.Background(), revocation.Entry{Kind: revocation.Client, Client: "app", At: at, Until: until}); err != nil {
			t.Fatal(err)
		}
	}
	want := []time.Time{at.Add(2*time.Hour + 10*time.Second), at.Add(2*time.Hour + 10*time.Second), at.Add(5 * time.Hour)}
	for i, e := range store.entries {
		if !e.Until.Equal(want[i]) {
			t.Errorf("entry %d: Until %v, want %v", i, e.Until, want[i])
		}
	}
	store.err = errors.New("backend down")
	if err := v.Revoke(context.Background(), revocation.Entry{Kind: revocation.Client, Client: "app", At: at}); err != store.err {
		t.Errorf("Revoke with the store down = %v, want its error", err)
	}
	store.err = nil
	if _, ok := v.Revoked(revocation.Token{Client: "app", IssuedAt: at}); !ok {
		t.Error("Revoked: the configured store's entry is not seen")
	}
	if err := v.Revoke(context.Background(), revocation.Entry{Kind: revocation.Member, Subject: "u"}); !errors.Is(err, revocation.ErrInvalidEntry) {
		t.Errorf("Revoke(invalid) = %v, want ErrInvalidEntry", err)
	}
}

// TestMaxTokenLifetime: a token is refused as expired from
// iat+MaxTokenLifetime+leeway on, whatever its exp, on a cache hit too, so
// that it never outlives the revocations that refuse it; one without iat
// is refused as malformed.
func TestMaxTokenLifetime(t *testing.T) {
	var mu sync.Mutex
	now := time.Now().Truncate(time.Second)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	iss := logtotest.New(t)
	v := newValidator(t, iss, func(c *middleware.Config) {
		c.Now = clock
		c.MaxTokenLifetime = time.Hour
		c.Leeway = 30 * time.Second
		c.Cache.MaxTTL = 24 * time.Hour
	})
	long := iss.Mint(logtotest.Token{Subject: "app", ClientID: "app", Audience: api, IssuedAt: now.Add(-50 * time.Minute), TTL: 7 * 24 * time.Hour})
	if _, err := v.Verify(context.Background(), long); err != nil {
		t.Fatalf("within MaxTokenLifetime: %v", err)
	}
	mu.Lock()
	now = now.Add(10*time.Minute + 29*time.Second)
	mu.Unlock()
	if _, err := v.Verify(context.Background(), long); err != nil {
		t.Fatalf("within the leeway: %v", err)
	}
	mu.Lock()
	now = now.Add(time.Second)
	mu.Unlock()
	if _, err := v.Verify(context.Background(), long); !errors.Is(err, middleware.ErrExpired) {
		t.Fatalf("cached, past iat+MaxTokenLifetime+leeway: got %v, want ErrExpired", err)
	}
	older := iss.Mint(logtotest.Token{Subject: "app", ClientID: "app", Audience: api, IssuedAt: now.Add(-2 * time.Hour), TTL: 7 * 24 * time.Hour})
	if _, err := v.Verify(context.Background(), older); !errors.Is(err, middleware.ErrExpired) {
		t.Fatalf("first seen past iat+MaxTokenLifetime: got %v, want ErrExpired", err)
	}
	// Without iat nothing would bound a distant exp: refused.
	noIat := iss.Mint(logtotest.Token{Subject: "app", ClientID: "app", Audience: api, Extra: map[string]any{"iat": nil, "exp": now.Add(365 * 24 * time.Hour).Unix()}})
	if _, err := v.Verify(context.Background(), noIat); !errors.Is(err, middleware.ErrMalformed) || middleware.CheckOf(err) != middleware.CheckIat {
		t.Fatalf("no iat, exp a year ahead: got %v (check %v), want ErrMalformed by check iat", err, middleware.CheckOf(err))
	}
	if _, err := middleware.New(middleware.Config{Endpoint: iss.Endpoint(), Audiences: []string{api}, MaxTokenLifetime: -1}); err == nil {
		t.Fatal("a negative MaxTokenLifetime was accepted")
	}
}

// unversioned hides Memory's Version: a store that does not count its
// changes is looked up on every hit.
type unversioned struct{ revocation.Store }

func TestRevokedUnversionedStore(t *testing.T) {
	iss := logtotest.New(t)
	v := newValidator(t, iss, func(c *middleware.Config) {
		c.Revocations = unversioned{revocation.NewMemory(revocation.MemoryConfig{})}
	})
	ctx := context.Background()
	tok := iss.Mint(logtotest.Token{Subject: "app-1", ClientID: "app-1", Audience: api, IssuedAt: time.Now().Add(-time.Minute)})
	for range 3 {
		if _, err := v.Verify(ctx, tok); err != nil {
			t.Fatal(err)
		}
	}
	if err := v.Revoke(ctx, revocation.Entry{Kind: revocation.Client, Client: "app-1", At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(ctx, tok); !errors.Is(err, middleware.ErrRevoked) {
		t.Fatalf("cache hit after the revocation: %v, want ErrRevoked", err)
	}
}
