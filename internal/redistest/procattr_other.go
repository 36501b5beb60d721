//go:build !linux

package redistest

import "syscall"

// procAttr: elsewhere than Linux, a redis-server outlives a test process
// that dies without its cleanup.
func procAttr() *syscall.SysProcAttr { return nil }
