package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/logtoguard/logtoguard/logtotest"
	"github.com/logtoguard/logtoguard/middleware"
)

// runFlood measures admission control under a flood of forged signatures:
// -workers connections send valid, already verified tokens (cache hits),
// first alone and then beside -flood-workers connections that send, at
// full speed, tokens with a genuine header and claims (trusted issuer, this
// API, the issuer's kid) and a random signature, each one new, so that
// each costs the server a signature check. It does so with admission
// control off and on (its defaults), in turn, and prints what the verified
// callers kept.
func runFlood(ctx context.Context, o options, w io.Writer) error {
	if err := o.check(); err != nil {
		return err
	}
	iss, err := logtotest.Start()
	if err != nil {
		return err
	}
	defer iss.Close()
	valid := make([]string, o.workers)
	for i := range valid {
		valid[i] = iss.M2MToken(fmt.Sprintf("app-%d", i), api, "read:products")
	}
	genuine := iss.M2MToken("inventory-sync", api, "read:products")
	signed := genuine[:strings.LastIndexByte(genuine, '.')+1]
	sigLen := len(genuine) - len(signed)
	forge := func(r *rand.Rand) string {
		sig := make([]byte, base64.RawURLEncoding.DecodedLen(sigLen))
		for i := range sig {
			sig[i] = byte(r.Uint32())
		}
		return signed + base64.RawURLEncoding.EncodeToString(sig)
	}

	modes := []struct {
		name string
		adm  middleware.AdmissionConfig
	}{
		{"off", middleware.AdmissionConfig{Disabled: true}},
		{"on", middleware.AdmissionConfig{SignatureShare: o.share, MaxConcurrent: o.concurrent}},
	}
	for _, key := range strings.Split(o.cpus, ",") {
		cc := cpuCases[strings.TrimSpace(key)]
		alone := make([]result, len(modes))
		mixed := make([]result, len(modes))
		flood := make([]floodResult, len(modes))
		how := ""
		for range o.rounds {
			for i, m := range modes {
				s, h, err := startFloodServer(iss.Endpoint(), m.adm, cc)
				if err != nil {
					return err
				}
				how = h
				for _, tok := range valid { // into the cache
					if err := get(http.DefaultClient, s.url+"/products", tok, nil); err != nil {
						s.close()
						return err
					}
				}
				alone[i].add(loadTokens(s.url+"/products", valid, o))
				v, f := loadWithFlood(s.url+"/products", valid, forge, o)
				mixed[i].add(v)
				flood[i].add(f)
				s.close()
			}
		}
		fmt.Fprintf(w, "flood, %s (server: %s): %d connections of verified (cached) tokens, alone and beside %d connections of forged signatures; %s per run, %d round(s)\n\n",
			cc.name, how, o.workers, o.floodWorkers, o.duration, o.rounds)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "admission\talone req/s\tp99\tflooded req/s\tp99\tkept\terrors\tforged req/s\t401\t503\tother\t")
		for i, m := range modes {
			kept := "-"
			if alone[i].rate() > 0 {
				kept = fmt.Sprintf("%.0f%%", 100*mixed[i].rate()/alone[i].rate())
			}
			fmt.Fprintf(tw, "%s\t%.0f\t%s\t%.0f\t%s\t%s\t%d\t%.0f\t%d\t%d\t%d\t\n", m.name,
				alone[i].rate(), alone[i].percentile(99).Round(time.Microsecond),
				mixed[i].rate(), mixed[i].percentile(99).Round(time.Microsecond), kept, mixed[i].errors,
				flood[i].rate(), flood[i].status[http.StatusUnauthorized], flood[i].status[http.StatusServiceUnavailable], flood[i].other)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		fmt.Fprintln(w)
		if o.openLoop > 0 {
			if err := runOpenLoop(iss, modes[1].adm, cc, forge, o, w); err != nil {
				return err
			}
		}
	}
	return nil
}

// floodResult counts the answers to forged tokens.
type floodResult struct {
	requests int
	elapsed  time.Duration
	status   map[int]int
	other    int // not 401 or 503, or no answer
}

func (r *floodResult) add(o floodResult) {
	r.requests += o.requests
	r.elapsed += o.elapsed
	r.other += o.other
	if r.status == nil {
		r.status = map[int]int{}
	}
	for k, n := range o.status {
		r.status[k] += n
	}
}

func (r floodResult) rate() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.requests) / r.elapsed.Seconds()
}

// loadTokens is load with a token per connection, from tokens.
func loadTokens(url string, tokens []string, o options) result {
	var mu sync.Mutex
	next := 0
	return loadWith(url, nil, o, func() string {
		mu.Lock()
		defer mu.Unlock()
		next++
		return tokens[next%len(tokens)]
	})
}

// loadWithFlood runs loadTokens and, beside it for the same time, the
// flood connections.
func loadWithFlood(url string, tokens []string, forge func(*rand.Rand) string, o options) (result, floodResult) {
	tr := &http.Transport{MaxIdleConns: o.floodWorkers, MaxIdleConnsPerHost: o.floodWorkers, MaxConnsPerHost: o.floodWorkers, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	per := make([]floodResult, o.floodWorkers)
	start := time.Now()
	for i := range per {
		wg.Add(1)
		go func(f *floodResult, seed uint64) {
			defer wg.Done()
			f.status = map[int]int{}
			r := rand.New(rand.NewPCG(seed, seed))
			for {
				select {
				case <-stop:
					return
				default:
				}
				code, err := status(client, url, forge(r))
				f.requests++
				switch {
				case err != nil:
					f.other++
				case code == http.StatusUnauthorized || code == http.StatusServiceUnavailable:
					f.status[code]++
				default:
					f.other++
				}
			}
		}(&per[i], uint64(i)+1)
	}
	verified := loadTokens(url, tokens, o)
	close(stop)
	wg.Wait()
	var f floodResult
	for _, p := range per {
		f.add(p)
	}
	f.elapsed = time.Since(start)
	return verified, f
}

// status sends GET url with the token and returns the answer's status.
func status(client *http.Client, url, token string) (int, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, err
}
