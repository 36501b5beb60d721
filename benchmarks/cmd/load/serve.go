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
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fail(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	file := filepath.Join(dir, "logtoguard.yaml")
	if err := os.WriteFile(file, fmt.Appendf(nil, serveConfig, iss.Endpoint(), api, addr), 0o600); err != nil {
		return fail(err)
	}
	cmd := exec.Command(bin, "serve", "--config", file)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		return fail(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		_ = os.RemoveAll(dir)
	}
	base := "http://" + addr
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(10 * time.Second)
	for {
		if res, err := http.Get(base + "/readyz"); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case err := <-exited:
			exited <- err
			stop()
			return server{}, fmt.Errorf("logtoguard serve exited: %v\n%s", err, logs.String())
		case <-deadline:
			stop()
			return server{}, errors.New("logtoguard serve not ready within 10s:\n" + logs.String())
		case <-tick.C:
		}
	}
	return server{
		name:  "logtoguard-serve",
		url:   base,
		path:  "/verify",
		close: stop,
		header: http.Header{
			"X-Forwarded-Method": {"GET"},
			"X-Forwarded-Uri":    {"/products"},
		},
	}, nil
}
