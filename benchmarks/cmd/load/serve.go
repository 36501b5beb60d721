package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"time"

	"github.com/logtoguard/logtoguard/logtotest"
)

// serveConfig is the configuration of `logtoguard serve` under load: the
// route of the other servers, and the paths a real configuration has
// beside it.
const serveConfig = `endpoint: %s
audiences: [%s]
listen: %s
default: deny
routes:
  - match: "GET /products"
    scopes: [read:products]
  - match: "POST /products"
    scopes: [write:products]
  - match: "GET /orgs/{org}/products"
    organization: "{org}"
    scopes: [read:products]
  - match: "/public/"
    public: true
`

// bareProcessEnv, when set to an address, makes this program the bare
// server in a process of its own (see startBareProcess).
const bareProcessEnv = "LOAD_BARE_PROCESS"

func init() {
	if addr := os.Getenv(bareProcessEnv); addr != "" {
		mux := http.NewServeMux()
		mux.HandleFunc("GET /products", products)
		hs := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		go func() {
			sigs := make(chan os.Signal, 1)
			signal.Notify(sigs, os.Interrupt)
			<-sigs
			_ = hs.Close()
		}()
		if err := hs.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintln(os.Stderr, "load: bare process:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
}

// startBareProcess runs the bare server in a process of its own, as
// logtoguard serve runs: the fair comparison for it, since the servers in
// this process share it with the load generator.
func startBareProcess() (server, error) {
	self, err := os.Executable()
	if err != nil {
		return server{}, err
	}
	addr, err := freeAddr()
	if err != nil {
		return server{}, err
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), bareProcessEnv+"="+addr)
	return startProcess("bare-process", cmd, "http://"+addr, "/products", "/products", nil)
}

// freeAddr returns an address of 127.0.0.1 that was free a moment ago.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer func() { _ = ln.Close() }() // only its address was wanted
	return ln.Addr().String(), nil
}

// startServe builds cmd/logtoguard (from the workspace), runs `logtoguard
// serve` on 127.0.0.1 with the issuer iss, and waits until /readyz answers
// 200: its signing keys are loaded.
func startServe(ctx context.Context, iss *logtotest.Issuer) (server, error) {
	dir, err := os.MkdirTemp("", "logtoguard-load-")
	if err != nil {
		return server{}, err
	}
	fail := func(err error) (server, error) {
		_ = os.RemoveAll(dir)
		return server{}, err
	}
	bin := filepath.Join(dir, "logtoguard")
	var out bytes.Buffer
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/logtoguard/logtoguard/cmd/logtoguard")
	build.Stdout, build.Stderr = &out, &out
	if err := build.Run(); err != nil {
		return fail(fmt.Errorf("building logtoguard: %v\n%s", err, out.String()))
	}
	addr, err := freeAddr()
	if err != nil {
		return fail(err)
	}
	file := filepath.Join(dir, "logtoguard.yaml")
	if err := os.WriteFile(file, fmt.Appendf(nil, serveConfig, iss.Endpoint(), api, addr), 0o600); err != nil {
		return fail(err)
	}
	s, err := startProcess("logtoguard-serve", exec.Command(bin, "serve", "--config", file), "http://"+addr, "/readyz", "/verify", http.Header{
		"X-Forwarded-Method": {"GET"},
		"X-Forwarded-Uri":    {"/products"},
	})
	if err != nil {
		return fail(err)
	}
	stop := s.close
	s.close = func() { stop(); _ = os.RemoveAll(dir) }
	return s, nil
}

// startProcess starts cmd, a server at base, and waits until GET ready
// answers 200; SIGINT stops it.
func startProcess(name string, cmd *exec.Cmd, base, ready, path string, header http.Header) (server, error) {
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		return server{}, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		_ = cmd.Process.Signal(os.Interrupt)
		kill := time.AfterFunc(10*time.Second, func() { _ = cmd.Process.Kill() })
		defer kill.Stop()
		// The exit status of a server asked to stop says nothing more; it
		// stays in the channel for whoever waits next.
		err := <-exited
		exited <- err
	}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(10 * time.Second)
	for {
		if res, err := http.Get(base + ready); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case err := <-exited:
			exited <- err
			stop()
			return server{}, fmt.Errorf("%s exited: %v\n%s", name, err, logs.String())
		case <-deadline:
			stop()
			return server{}, fmt.Errorf("%s not ready within 10s:\n%s", name, logs.String())
		case <-tick.C:
		}
	}
	return server{name: name, url: base, path: path, header: header, close: stop}, nil
}
