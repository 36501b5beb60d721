package redisstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/logtoguard/logtoguard/revocation"
	"github.com/redis/go-redis/v9"
)

// Defaults of [Config].
const (
	DefaultPrefix         = "logtoguard:revocation:"
	DefaultHealthInterval = 5 * time.Second
	DefaultRetryWait      = 100 * time.Millisecond
	DefaultMaxRetryWait   = 5 * time.Second
)

// recordTimeout bounds the write of Revoke, which the caller's context
// does not cancel (see record).
const recordTimeout = 5 * time.Second

// loadBatch is how many keys one SCAN step asks for, and so how many hashes
// one pipelined read fetches.
const loadBatch = 1000

var (
	// ErrClosed is returned by [Store.WaitReady] once the store is closed.
	ErrClosed = errors.New("redisstore: closed")
	// ErrNotInSync is the cause in [Stats.LastError] while the store has
	// not finished its first load.
	ErrNotInSync = errors.New("redisstore: not in sync with Redis")
)

// OutOfSyncReason is the Reason of the entry [Store.Revoked] answers with
// when [Config.FailClosed] refuses a token because the store is not in
// sync.
const OutOfSyncReason = "revocations unavailable: not in sync with Redis"

// Config configures a [Store]. Client is required; the zero value of every
// other field is the default it documents.
type Config struct {
	// Client is the connection to Redis: a single server, or a failover
	// client of Sentinel (redis.NewFailoverClient). Redis Cluster is not
	// supported: the full load scans one node. The store uses Client and
	// never closes it.
	Client *redis.Client

	// Prefix begins the name of every key the store writes and of its
	// channel. Fleets that must not share revocations (two Logto tenants)
	// on one Redis use different prefixes. Default [DefaultPrefix].
	Prefix string

	// Memory configures the local copy that answers [Store.Revoked]: its
	// bound on entries and its clock (see [revocation.MemoryConfig]).
	Memory revocation.MemoryConfig

	// FailClosed, when true, refuses every token while the store is not in
	// sync with Redis: before its first full load, while Redis cannot be
	// reached, from a lost connection until the full load that follows
	// the reconnection, and from a [Store.Revoke] that Redis did not
	// record until the full load that follows it. The default (false) answers from what this replica
	// already holds, so a Redis outage does not take the API down, at the
	// cost of missing revocations made elsewhere during it.
	FailClosed bool

	// HealthInterval is how long the subscription may stay silent before
	// the store pings Redis; a ping unanswered for another interval counts
	// as a lost connection (a peer that vanished without closing it).
	// Default [DefaultHealthInterval].
	HealthInterval time.Duration

	// RetryWait is the wait before trying to reach Redis again after a
	// lost connection; it doubles after each failed attempt, up to
	// MaxRetryWait. Defaults [DefaultRetryWait] and [DefaultMaxRetryWait].
	RetryWait, MaxRetryWait time.Duration

	// Logger receives lost connections and failed loads (Warn) and
	// entries it cannot read (Error). Default slog.Default().
	Logger *slog.Logger
}

// Stats is a snapshot of a store's state and counters, for readiness
// checks and metrics. Counters only grow.
type Stats struct {
	// InSync reports whether the store is subscribed and has loaded every
	// entry Redis holds since it last connected (what [Store.Ready]
	// reports).
	InSync bool
	// LastSync is when the store last became in sync, by the clock of
	// [Config].Memory; zero before.
	LastSync time.Time
	// LastError is why the store is not in sync (nil when it is).
	LastError error
	// Entries is the number of entries in the local copy.
	Entries int

	// Loads counts full loads completed; LoadedEntries the entries they
	// read.
	Loads, LoadedEntries uint64
	// Received counts entries received on the channel.
	Received uint64
	// Disconnects counts connections to Redis lost after the store was in
	// sync, and failed attempts to get in sync.
	Disconnects uint64
	// Recorded counts [Store.Revoke] calls that Redis recorded;
	// RecordErrors those it did not (the call returned an error).
	Recorded, RecordErrors uint64
	// Invalid counts entries read from Redis or the channel that the store
	// could not read (keys under the prefix that are not hashes included)
	// or the local copy refused as malformed. They are logged and skipped;
	// the store stays in sync.
	Invalid uint64
	// Full counts entries the local copy refused because it was full
	// ([revocation.ErrFull]); the store is then not in sync until a full
	// load fits.
	Full uint64
	// Restored counts entries this replica held that Redis did not, and
	// that it recorded again after a load: a Revoke that Redis did not
	// record (down, or refusing writes), or a Redis that came back without
	// its data.
	Restored uint64
	// FailClosedRefusals counts tokens refused by [Config.FailClosed]
	// while not in sync.
	FailClosedRefusals uint64
}

// Store is a [revocation.Store] shared by every replica through Redis. It
// is safe for concurrent use. Close it to end its background work.
type Store struct {
	client         *redis.Client
	mem            *revocation.Memory
	now            func() time.Time
	failClosed     bool
	health         time.Duration
	retryWait      time.Duration
	maxRetryWait   time.Duration
	log            *slog.Logger
	entryPrefix    string
	match          string
	channel        string
	onApply        func(revocation.Entry) // tests: after an entry from Redis is applied
	cancel         context.CancelFunc
	ctx            context.Context
	done           chan struct{}
	state          atomic.Uint64 // bit 0: in sync; above it: times sync was lost (see lost)
	loads, loaded  atomic.Uint64
	received       atomic.Uint64
	disconnects    atomic.Uint64
	recorded       atomic.Uint64
	recordErrors   atomic.Uint64
	invalid        atomic.Uint64
	full           atomic.Uint64
	restored       atomic.Uint64
	failClosedRefs atomic.Uint64

	mu       sync.Mutex
	synced   chan struct{} // closed while in sync; replaced when sync is lost
	lastSync time.Time
	lastErr  error
	ps       *redis.PubSub // the current subscription, closed by Close and resync
	// resyncCause is why resync closed ps: the write that failed.
	resyncCause error
}

var _ revocation.Versioned = (*Store)(nil)

// New checks cfg and starts the store: in the background it subscribes to
// the channel, loads every entry Redis holds into the local copy, then
// applies each entry published. New does not wait for Redis: [Store.Ready]
// says when the store is in sync, [Store.WaitReady] waits for it.
func New(cfg Config) (*Store, error) {
	return newStore(cfg, nil)
}

func newStore(cfg Config, onApply func(revocation.Entry)) (*Store, error) {
	if cfg.Client == nil {
		return nil, errors.New("redisstore: Config.Client is required")
	}
	if cfg.HealthInterval < 0 || cfg.RetryWait < 0 || cfg.MaxRetryWait < 0 {
		return nil, errors.New("redisstore: negative duration in Config")
	}
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	if cfg.HealthInterval == 0 {
		cfg.HealthInterval = DefaultHealthInterval
	}
	if cfg.RetryWait == 0 {
		cfg.RetryWait = DefaultRetryWait
	}
	if cfg.MaxRetryWait == 0 {
		cfg.MaxRetryWait = DefaultMaxRetryWait
	}
	if cfg.MaxRetryWait < cfg.RetryWait {
		return nil, fmt.Errorf("redisstore: Config.MaxRetryWait %s below RetryWait %s", cfg.MaxRetryWait, cfg.RetryWait)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	now := cfg.Memory.Now
	if now == nil {
		now = time.Now
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Store{
		client:       cfg.Client,
		mem:          revocation.NewMemory(cfg.Memory),
		now:          now,
		failClosed:   cfg.FailClosed,
		health:       cfg.HealthInterval,
		retryWait:    cfg.RetryWait,
		maxRetryWait: cfg.MaxRetryWait,
		log:          cfg.Logger,
		entryPrefix:  cfg.Prefix + "entry:",
		match:        globEscape(cfg.Prefix+"entry:") + "*",
		channel:      cfg.Prefix + "events",
		onApply:      onApply,
		ctx:          ctx,
		cancel:       cancel,
		done:         make(chan struct{}),
		synced:       make(chan struct{}),
		lastErr:      ErrNotInSync,
	}
	go s.run()
	return s, nil
}

// Revoke records e in Redis, where it expires at e.Until, and publishes it
// to every replica; it also applies e to this replica's local copy, so
// this replica refuses the tokens it names when Revoke returns, whatever
// the outcome. An error means Redis did not record e (or this replica's
// copy is full, see [revocation.ErrFull]): the other replicas may not
// have it, and the caller should try again (a webhook answers 503 so that
// Logto retries). Should no one try again, this replica records e in Redis
// itself: a failed write makes it load from Redis again (it is not in sync
// until that load ends), and the load is followed by a write of every
// entry it holds that Redis lacks (see [Stats].Restored), retried until
// Redis takes them.
//
// The write to Redis keeps ctx's values but not its cancellation or
// deadline: once Revoke has applied e here, a caller that goes away (a
// webhook sender that hung up) must not leave e on this replica only. It
// takes at most 5 seconds.
//
// e is checked with [revocation.Entry.Validate]; times are rounded up to
// the microsecond. An entry with the key of one Redis holds merges with
// it, keeping the later At (with its Reason) and the later Until. An entry
// whose Until has passed is not recorded: it refuses no valid token.
func (s *Store) Revoke(ctx context.Context, e revocation.Entry) error {
	if err := checkEntry(e); err != nil {
		return err
	}
	e.At, e.Until = ceilMicro(e.At), ceilMicro(e.Until)
	local := s.mem.Revoke(ctx, e)
	if local != nil && !errors.Is(local, revocation.ErrFull) {
		return fmt.Errorf("redisstore: %w", local)
	}
	if !e.Until.After(s.now()) {
		// No token it refuses is still valid: nothing to record.
		return nil
	}
	err := s.record(ctx, e)
	if local != nil {
		// Recorded in Redis all the same: the other replicas may have room.
		s.full.Add(1)
		return errors.Join(fmt.Errorf("redisstore: not kept by this replica: %w", local), err)
	}
	return err
}

// record writes e to Redis. The write is decided once Revoke gets here, and
// this replica already refuses e's tokens: a caller that goes away (a
// webhook request whose sender hung up) must not cancel it halfway, so it
// runs without ctx's cancellation, for at most recordTimeout. When it
// fails, the store reloads (see resync), and restore records e once Redis
// takes it.
func (s *Store) record(ctx context.Context, e revocation.Entry) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	err := recordScript.Run(ctx, s.client, []string{s.entryPrefix + e.Key()}, scriptArgs(s.channel, e)...).Err()
	if err != nil {
		s.recordErrors.Add(1)
		err = fmt.Errorf("redisstore: revocation not recorded in Redis: %w", err)
		s.resync(err)
		return err
	}
	s.recorded.Add(1)
	return nil
}

// resync ends the current session, if any, because of cause: run then
// loads again, and restore records what this replica holds that Redis does
// not. Without a session there is nothing to end: the next one loads.
func (s *Store) resync(cause error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ps == nil || s.ctx.Err() != nil {
		return
	}
	s.resyncCause = cause
	// Unblocks the session's receive, or fails its next one.
	_ = s.ps.Close()
}

// Revoked reports whether t is revoked, from the local copy only: it never
// waits on Redis. With [Config.FailClosed], while the store is not in
// sync, it refuses every token with an entry whose Reason is
// [OutOfSyncReason].
func (s *Store) Revoked(t revocation.Token) (revocation.Entry, bool) {
	if s.failClosed && !s.inSync() {
		return s.outOfSync(), true
	}
	return s.mem.Revoked(t)
}

// Version counts the changes that could refuse a token Revoked did not
// refuse before ([revocation.Versioned]), so that the validator looks a
// cached token up again only after one: every entry applied to the local
// copy (by Revoke, a load, or the channel; the local copy's own version),
// and every time the store went out of sync, after which
// [Config.FailClosed] refuses every token. It grows only once Revoked
// answers with the change.
func (s *Store) Version() uint64 {
	return s.mem.Version() + s.state.Load()>>1
}

// inSync reports whether the store is in sync with Redis.
func (s *Store) inSync() bool { return s.state.Load()&1 != 0 }

// outOfSync is the entry of a fail-closed refusal, out of Revoked so that
// the common path stays small.
func (s *Store) outOfSync() revocation.Entry {
	s.failClosedRefs.Add(1)
	return revocation.Entry{At: s.now(), Reason: OutOfSyncReason}
}

// Ready reports whether the store is in sync with Redis: subscribed, and
// every entry Redis held when it subscribed loaded. A readiness probe can
// use it; [Store.Stats] says more.
func (s *Store) Ready() bool { return s.inSync() }

// WaitReady waits until the store is in sync with Redis, ctx ends, or the
// store is closed ([ErrClosed]).
func (s *Store) WaitReady(ctx context.Context) error {
	if s.ctx.Err() != nil {
		return ErrClosed
	}
	s.mu.Lock()
	synced := s.synced
	s.mu.Unlock()
	select {
	case <-synced:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("redisstore: not in sync with Redis: %w", ctx.Err())
	case <-s.ctx.Done():
		return ErrClosed
	}
}

// Stats returns the store's state and counters.
func (s *Store) Stats() Stats {
	s.mu.Lock()
	lastSync, lastErr := s.lastSync, s.lastErr
	s.mu.Unlock()
	return Stats{
		InSync:             s.inSync(),
		LastSync:           lastSync,
		LastError:          lastErr,
		Entries:            s.mem.Len(),
		Loads:              s.loads.Load(),
		LoadedEntries:      s.loaded.Load(),
		Received:           s.received.Load(),
		Disconnects:        s.disconnects.Load(),
		Recorded:           s.recorded.Load(),
		RecordErrors:       s.recordErrors.Load(),
		Invalid:            s.invalid.Load(),
		Full:               s.full.Load(),
		Restored:           s.restored.Load(),
		FailClosedRefusals: s.failClosedRefs.Load(),
	}
}

// Close ends the store's background work and waits for it to end. It does
// not close [Config.Client]. Revoked keeps answering from the local copy;
// Revoke still records in Redis, but no entry reaches this replica any
// more. Close always returns nil.
func (s *Store) Close() error {
	s.cancel()
	s.mu.Lock()
	if s.ps != nil {
		// Unblocks a receive in progress.
		_ = s.ps.Close()
	}
	s.mu.Unlock()
	<-s.done
	return nil
}

// run keeps the store subscribed and in sync until Close.
func (s *Store) run() {
	defer close(s.done)
	wait := s.retryWait
	for {
		synced, err := s.session()
		if s.ctx.Err() != nil {
			return
		}
		s.lost(err)
		if synced {
			wait = s.retryWait
		}
		t := time.NewTimer(wait)
		select {
		case <-s.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		wait = min(2*wait, s.maxRetryWait)
	}
}

// session subscribes on a new connection, loads every entry, then applies
// what is published until the connection is lost. It reports whether it
// got in sync, and why it ended.
func (s *Store) session() (synced bool, err error) {
	ps := s.client.Subscribe(s.ctx)
	s.mu.Lock()
	if s.ctx.Err() != nil {
		s.mu.Unlock()
		_ = ps.Close()
		return false, ErrClosed
	}
	s.ps = ps
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.ps = nil
		if cause := s.resyncCause; cause != nil && (synced || errors.Is(err, redis.ErrClosed) || errors.Is(err, net.ErrClosed)) {
			// resync closed the subscription: say why, not how.
			err = fmt.Errorf("redisstore: loading again after a failed write: %w", cause)
		}
		s.resyncCause = nil
		s.mu.Unlock()
		_ = ps.Close()
	}()

	if err := ps.Subscribe(s.ctx, s.channel); err != nil {
		return false, fmt.Errorf("redisstore: subscribe: %w", err)
	}
	// The confirmation proves Redis has the subscription: every entry
	// recorded from now on reaches this connection, every entry recorded
	// before is in the load below.
	msg, err := ps.ReceiveTimeout(s.ctx, s.health)
	if err != nil {
		return false, fmt.Errorf("redisstore: subscribe: %w", err)
	}
	if sub, ok := msg.(*redis.Subscription); !ok || sub.Kind != "subscribe" {
		return false, fmt.Errorf("redisstore: subscribe: unexpected reply %T", msg)
	}
	seen, err := s.load()
	if err != nil {
		return false, err
	}
	if err := s.restore(seen); err != nil {
		return false, err
	}
	s.gotInSync()

	pinged := false
	for {
		msg, err := ps.ReceiveTimeout(s.ctx, s.health)
		if err != nil {
			if !isTimeout(err) {
				return true, fmt.Errorf("redisstore: subscription: %w", err)
			}
			if pinged {
				return true, fmt.Errorf("redisstore: Redis did not answer a ping within %s", s.health)
			}
			if err := ps.Ping(s.ctx); err != nil {
				return true, fmt.Errorf("redisstore: ping: %w", err)
			}
			pinged = true
			continue
		}
		pinged = false
		switch m := msg.(type) {
		case *redis.Message:
			e, err := decodeMessage(m.Payload)
			if err != nil {
				s.invalid.Add(1)
				s.log.Error("redisstore: entry received cannot be read", "channel", s.channel, "err", err)
				continue
			}
			s.received.Add(1)
			if err := s.apply(e); err != nil {
				return true, err
			}
		case *redis.Subscription:
			// A subscription confirmed again means the client reconnected
			// on its own, and entries may have been missed meanwhile.
			return true, errors.New("redisstore: subscription renewed by the client")
		}
	}
}

// load reads every entry Redis holds into the local copy, and returns the
// keys it read.
func (s *Store) load() (map[string]struct{}, error) {
	seen := make(map[string]struct{})
	var cursor uint64
	for {
		keys, next, err := s.client.Scan(s.ctx, cursor, s.match, loadBatch).Result()
		if err != nil {
			return nil, fmt.Errorf("redisstore: load: %w", err)
		}
		if len(keys) > 0 {
			// The pipeline's error is the first command's that failed: a
			// key of the wrong type is that key's alone, and each
			// command's error is looked at below, so that one key the
			// store cannot read does not fail every load.
			cmds, err := s.client.Pipelined(s.ctx, func(p redis.Pipeliner) error {
				for _, k := range keys {
					p.HGetAll(s.ctx, k)
				}
				return nil
			})
			if err != nil && !isWrongType(err) {
				return nil, fmt.Errorf("redisstore: load: %w", err)
			}
			if len(cmds) != len(keys) {
				return nil, fmt.Errorf("redisstore: load: %d replies to %d reads", len(cmds), len(keys))
			}
			for i, c := range cmds {
				fields, err := c.(*redis.MapStringStringCmd).Result()
				if isWrongType(err) {
					// Not a hash: something else wrote it.
					s.invalid.Add(1)
					s.log.Error("redisstore: entry in Redis cannot be read", "key", keys[i], "err", err)
					continue
				}
				if err != nil {
					// Any other error is the connection's or the server's
					// (NOPERM, LOADING, ...), not the key's: skipping it
					// could skip every entry.
					return nil, fmt.Errorf("redisstore: load: %w", err)
				}
				if len(fields) == 0 {
					continue // expired since the scan
				}
				e, err := decodeFields(fields)
				if err != nil {
					s.invalid.Add(1)
					s.log.Error("redisstore: entry in Redis cannot be read", "key", keys[i], "err", err)
					continue
				}
				if err := s.apply(e); err != nil {
					return nil, err
				}
				seen[e.Key()] = struct{}{}
			}
		}
		if next == 0 {
			break
		}
		cursor = next
	}
	s.loads.Add(1)
	s.loaded.Add(uint64(len(seen)))
	return seen, nil
}

// restore records again, after a load, the entries this replica holds that
// Redis did not: entries whose Revoke failed while Redis was down, and
// every entry when Redis came back without its data (no persistence). So
// the replicas that stayed up give Redis back what it lost, and a replica
// started later learns of them too. Entries past their Until are left out.
func (s *Store) restore(seen map[string]struct{}) error {
	now := s.now()
	var missing []revocation.Entry
	for _, e := range s.mem.Entries() {
		if _, ok := seen[e.Key()]; !ok && e.Until.After(now) {
			missing = append(missing, e)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	if err := recordScript.Load(s.ctx, s.client).Err(); err != nil {
		return fmt.Errorf("redisstore: restore: %w", err)
	}
	restored := 0
	for batch := range slices.Chunk(missing, loadBatch) {
		cmds, err := s.client.Pipelined(s.ctx, func(p redis.Pipeliner) error {
			for _, e := range batch {
				recordScript.EvalSha(s.ctx, p, []string{s.entryPrefix + e.Key()}, scriptArgs(s.channel, e)...)
			}
			return nil
		})
		if err != nil && !isWrongType(err) {
			return fmt.Errorf("redisstore: restore: %w", err)
		}
		for i, c := range cmds {
			if err := c.Err(); err != nil {
				if !isWrongType(err) {
					return fmt.Errorf("redisstore: restore: %w", err)
				}
				// Something else wrote a key of another type where the
				// entry goes (the load counted it): failing would fail
				// every load, and this replica refuses the tokens anyway.
				s.log.Error("redisstore: entry not recorded again: its key in Redis is not an entry", "key", s.entryPrefix+batch[i].Key(), "err", err)
				continue
			}
			restored++
			s.restored.Add(1)
		}
	}
	s.log.Warn("redisstore: entries missing from Redis recorded again", "entries", restored, "missing", len(missing))
	return nil
}

// apply merges e into the local copy. Only a full copy is an error: the
// store is then missing a revocation and not in sync.
func (s *Store) apply(e revocation.Entry) error {
	err := s.mem.Revoke(s.ctx, e)
	switch {
	case errors.Is(err, revocation.ErrFull):
		s.full.Add(1)
		return fmt.Errorf("redisstore: local copy: %w", err)
	case err != nil:
		s.invalid.Add(1)
		s.log.Error("redisstore: entry refused by the local copy", "err", err)
		return nil
	}
	if s.onApply != nil {
		s.onApply(e)
	}
	return nil
}

func (s *Store) gotInSync() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.state.Or(1)
	s.lastSync = s.now()
	s.lastErr = nil
	close(s.synced)
}

// lost records that the store is not in sync, and why.
func (s *Store) lost(err error) {
	s.disconnects.Add(1)
	s.log.Warn("redisstore: not in sync with Redis; retrying", "err", err)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastErr = err
	if s.inSync() {
		// Bit 0 set: adding 1 clears it and counts one more loss, so the
		// store is out of sync and Version has grown in one step. Whoever
		// sees the old version sees the store in sync; whoever sees it out
		// of sync sees the new version, and a validator looks its cached
		// tokens up again, which FailClosed refuses.
		s.state.Add(1)
		s.synced = make(chan struct{})
	}
}

// isWrongType reports whether err is Redis refusing a command on a key of
// another type: an error of that key, not of the connection or the server.
// Redis before 7 reports it from a script inside an error of its own
// ("ERR Error running script ... WRONGTYPE ...").
func isWrongType(err error) bool {
	var re redis.Error
	return errors.As(err, &re) && strings.Contains(re.Error(), "WRONGTYPE")
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout() && !errors.Is(err, io.EOF)
}
