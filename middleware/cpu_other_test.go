//go:build !unix

package middleware_test

import "testing"

// cpuMetric reports nothing where getrusage is missing.
func cpuMetric(*testing.B) func() { return func() {} }
