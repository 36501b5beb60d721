package middleware

import (
	"context"
	"errors"
	"math"
	"runtime"
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

// TestAdmissionRest: while others wait, a slot goes to the next in line
// only after a rest; with none waiting it is free at once.
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
