//go:build !unix

package benchmarks_test

import "testing"

// cpuMetric reports nothing where getrusage is missing.
func cpuMetric(*testing.B) func() { return func() {} }
