package redisstore_test

import (
	"flag"
	"fmt"
	"os"
	"testing"

	"github.com/logtoguard/logtoguard/internal/redistest"
)

// redisAddr is the address of the redis-server the examples use, started
// by TestMain.
var redisAddr string

// TestMain starts a redis-server for the examples. Without one, the
// examples are skipped with a message, except in CI (CI=true), where that
// is a failure, as it is for the tests (internal/redistest).
func TestMain(m *testing.M) {
	flag.Parse()
	if f := flag.Lookup("test.fuzzworker"); f != nil && f.Value.String() == "true" {
		// A fuzzing worker runs no example.
		os.Exit(m.Run())
	}
	srv, err := redistest.StartMain()
	if err != nil {
		if os.Getenv("CI") == "true" {
			fmt.Fprintln(os.Stderr, "redis-server for the examples:", err)
			os.Exit(1)
		}
		fmt.Fprintln(os.Stderr, "redis-server not available, examples skipped (Debian's redis-server package; make test installs it):", err)
		if err := flag.Set("test.skip", "^Example"); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(m.Run())
	}
	redisAddr = srv.Addr()
	code := m.Run()
	srv.Stop()
	os.Exit(code)
}
