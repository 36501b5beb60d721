package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strconv"
	"time"

	"github.com/logtoguard/logtoguard/adapters/nethttp"
	"github.com/logtoguard/logtoguard/middleware"
)

// floodServerEnv, when set, makes this program the API server of the
// flood in a process of its own (see startFloodServer): its value is a
// floodServerConfig in JSON.
const floodServerEnv = "LOAD_FLOOD_SERVER"

// floodServerConfig is what the flood's server process needs.
type floodServerConfig struct {
	Addr      string
	Endpoint  string
	Admission middleware.AdmissionConfig
}

// cpuCase is one way the flood's server process runs: on every core, or
// on one CPU as a pod limited to one CPU runs (Go sets GOMAXPROCS from the
// limit), pinned to one core when taskset is available.
type cpuCase struct {
	name string
	one  bool
}

var cpuCases = map[string]cpuCase{
	"2": {name: "2 cores"},
	"1": {name: "1 CPU", one: true},
}

func init() {
	raw := os.Getenv(floodServerEnv)
	if raw == "" {
		return
	}
	var c floodServerConfig
	if err := json.Unmarshal([]byte(raw), &c); err != nil {
		fmt.Fprintln(os.Stderr, "load: flood server:", err)
		os.Exit(2)
	}
	if err := runFloodServer(c); err != nil {
		fmt.Fprintln(os.Stderr, "load: flood server:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// runFloodServer serves GET /products behind logtoguard, as startServer
// does, until SIGINT; GET /goroutines answers how many goroutines the
// process runs, and GET /readyz 200 once the keys are loaded.
func runFloodServer(c floodServerConfig) error {
	v, err := middleware.New(middleware.Config{
		Endpoint:  c.Endpoint,
		Audiences: []string{api},
		Logger:    slog.New(slog.DiscardHandler),
		Admission: c.Admission,
	})
	if err != nil {
		return err
	}
	defer func() { _ = v.Close() }()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	err = v.WaitReady(ctx)
	cancel()
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("GET /products", nethttp.New(v).Require(middleware.Scopes("read:products"))(http.HandlerFunc(products)))
	mux.HandleFunc("GET /readyz", func(http.ResponseWriter, *http.Request) {})
	mux.HandleFunc("GET /goroutines", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, strconv.Itoa(runtime.NumGoroutine()))
	})
	hs := &http.Server{Addr: c.Addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		sigs := make(chan os.Signal, 1)
		signal.Notify(sigs, os.Interrupt)
		<-sigs
		_ = hs.Close()
	}()
	if err := hs.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// startFloodServer runs the flood's API server in a process of its own,
// so that the load generator does not share its Ps: with cc.one, under
// GOMAXPROCS=1 and, when taskset is on the PATH and the machine has more
// than one core, pinned to CPU 1.
func startFloodServer(endpoint string, adm middleware.AdmissionConfig, cc cpuCase) (server, string, error) {
	self, err := os.Executable()
	if err != nil {
		return server{}, "", err
	}
	addr, err := freeAddr()
	if err != nil {
		return server{}, "", err
	}
	raw, err := json.Marshal(floodServerConfig{Addr: addr, Endpoint: endpoint, Admission: adm})
	if err != nil {
		return server{}, "", err
	}
	how := "GOMAXPROCS=" + strconv.Itoa(runtime.NumCPU())
	cmd := exec.Command(self)
	if cc.one {
		how = "GOMAXPROCS=1"
		if ts, err := exec.LookPath("taskset"); err == nil && runtime.NumCPU() > 1 {
			cmd = exec.Command(ts, "-c", "1", self)
			how += ", taskset -c 1"
		}
	}
	cmd.Env = append(os.Environ(), floodServerEnv+"="+string(raw))
	if cc.one {
		cmd.Env = append(cmd.Env, "GOMAXPROCS=1")
	}
	s, err := startProcess("flood server", cmd, "http://"+addr, "/readyz", "/products", nil)
	return s, how, err
}

// goroutines asks the flood server how many goroutines it runs.
func goroutines(client *http.Client, base string) (int, error) {
	resp, err := client.Get(base + "/goroutines")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(string(b))
}
