package dev

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
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

	t.Run("serve behind nginx", func(t *testing.T) {
		tryBehindNginx(t, logtoguard, vars["LOGTO_ENDPOINT"], strings.TrimPrefix(apiURL, "http://"), mint("--scope", "read:products"))
	})

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

// tryBehindNginx is the README's nginx step: the sample configuration with
// the dev endpoint (the sed line), logtoguard serve, and nginx with the
// shipped file beside a default site like Debian's. Only the ports differ
// from the README: 80, 9090 and 8080 are the test's free ones.
func tryBehindNginx(t *testing.T, logtoguard, endpoint, apiAddr, token string) {
	nginx, err := exec.LookPath("nginx")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("nginx is not installed: make test installs it (make proxies)")
		}
		t.Skipf("nginx is not installed (make proxies installs it): %v", err)
	}
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil { // for nginx's workers, when they run as nobody
		t.Fatal(err)
	}
	guardAddr := "127.0.0.1:" + freePort(t)
	sample := replaceAll(t, "../../../../deploy/logtoguard.yaml",
		"https://your-tenant.logto.app", endpoint, // the README's sed
		"listen: 127.0.0.1:9090", "listen: "+guardAddr)
	config := filepath.Join(dir, "logtoguard.yaml")
	if err := os.WriteFile(config, []byte(sample), 0o600); err != nil {
		t.Fatal(err)
	}
	guard := startProc(t, nil, logtoguard, "serve", "--config", config)
	deadline := time.Now().Add(15 * time.Second)
	for {
		res, err := http.Get("http://" + guardAddr + "/readyz")
		if err == nil {
			_ = res.Body.Close()
			if res.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("logtoguard serve not ready in 15s: %v\n%s", err, guard.out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}

	port := freePort(t)
	site := replaceAll(t, "../../../../deploy/nginx/logtoguard.conf",
		"server 127.0.0.1:9090;", "server "+guardAddr+";",
		"server 127.0.0.1:8080;", "server "+apiAddr+";",
		"listen 80;", "listen 127.0.0.1:"+port+";")
	main := `worker_processes 1;
error_log DIR/error.log info;
pid DIR/nginx.pid;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path DIR/body;
    proxy_temp_path DIR/proxy;
    fastcgi_temp_path DIR/fastcgi;
    uwsgi_temp_path DIR/uwsgi;
    scgi_temp_path DIR/scgi;
    server {
        listen 127.0.0.1:PORT default_server;
        server_name _;
        return 404 "the default site\n";
    }
    include DIR/conf.d/logtoguard.conf;
}
`
	main = strings.NewReplacer("DIR", dir, "PORT", port).Replace(main)
	if err := os.Mkdir(filepath.Join(dir, "conf.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string]string{"conf.d/logtoguard.conf": site, "nginx.conf": main} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(nginx, "-p", dir, "-e", dir+"/error.log", "-c", dir+"/nginx.conf", "-g", "daemon off;")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // its workers end with it
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
		if t.Failed() {
			logs, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Logf("nginx:\n%s%s", out.String(), logs)
		}
	})
	base := "http://127.0.0.1:" + port
	deadline = time.Now().Add(10 * time.Second)
	for {
		res, err := http.Get(base + "/.well-known/oauth-protected-resource")
		if err == nil {
			_ = res.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("nginx did not answer in 10s: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}

	if status, body := call(t, "GET", base+"/products", token); status != http.StatusOK || !strings.Contains(body, "Keyboard") {
		t.Errorf("GET /products through nginx: %d %s, want 200 and the API's products", status, body)
	}
	if status, body := call(t, "POST", base+"/products", token); status != http.StatusForbidden || !strings.Contains(body, `error="insufficient_scope"`) {
		t.Errorf("POST /products through nginx: %d %s, want 403 insufficient_scope", status, body)
	}
	status, body := call(t, "GET", base+"/products", "")
	if status != http.StatusUnauthorized || !strings.Contains(body, `resource_metadata="https://api.example.com/.well-known/oauth-protected-resource"`) {
		t.Errorf("GET /products without a token through nginx: %d %s, want 401 naming the metadata", status, body)
	}
	status, body = call(t, "GET", base+"/.well-known/oauth-protected-resource", "")
	if status != http.StatusOK || !strings.Contains(body, `"resource":"https://api.example.com"`) || !strings.Contains(body, endpoint+"/oidc") {
		t.Errorf("the metadata through nginx: %d %s", status, body)
	}
	if code := guard.stop(t); code != 0 {
		t.Errorf("logtoguard serve exited %d:\n%s", code, guard.out.String())
	}
}

// freePort is a port of 127.0.0.1 that was free a moment ago.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

// replaceAll is the file with each old string replaced by its new one,
// failing when one is missing.
func replaceAll(t *testing.T, file string, pairs ...string) string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for i := 0; i+1 < len(pairs); i += 2 {
		if !strings.Contains(s, pairs[i]) {
			t.Fatalf("%s has no %q", file, pairs[i])
		}
		s = strings.ReplaceAll(s, pairs[i], pairs[i+1])
	}
	return s
}
