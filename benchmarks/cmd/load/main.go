// Command load fires HTTP/1.1 keep-alive load at three servers on
// 127.0.0.1, in turn, and prints their throughput and latency:
//
//   - logtoguard: GET /products behind the net/http adapter, requiring
//     read:products, as in examples/nethttp, every request with the same
//     token (the verified-token cache answers);
//   - logtoguard-nocache: the same with Config.Cache.Disabled, so every
//     request checks the signature;
//   - bare: the same route and handler with no authentication;
//   - bare-process: the bare server in a process of its own;
//   - logtoguard-serve: `logtoguard serve` (cmd/logtoguard, built and run
//     as its own process, as a proxy would reach it), asked on /verify
//     about GET /products with X-Forwarded-Method and X-Forwarded-Uri, on
//     a route requiring read:products (serve.go).
//
// It starts its own Logto-compatible issuer (logtotest), so it needs no
// network:
//
//	go run ./cmd/load -duration 5s -workers 16
//
// Each server gets -workers concurrent clients for -duration or -requests
// requests, whichever ends first. The generator and the servers share the
// machine's cores, so the numbers compare the servers with each other, not
// with another machine.
//
// With -flood it measures admission control instead (see runFlood): a
// logtoguard server with admission control off, then on, each loaded by
// -workers connections of verified tokens alone, then beside
// -flood-workers connections of forged signatures:
//
//	go run ./cmd/load -flood -duration 5s
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/logtoguard/logtoguard/adapters/nethttp"
	"github.com/logtoguard/logtoguard/logtotest"
	"github.com/logtoguard/logtoguard/middleware"
)

// api is the API resource the servers accept tokens for.
const api = "https://api.example.com"

func main() {
	var o options
	flag.DurationVar(&o.duration, "duration", 5*time.Second, "how long each server is loaded")
	flag.IntVar(&o.requests, "requests", 2_000_000, "most requests sent to each server")
	flag.IntVar(&o.workers, "workers", 16, "concurrent keep-alive connections")
	flag.IntVar(&o.rounds, "rounds", 1, "times each server is loaded, in turn; results add up")
	flag.BoolVar(&o.flood, "flood", false, "measure admission control: verified callers alone, then beside a flood of forged signatures")
	flag.IntVar(&o.floodWorkers, "flood-workers", 16, "connections sending forged signatures, with -flood")
	flag.Float64Var(&o.share, "share", 0, "Admission.SignatureShare with admission control on, with -flood (0: the default)")
	flag.IntVar(&o.concurrent, "max-concurrent", 0, "Admission.MaxConcurrent with admission control on, with -flood (0: the default)")
	flag.StringVar(&o.cpus, "cpus", "2,1", "with -flood, how the server process runs, in turn: 2 (GOMAXPROCS = the cores) and 1 (GOMAXPROCS=1, pinned to CPU 1 with taskset when available)")
	flag.IntVar(&o.openLoop, "open-loop", 3000, "with -flood, forged requests written on connections closed at once, in -burst, after the closed-loop runs (0: none)")
	flag.DurationVar(&o.burst, "burst", 2*time.Second, "with -flood, how long the open loop's forged requests take to write")
	flag.Parse()
	do := run
	if o.flood {
		do = runFlood
	}
	if err := do(context.Background(), o, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
}

type options struct {
	duration     time.Duration
	requests     int
	workers      int
	rounds       int
	flood        bool
	floodWorkers int
	share        float64
	concurrent   int
	cpus         string
	openLoop     int
	burst        time.Duration
}

// run starts the issuer and the servers, loads each server in turn and
// writes the table to w.
func run(ctx context.Context, o options, w io.Writer) error {
	if err := o.check(); err != nil {
		return err
	}
	iss, err := logtotest.Start()
	if err != nil {
		return err
	}
	defer iss.Close()
	srvs, err := startServers(ctx, iss)
	if err != nil {
		return err
	}
	for _, start := range []func() (server, error){
		startBareProcess,
		func() (server, error) { return startServe(ctx, iss) },
	} {
		s, err := start()
		if err != nil {
			for _, s := range srvs {
				s.close()
			}
			return err
		}
		srvs = append(srvs, s)
	}
	defer func() {
		for _, s := range srvs {
			s.close()
		}
	}()
	token := iss.M2MToken("inventory-sync", api, "read:products")

	results := make([]result, len(srvs))
	for range o.rounds {
		for i, s := range srvs {
			results[i].add(load(s.target(), token, s.header, o))
		}
	}
	fmt.Fprintf(w, "%d workers, %s or %d requests per server and round, %d round(s)\n\n", o.workers, o.duration, o.requests, o.rounds)
	printTable(w, srvs, results)
	return nil
}

func (o options) check() error {
	if o.workers < 1 || o.requests < 1 || o.rounds < 1 || o.duration <= 0 || (o.flood && o.floodWorkers < 1) {
		return errors.New("duration, requests, workers, rounds and flood-workers must be positive")
	}
	if o.flood {
		for _, c := range strings.Split(o.cpus, ",") {
			if _, ok := cpuCases[strings.TrimSpace(c)]; !ok {
				return fmt.Errorf("-cpus: %q is neither 2 nor 1", c)
			}
		}
		if o.openLoop < 0 || (o.openLoop > 0 && o.burst <= 0) {
			return errors.New("open-loop must not be negative, and burst must be positive")
		}
	}
	return nil
}

// server is one of the servers under load.
type server struct {
	name  string
	url   string
	close func()
	// path is the path load requests, "/products" when empty; header, its
	// extra request headers.
	path   string
	header http.Header
}

// target is the URL load requests.
func (s server) target() string {
	if s.path == "" {
		return s.url + "/products"
	}
	return s.url + s.path
}

// products is the route's handler on every server.
func products(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `[{"id":1,"name":"Widget"},{"id":2,"name":"Gadget"}]`)
}

// startServers starts the three servers on 127.0.0.1.
func startServers(ctx context.Context, iss *logtotest.Issuer) ([]server, error) {
	var srvs []server
	for _, kind := range []string{"bare", "logtoguard", "logtoguard-nocache"} {
		var cfg *middleware.Config
		if kind != "bare" {
			cfg = &middleware.Config{Cache: middleware.CacheConfig{Disabled: kind == "logtoguard-nocache"}}
		}
		s, err := startServer(ctx, iss, kind, cfg)
		if err != nil {
			for _, s := range srvs {
				s.close()
			}
			return nil, err
		}
		srvs = append(srvs, s)
	}
	return srvs, nil
}

// startServer starts one server on 127.0.0.1 serving GET /products: behind
// a validator configured by cfg (with the issuer, the audience and a silent
// logger filled in) requiring read:products, or bare when cfg is nil.
func startServer(ctx context.Context, iss *logtotest.Issuer, name string, cfg *middleware.Config) (server, error) {
	h := http.Handler(http.HandlerFunc(products))
	var v *middleware.Validator
	if cfg != nil {
		c := *cfg
		c.Endpoint, c.Audiences, c.Logger = iss.Endpoint(), []string{api}, slog.New(slog.DiscardHandler)
		var err error
		if v, err = middleware.New(c); err != nil {
			return server{}, err
		}
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err = v.WaitReady(wctx)
		cancel()
		if err != nil {
			_ = v.Close()
			return server{}, err
		}
		h = nethttp.New(v).Require(middleware.Scopes("read:products"))(h)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /products", h)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		if v != nil {
			_ = v.Close()
		}
		return server{}, err
	}
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = hs.Serve(ln)
	}()
	return server{name: name, url: "http://" + ln.Addr().String(), close: func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = hs.Shutdown(sctx)
		<-done
		if v != nil {
			_ = v.Close()
		}
	}}, nil
}

// result is what load measured on one server.
type result struct {
	requests  int
	errors    int
	elapsed   time.Duration
	latencies []time.Duration
}

func (r *result) add(o result) {
	r.requests += o.requests
	r.errors += o.errors
	r.elapsed += o.elapsed
	r.latencies = append(r.latencies, o.latencies...)
}

func (r result) rate() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.requests) / r.elapsed.Seconds()
}

// percentile returns the p-th percentile (0 < p <= 100) of the latencies,
// by the nearest-rank method.
func (r result) percentile(p float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	s := slices.Clone(r.latencies)
	slices.Sort(s)
	rank := int(math.Ceil(p / 100 * float64(len(s))))
	return s[min(max(rank, 1), len(s))-1]
}

// load sends GET url with the token and header from o.workers keep-alive
// connections until o.duration has passed or o.requests were sent. A request that
// fails or is not answered 200 counts as an error.
func load(url, token string, header http.Header, o options) result {
	return loadWith(url, header, o, func() string { return token })
}

// loadWith is load where each connection sends the token that token
// returns when the connection starts.
func loadWith(url string, header http.Header, o options, token func() string) result {
	tr := &http.Transport{
		MaxIdleConns:        o.workers,
		MaxIdleConnsPerHost: o.workers,
		MaxConnsPerHost:     o.workers,
		DisableCompression:  true,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}

	var sent atomic.Int64
	var wg sync.WaitGroup
	per := make([]result, o.workers)
	start := time.Now()
	deadline := start.Add(o.duration)
	for i := range per {
		wg.Add(1)
		go func(r *result, token string) {
			defer wg.Done()
			r.latencies = make([]time.Duration, 0, min(o.requests/o.workers+1, 1<<20))
			for time.Now().Before(deadline) && sent.Add(1) <= int64(o.requests) {
				t0 := time.Now()
				err := get(client, url, token, header)
				r.latencies = append(r.latencies, time.Since(t0))
				r.requests++
				if err != nil {
					r.errors++
				}
			}
		}(&per[i], token())
	}
	wg.Wait()
	var total result
	for _, r := range per {
		total.add(r)
	}
	total.elapsed = time.Since(start)
	return total
}

func get(client *http.Client, url, token string, header http.Header) error {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	// Read the whole body so the connection is reused.
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}

func printTable(w io.Writer, srvs []server, results []result) {
	var bare float64
	for i, s := range srvs {
		if s.name == "bare" {
			bare = results[i].rate()
		}
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, strings.Join([]string{"server", "requests", "errors", "req/s", "p50", "p99", "vs bare", ""}, "\t"))
	for i, s := range srvs {
		r := results[i]
		ratio := "-"
		if bare > 0 {
			ratio = fmt.Sprintf("%.1f%%", 100*r.rate()/bare)
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.0f\t%s\t%s\t%s\t\n", s.name, r.requests, r.errors, r.rate(),
			r.percentile(50).Round(time.Microsecond), r.percentile(99).Round(time.Microsecond), ratio)
	}
	_ = tw.Flush()
}
