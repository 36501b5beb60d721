package revocation_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/logtoguard/logtoguard/revocation"
)

// clock is a settable clock for the store.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}

func newMemory(t *testing.T, maxEntries int) (*revocation.Memory, *clock) {
	t.Helper()
	c := &clock{now: t0}
	return revocation.NewMemory(revocation.MemoryConfig{MaxEntries: maxEntries, Now: c.Now}), c
}

func mustRevoke(t *testing.T, s revocation.Store, e revocation.Entry) {
	t.Helper()
	if err := s.Revoke(context.Background(), e); err != nil {
		t.Fatalf("Revoke(%+v) = %v", e, err)
	}
}

func TestMemoryRevoked(t *testing.T) {
	m, _ := newMemory(t, 0)
	before := t0.Add(-time.Minute)
	tok := revocation.Token{Subject: "u1", Client: "web", Organization: "o1", IssuedAt: before}
	if e, ok := m.Revoked(tok); ok {
		t.Fatalf("empty store: Revoked() = %+v, true", e)
	}
	entries := []revocation.Entry{
		{Kind: revocation.Subject, Subject: "u1", At: t0, Until: until, Reason: "user suspended"},
		{Kind: revocation.Member, Subject: "u2", Organization: "o1", At: t0, Until: until, Reason: "removed from the organization"},
		{Kind: revocation.Organization, Organization: "o3", At: t0, Until: until, Reason: "organization deleted"},
		{Kind: revocation.Client, Client: "m2m", At: t0, Until: until, Reason: "application deleted"},
	}
	for _, e := range entries {
		mustRevoke(t, m, e)
	}
	if got := m.Len(); got != 4 {
		t.Fatalf("Len() = %d, want 4", got)
	}
	tests := []struct {
		name string
		tok  revocation.Token
		want int // index in entries, -1 for none
	}{
		{"suspended user", tok, 0},
		{"suspended user, issued at the event", revocation.Token{Subject: "u1", IssuedAt: t0}, 0},
		{"suspended user, issued after", revocation.Token{Subject: "u1", IssuedAt: t0.Add(time.Second)}, -1},
		{"suspended user, no iat", revocation.Token{Subject: "u1"}, 0},
		{"removed member in its organization", revocation.Token{Subject: "u2", Organization: "o1", IssuedAt: before}, 1},
		{"removed member elsewhere", revocation.Token{Subject: "u2", Organization: "o2", IssuedAt: before}, -1},
		{"removed member without organization", revocation.Token{Subject: "u2", IssuedAt: before}, -1},
		{"suspended user as actor", revocation.Token{Subject: "u9", Actor: "u1", IssuedAt: before}, 0},
		{"suspended user as actor, issued after", revocation.Token{Subject: "u9", Actor: "u1", IssuedAt: t0.Add(time.Second)}, -1},
		{"suspended user as actor, no iat", revocation.Token{Subject: "u9", Actor: "u1"}, 0},
		{"removed member as actor", revocation.Token{Subject: "u9", Actor: "u2", Organization: "o1", IssuedAt: before}, -1},
		{"deleted organization", revocation.Token{Subject: "u9", Organization: "o3", IssuedAt: before}, 2},
		{"deleted app", revocation.Token{Subject: "m2m", Client: "m2m", IssuedAt: before}, 3},
		{"someone else", revocation.Token{Subject: "u9", Client: "web", Organization: "o1", IssuedAt: before}, -1},
		{"iat past 2262", revocation.Token{Subject: "u1", IssuedAt: time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)}, -1},
		{"iat before 1970", revocation.Token{Subject: "u1", IssuedAt: time.Unix(-5, 0)}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := m.Revoked(tt.tok)
			if tt.want < 0 {
				if ok {
					t.Fatalf("Revoked() = %+v, true; want none", got)
				}
				return
			}
			want := entries[tt.want]
			if !ok || got != want {
				t.Fatalf("Revoked() = %+v, %v; want %+v", got, ok, want)
			}
		})
	}
}

func TestMemoryMerge(t *testing.T) {
	m, _ := newMemory(t, 0)
	e := revocation.Entry{Kind: revocation.Subject, Subject: "u1", At: t0, Until: until, Reason: "user suspended"}
	later := e
	later.At, later.Until, later.Reason = t0.Add(time.Hour), until.Add(time.Hour), "user deleted"
	mustRevoke(t, m, later)
	mustRevoke(t, m, e) // an older delivery arriving late changes nothing
	if got := m.Len(); got != 1 {
		t.Fatalf("Len() = %d, want 1", got)
	}
	got, ok := m.Revoked(revocation.Token{Subject: "u1", IssuedAt: t0.Add(30 * time.Minute)})
	if !ok || got != later {
		t.Fatalf("Revoked() = %+v, %v; want %+v", got, ok, later)
	}
	// A later At with an earlier Until keeps the later Until.
	third := e
	third.At, third.Until, third.Reason = t0.Add(2*time.Hour), t0.Add(3*time.Hour), "user suspended again"
	mustRevoke(t, m, third)
	want := third
	want.Until = later.Until
	if got := m.Entries(); len(got) != 1 || got[0] != want {
		t.Fatalf("Entries() = %+v, want [%+v]", got, want)
	}
}

func TestMemoryFull(t *testing.T) {
	m, c := newMemory(t, 2)
	e := func(sub string, until time.Time) revocation.Entry {
		return revocation.Entry{Kind: revocation.Subject, Subject: sub, At: t0, Until: until}
	}
	mustRevoke(t, m, e("a", t0.Add(time.Hour)))
	mustRevoke(t, m, e("b", t0.Add(2*time.Hour)))
	if err := m.Revoke(context.Background(), e("c", t0.Add(time.Hour))); !errors.Is(err, revocation.ErrFull) {
		t.Fatalf("Revoke on a full store = %v, want ErrFull", err)
	}
	// Nothing was pushed out, and an entry already held still merges.
	for _, sub := range []string{"a", "b"} {
		if _, ok := m.Revoked(revocation.Token{Subject: sub, IssuedAt: t0}); !ok {
			t.Errorf("%s: no longer revoked after ErrFull", sub)
		}
	}
	mustRevoke(t, m, e("a", t0.Add(3*time.Hour)))
	// Once a's Until has passed, its place is free (a was extended to 3h).
	c.Set(t0.Add(2*time.Hour + time.Second))
	if err := m.Revoke(context.Background(), e("c", t0.Add(5*time.Hour))); err != nil {
		t.Fatalf("Revoke after b's Until = %v, want nil", err)
	}
	if _, ok := m.Revoked(revocation.Token{Subject: "b", IssuedAt: t0}); ok {
		t.Error("b still held after its Until and a sweep")
	}
	for _, sub := range []string{"a", "c"} {
		if _, ok := m.Revoked(revocation.Token{Subject: sub, IssuedAt: t0}); !ok {
			t.Errorf("%s: not revoked", sub)
		}
	}
	if got := m.Len(); got != 2 {
		t.Fatalf("Len() = %d, want 2", got)
	}
}

func TestMemorySweep(t *testing.T) {
	m, c := newMemory(t, 0)
	for i := range 10 {
		mustRevoke(t, m, revocation.Entry{Kind: revocation.Organization, Organization: fmt.Sprint("o", i), At: t0, Until: t0.Add(time.Duration(i+1) * time.Hour)})
	}
	// An entry already past its Until is accepted and not kept.
	mustRevoke(t, m, revocation.Entry{Kind: revocation.Client, Client: "old", At: t0.Add(-48 * time.Hour), Until: t0.Add(-time.Hour)})
	if got := m.Len(); got != 10 {
		t.Fatalf("Len() = %d, want 10", got)
	}
	// A Revoke at least a minute after the last sweep drops what expired.
	c.Set(t0.Add(5*time.Hour + time.Minute))
	mustRevoke(t, m, revocation.Entry{Kind: revocation.Client, Client: "new", At: t0, Until: t0.Add(24 * time.Hour)})
	if got := m.Len(); got != 6 { // o5..o9 and new
		t.Fatalf("Len() after the sweep = %d, want 6", got)
	}
}

func TestMemoryInvalid(t *testing.T) {
	m, _ := newMemory(t, 0)
	err := m.Revoke(context.Background(), revocation.Entry{Kind: revocation.Member, Subject: "u1", At: t0, Until: until})
	if !errors.Is(err, revocation.ErrInvalidEntry) {
		t.Fatalf("Revoke(member without organization) = %v, want ErrInvalidEntry", err)
	}
	if m.Len() != 0 {
		t.Fatalf("Len() = %d after an invalid entry", m.Len())
	}
}

func TestMemoryEntries(t *testing.T) {
	m, _ := newMemory(t, 0)
	in := []revocation.Entry{
		{Kind: revocation.Subject, Subject: "u1", At: t0, Until: until, Reason: "user suspended"},
		{Kind: revocation.Member, Subject: "u2", Organization: "o1", At: t0, Until: until, Reason: "removed"},
		{Kind: revocation.Organization, Organization: "o3", At: t0, Until: until},
		{Kind: revocation.Client, Client: "m2m", At: t0, Until: until},
	}
	for _, e := range in {
		mustRevoke(t, m, e)
	}
	got := m.Entries()
	want := []revocation.Entry{in[3], in[1], in[2], in[0]} // by Key
	if len(got) != len(want) {
		t.Fatalf("Entries() = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("Entries()[%d] = %+v, want %+v", i, got[i], want[i])
		}
	}
}

// TestMemoryConcurrent runs Revoke and Revoked at once, for the race
// detector.
func TestMemoryConcurrent(t *testing.T) {
	m, _ := newMemory(t, 0)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := range 500 {
				e := revocation.Entry{Kind: revocation.Member, Subject: fmt.Sprint("u", i), Organization: fmt.Sprint("o", w), At: t0, Until: until}
				if err := m.Revoke(context.Background(), e); err != nil {
					t.Error(err)
					return
				}
			}
		}()
		go func() {
			defer wg.Done()
			for i := range 500 {
				m.Revoked(revocation.Token{Subject: fmt.Sprint("u", i), Organization: fmt.Sprint("o", w), IssuedAt: t0})
			}
		}()
	}
	wg.Wait()
	if got := m.Len(); got != 2000 {
		t.Fatalf("Len() = %d, want 2000", got)
	}
	for w := range 4 {
		if _, ok := m.Revoked(revocation.Token{Subject: "u499", Organization: fmt.Sprint("o", w), IssuedAt: t0}); !ok {
			t.Errorf("o%d: u499 not revoked", w)
		}
	}
}

// TestMemoryManyEntries crosses the folds of the small table into the base
// one: merges find entries in either, and nothing is counted twice.
func TestMemoryManyEntries(t *testing.T) {
	m, _ := newMemory(t, 0)
	const n = 1000
	e := func(i int, at time.Time, reason string) revocation.Entry {
		return revocation.Entry{Kind: revocation.Member, Subject: fmt.Sprint("u", i), Organization: "o1", At: at, Until: until, Reason: reason}
	}
	for i := range n {
		mustRevoke(t, m, e(i, t0, "first"))
	}
	for i := range n {
		if i%2 == 0 {
			mustRevoke(t, m, e(i, t0.Add(time.Hour), "later"))
		} else {
			mustRevoke(t, m, e(i, t0.Add(-time.Hour), "older"))
		}
	}
	if got := m.Len(); got != n {
		t.Fatalf("Len() = %d, want %d", got, n)
	}
	all := m.Entries()
	if len(all) != n {
		t.Fatalf("len(Entries()) = %d, want %d", len(all), n)
	}
	for i := range n {
		got, ok := m.Revoked(revocation.Token{Subject: fmt.Sprint("u", i), Organization: "o1", IssuedAt: t0})
		want := "later"
		if i%2 == 1 {
			want = "first"
		}
		if !ok || got.Reason != want {
			t.Fatalf("u%d: Revoked() = %+v, %v; want reason %q", i, got, ok, want)
		}
	}
}

// TestMemoryVersion: Version grows with every entry recorded or merged into
// one it changes, and not when nothing was recorded or a merge changed
// nothing (Logto delivering an event again, or an older one late), so that
// a retry does not send every cached token back to the store.
func TestMemoryVersion(t *testing.T) {
	m, _ := newMemory(t, 1)
	if m.Version() != 0 {
		t.Fatalf("new store: Version() = %d", m.Version())
	}
	e := revocation.Entry{Kind: revocation.Subject, Subject: "u1", At: t0, Until: until}
	mustRevoke(t, m, e)
	v1 := m.Version()
	if v1 == 0 {
		t.Fatal("Version() did not grow after an entry")
	}
	e.At = t0.Add(time.Hour)
	mustRevoke(t, m, e)
	v2 := m.Version()
	if v2 <= v1 {
		t.Fatal("Version() did not grow after a merge")
	}
	mustRevoke(t, m, e) // delivered again
	older := e
	older.At, older.Until, older.Reason = t0, t0.Add(time.Hour), "user suspended"
	mustRevoke(t, m, older) // an older event, late
	if m.Version() != v2 {
		t.Fatalf("Version() = %d after merges that changed nothing, want %d", m.Version(), v2)
	}
	longer := e
	longer.Until = until.Add(time.Hour)
	mustRevoke(t, m, longer)
	if v3 := m.Version(); v3 <= v2 {
		t.Fatal("Version() did not grow after Until was extended")
	}
	v2 = m.Version()
	_ = m.Revoke(context.Background(), revocation.Entry{Kind: revocation.Subject, Subject: "u2", At: t0, Until: until}) // full
	_ = m.Revoke(context.Background(), revocation.Entry{Kind: revocation.Subject})                                      // invalid
	_ = m.Revoke(context.Background(), revocation.Entry{Kind: revocation.Subject, Subject: "u3", At: t0.Add(-time.Hour), Until: t0.Add(-time.Minute)})
	if m.Version() != v2 {
		t.Fatalf("Version() = %d after nothing was recorded, want %d", m.Version(), v2)
	}
}
