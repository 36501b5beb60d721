package middleware

import (
	"context"
	"errors"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/logtoguard/logtoguard/logtotest"
)

// queued returns how many wait in a's line.
func (a *admission) queued() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.queue)
}

// waitQueued spins until n wait in a's line.
func waitQueued(t *testing.T, a *admission, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); a.queued() != n; runtime.Gosched() {
		if time.Now().After(deadline) {
			t.Fatalf("%d in line, want %d", a.queued(), n)
		}
	}
}

func TestAdmissionBounds(t *testing.T) {
	a := newAdmission(AdmissionConfig{MaxConcurrent: 1, MaxQueue: 2, MaxWait: time.Hour, SignatureShare: 1})
	release, err := a.acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// Two wait, in order; a third is turned away at once.
	order := make(chan int, 2)
	for i := range 2 {
		go func() {
			r, err := a.acquire(context.Background())
			if err != nil {
				t.Error(err)
				return
			}
			order <- i
			r()
		}()
		waitQueued(t, a, i+1)
	}
	if _, err := a.acquire(context.Background()); !errors.Is(err, ErrOverloaded) || CheckOf(err) != CheckAdmission {
		t.Fatalf("third waiter: got %v, want ErrOverloaded", err)
	}
	release()
	if first, second := <-order, <-order; first != 0 || second != 1 {
		t.Fatalf("served %d then %d, want 0 then 1", first, second)
	}
	// The slot is free again.
	r, err := a.acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	r()
}

func TestAdmissionMaxWaitAndContext(t *testing.T) {
	a := newAdmission(AdmissionConfig{MaxConcurrent: 1, MaxQueue: 10, MaxWait: time.Millisecond, SignatureShare: 1})
	release, err := a.acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.acquire(context.Background()); !errors.Is(err, ErrOverloaded) {
		t.Fatalf("past MaxWait: got %v, want ErrOverloaded", err)
	}
	a.maxWait = time.Hour
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := a.acquire(ctx); !errors.Is(err, ErrOverloaded) || !errors.Is(err, context.Canceled) {
		t.Fatalf("ended request: got %v, want ErrOverloaded and context.Canceled", err)
	}
	if a.queued() != 0 {
		t.Fatalf("%d left in line", a.queued())
	}
	release()
	if a.free != 1 {
		t.Fatalf("%d free slots, want 1", a.free)
	}
}

// TestAdmissionRest: a slot goes to the next in line only after a rest.
func TestAdmissionRest(t *testing.T) {
	a := newAdmission(AdmissionConfig{MaxConcurrent: 1, MaxQueue: 10, MaxWait: time.Hour, SignatureShare: 0.5})
	release, _ := a.acquire(context.Background())
	got := make(chan struct{})
	go func() {
		r, err := a.acquire(context.Background())
		if err != nil {
			t.Error(err)
		}
		close(got)
		r()
	}()
	waitQueued(t, a, 1)
	release()
	<-got // handed over, after the rest
	r, err := a.acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	r()
}

// restClock holds the rests an admission takes, to end them by hand.
type restClock struct {
	mu    sync.Mutex
	rests []time.Duration
	ends  []func()
}

func (c *restClock) after(d time.Duration, f func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rests, c.ends = append(c.rests, d), append(c.ends, f)
}

// TestAdmissionRestsWithNoOneWaiting: a slot rests after a check even when
// no one is seen waiting. On one P (GOMAXPROCS=1) a check is not
// preempted, so no other request can join the line while it runs: a rest
// taken only while others wait is never taken there, and the next forged
// token's check starts at once (3% of their throughput left to verified
// callers under a flood, measured).
func TestAdmissionRestsWithNoOneWaiting(t *testing.T) {
	a := newAdmission(AdmissionConfig{MaxConcurrent: 1, MaxQueue: 10, MaxWait: time.Hour, SignatureShare: 0.25})
	clock := &restClock{}
	a.after = clock.after
	release, err := a.acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Millisecond) // the check
	release()
	if len(clock.rests) != 1 || clock.rests[0] < 6*time.Millisecond {
		t.Fatalf("rests %v after a check of 2ms with a quarter share, want one of at least 6ms", clock.rests)
	}
	if a.free != 0 {
		t.Fatalf("%d free slots while the only one rests, want 0", a.free)
	}
	// A request now waits for the rest, then gets the slot.
	got := make(chan func())
	go func() {
		r, err := a.acquire(context.Background())
		if err != nil {
			t.Error(err)
		}
		got <- r
	}()
	waitQueued(t, a, 1)
	clock.ends[0]()
	r := <-got
	r()
	clock.ends[1]()
	if a.free != 1 {
		t.Fatalf("%d free slots after every rest ended, want 1", a.free)
	}
}

// TestAdmissionGrantedAsWaitEnds: a slot handed to a waiter at the moment
// its wait ends (its request gone) is not lost: the waiter runs the check
// with it or gives it back. The hand-off is made with the lock held, as
// handOff makes it, while the waiter's context has ended, many times over,
// since the waiter may see either event first.
func TestAdmissionGrantedAsWaitEnds(t *testing.T) {
	a := newAdmission(AdmissionConfig{MaxConcurrent: 1, MaxQueue: 10, MaxWait: time.Hour, SignatureShare: 1})
	for i := range 200 {
		if _, err := a.acquire(context.Background()); err != nil {
			t.Fatalf("round %d: the slot was not free: %v", i, err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		type outcome struct {
			release func()
			err     *Error
		}
		done := make(chan outcome)
		go func() {
			r, err := a.acquire(ctx)
			done <- outcome{r, err}
		}()
		waitQueued(t, a, 1)
		a.mu.Lock()
		cancel()
		// handOff, with the lock already held.
		w := a.queue[0]
		a.queue = a.queue[1:]
		w.granted = true
		close(w.ready)
		a.mu.Unlock()
		o := <-done
		if o.release != nil {
			o.release()
		}
		a.mu.Lock()
		free, queued := a.free, len(a.queue)
		a.mu.Unlock()
		if free != 1 || queued != 0 {
			t.Fatalf("round %d (granted as the wait ended, got %v): %d free slots and %d in line, want 1 and 0", i, o.err, free, queued)
		}
	}
}

// TestAdmissionRestRatio: a slot rests (1-share)/share of each check's
// time while others wait, so that checks take share of the slot's time.
func TestAdmissionRestRatio(t *testing.T) {
	for _, tt := range []struct{ share, rest float64 }{{1, 0}, {0.5, 1}, {0.25, 3}, {0.8, 0.25}} {
		a := newAdmission(AdmissionConfig{MaxConcurrent: 1, MaxQueue: 1, MaxWait: time.Second, SignatureShare: tt.share})
		if math.Abs(a.rest-tt.rest) > 1e-9 {
			t.Errorf("SignatureShare %v: rest %v of each check's time, want %v", tt.share, a.rest, tt.rest)
		}
	}
}

// TestAdmissionHandOffToNoOne: a slot handed off after its rest, when the
// line emptied meanwhile (the waiter gave up), goes back to the free ones.
func TestAdmissionHandOffToNoOne(t *testing.T) {
	a := newAdmission(AdmissionConfig{MaxConcurrent: 1, MaxQueue: 1, MaxWait: time.Hour, SignatureShare: 1})
	if _, err := a.acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	a.handOff() // the rest ended, and no one waits any more
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	release, err := a.acquire(ctx)
	if err != nil {
		t.Fatalf("the slot handed off to no one was lost: %v", err)
	}
	release()
}

// TestAdmissionOnlySignatures: with every slot taken and the line full, a
// cached token and a token refused before its signature are answered at
// once; a new genuine token is turned away with ErrOverloaded, reported to
// the Rejected hook.
func TestAdmissionOnlySignatures(t *testing.T) {
	iss := logtotest.New(t)
	var overloadedSeen atomic.Int64
	v, err := New(Config{
		Endpoint:  iss.Endpoint(),
		Audiences: []string{"https://api.example.com"},
		Admission: AdmissionConfig{MaxConcurrent: 1, MaxQueue: 1, MaxWait: time.Hour},
		Hooks: Hooks{Rejected: func(err error) {
			if errors.Is(err, ErrOverloaded) {
				overloadedSeen.Add(1)
			}
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	ctx := context.Background()
	if err := v.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	cached := iss.M2MToken("app-1", "https://api.example.com")
	if _, err := v.Verify(ctx, cached); err != nil {
		t.Fatal(err)
	}
	release, e := v.admission.acquire(ctx)
	if e != nil {
		t.Fatal(e)
	}
	waiting := make(chan struct{})
	go func() {
		r, err := v.admission.acquire(ctx)
		if err == nil {
			r()
		}
		close(waiting)
	}()
	waitQueued(t, v.admission, 1)

	if _, err := v.Verify(ctx, cached); err != nil {
		t.Fatalf("cached token: %v", err)
	}
	untrusted := iss.Mint(logtotest.Token{Subject: "app-1", ClientID: "app-1", Audience: "https://api.example.com", Issuer: "https://evil.example.com/oidc"})
	if _, err := v.Verify(ctx, untrusted); !errors.Is(err, ErrIssuer) {
		t.Fatalf("untrusted issuer: got %v, want ErrIssuer", err)
	}
	fresh := iss.M2MToken("app-2", "https://api.example.com")
	if _, err := v.Verify(ctx, fresh); !errors.Is(err, ErrOverloaded) {
		t.Fatalf("new token: got %v, want ErrOverloaded", err)
	}
	if overloadedSeen.Load() != 1 {
		t.Fatalf("Rejected hook saw %d overloads, want 1", overloadedSeen.Load())
	}
	release()
	<-waiting
	if _, err := v.Verify(ctx, fresh); err != nil {
		t.Fatalf("new token once the line is clear: %v", err)
	}
}

func TestAdmissionConfig(t *testing.T) {
	for _, bad := range []AdmissionConfig{{MaxConcurrent: -1}, {MaxQueue: -1}, {MaxWait: -1}, {SignatureShare: 1.5}, {SignatureShare: -0.1}} {
		if _, err := bad.normalize(); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
	// The ends of SignatureShare's range: 1 (no rest) is allowed.
	if c, err := (AdmissionConfig{SignatureShare: 1}).normalize(); err != nil || c.SignatureShare != 1 {
		t.Errorf("SignatureShare 1: %+v, %v", c, err)
	}
	c, err := AdmissionConfig{}.normalize()
	if err != nil || c.MaxConcurrent != runtime.GOMAXPROCS(0) || c.MaxQueue != DefaultAdmissionQueue || c.MaxWait != DefaultAdmissionMaxWait || c.SignatureShare != DefaultSignatureShare {
		t.Fatalf("defaults %+v, %v", c, err)
	}
	if newAdmission(AdmissionConfig{Disabled: true}) != nil {
		t.Fatal("disabled admission control is not nil")
	}
}

// TestAdmissionAbandonedCheck: a check whose requests have all gone
// leaves the line at once, not after MaxWait; while one of them still
// waits, it keeps its place. Requests written and abandoned at once (a
// burst on connections closed without reading the answer) must not hold
// the line, nor their goroutines, against a genuine token that comes next.
func TestAdmissionAbandonedCheck(t *testing.T) {
	iss := logtotest.New(t)
	v, err := New(Config{
		Endpoint:  iss.Endpoint(),
		Audiences: []string{"https://api.example.com"},
		Admission: AdmissionConfig{MaxConcurrent: 1, MaxQueue: 10, MaxWait: time.Hour},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	if err := v.WaitReady(context.Background()); err != nil {
		t.Fatal(err)
	}
	release, e := v.admission.acquire(context.Background())
	if e != nil {
		t.Fatal(e)
	}
	token := iss.M2MToken("app-1", "https://api.example.com")
	verify := func(ctx context.Context) chan error {
		done := make(chan error, 1)
		go func() {
			_, err := v.Verify(ctx, token)
			done <- err
		}()
		return done
	}
	firstCtx, cancelFirst := context.WithCancel(context.Background())
	first := verify(firstCtx)
	waitQueued(t, v.admission, 1)
	secondCtx, cancelSecond := context.WithCancel(context.Background())
	second := verify(secondCtx)
	for v.flightWaiting(token) != 2 {
		runtime.Gosched()
	}

	// The request that runs the check goes; the other still waits on it,
	// so the check keeps its place in line.
	cancelFirst()
	for v.flightWaiting(token) != 1 {
		runtime.Gosched()
	}
	if n := v.admission.queued(); n != 1 {
		t.Fatalf("%d in line while a request still waits on the check, want 1", n)
	}
	// The last one goes: the check leaves the line, and both are answered.
	cancelSecond()
	for _, done := range []chan error{first, second} {
		select {
		case err := <-done:
			if !errors.Is(err, ErrOverloaded) || !errors.Is(err, context.Canceled) {
				t.Fatalf("a request gone: got %v, want ErrOverloaded and context.Canceled", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("a request gone is still not answered after 10s: its check holds its place in line (%d in line)", v.admission.queued())
		}
	}
	waitQueued(t, v.admission, 0)

	// The token is checked afresh for the next request.
	release()
	if _, err := v.Verify(context.Background(), token); err != nil {
		t.Fatalf("the token, once its abandoned check had left: %v", err)
	}
	if n := v.flightWaiting(token); n != -1 {
		t.Fatalf("a flight with %d waiting is left behind", n)
	}
}

// flightWaiting returns how many wait on token's flight, or -1 when none
// is in progress.
func (v *Validator) flightWaiting(token string) int {
	v.flights.mu.Lock()
	defer v.flights.mu.Unlock()
	if fl, ok := v.flights.m[token]; ok {
		return fl.waiting
	}
	return -1
}
