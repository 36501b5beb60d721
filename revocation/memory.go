package revocation

import (
	"context"
	"hash/maphash"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultMaxEntries is the default bound of a [Memory] store: about 24 MiB
// of entries with Logto-sized IDs (BenchmarkMemoryBytes; see
// benchmarks/README.md).
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
//
// Revoked takes no lock and writes no shared memory, so that lookups scale
// across cores as the verified-token cache's do: what is revoked under one
// ID (a subject, an organization, a client) is one record, found in one of
// many small shards by a hash of the ID, and a token costs one lookup per
// distinct ID it carries. Shards are immutable once published: Revoke
// copies the one it changes (a few dozen records) under a mutex.
type Memory struct {
	max  int
	now  func() time.Time
	seed maphash.Seed
	mask uint64

	shards []atomic.Pointer[shard] // nil: an empty shard
	n      atomic.Int64            // entries held; Revoked skips all when 0
	ver    atomic.Uint64           // Version: grows after every change

	mu        sync.Mutex // serializes writers
	nextSweep time.Time
}

// shard maps the hashes of IDs to what is revoked under them: one hash of
// an ID finds its shard and its record, and IDs whose hashes collide are
// chained. Never changed once published.
type shard map[uint64]*record

// record is what is revoked under one ID. Never changed once published.
type record struct {
	id                   string
	next                 *record // another ID with the same hash
	kinds                uint8   // bits 1<<Subject, 1<<Organization, 1<<Client
	subject, org, client item
	members              []memberItem // the ID's member entries, one per organization
}

type memberItem struct {
	organization string
	item
}

// item is an entry without its kind and IDs: 32 bytes.
type item struct {
	at, until int64 // nanoseconds since the epoch
	reason    string
}

// find returns the record of id in the chain at r, or nil.
func (r *record) find(id string) *record {
	for ; r != nil; r = r.next {
		if r.id == id {
			return r
		}
	}
	return nil
}

// member returns the ID's member entry for organization.
func (r *record) member(organization string) (item, bool) {
	for i := range r.members {
		if r.members[i].organization == organization {
			return r.members[i].item, true
		}
	}
	return item{}, false
}

// replace returns the chain at head with r in place of the record of r.id.
// Records are copied, not changed.
func replace(head, r *record) *record {
	var list []*record
	for c := head; c != nil; c = c.next {
		if c.id != r.id {
			list = append(list, c)
		}
	}
	list = append(list, r)
	var out *record
	for i := len(list) - 1; i >= 0; i-- {
		c := *list[i]
		c.next = out
		out = &c
	}
	return out
}

// NewMemory returns an empty in-memory store.
func NewMemory(cfg MemoryConfig) *Memory {
	if cfg.MaxEntries <= 0 {
		cfg.MaxEntries = DefaultMaxEntries
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	// About 32 records a shard when full: what Revoke copies.
	shards := 64
	for shards < cfg.MaxEntries/32 && shards < 1<<16 {
		shards *= 2
	}
	return &Memory{
		max:    cfg.MaxEntries,
		now:    cfg.Now,
		seed:   maphash.MakeSeed(),
		mask:   uint64(shards - 1), //nolint:gosec // 63 to 65535
		shards: make([]atomic.Pointer[shard], shards),
	}
}

// id returns the ID an entry is held under.
func (e *Entry) id() string {
	switch e.Kind {
	case Subject, Member:
		return e.Subject
	case Organization:
		return e.Organization
	}
	return e.Client
}

// get returns the item of e's kind and IDs in r, if any.
func (r *record) get(e *Entry) (item, bool) {
	if r == nil {
		return item{}, false
	}
	switch e.Kind {
	case Subject:
		return r.subject, r.kinds&(1<<Subject) != 0
	case Member:
		return r.member(e.Organization)
	case Organization:
		return r.org, r.kinds&(1<<Organization) != 0
	}
	return r.client, r.kinds&(1<<Client) != 0
}

// with returns a copy of r (nil for none) holding it for e.
func (r *record) with(e *Entry, it item) *record {
	c := &record{id: strings.Clone(e.id())}
	if r != nil {
		*c = *r
	}
	switch e.Kind {
	case Subject:
		c.subject = it
		c.kinds |= 1 << Subject
	case Member:
		members := make([]memberItem, 0, len(c.members)+1)
		for _, mi := range c.members {
			if mi.organization != e.Organization {
				members = append(members, mi)
			}
		}
		c.members = append(members, memberItem{strings.Clone(e.Organization), it})
	case Organization:
		c.org = it
		c.kinds |= 1 << Organization
	case Client:
		c.client = it
		c.kinds |= 1 << Client
	}
	return c
}

// Revoke records e, or merges it into the entry with the same [Entry.Key]
// (keeping the later At and Until, and the reason of the later At). An
// entry whose Until has already passed refuses no token that is still
// valid: it is accepted and not kept. A merge that changes nothing (Logto
// delivering an event again) leaves the store and its Version as they
// were, so that cached tokens are not looked up again. Errors: one matching
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
	id := e.id()
	h := maphash.String(m.seed, id)
	slot := &m.shards[h&m.mask]
	m.mu.Lock()
	defer m.mu.Unlock()
	if !now.Before(m.nextSweep) {
		m.sweep(now)
	}
	load := func() shard {
		if p := slot.Load(); p != nil {
			return *p
		}
		return nil
	}
	old := load()
	prev, found := old[h].find(id).get(&e)
	if found {
		if it = merge(prev, it); it == prev {
			return nil // already held: nothing changes, Version neither
		}
	} else if int(m.n.Load()) >= m.max {
		m.sweep(now)
		if int(m.n.Load()) >= m.max {
			return ErrFull
		}
		old = load()
	}
	next := make(shard, len(old)+1)
	maps.Copy(next, old)
	next[h] = replace(old[h], old[h].find(id).with(&e, it))
	if !found {
		m.n.Add(1)
	}
	slot.Store(&next)
	m.ver.Add(1) // after the shard: a reader of the new version sees it
	return nil
}

// Version counts the changes Revoke made ([Versioned]).
func (m *Memory) Version() uint64 { return m.ver.Load() }

func merge(old, it item) item {
	if old.at > it.at {
		it.at, it.reason = old.at, old.reason
	}
	it.until = max(it.until, old.until)
	return it
}

// sweep drops the entries whose Until has passed at now. m.mu is held.
func (m *Memory) sweep(now time.Time) {
	cut := now.UnixNano()
	var dropped int64
	for i := range m.shards {
		p := m.shards[i].Load()
		if p == nil {
			continue
		}
		next := make(shard, len(*p))
		changed := false
		for h, head := range *p {
			for r := head; r != nil; r = r.next {
				kept, d := r.without(cut)
				if d == 0 {
					continue
				}
				dropped += d
				changed = true
				if kept == nil {
					head = without(head, r.id)
				} else {
					head = replace(head, kept)
				}
			}
			if head != nil {
				next[h] = head
			}
		}
		switch {
		case len(next) == 0:
			m.shards[i].Store(nil)
		case changed:
			m.shards[i].Store(&next)
		}
	}
	m.n.Add(-dropped)
	m.nextSweep = now.Add(sweepEvery)
}

// without returns the chain at head without the record of id.
func without(head *record, id string) *record {
	var list []*record
	for c := head; c != nil; c = c.next {
		if c.id != id {
			list = append(list, c)
		}
	}
	var out *record
	for i := len(list) - 1; i >= 0; i-- {
		c := *list[i]
		c.next = out
		out = &c
	}
	return out
}

// without returns r without the items whose until is before cut (r itself
// when none is, nil when all are), and how many it dropped.
func (r *record) without(cut int64) (*record, int64) {
	var dropped int64
	c := *r
	for _, k := range []Kind{Subject, Organization, Client} {
		it := &c.subject
		switch k {
		case Organization:
			it = &c.org
		case Client:
			it = &c.client
		}
		if c.kinds&(1<<k) != 0 && it.until < cut {
			c.kinds &^= 1 << k
			*it = item{}
			dropped++
		}
	}
	c.members = nil
	for _, mi := range r.members {
		if mi.until < cut {
			dropped++
		} else {
			c.members = append(c.members, mi)
		}
	}
	switch {
	case dropped == 0:
		return r, 0
	case c.kinds == 0 && len(c.members) == 0:
		return nil, dropped
	}
	return &c, dropped
}

// lookup returns the record held under id, or nil.
func (m *Memory) lookup(id string) *record {
	h := maphash.String(m.seed, id)
	p := m.shards[h&m.mask].Load()
	if p == nil {
		return nil
	}
	return (*p)[h].find(id)
}

// Revoked reports the entry that refuses t: a subject entry first (of the
// subject, then of the actor of a delegated token), then a member, an
// organization and a client entry. It takes no lock.
func (m *Memory) Revoked(t Token) (Entry, bool) {
	if m.n.Load() == 0 {
		return Entry{}, false
	}
	var sub *record
	if t.Subject != "" {
		if sub = m.lookup(t.Subject); sub != nil {
			if sub.kinds&(1<<Subject) != 0 && refuses(sub.subject, t) {
				return sub.subject.entry(Entry{Kind: Subject, Subject: t.Subject}), true
			}
			if t.Organization != "" {
				if it, ok := sub.member(t.Organization); ok && refuses(it, t) {
					return it.entry(Entry{Kind: Member, Subject: t.Subject, Organization: t.Organization}), true
				}
			}
		}
	}
	if t.Actor != "" && t.Actor != t.Subject {
		if r := m.lookup(t.Actor); r != nil && r.kinds&(1<<Subject) != 0 && refuses(r.subject, t) {
			return r.subject.entry(Entry{Kind: Subject, Subject: t.Actor}), true
		}
	}
	if t.Organization != "" {
		if r := m.lookup(t.Organization); r != nil && r.kinds&(1<<Organization) != 0 && refuses(r.org, t) {
			return r.org.entry(Entry{Kind: Organization, Organization: t.Organization}), true
		}
	}
	if t.Client != "" {
		r := sub // a machine-to-machine token's sub is its client_id
		if t.Client != t.Subject {
			r = m.lookup(t.Client)
		}
		if r != nil && r.kinds&(1<<Client) != 0 && refuses(r.client, t) {
			return r.client.entry(Entry{Kind: Client, Client: t.Client}), true
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
	out := make([]Entry, 0, m.n.Load())
	for i := range m.shards {
		p := m.shards[i].Load()
		if p == nil {
			continue
		}
		for _, head := range *p {
			for r := head; r != nil; r = r.next {
				if r.kinds&(1<<Subject) != 0 {
					out = append(out, r.subject.entry(Entry{Kind: Subject, Subject: r.id}))
				}
				for _, mi := range r.members {
					out = append(out, mi.entry(Entry{Kind: Member, Subject: r.id, Organization: mi.organization}))
				}
				if r.kinds&(1<<Organization) != 0 {
					out = append(out, r.org.entry(Entry{Kind: Organization, Organization: r.id}))
				}
				if r.kinds&(1<<Client) != 0 {
					out = append(out, r.client.entry(Entry{Kind: Client, Client: r.id}))
				}
			}
		}
	}
	slices.SortFunc(out, func(a, b Entry) int { return strings.Compare(a.Key(), b.Key()) })
	return out
}

var _ Versioned = (*Memory)(nil)
