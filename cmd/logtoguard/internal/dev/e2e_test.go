package dev

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// build compiles the package at dir (relative to this one) into a
// temporary directory. The quick start's server lives in the examples
// module: it builds through the repository's go.work.
func build(t *testing.T, dir, name string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), name)
	out, err := exec.Command("go", "build", "-o", bin, dir).CombinedOutput()
	if err != nil {
		if os.Getenv("CI") != "true" && strings.Contains(string(out), "outside main module") {
			t.Skipf("building %s needs the repository's go.work (GOWORK=off?): %s", dir, out)
		}
		t.Fatalf("go build %s: %v\n%s", dir, err, out)
	}
	return bin
}

// proc is a started command whose output is collected.
type proc struct {
	cmd *exec.Cmd
	out *syncBuffer
}

func startProc(t *testing.T, env []string, bin string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(bin, args...), out: &syncBuffer{}}
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			_ = p.cmd.Process.Kill()
			_ = p.cmd.Wait()
		}
	})
	return p
}

// waitFor waits until the output matches re and returns the first group.
func (p *proc) waitFor(t *testing.T, re *regexp.Regexp) string {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		if m := re.FindStringSubmatch(p.out.String()); m != nil {
			return m[len(m)-1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no %q in 15s; output:\n%s", p.cmd.Path, re, p.out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop sends SIGTERM and waits for the exit status.
func (p *proc) stop(t *testing.T) int {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(15 * time.Second):
		_ = p.cmd.Process.Kill()
		t.Fatalf("%s did not stop 15s after SIGTERM", p.cmd.Path)
		return -1
	}
}

// call sends one request as curl -H "Authorization: Bearer $TOKEN" does.
func call(t *testing.T, method, url, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b)) + " " + resp.Header.Get("WWW-Authenticate")
}

// The README's "Try it locally", command by command: the built logtoguard
// dev, the quick start's server (examples/nethttp) configured with what dev
// printed, a 200 and a 403 with the printed token, more tokens from
// logtoguard dev token and from the client credentials grant, a key
// rotation on SIGHUP, and a clean stop.
func TestTryItLocally(t *testing.T) {
	logtoguard := build(t, "../..", "logtoguard")
	quickstart := build(t, "../../../../examples/nethttp", "nethttp")
	cache := "XDG_CACHE_HOME=" + t.TempDir()

	dev := startProc(t, []string{cache}, logtoguard, "dev", "--listen", "127.0.0.1:0", "--scope", "read:products")
	dev.waitFor(t, regexp.MustCompile(`(?m)^export TOKEN=(\S+)$`))
	vars := exports(dev.out.String())
	env := []string{cache, "LOGTO_ENDPOINT=" + vars["LOGTO_ENDPOINT"], "LOGTO_API_RESOURCE=" + vars["LOGTO_API_RESOURCE"], "ADDR=127.0.0.1:0"}
	api := startProc(t, env, quickstart)
	apiURL := api.waitFor(t, regexp.MustCompile(`listening on (http://\S+)`))

	// The API answers 503 until its keys load.
	deadline := time.Now().Add(10 * time.Second)
	status, body := call(t, "GET", apiURL+"/products", vars["TOKEN"])
	for status == http.StatusServiceUnavailable && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		status, body = call(t, "GET", apiURL+"/products", vars["TOKEN"])
	}
	if status != http.StatusOK {
		t.Fatalf("GET /products with the printed token: %d %s", status, body)
	}
	if status, body := call(t, "POST", apiURL+"/products", vars["TOKEN"]); status != http.StatusForbidden || !strings.Contains(body, `error="insufficient_scope"`) {
		t.Errorf("POST /products without write:products: %d %s, want 403 insufficient_scope", status, body)
	}
	if status, body := call(t, "GET", apiURL+"/products", ""); status != http.StatusUnauthorized {
		t.Errorf("GET /products without a token: %d %s, want 401", status, body)
	}

	// TOKEN=$(logtoguard dev token --scope write:products)
	mint := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(logtoguard, append([]string{"dev", "token"}, args...)...)
		cmd.Env = append(os.Environ(), cache)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			t.Fatalf("logtoguard dev token %v: %v\n%s", args, err, errb.String())
		}
		return strings.TrimSpace(out.String())
	}
	writer := mint("--scope", "write:products")
	if status, body := call(t, "POST", apiURL+"/products", writer); status != http.StatusCreated {
		t.Errorf("POST /products with dev token --scope write:products: %d %s, want 201", status, body)
	}

	// The curl line of the output: the client credentials grant.
	form := url.Values{"grant_type": {"client_credentials"}, "resource": {vars["LOGTO_API_RESOURCE"]}, "scope": {"read:products"}}
	req, _ := http.NewRequest(http.MethodPost, vars["LOGTO_ENDPOINT"]+"/oidc/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(vars["LOGTO_APP_ID"], vars["LOGTO_APP_SECRET"])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	m := regexp.MustCompile(`"access_token":"([^"]+)"`).FindSubmatch(b)
	if resp.StatusCode != http.StatusOK || m == nil {
		t.Fatalf("client credentials: %d %s", resp.StatusCode, b)
	}
	if status, body := call(t, "GET", apiURL+"/whoami", string(m[1])); status != http.StatusOK || !strings.Contains(body, `"m2m":true`) || !strings.Contains(body, vars["LOGTO_APP_ID"]) {
		t.Errorf("GET /whoami with the client credentials token: %d %s", status, body)
	}

	// kill -HUP: a new signing key; the API takes its first token at once.
	_ = dev.cmd.Process.Signal(syscall.SIGHUP)
	dev.waitFor(t, regexp.MustCompile(`signing key (rotated)`))
	if status, body := call(t, "GET", apiURL+"/products", mint("--scope", "read:products")); status != http.StatusOK {
		t.Errorf("GET /products with a token of the new key: %d %s", status, body)
	}

	if code := api.stop(t); code != 0 {
		t.Errorf("the quick start's server exited %d:\n%s", code, api.out.String())
	}
	if code := dev.stop(t); code != 0 {
		t.Errorf("logtoguard dev exited %d:\n%s", code, dev.out.String())
	}
	if !strings.HasSuffix(dev.out.String(), "logtoguard dev: stopped\n") {
		t.Errorf("logtoguard dev's output does not end with its stop:\n%s", lastLines(dev.out.String(), 3))
	}
	cmd := exec.Command(logtoguard, "dev", "token")
	cmd.Env = append(os.Environ(), cache)
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "no logtoguard dev is running") {
		t.Errorf("dev token after the stop: %v %s", err, out)
	}
}

func lastLines(s string, n int) string {
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
