package redistest

import "syscall"

// procAttr makes the kernel kill redis-server when the test process that
// started it dies, even by a panic or a timeout that skips the cleanup.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
