package middleware

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"time"
)

// Defaults of [AdmissionConfig].
const (
	// DefaultAdmissionQueue bounds the requests waiting for a signature
	// check. A cold start where 1,000 callers present new tokens at once
	// queues rather than fails, with room to spare; a larger line only
	// waits longer, see DefaultAdmissionMaxWait.
	DefaultAdmissionQueue = 4096
	// DefaultAdmissionMaxWait bounds how long a request waits for a
	// signature check. 1,000 new ES384 tokens at once, with the other
	// defaults, took 3.3 s to verify on a heavily loaded two-core machine
	// and none failed (BenchmarkColdStart, benchmarks/README.md): the bound
	// leaves three times that.
	DefaultAdmissionMaxWait = 10 * time.Second
	// DefaultSignatureShare is the share of the time of each check slot
	// that signature checks may take: a quarter, so that
	// under a flood of forged signatures the checks take at most a quarter
	// of the CPU, and callers with verified tokens keep most of the rest.
	// One half left them under half of their throughput, since serving the
	// flood's requests costs CPU too (benchmarks/README.md).
	DefaultSignatureShare = 0.25
)

// AdmissionConfig bounds the signature checks Verify runs, so that a flood
// of forged tokens, which cannot be told from genuine ones without a
// signature check (about half a millisecond of CPU for ES384), cannot take
// every core from requests whose tokens are already verified. Cache hits
// and tokens refused before the signature never wait for it; concurrent
// requests with the same token share one check.
//
// At most MaxConcurrent checks run at once; the others wait in line, at
// most MaxQueue of them and each at most MaxWait. A slot rests after each
// check in proportion to the check's duration, so that checks take at most
// SignatureShare of the slot's time and the rest is left to everything
// else (with one core, a plain limit of one check at a time would hand the
// core straight to the next check). The pace is set by time, not by who is
// seen waiting: on one P (GOMAXPROCS=1, which Go sets in a container
// limited to one CPU) a check is not preempted, so no other request can
// join the line while it runs. A lone new token is checked at once; only
// the next check on the same slot waits for the rest. A request whose
// client has gone leaves the line (a check shared by several requests
// leaves it when all of them have gone). A request past the bounds gets
// [ErrOverloaded]: 503 with Retry-After.
type AdmissionConfig struct {
	// Disabled runs every signature check at once, unbounded.
	Disabled bool
	// MaxConcurrent bounds the signature checks running at once. Default
	// runtime.GOMAXPROCS(0).
	MaxConcurrent int
	// MaxQueue bounds the requests waiting for a check. Default
	// DefaultAdmissionQueue.
	MaxQueue int
	// MaxWait bounds how long a request waits for a check. Default
	// DefaultAdmissionMaxWait.
	MaxWait time.Duration
	// SignatureShare, in (0, 1], is the share of a slot's time that checks
	// may take: after a check that took d, the slot rests
	// d*(1-SignatureShare)/SignatureShare (at most 20 ms) before the next
	// check starts on it. 1 means no rest. Default DefaultSignatureShare
	// (0.25).
	SignatureShare float64
}

func (c AdmissionConfig) normalize() (AdmissionConfig, error) {
	if c.MaxConcurrent < 0 || c.MaxQueue < 0 || c.MaxWait < 0 || c.SignatureShare < 0 || c.SignatureShare > 1 {
		return c, fmt.Errorf("middleware: Admission: MaxConcurrent, MaxQueue and MaxWait must not be negative, SignatureShare must be in (0, 1]")
	}
	if c.MaxConcurrent == 0 {
		c.MaxConcurrent = runtime.GOMAXPROCS(0)
	}
	if c.MaxQueue == 0 {
		c.MaxQueue = DefaultAdmissionQueue
	}
	if c.MaxWait == 0 {
		c.MaxWait = DefaultAdmissionMaxWait
	}
	if c.SignatureShare == 0 {
		c.SignatureShare = DefaultSignatureShare
	}
	return c, nil
}

// maxRest bounds a slot's rest. A signature check takes about a
// millisecond; one that took tens of milliseconds of wall time ran on a
// machine starved by something else (or under the race detector), where a
// rest in proportion would only hold genuine tokens back longer.
const maxRest = 20 * time.Millisecond

// admission is a counting semaphore with a bounded FIFO line, whose slots
// rest after each check (see AdmissionConfig).
type admission struct {
	maxQueue int
	maxWait  time.Duration
	rest     float64 // rest per unit of check time
	// after runs f once d has passed: time.AfterFunc, or a test's own.
	after func(d time.Duration, f func())

	mu    sync.Mutex
	free  int       // slots neither running a check nor resting
	queue []*waiter // first in, first out
}

type waiter struct {
	ready   chan struct{} // closed when granted a slot
	granted bool          // under admission.mu
}

func newAdmission(c AdmissionConfig) *admission {
	if c.Disabled {
		return nil
	}
	return &admission{
		maxQueue: c.MaxQueue,
		maxWait:  c.MaxWait,
		rest:     (1 - c.SignatureShare) / c.SignatureShare,
		after:    func(d time.Duration, f func()) { time.AfterFunc(d, f) },
		free:     c.MaxConcurrent,
	}
}

func overloaded(detail string, cause error) *Error {
	return &Error{Kind: ErrOverloaded, Check: CheckAdmission, Description: "the server is verifying too many tokens: retry shortly", Detail: detail, Err: cause}
}

// acquire waits for a slot, within the bounds, and returns the function
// that gives it back once the check is done.
func (a *admission) acquire(ctx context.Context) (func(), *Error) {
	if err := ctx.Err(); err != nil { // no one is left to answer
		return nil, overloaded("the request ended before its signature check", err)
	}
	a.mu.Lock()
	if a.free > 0 && len(a.queue) == 0 {
		a.free--
		a.mu.Unlock()
		return a.releaser(time.Now()), nil
	}
	if len(a.queue) >= a.maxQueue {
		a.mu.Unlock()
		return nil, overloaded(fmt.Sprintf("%d requests already wait for a signature check", a.maxQueue), nil)
	}
	w := &waiter{ready: make(chan struct{})}
	a.queue = append(a.queue, w)
	a.mu.Unlock()

	timer := time.NewTimer(a.maxWait)
	defer timer.Stop()
	var e *Error
	select {
	case <-w.ready:
		return a.releaser(time.Now()), nil
	case <-timer.C:
		e = overloaded(fmt.Sprintf("waited %v for a signature check", a.maxWait), nil)
	case <-ctx.Done():
		e = overloaded("the request ended while it waited for a signature check", ctx.Err())
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if w.granted { // granted as the wait ended: use it
		return a.releaser(time.Now()), nil
	}
	for i, q := range a.queue {
		if q == w {
			a.queue = append(a.queue[:i], a.queue[i+1:]...)
			break
		}
	}
	return nil, e
}

// releaser returns the function that ends a check started at start: the
// slot rests in proportion to the check's duration, then goes to the next
// in line or back to the free ones. It rests whether or not anyone is seen
// waiting: with one P (GOMAXPROCS=1) a signature check is not preempted,
// so no other request runs, let alone queues, while it runs; a rest taken
// only "while others wait" would see an empty line at every release and
// hand the CPU straight to the next forged token.
func (a *admission) releaser(start time.Time) func() {
	return func() {
		if rest := min(time.Duration(float64(time.Since(start))*a.rest), maxRest); rest > 0 {
			a.after(rest, a.handOff)
		} else {
			a.handOff()
		}
	}
}

// handOff gives a slot to the first in line, or back to the free ones.
func (a *admission) handOff() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.queue) == 0 {
		a.free++
		return
	}
	w := a.queue[0]
	a.queue[0] = nil
	a.queue = a.queue[1:]
	w.granted = true
	close(w.ready)
}

// admit waits for admission control's leave to run a signature check; it
// returns the function that ends the check.
func (v *Validator) admit(ctx context.Context) (func(), *Error) {
	if v.admission == nil {
		return func() {}, nil
	}
	return v.admission.acquire(ctx)
}
