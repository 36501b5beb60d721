package revocation

import (
	"context"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultMaxEntries is the default bound of a [Memory] store: about 10 MB
// of entries (see benchmarks/README.md for the measured size).
const DefaultMaxEntries = 100_000

// sweepEvery is the least time between two sweeps of expired entries that
// Revoke makes on its own; a Revoke on a full store sweeps at once.
const sweepEvery = time.Minute

// MemoryConfig configures a [Memory] store. The zero value is the default.
type MemoryConfig struct {
	// MaxEntries bounds the number of entries. When that many are held and
	// none has passed its Until, Revoke of a new one returns [ErrFull]:
	// an entry is never dropped before its Until, so no revocation is
	// silently forgotten. Default DefaultMaxEntries.
	MaxEntries int
	// Now is the clock Until is compared with. Default time.Now.
	Now func() time.Time
}

// Memory is the in-memory [Store], the default of the validator. Entries
// are kept until their Until has passed, then dropped by a later Revoke.
// Revoked takes a read lock and at most four map lookups; with no entries
// it takes none.
type Memory struct {
	max int
	now func() time.Time

	n atomic.Int64 // entries held; Revoked skips the lock when zero

	mu        sync.RWMutex
	subjects  map[string]item
	members   map[member]item
	orgs      map[string]item
	clients   map[string]item
	nextSweep time.Time
}

// item is an entry without what its map key holds: 32 bytes.
type item struct {
	at, until int64 // nanoseconds since the epoch
	reason    string
}

type member struct{ subject, organization string }

// NewMemory returns an empty in-memory store.
func NewMemory(cfg MemoryConfig) *Memory {
	if cfg.MaxEntries <= 0 {
		cfg.MaxEntries = DefaultMaxEntries
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Memory{
		max:      cfg.MaxEntries,
		now:      cfg.Now,
		subjects: map[string]item{},
		members:  map[member]item{},
		orgs:     map[string]item{},
		clients:  map[string]item{},
	}
}

// Revoke records e, or merges it into the entry with the same [Entry.Key]
// (keeping the later At and Until, and the reason of the later At). An
// entry whose Until has already passed refuses no token that is still
// valid: it is accepted and not kept. Errors: one matching
// [ErrInvalidEntry], or [ErrFull]. ctx is not used.
func (m *Memory) Revoke(_ context.Context, e Entry) error {
	if err := e.Validate(); err != nil {
		return err
	}
	now := m.now()
	if e.Until.Before(now) {
		return nil
	}
	it := item{at: e.At.UnixNano(), until: e.Until.UnixNano(), reason: strings.Clone(e.Reason)}
	m.mu.Lock()
	defer m.mu.Unlock()
	if !now.Before(m.nextSweep) {
		m.sweep(now)
	}
	old, found := m.lookup(e)
	if found {
		it = merge(old, it)
	} else if int(m.n.Load()) >= m.max {
		m.sweep(now)
		if int(m.n.Load()) >= m.max {
			return ErrFull
		}
	}
	switch e.Kind {
	case Subject:
		m.subjects[strings.Clone(e.Subject)] = it
	case Member:
		m.members[member{strings.Clone(e.Subject), strings.Clone(e.Organization)}] = it
	case Organization:
		m.orgs[strings.Clone(e.Organization)] = it
	case Client:
		m.clients[strings.Clone(e.Client)] = it
	}
	if !found {
		m.n.Add(1)
	}
	return nil
}

// lookup returns the item held under e's key. m.mu is held.
func (m *Memory) lookup(e Entry) (item, bool) {
	var it item
	var ok bool
	switch e.Kind {
	case Subject:
		it, ok = m.subjects[e.Subject]
	case Member:
		it, ok = m.members[member{e.Subject, e.Organization}]
	case Organization:
		it, ok = m.orgs[e.Organization]
	case Client:
		it, ok = m.clients[e.Client]
	}
	return it, ok
}

func merge(old, it item) item {
	if old.at > it.at {
		it.at, it.reason = old.at, old.reason
	}
	it.until = max(it.until, old.until)
	return it
}

// sweep drops the entries whose Until has passed. m.mu is held.
func (m *Memory) sweep(now time.Time) {
	cut := now.UnixNano()
	expired := func(it item) bool { return it.until < cut }
	var dropped int64
	for k, it := range m.subjects {
		if expired(it) {
			delete(m.subjects, k)
			dropped++
		}
	}
	for k, it := range m.members {
		if expired(it) {
			delete(m.members, k)
			dropped++
		}
	}
	for k, it := range m.orgs {
		if expired(it) {
			delete(m.orgs, k)
			dropped++
		}
	}
	for k, it := range m.clients {
		if expired(it) {
			delete(m.clients, k)
			dropped++
		}
	}
	m.n.Add(-dropped)
	m.nextSweep = now.Add(sweepEvery)
}

// Revoked reports the entry that refuses t: a subject entry first, then a
// member, an organization and a client entry. It never blocks on anything
// but a Revoke in progress.
func (m *Memory) Revoked(t Token) (Entry, bool) {
	if m.n.Load() == 0 {
		return Entry{}, false
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if t.Subject != "" {
		if it, ok := m.subjects[t.Subject]; ok && refuses(it, t) {
			return it.entry(Entry{Kind: Subject, Subject: t.Subject}), true
		}
		if t.Organization != "" {
			if it, ok := m.members[member{t.Subject, t.Organization}]; ok && refuses(it, t) {
				return it.entry(Entry{Kind: Member, Subject: t.Subject, Organization: t.Organization}), true
			}
		}
	}
	if t.Organization != "" {
		if it, ok := m.orgs[t.Organization]; ok && refuses(it, t) {
			return it.entry(Entry{Kind: Organization, Organization: t.Organization}), true
		}
	}
	if t.Client != "" {
		if it, ok := m.clients[t.Client]; ok && refuses(it, t) {
			return it.entry(Entry{Kind: Client, Client: t.Client}), true
		}
	}
	return Entry{}, false
}

// refuses reports whether t was issued at or before it.at (a token without
// iat, or with one before 1970, is refused).
func refuses(it item, t Token) bool {
	if t.IssuedAt.After(maxAt) {
		return false // after every At
	}
	return t.IssuedAt.Before(minAt) || t.IssuedAt.UnixNano() <= it.at
}

func (it item) entry(e Entry) Entry {
	e.At = time.Unix(0, it.at).UTC()
	e.Until = time.Unix(0, it.until).UTC()
	e.Reason = it.reason
	return e
}

// Len returns the number of entries held, expired ones not yet dropped
// included.
func (m *Memory) Len() int { return int(m.n.Load()) }

// Entries returns a copy of every entry held, ordered by Key, with times in
// UTC: for a store that keeps a copy elsewhere, or to look at.
func (m *Memory) Entries() []Entry {
	m.mu.RLock()
	out := make([]Entry, 0, m.n.Load())
	for k, it := range m.subjects {
		out = append(out, it.entry(Entry{Kind: Subject, Subject: k}))
	}
	for k, it := range m.members {
		out = append(out, it.entry(Entry{Kind: Member, Subject: k.subject, Organization: k.organization}))
	}
	for k, it := range m.orgs {
		out = append(out, it.entry(Entry{Kind: Organization, Organization: k}))
	}
	for k, it := range m.clients {
		out = append(out, it.entry(Entry{Kind: Client, Client: k}))
	}
	m.mu.RUnlock()
	slices.SortFunc(out, func(a, b Entry) int { return strings.Compare(a.Key(), b.Key()) })
	return out
}

var _ Store = (*Memory)(nil)
