package redisstore

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/logtoguard/logtoguard/internal/redistest"
	"github.com/logtoguard/logtoguard/revocation"
)

// TestThreeReplicasShareARevocation: a revocation recorded on one replica
// is refused by the other two, without anyone calling them; tokens of
// others, and the subject's tokens issued after the revocation, still
// pass.
func TestThreeReplicasShareARevocation(t *testing.T) {
	srv := startRedis(t)
	var stores []*Store
	for range 3 {
		stores = append(stores, newTestStore(t, srv.Addr(), Config{}, nil))
	}
	waitReady(t, stores...)

	e := entry("user-1")
	if err := stores[0].Revoke(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	if !revoked(stores[0], "user-1") {
		t.Fatal("the replica that recorded the revocation does not refuse the token when Revoke returns")
	}
	for i, s := range stores[1:] {
		eventually(t, "replica refuses the revoked token", func() bool { return revoked(s, "user-1") })
		got, _ := s.Revoked(tokenOf("user-1"))
		if got.Kind != revocation.Subject || got.Subject != "user-1" || got.Reason != "suspended" || !got.At.Equal(ceilMicro(e.At)) || !got.Until.Equal(ceilMicro(e.Until)) {
			t.Errorf("replica %d: entry %+v, want %+v (times to the microsecond)", i+1, got, e)
		}
		if revoked(s, "user-2") {
			t.Errorf("replica %d refuses another subject's token", i+1)
		}
		later := revocation.Token{Subject: "user-1", IssuedAt: e.At.Add(time.Second)}
		if _, ok := s.Revoked(later); ok {
			t.Errorf("replica %d refuses a token issued after the revocation", i+1)
		}
		if st := s.Stats(); st.Received < 1 || st.Entries != 1 || !st.InSync {
			t.Errorf("replica %d stats %+v, want one entry received, in sync", i+1, st)
		}
	}
	if st := stores[0].Stats(); st.Recorded != 1 || st.RecordErrors != 0 {
		t.Errorf("first replica stats %+v, want 1 recorded, 0 errors", st)
	}
}

// TestLoadAtStart: a replica started after revocations were recorded has
// them all before it is ready, and is not ready before.
func TestLoadAtStart(t *testing.T) {
	srv := startRedis(t)
	first := newTestStore(t, srv.Addr(), Config{}, nil)
	waitReady(t, first)
	const n = loadBatch + 100 // more than one SCAN batch
	for i := range n {
		if err := first.Revoke(context.Background(), entry("user-"+strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
	late := newTestStore(t, srv.Addr(), Config{}, nil)
	waitReady(t, late)
	for i := range n {
		if !revoked(late, "user-"+strconv.Itoa(i)) {
			t.Fatalf("user-%d not refused by a replica started after the revocation", i)
		}
	}
	if st := late.Stats(); st.Loads != 1 || st.LoadedEntries != n || st.Entries != n {
		t.Errorf("stats %+v, want 1 load of %d entries", st, n)
	}
}

// TestRedisRestart: Redis killed in the middle. Every replica keeps what it
// has and says it is not in sync; Revoke reports the failure (a webhook
// answers 503); a fail-closed replica refuses every token. Redis started
// again on the same port: every replica reconnects, loads again and is in
// sync; what Redis held is still there, and a new revocation reaches
// everyone.
func TestRedisRestart(t *testing.T) {
	srv := startRedis(t)
	var stores []*Store
	for range 3 {
		stores = append(stores, newTestStore(t, srv.Addr(), Config{}, nil))
	}
	closed := newTestStore(t, srv.Addr(), Config{FailClosed: true}, nil)
	waitReady(t, append(stores, closed)...)
	if revoked(closed, "user-9") {
		t.Fatal("a fail-closed replica in sync refuses a token nobody revoked")
	}

	if err := stores[0].Revoke(context.Background(), entry("before")); err != nil {
		t.Fatal(err)
	}
	for _, s := range append(stores, closed) {
		eventually(t, "revocation before the restart reaches every replica", func() bool { return revoked(s, "before") })
	}

	srv.Kill()
	for i, s := range append(stores, closed) {
		eventually(t, "replica says it is not in sync", func() bool { return !s.Ready() })
		st := s.Stats()
		if st.InSync || st.LastError == nil || st.Disconnects < 1 {
			t.Errorf("replica %d with Redis down: stats %+v, want not in sync, an error, a disconnect", i, st)
		}
	}
	for i, s := range stores {
		if !revoked(s, "before") {
			t.Errorf("replica %d forgot a revocation while Redis was down", i)
		}
		if revoked(s, "user-9") {
			t.Errorf("replica %d (fail-open) refuses a token nobody revoked while Redis is down", i)
		}
	}
	got, ok := closed.Revoked(tokenOf("user-9"))
	if !ok || got.Reason != OutOfSyncReason {
		t.Errorf("fail-closed replica with Redis down: Revoked = %+v, %v; want refused with %q", got, ok, OutOfSyncReason)
	}
	if closed.Stats().FailClosedRefusals < 1 {
		t.Error("fail-closed refusal not counted")
	}

	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	err := stores[1].Revoke(ctx, entry("while-down"))
	if err == nil || !strings.Contains(err.Error(), "not recorded") {
		t.Fatalf("Revoke with Redis down: %v, want an error saying it was not recorded", err)
	}
	if !revoked(stores[1], "while-down") {
		t.Error("a replica whose Revoke failed does not refuse the token itself")
	}
	if st := stores[1].Stats(); st.RecordErrors != 1 {
		t.Errorf("RecordErrors %d, want 1", st.RecordErrors)
	}

	srv.Restart(t)
	waitReady(t, append(stores, closed)...)
	if revoked(closed, "user-9") {
		t.Error("a fail-closed replica back in sync still refuses a token nobody revoked")
	}
	// Nobody retried the Revoke that failed: the replica that holds the
	// entry recorded it in Redis itself once back in sync.
	if st := stores[1].Stats(); st.Restored != 1 {
		t.Errorf("replica 1 restored %d entries, want 1 (the one Redis never recorded)", st.Restored)
	}
	if err := stores[2].Revoke(context.Background(), entry("after")); err != nil {
		t.Fatal(err)
	}
	for i, s := range append(stores, closed) {
		for _, sub := range []string{"before", "while-down", "after"} {
			eventually(t, "replica refuses "+sub+" after the restart", func() bool { return revoked(s, sub) })
		}
		if st := s.Stats(); st.Loads < 2 {
			t.Errorf("replica %d: %d full loads, want one at start and one after the reconnection", i, st.Loads)
		}
	}
	fresh := newTestStore(t, srv.Addr(), Config{}, nil)
	waitReady(t, fresh)
	for _, sub := range []string{"before", "while-down", "after"} {
		if !revoked(fresh, sub) {
			t.Errorf("a replica started after the restart does not refuse %s: Redis lost it", sub)
		}
	}
}

// TestRedisLostItsData: Redis restarted without its data (no persistence, a
// lost disk). The replicas that stayed up record again what they hold, so
// a replica started afterwards refuses those tokens too.
func TestRedisLostItsData(t *testing.T) {
	srv := startRedis(t)
	a := newTestStore(t, srv.Addr(), Config{}, nil)
	b := newTestStore(t, srv.Addr(), Config{}, nil)
	waitReady(t, a, b)
	for _, sub := range []string{"u1", "u2", "u3"} {
		if err := a.Revoke(context.Background(), entry(sub)); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "b has every entry", func() bool { return b.Stats().Entries == 3 })

	srv.Kill()
	srv.Wipe(t)
	srv.Restart(t)
	waitReady(t, a, b)
	if got := a.Stats().Restored + b.Stats().Restored; got < 3 {
		t.Errorf("the replicas recorded %d entries again, want at least 3", got)
	}
	late := newTestStore(t, srv.Addr(), Config{}, nil)
	waitReady(t, late)
	for _, sub := range []string{"u1", "u2", "u3"} {
		if !revoked(late, sub) {
			t.Errorf("a replica started after Redis lost its data does not refuse %s", sub)
		}
	}
}

// TestMissedWhileAway: a replica cut off from Redis while another records a
// revocation does not get the message; it gets the entry from the full
// load that follows its reconnection.
func TestMissedWhileAway(t *testing.T) {
	srv := startRedis(t)
	proxy := redistest.NewProxy(t, srv.Addr())
	a := newTestStore(t, srv.Addr(), Config{}, nil)
	b := newTestStore(t, srv.Addr(), Config{}, nil)
	away := newTestStore(t, proxy.Addr(), Config{}, nil)
	waitReady(t, a, b, away)

	proxy.Cut()
	eventually(t, "the replica cut off says it is not in sync", func() bool { return !away.Ready() })
	if err := a.Revoke(context.Background(), entry("missed")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the connected replica refuses the token", func() bool { return revoked(b, "missed") })
	if revoked(away, "missed") {
		t.Fatal("the replica cut off got the revocation: the test cut nothing")
	}
	loads := away.Stats().Loads

	proxy.Restore()
	waitReady(t, away)
	if !revoked(away, "missed") {
		t.Error("a revocation recorded while the replica was away is missing after it reconnected")
	}
	if st := away.Stats(); st.Loads != loads+1 {
		t.Errorf("loads %d, want %d: one more after the reconnection", st.Loads, loads+1)
	}
}

// TestEntriesExpire: an entry's key in Redis expires at its Until, and a
// replica started after it loads nothing. (The local copies drop it on a
// later Revoke: after Until, every token it refuses has expired anyway.)
func TestEntriesExpire(t *testing.T) {
	srv := startRedis(t)
	s := newTestStore(t, srv.Addr(), Config{Prefix: uniquePrefix()}, nil)
	other := newTestStore(t, srv.Addr(), Config{Prefix: s.entryPrefix[:len(s.entryPrefix)-len("entry:")]}, nil)
	waitReady(t, s, other)

	now := time.Now()
	e := revocation.Entry{Kind: revocation.Client, Client: "m2m-app", At: now, Until: now.Add(1500 * time.Millisecond)}
	if err := s.Revoke(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	key := s.entryPrefix + revocation.Entry{Kind: revocation.Client, Client: "m2m-app"}.Key()
	exp, err := s.client.PExpireTime(context.Background(), key).Result()
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Duration(ceilMicro(e.Until).UnixMilli()) * time.Millisecond; exp < want || exp > want+time.Millisecond {
		t.Errorf("key expires at %d ms, want %d (Until)", exp.Milliseconds(), want.Milliseconds())
	}
	tok := revocation.Token{Subject: "m2m-app", Client: "m2m-app", IssuedAt: now.Add(-time.Minute)}
	eventually(t, "the other replica refuses the client's token", func() bool { _, ok := other.Revoked(tok); return ok })

	time.Sleep(time.Until(e.Until.Add(50 * time.Millisecond)))
	eventually(t, "Redis drops the expired entry", func() bool {
		n, err := s.client.Exists(context.Background(), key).Result()
		return err == nil && n == 0
	})
	late := newTestStore(t, srv.Addr(), Config{Prefix: s.entryPrefix[:len(s.entryPrefix)-len("entry:")]}, nil)
	waitReady(t, late)
	if st := late.Stats(); st.LoadedEntries != 0 {
		t.Errorf("a replica started after Until loaded %d entries, want 0", st.LoadedEntries)
	}
}

// TestMerge: two revocations with one key keep the later At (with its
// reason) and the later Until, in Redis and on every replica, whatever
// order they arrive in.
func TestMerge(t *testing.T) {
	srv := startRedis(t)
	a := newTestStore(t, srv.Addr(), Config{}, nil)
	b := newTestStore(t, srv.Addr(), Config{}, nil)
	waitReady(t, a, b)
	t0 := time.Now().Truncate(time.Second)
	later := revocation.Entry{Kind: revocation.Member, Subject: "u", Organization: "o", At: t0, Until: t0.Add(time.Hour), Reason: "removed again"}
	earlier := revocation.Entry{Kind: revocation.Member, Subject: "u", Organization: "o", At: t0.Add(-time.Minute), Until: t0.Add(2 * time.Hour), Reason: "removed"}
	if err := a.Revoke(context.Background(), later); err != nil {
		t.Fatal(err)
	}
	if err := b.Revoke(context.Background(), earlier); err != nil {
		t.Fatal(err)
	}
	want := revocation.Entry{Kind: revocation.Member, Subject: "u", Organization: "o", At: t0, Until: t0.Add(2 * time.Hour), Reason: "removed again"}
	fields, err := a.client.HGetAll(context.Background(), a.entryPrefix+want.Key()).Result()
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeFields(fields)
	if err != nil {
		t.Fatal(err)
	}
	if !sameEntry(got, want) {
		t.Errorf("Redis holds %+v, want %+v", got, want)
	}
	tok := revocation.Token{Subject: "u", Organization: "o", IssuedAt: t0}
	for i, s := range []*Store{a, b} {
		eventually(t, "replica holds the merged entry", func() bool {
			got, ok := s.Revoked(tok)
			return ok && sameEntry(got, want)
		})
		_ = i
	}
	fresh := newTestStore(t, srv.Addr(), Config{}, nil)
	waitReady(t, fresh)
	if got, ok := fresh.Revoked(tok); !ok || !sameEntry(got, want) {
		t.Errorf("a replica started later holds %+v, %v; want %+v", got, ok, want)
	}
}

func sameEntry(a, b revocation.Entry) bool {
	return a.Kind == b.Kind && a.Subject == b.Subject && a.Organization == b.Organization && a.Client == b.Client &&
		a.At.Equal(b.At) && a.Until.Equal(b.Until) && a.Reason == b.Reason
}

// TestRevokeRefusesWhatRedisCannotCarry: bad entries are errors before
// anything reaches Redis or the local copy.
func TestRevokeRefusesWhatRedisCannotCarry(t *testing.T) {
	srv := startRedis(t)
	s := newTestStore(t, srv.Addr(), Config{}, nil)
	waitReady(t, s)
	now := time.Now()
	ok := revocation.Entry{Kind: revocation.Subject, Subject: "u", At: now, Until: now.Add(time.Hour)}
	for name, mutate := range map[string]func(*revocation.Entry){
		"no kind":         func(e *revocation.Entry) { e.Kind = 0 },
		"unknown kind":    func(e *revocation.Entry) { e.Kind = 200 },
		"zero At":         func(e *revocation.Entry) { e.At = time.Time{} },
		"At before 1970":  func(e *revocation.Entry) { e.At = time.Unix(-1, 0) },
		"Until before At": func(e *revocation.Entry) { e.Until = e.At.Add(-time.Second) },
		"organization on a subject entry": func(e *revocation.Entry) {
			e.Organization = "o"
		},
		"Until after 2255": func(e *revocation.Entry) { e.Until = time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC) },
		"subject not UTF-8": func(e *revocation.Entry) {
			e.Subject = "u\xff"
		},
		"reason too long": func(e *revocation.Entry) { e.Reason = strings.Repeat("r", revocation.MaxReasonBytes+1) },
	} {
		t.Run(name, func(t *testing.T) {
			e := ok
			mutate(&e)
			if err := s.Revoke(context.Background(), e); !errors.Is(err, revocation.ErrInvalidEntry) {
				t.Fatalf("Revoke(%+v) = %v, want ErrInvalidEntry", e, err)
			}
		})
	}
	n, err := s.client.DBSize(context.Background()).Result()
	if err != nil {
		t.Fatal(err)
	}
	if n != 0 || s.Stats().Entries != 0 || s.Stats().Recorded != 0 {
		t.Errorf("after refused entries: %d keys in Redis, stats %+v; want nothing recorded", n, s.Stats())
	}
}

// TestUnreadableEntries: what the store cannot read in Redis or on the
// channel (written by something else) is counted and skipped, keys of
// another type than a hash included; the rest still applies and the store
// stays in sync.
func TestUnreadableEntries(t *testing.T) {
	srv := startRedis(t)
	writer := newTestStore(t, srv.Addr(), Config{}, nil)
	waitReady(t, writer)
	ctx := context.Background()
	c := writer.client
	if err := c.HSet(ctx, writer.entryPrefix+"junk", "k", "1", "s", "u", "a", "not a number", "u", "1").Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.HSet(ctx, writer.entryPrefix+"bad-kind", "k", "9", "s", "u", "a", "1", "u", strconv.Itoa(int(time.Now().Add(time.Hour).UnixMicro()))).Err(); err != nil {
		t.Fatal(err)
	}
	// Keys of the wrong type: HGETALL answers WRONGTYPE for each.
	if err := c.Set(ctx, writer.entryPrefix+"stray", "x", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.RPush(ctx, writer.entryPrefix+"list", "x").Err(); err != nil {
		t.Fatal(err)
	}
	if err := writer.Revoke(ctx, entry("good")); err != nil {
		t.Fatal(err)
	}
	s := newTestStore(t, srv.Addr(), Config{}, nil)
	waitReady(t, s)
	if st := s.Stats(); st.Invalid != 4 || st.Entries != 1 || !revoked(s, "good") {
		t.Errorf("after loading four unreadable entries and a good one: stats %+v, want Invalid 4, 1 entry", st)
	}
	for _, payload := range []string{"", "{", `{"k":"1","s":"u","a":"x","u":"1"}`, `[1,2]`} {
		if err := c.Publish(ctx, writer.channel, payload).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := writer.Revoke(ctx, entry("good-2")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the store applies a good entry after bad messages", func() bool { return revoked(s, "good-2") })
	if st := s.Stats(); st.Invalid != 8 || !st.InSync {
		t.Errorf("stats %+v, want Invalid 8 and in sync", st)
	}
}

// TestFullLocalCopy: a replica whose local copy is full misses an entry:
// it says it is not in sync (a fail-closed one refuses everything), and
// its own Revoke reports that it did not keep the entry, while Redis and
// the other replicas have it.
func TestFullLocalCopy(t *testing.T) {
	srv := startRedis(t)
	roomy := newTestStore(t, srv.Addr(), Config{}, nil)
	small := newTestStore(t, srv.Addr(), Config{Memory: revocation.MemoryConfig{MaxEntries: 2}, FailClosed: true}, nil)
	waitReady(t, roomy, small)
	for _, sub := range []string{"a", "b", "c"} {
		if err := roomy.Revoke(context.Background(), entry(sub)); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "the full replica says it is not in sync", func() bool { return !small.Ready() })
	if st := small.Stats(); st.Full < 1 || !errors.Is(st.LastError, revocation.ErrFull) {
		t.Errorf("stats %+v, want a Full count and ErrFull as the last error", st)
	}
	if !revoked(small, "c") || !revoked(small, "nobody") {
		t.Error("a fail-closed replica missing entries lets tokens through")
	}
	err := small.Revoke(context.Background(), entry("d"))
	if !errors.Is(err, revocation.ErrFull) {
		t.Errorf("Revoke on a full replica: %v, want ErrFull", err)
	}
	eventually(t, "the entry recorded by the full replica reaches the other", func() bool { return revoked(roomy, "d") })
}

// TestFailClosedBeforeFirstSync: a fail-closed store that has never
// reached Redis refuses every token; a fail-open one answers from its
// (empty) copy. Neither is ready, and both say why.
func TestFailClosedBeforeFirstSync(t *testing.T) {
	nowhere := "127.0.0.1:1" // nothing listens on port 1 of a test machine
	open := newTestStore(t, nowhere, Config{}, nil)
	closed := newTestStore(t, nowhere, Config{FailClosed: true}, nil)
	if revoked(open, "u") {
		t.Error("fail-open store refuses a token with nothing revoked")
	}
	if got, ok := closed.Revoked(tokenOf("u")); !ok || got.Reason != OutOfSyncReason {
		t.Errorf("fail-closed store before its first load: %+v, %v; want refused", got, ok)
	}
	for _, s := range []*Store{open, closed} {
		if s.Ready() {
			t.Error("ready without Redis")
		}
		eventually(t, "a failed attempt is counted", func() bool { return s.Stats().Disconnects > 0 })
		if err := s.Stats().LastError; err == nil || errors.Is(err, ErrNotInSync) {
			t.Errorf("LastError %v, want the reason Redis cannot be reached", err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		if err := s.WaitReady(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("WaitReady = %v, want the context's deadline", err)
		}
		cancel()
	}
}

// TestCloseEndsEveryGoroutine: Close ends the store's goroutine whether it
// is in sync, retrying a Redis that is down, or never started; WaitReady
// then answers ErrClosed.
func TestCloseEndsEveryGoroutine(t *testing.T) {
	srv := startRedis(t)
	up := newTestStore(t, srv.Addr(), Config{HealthInterval: time.Hour}, nil)
	down := newTestStore(t, "127.0.0.1:1", Config{}, nil)
	waitReady(t, up)
	eventually(t, "the store without Redis has tried", func() bool { return down.Stats().Disconnects > 0 })
	if len(storeGoroutines()) < 2 {
		t.Fatal("the store goroutines are not where this test looks for them")
	}
	for _, s := range []*Store{up, down} {
		start := time.Now()
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		// HealthInterval is an hour: Close must not wait for a receive.
		if d := time.Since(start); d > waitFor {
			t.Errorf("Close took %s", d)
		}
		if err := s.WaitReady(context.Background()); !errors.Is(err, ErrClosed) {
			t.Errorf("WaitReady after Close = %v, want ErrClosed", err)
		}
		if err := s.Close(); err != nil {
			t.Errorf("second Close = %v", err)
		}
	}
	checkNoStoreGoroutines(t)
	// Revoked still answers from the local copy after Close.
	if revoked(up, "u") {
		t.Error("closed store refuses a token nobody revoked")
	}
}

// TestConfig: bad configurations are errors from New.
func TestConfig(t *testing.T) {
	client := newClient(t, "127.0.0.1:1")
	for name, cfg := range map[string]Config{
		"no client":         {},
		"negative interval": {Client: client, HealthInterval: -1},
		"negative retry":    {Client: client, RetryWait: -1},
		"max below min":     {Client: client, RetryWait: time.Second, MaxRetryWait: time.Millisecond},
	} {
		t.Run(name, func(t *testing.T) {
			if s, err := New(cfg); err == nil {
				s.Close()
				t.Fatal("New accepted the configuration")
			}
		})
	}
}

// TestPingDetectsASilentPeer: a connection that stays open but never
// answers (a peer gone without closing it) counts as lost after two
// health intervals.
func TestPingDetectsASilentPeer(t *testing.T) {
	srv := startRedis(t)
	s := newTestStore(t, srv.Addr(), Config{HealthInterval: 100 * time.Millisecond}, nil)
	waitReady(t, s)
	// CLIENT PAUSE stops Redis answering every client for the given time,
	// keeping connections open.
	if err := newClient(t, srv.Addr()).Do(context.Background(), "CLIENT", "PAUSE", "1500", "ALL").Err(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the store notices the silent connection", func() bool { return !s.Ready() })
	waitReady(t, s)
}

// TestVersion: the store's Version (revocation.Versioned) grows after each
// change that can refuse a token Revoked did not refuse, and by the time it
// has grown Revoked answers with the change: an entry recorded here, one
// applied from the channel, one read by the load after a reconnection, and
// a fail-closed store going out of sync. Getting back in sync refuses
// nothing more, and a store that never changes keeps its version.
func TestVersion(t *testing.T) {
	srv := startRedis(t)
	proxy := redistest.NewProxy(t, srv.Addr())
	var echoed atomic.Bool // s applied its own entry back from the channel
	s := newTestStore(t, srv.Addr(), Config{}, func(e revocation.Entry) {
		if e.Subject == "here" {
			echoed.Store(true)
		}
	})
	other := newTestStore(t, srv.Addr(), Config{}, nil)
	var closedApplied atomic.Int64
	closed := newTestStore(t, srv.Addr(), Config{FailClosed: true}, func(revocation.Entry) { closedApplied.Add(1) })
	away := newTestStore(t, proxy.Addr(), Config{}, nil)
	waitReady(t, s, other, closed, away)
	ctx := context.Background()

	v := s.Version()
	if s.Version() != v {
		t.Fatal("Version changed with nothing recorded")
	}
	if err := s.Revoke(ctx, entry("here")); err != nil {
		t.Fatal(err)
	}
	if s.Version() <= v || !revoked(s, "here") {
		t.Errorf("after Revoke returned: Version %d (was %d), revoked %v; want grown and refused", s.Version(), v, revoked(s, "here"))
	}

	// Redis publishes the entry back to s too, and applying it counts.
	eventually(t, "s applies its own entry from the channel", echoed.Load)
	v = s.Version()
	if err := other.Revoke(ctx, entry("there")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "Version grows with an entry from the channel", func() bool { return s.Version() > v })
	if !revoked(s, "there") {
		t.Error("Version grew before the entry from the channel was refused")
	}

	proxy.Cut()
	eventually(t, "the replica cut off says it is not in sync", func() bool { return !away.Ready() })
	v = away.Version()
	if err := other.Revoke(ctx, entry("missed")); err != nil {
		t.Fatal(err)
	}
	proxy.Restore()
	waitReady(t, away)
	if away.Version() <= v || !revoked(away, "missed") {
		t.Errorf("after the load that followed the reconnection: Version %d (was %d), revoked %v; want grown and refused", away.Version(), v, revoked(away, "missed"))
	}

	// The three entries above have reached the fail-closed store: only
	// going out of sync can change its version now.
	eventually(t, "the fail-closed store applies the three entries", func() bool { return closedApplied.Load() == 3 })
	v = closed.Version()
	srv.Kill()
	eventually(t, "the fail-closed store says it is not in sync", func() bool { return !closed.Ready() })
	// Ready and Version read one word: out of sync means grown.
	if closed.Version() <= v || !revoked(closed, "nobody") {
		t.Errorf("out of sync: Version %d (was %d), refuses every token %v; want grown and refused", closed.Version(), v, revoked(closed, "nobody"))
	}
	v = closed.Version()
	srv.Restart(t)
	waitReady(t, closed)
	if revoked(closed, "nobody") {
		t.Error("back in sync, the fail-closed store still refuses a token nobody revoked")
	}
	if closed.Version() < v {
		t.Errorf("Version went back from %d to %d", v, closed.Version())
	}
}

// TestRevokeOutlivesItsCaller: a caller that hangs up (a webhook request
// Logto gave up on) does not cancel a write already decided: the other
// replica refuses the token.
func TestRevokeOutlivesItsCaller(t *testing.T) {
	srv := startRedis(t)
	a := newTestStore(t, srv.Addr(), Config{}, nil)
	b := newTestStore(t, srv.Addr(), Config{}, nil)
	waitReady(t, a, b)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := a.Revoke(ctx, entry("gone")); err != nil {
		t.Errorf("Revoke with the caller gone: %v, want the entry recorded all the same", err)
	}
	if !revoked(a, "gone") {
		t.Error("the replica that recorded the revocation does not refuse the token")
	}
	eventually(t, "the other replica refuses the token", func() bool { return revoked(b, "gone") })
	if st := a.Stats(); st.Recorded != 1 || st.RecordErrors != 0 {
		t.Errorf("stats %+v, want 1 recorded, 0 errors", st)
	}
}

// TestFailedRecordIsRestored: Redis refuses a write (out of memory) while
// the replica's subscription stays healthy. Revoke reports it, and once
// Redis takes writes again the replica records the entry itself, without
// anyone calling Revoke again: the other replica refuses the token.
func TestFailedRecordIsRestored(t *testing.T) {
	srv := startRedis(t)
	a := newTestStore(t, srv.Addr(), Config{}, nil)
	b := newTestStore(t, srv.Addr(), Config{}, nil)
	waitReady(t, a, b)
	admin := newClient(t, srv.Addr())
	ctx := context.Background()
	if err := admin.ConfigSet(ctx, "maxmemory-policy", "noeviction").Err(); err != nil {
		t.Fatal(err)
	}
	if err := admin.ConfigSet(ctx, "maxmemory", "1").Err(); err != nil {
		t.Fatal(err)
	}
	err := a.Revoke(ctx, entry("oom"))
	if err == nil || !strings.Contains(err.Error(), "not recorded") {
		t.Fatalf("Revoke with Redis out of memory: %v, want an error saying it was not recorded", err)
	}
	if !revoked(a, "oom") {
		t.Error("a replica whose Revoke failed does not refuse the token itself")
	}
	if err := admin.ConfigSet(ctx, "maxmemory", "0").Err(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the other replica refuses the token nobody recorded again", func() bool { return revoked(b, "oom") })
	waitReady(t, a)
	if st := a.Stats(); st.RecordErrors != 1 || st.Restored < 1 {
		t.Errorf("stats %+v, want 1 record error and the entry restored", st)
	}
	fresh := newTestStore(t, srv.Addr(), Config{}, nil)
	waitReady(t, fresh)
	if !revoked(fresh, "oom") {
		t.Error("a replica started later does not refuse the token: Redis never got the entry")
	}
}

// TestLastSyncUsesTheClock: Stats.LastSync comes from the clock of
// Config.Memory, as every other time the store reads.
func TestLastSyncUsesTheClock(t *testing.T) {
	srv := startRedis(t)
	t0 := time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC)
	s := newTestStore(t, srv.Addr(), Config{Memory: revocation.MemoryConfig{Now: func() time.Time { return t0 }}}, nil)
	waitReady(t, s)
	if st := s.Stats(); !st.LastSync.Equal(t0) {
		t.Errorf("LastSync %s, want %s (the configured clock)", st.LastSync, t0)
	}
}

// TestEntryKeyOfAnotherType: something else wrote a key of another type
// where an entry goes. Revoke of that entry fails (Redis cannot merge into
// it), and the load that follows skips the key, records nothing there
// and gets back in sync, instead of failing every load; the replica still
// refuses the token, and other entries still reach every replica.
func TestEntryKeyOfAnotherType(t *testing.T) {
	srv := startRedis(t)
	a := newTestStore(t, srv.Addr(), Config{}, nil)
	b := newTestStore(t, srv.Addr(), Config{}, nil)
	waitReady(t, a, b)
	ctx := context.Background()
	e := entry("squatted")
	if err := a.client.Set(ctx, a.entryPrefix+e.Key(), "x", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := a.Revoke(ctx, e); err == nil || !strings.Contains(err.Error(), "WRONGTYPE") {
		t.Fatalf("Revoke over a key of another type: %v, want Redis's WRONGTYPE", err)
	}
	eventually(t, "the replica loads again and is back in sync", func() bool {
		st := a.Stats()
		return st.Loads >= 2 && st.InSync
	})
	if st := a.Stats(); st.Invalid != 1 || !revoked(a, "squatted") {
		t.Errorf("stats %+v, refuses %v; want the key counted invalid once and the token still refused", st, revoked(a, "squatted"))
	}
	if err := a.Revoke(ctx, entry("other")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "another entry reaches the other replica", func() bool { return revoked(b, "other") })
}
