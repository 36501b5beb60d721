package examples_test

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/logtoguard/logtoguard/examples/internal/app"
	"github.com/logtoguard/logtoguard/examples/internal/echoapp"
	"github.com/logtoguard/logtoguard/examples/internal/ginapp"
	"github.com/logtoguard/logtoguard/logtotest"
	"github.com/logtoguard/logtoguard/middleware"
)

const (
	// loadFor is how long each adapter is under load.
	loadFor = 3 * time.Second
	// loadWorkers is how many clients send requests at once.
	loadWorkers = 16
	// goroutineSlack is how many more goroutines than before the load are
	// tolerated once it has ended and idle connections are closed.
	goroutineSlack = 4
	// heapGrowthLimit bounds the live heap's growth over the load.
	heapGrowthLimit = 20 << 20
)

// loadCase is one kind of request of the mix and the one answer it must get.
type loadCase struct {
	name   string
	path   string
	token  func(i int) string
	status int
	code   string // the error code in WWW-Authenticate, for refusals
}

// loadMix is the traffic: valid tokens (many distinct ones, so that both the
// cache and full verification run), expired, forged, wrong-scope and
// unknown-kid tokens.
func loadMix(iss *logtotest.Issuer) []loadCase {
	valid := make([]string, 64)
	for i := range valid {
		valid[i] = iss.M2MToken(fmt.Sprintf("app-%d", i), api, app.ReadProducts)
	}
	user := iss.UserToken("user-1", "spa-app", api, app.ReadProducts)
	expired := iss.ExpiredToken("inventory-sync", api, app.ReadProducts)
	noRead := iss.M2MToken("inventory-admin", api, app.WriteProducts)
	// Forged: a valid header and payload with the signature of another
	// token, so the signature check itself refuses them.
	forged := make([]string, 16)
	for i := range forged {
		a := strings.Split(valid[i], ".")
		b := strings.Split(valid[(i+1)%len(valid)], ".")
		forged[i] = a[0] + "." + a[1] + "." + b[2]
	}
	foreign := iss.ForeignKeyToken("inventory-sync", api, app.ReadProducts)
	payload := strings.Split(valid[0], ".")
	randomKid := func(int) string {
		b := make([]byte, 32)
		_, _ = rand.Read(b)
		h := `{"alg":"ES384","typ":"at+jwt","kid":"` + base64.RawURLEncoding.EncodeToString(b) + `"}`
		return base64.RawURLEncoding.EncodeToString([]byte(h)) + "." + payload[1] + "." + payload[2]
	}
	return []loadCase{
		{"valid", "/products", func(i int) string { return valid[i%len(valid)] }, http.StatusOK, ""},
		{"valid user", "/whoami", func(int) string { return user }, http.StatusOK, ""},
		{"valid", "/products", func(i int) string { return valid[(i*7)%len(valid)] }, http.StatusOK, ""},
		{"expired", "/products", func(int) string { return expired }, http.StatusUnauthorized, "invalid_token"},
		{"forged", "/products", func(i int) string { return forged[i%len(forged)] }, http.StatusUnauthorized, "invalid_token"},
		{"wrong scope", "/products", func(int) string { return noRead }, http.StatusForbidden, "insufficient_scope"},
		{"unknown kid", "/products", func(int) string { return foreign }, http.StatusUnauthorized, "invalid_token"},
		{"random kid", "/products", randomKid, http.StatusUnauthorized, "invalid_token"},
	}
}

// TestLoadUnderRace runs sustained concurrent traffic through each adapter's
// example routes, in this process so that the race detector sees the
// adapters and the core, and checks that every answer is exactly the
// expected one (no 500, no transport error), and that once the load ends
// and connections close, goroutines return to their count before it and the
// live heap has not grown beyond a bound.
func TestLoadUnderRace(t *testing.T) {
	if testing.Short() {
		t.Skip("load test: not with -short")
	}
	gin.SetMode(gin.ReleaseMode)
	iss := logtotest.New(t)
	mix := loadMix(iss)
	for _, tt := range []struct {
		name   string
		routes func(*middleware.Validator, app.Settings) http.Handler
	}{
		{"nethttp", app.NetHTTPRoutes},
		{"gin", ginapp.Routes},
		{"echo", echoapp.Routes},
	} {
		t.Run(tt.name, func(t *testing.T) {
			v, err := middleware.New(middleware.Config{Endpoint: iss.Endpoint(), Audiences: []string{api},
				Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			defer v.Close()
			srv := httptest.NewServer(tt.routes(v, app.Settings{}))
			defer srv.Close()
			tr := &http.Transport{MaxIdleConnsPerHost: loadWorkers}
			defer tr.CloseIdleConnections()
			client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
			closeIdle := func() {
				tr.CloseIdleConnections()
				// The validator fetches keys with the default transport.
				http.DefaultTransport.(*http.Transport).CloseIdleConnections()
			}

			// Warm up: each kind once, so that lazy set-up (key load, pools,
			// the first unknown-kid refetch) is in the baseline.
			for i, c := range mix {
				if err := check(client, srv.URL, c, i); err != nil {
					t.Fatalf("warm-up: %v", err)
				}
			}
			goroutinesBefore := settle(closeIdle)
			heapBefore := liveHeap()

			var (
				wg       sync.WaitGroup
				requests atomic.Int64
				byStatus [600]atomic.Int64
				failure  atomic.Pointer[string]
			)
			stop := make(chan struct{})
			for w := range loadWorkers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for j := 0; ; j++ {
						select {
						case <-stop:
							return
						default:
						}
						// Each worker cycles through the mix, from its own
						// place in it.
						c := mix[(w+j)%len(mix)]
						err := check(client, srv.URL, c, j*loadWorkers+w)
						requests.Add(1)
						if err != nil {
							msg := err.Error()
							failure.CompareAndSwap(nil, &msg)
							continue
						}
						byStatus[c.status].Add(1)
					}
				}()
			}
			time.Sleep(loadFor) // the length of the load, not a wait for a condition
			close(stop)
			wg.Wait()
			if f := failure.Load(); f != nil {
				t.Fatalf("under load: %s", *f)
			}

			// Connections close; goroutines must come back to the baseline.
			deadline := time.Now().Add(10 * time.Second)
			goroutinesAfter := runtime.NumGoroutine()
			for goroutinesAfter > goroutinesBefore+goroutineSlack && time.Now().Before(deadline) {
				closeIdle()
				time.Sleep(10 * time.Millisecond)
				goroutinesAfter = runtime.NumGoroutine()
			}
			heapAfter := liveHeap()
			const mib = 1 << 20
			t.Logf("%s: %d requests in %v from %d workers (200: %d, 401: %d, 403: %d); goroutines %d before, %d after; live heap %.1f MiB before, %.1f MiB after",
				tt.name, requests.Load(), loadFor, loadWorkers, byStatus[200].Load(), byStatus[401].Load(), byStatus[403].Load(),
				goroutinesBefore, goroutinesAfter, float64(heapBefore)/mib, float64(heapAfter)/mib)
			if goroutinesAfter > goroutinesBefore+goroutineSlack {
				var b strings.Builder
				_ = pprof.Lookup("goroutine").WriteTo(&b, 1)
				t.Fatalf("goroutines: %d before the load, %d after it ended (limit +%d):\n%s",
					goroutinesBefore, goroutinesAfter, goroutineSlack, b.String())
			}
			if heapAfter > heapBefore+heapGrowthLimit {
				t.Fatalf("live heap grew from %d to %d bytes under load (limit +%d)", heapBefore, heapAfter, heapGrowthLimit)
			}
			if requests.Load() < int64(len(mix)) {
				t.Fatalf("only %d requests in %v", requests.Load(), loadFor)
			}
		})
	}
}

// check sends request i of kind c and reports any answer but the expected
// one.
func check(client *http.Client, base string, c loadCase, i int) error {
	req, err := http.NewRequest("GET", base+c.path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token(i))
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", c.name, err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return fmt.Errorf("%s: reading the body: %w", c.name, err)
	}
	if resp.StatusCode != c.status {
		return fmt.Errorf("%s: got %d, want %d: %s", c.name, resp.StatusCode, c.status, body)
	}
	if c.code != "" && !strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="`+c.code+`"`) {
		return fmt.Errorf("%s: WWW-Authenticate %q, want error=%q", c.name, resp.Header.Get("WWW-Authenticate"), c.code)
	}
	return nil
}

// settle closes idle connections and polls until the goroutine count holds
// still, and returns it.
func settle(closeIdle func()) int {
	closeIdle()
	n, same := runtime.NumGoroutine(), 0
	for deadline := time.Now().Add(2 * time.Second); same < 5 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
		closeIdle()
		if m := runtime.NumGoroutine(); m == n {
			same++
		} else {
			n, same = m, 0
		}
	}
	return n
}

// liveHeap returns the bytes of live heap objects after a collection.
func liveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
