package main

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/logtoguard/logtoguard/logtotest"
	"github.com/logtoguard/logtoguard/middleware"
)

// probeEvery is how often the open loop sends a new genuine token.
const probeEvery = 10 * time.Millisecond

// runOpenLoop measures what clients that have gone cost: o.openLoop forged
// requests written over o.burst, each on a connection of its own that is
// closed at once without reading the answer (so nothing is held open and
// per-client connection limits do not help), while a probe sends a new
// genuine token (each one a signature check) every probeEvery, during the
// burst and for a second after it. It prints the probes' latency and the
// most goroutines the server ran.
func runOpenLoop(iss *logtotest.Issuer, adm middleware.AdmissionConfig, cc cpuCase, forge func(*rand.Rand) string, o options, w io.Writer) error {
	s, how, err := startFloodServer(iss.Endpoint(), adm, cc)
	if err != nil {
		return err
	}
	defer s.close()
	client := &http.Client{Timeout: 15 * time.Second}
	base, err := goroutines(client, s.url)
	if err != nil {
		return err
	}
	addr := strings.TrimPrefix(s.url, "http://")
	window := o.burst + time.Second
	probes := make([]string, int(window/probeEvery)+1)
	for i := range probes {
		probes[i] = iss.M2MToken(fmt.Sprintf("probe-%d", i), api, "read:products")
	}

	var wg sync.WaitGroup
	start := time.Now()
	// The burst: writers each send their share, paced over o.burst.
	const writers = 4
	var mu sync.Mutex
	dialErrors := 0
	for wi := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(wi)+100, 7))
			n := o.openLoop / writers
			for i := range n {
				time.Sleep(time.Until(start.Add(o.burst * time.Duration(i) / time.Duration(n))))
				if err := writeAndLeave(addr, forge(r)); err != nil {
					mu.Lock()
					dialErrors++
					mu.Unlock()
				}
			}
		}()
	}
	// The server's goroutines, sampled.
	most := base
	samplerDone := make(chan struct{})
	stop := make(chan struct{})
	go func() {
		defer close(samplerDone)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if n, err := goroutines(client, s.url); err == nil {
					most = max(most, n)
				}
			}
		}
	}()
	// The probes.
	var res result
	for i, tok := range probes {
		time.Sleep(time.Until(start.Add(probeEvery * time.Duration(i))))
		t0 := time.Now()
		err := get(client, s.url+"/products", tok, nil)
		res.latencies = append(res.latencies, time.Since(t0))
		res.requests++
		if err != nil {
			res.errors++
		}
	}
	wg.Wait()
	close(stop)
	<-samplerDone
	after, err := goroutines(client, s.url)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "open loop, %s (server: %s): %d forged requests written in %s on connections closed at once (%d not written); a new genuine token every %s during it and %s after\n\n",
		cc.name, how, o.openLoop, o.burst, dialErrors, probeEvery, window-o.burst)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "admission\tprobes\terrors\tp50\tp99\tmax\tgoroutines before\tmost\tafter\t")
	fmt.Fprintf(tw, "on\t%d\t%d\t%s\t%s\t%s\t%d\t%d\t%d\t\n", res.requests, res.errors,
		res.percentile(50).Round(time.Microsecond), res.percentile(99).Round(time.Microsecond), res.percentile(100).Round(time.Microsecond),
		base, most, after)
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	return nil
}

// writeAndLeave writes a request with token on a connection of its own
// and closes it without reading the answer.
func writeAndLeave(addr, token string) error {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return err
	}
	_, err = io.WriteString(c, "GET /products HTTP/1.1\r\nHost: "+addr+"\r\nAuthorization: Bearer "+token+"\r\n\r\n")
	if cerr := c.Close(); err == nil {
		err = cerr
	}
	return err
}
