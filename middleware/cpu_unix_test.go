//go:build unix

package middleware_test

import (
	"syscall"
	"testing"
	"time"
)

// cpuMetric starts counting the CPU time of the process (user and system,
// every thread) and returns the function, to defer, that reports it per
// operation as cpu-ns/op: on a shared machine sec/op grows when other work
// takes the cores, CPU time much less.
func cpuMetric(b *testing.B) func() {
	start := cpuTime()
	return func() {
		if b.N > 0 {
			b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
		}
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
