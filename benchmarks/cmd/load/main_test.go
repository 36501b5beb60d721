package main

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/logtoguard/logtoguard/logtotest"
)

// TestServers checks that the servers under load answer as the table
// assumes: the guarded ones refuse a request without a token (401) and a
// token without read:products (403), and every server answers 200 to the
// token that load sends.
func TestServers(t *testing.T) {
	iss := logtotest.New(t)
	srvs, err := startServers(t.Context(), iss)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		for _, s := range srvs {
			s.close()
		}
	}()
	good := iss.M2MToken("inventory-sync", api, "read:products")
	noScope := iss.M2MToken("inventory-sync", api, "write:products")
	for _, s := range srvs {
		guarded := s.name != "bare"
		for _, c := range []struct {
			name, token string
			want        int
		}{
			{"no token", "", http.StatusUnauthorized},
			{"no read:products", noScope, http.StatusForbidden},
			{"good token", good, http.StatusOK},
		} {
			want := c.want
			if !guarded {
				want = http.StatusOK
			}
			req, err := http.NewRequest(http.MethodGet, s.url+"/products", nil)
			if err != nil {
				t.Fatal(err)
			}
			if c.token != "" {
				req.Header.Set("Authorization", "Bearer "+c.token)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != want {
				t.Errorf("%s, %s: got %d, want %d", s.name, c.name, resp.StatusCode, want)
			}
		}
	}
}

// TestRun runs the whole command briefly: every server must be loaded with
// no error, and no server may get more than the request bound.
func TestRun(t *testing.T) {
	var out strings.Builder
	o := options{duration: 10 * time.Second, requests: 60, workers: 3, rounds: 2}
	if err := run(context.Background(), o, &out); err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + out.String())
	for _, name := range []string{"bare", "logtoguard", "logtoguard-nocache"} {
		var line string
		for _, l := range strings.Split(out.String(), "\n") {
			if f := strings.Fields(l); len(f) > 0 && f[0] == name {
				line = l
			}
		}
		f := strings.Fields(line)
		if len(f) < 3 {
			t.Fatalf("no row for %s in:\n%s", name, out.String())
		}
		// Two rounds of 60 requests each: 120, all answered 200.
		if f[1] != "120" || f[2] != "0" {
			t.Errorf("%s: got %s requests and %s errors, want 120 and 0", name, f[1], f[2])
		}
	}
}

func TestRunRejectsBadOptions(t *testing.T) {
	for _, o := range []options{
		{duration: 0, requests: 1, workers: 1, rounds: 1},
		{duration: time.Second, requests: 0, workers: 1, rounds: 1},
		{duration: time.Second, requests: 1, workers: 0, rounds: 1},
		{duration: time.Second, requests: 1, workers: 1, rounds: 0},
	} {
		if err := run(context.Background(), o, &strings.Builder{}); err == nil {
			t.Errorf("run(%+v): got nil, want an error", o)
		}
	}
}

// TestPercentile checks the latency summary on known values.
func TestPercentile(t *testing.T) {
	var r result
	for i := 100; i >= 1; i-- { // unsorted on purpose
		r.latencies = append(r.latencies, time.Duration(i)*time.Millisecond)
	}
	for _, c := range []struct {
		p    float64
		want time.Duration
	}{{50, 50 * time.Millisecond}, {99, 99 * time.Millisecond}, {99.5, 100 * time.Millisecond}, {100, 100 * time.Millisecond}} {
		if got := r.percentile(c.p); got != c.want {
			t.Errorf("percentile(%v): got %v, want %v", c.p, got, c.want)
		}
	}
	if got := (result{}).percentile(50); got != 0 {
		t.Errorf("percentile of nothing: got %v, want 0", got)
	}
}

// TestFlood runs the flood mode briefly, on every core and on one: each
// case prints both rows and an open-loop row; verified callers are always
// answered 200, forged tokens only 401 or 503, and every probe of the open
// loop 200.
func TestFlood(t *testing.T) {
	var out strings.Builder
	o := options{duration: 300 * time.Millisecond, requests: 1 << 20, workers: 2, rounds: 1, flood: true, floodWorkers: 2,
		cpus: "2,1", openLoop: 40, burst: 200 * time.Millisecond}
	if err := runFlood(t.Context(), o, &out); err != nil {
		t.Fatal(err)
	}
	rows, open := 0, 0
	for _, line := range strings.Split(out.String(), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 11 && (f[0] == "off" || f[0] == "on"):
			rows++
			if f[6] != "0" || f[10] != "0" {
				t.Errorf("row %q: verified errors %s, forged answered other than 401 or 503 %s", f[0], f[6], f[10])
			}
		case len(f) == 9 && f[0] == "on":
			open++
			if f[1] == "0" || f[2] != "0" {
				t.Errorf("open loop: %s probes, %s errors", f[1], f[2])
			}
		}
	}
	if rows != 4 || open != 2 {
		t.Fatalf("%d rows and %d open-loop rows in:\n%s", rows, open, out.String())
	}
}

// TestFloodOptions: -cpus names only the cases there are.
func TestFloodOptions(t *testing.T) {
	o := options{duration: time.Second, requests: 1, workers: 1, rounds: 1, flood: true, floodWorkers: 1, cpus: "2,4", burst: time.Second}
	if err := o.check(); err == nil || !strings.Contains(err.Error(), "-cpus") {
		t.Fatalf("cpus 2,4: got %v, want an error naming -cpus", err)
	}
	o.cpus = "1"
	if err := o.check(); err != nil {
		t.Fatalf("cpus 1: %v", err)
	}
}
