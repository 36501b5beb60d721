package serve

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/logtoguard/logtoguard/internal/adaptertest"
)

// ingressManifest is the shipped ingress-nginx manifest.
const ingressManifest = "../../../../deploy/kubernetes/ingress-nginx.yaml"

// ingressAnnotations reads the shipped manifest: the Ingress's
// annotations, and the data of the ConfigMap its auth-proxy-set-headers
// names.
func ingressAnnotations(t *testing.T) (annotations, proxySetHeaders map[string]string) {
	t.Helper()
	b, err := os.ReadFile(ingressManifest)
	if err != nil {
		t.Fatal(err)
	}
	configMaps := map[string]map[string]string{}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	for {
		var doc struct {
			Kind     string `yaml:"kind"`
			Metadata struct {
				Name        string            `yaml:"name"`
				Namespace   string            `yaml:"namespace"`
				Annotations map[string]string `yaml:"annotations"`
			} `yaml:"metadata"`
			Data map[string]string `yaml:"data"`
		}
		if err := dec.Decode(&doc); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			t.Fatal(err)
		}
		switch doc.Kind {
		case "Ingress":
			annotations = doc.Metadata.Annotations
		case "ConfigMap":
			configMaps[doc.Metadata.Namespace+"/"+doc.Metadata.Name] = doc.Data
		}
	}
	if annotations == nil {
		t.Fatalf("%s has no Ingress", ingressManifest)
	}
	if name := annotations["nginx.ingress.kubernetes.io/auth-proxy-set-headers"]; name != "" {
		if proxySetHeaders = configMaps[name]; proxySetHeaders == nil {
			t.Fatalf("%s: auth-proxy-set-headers names ConfigMap %s, which it does not hold", ingressManifest, name)
		}
	}
	return annotations, proxySetHeaders
}

// ingressNginxSite is the server that ingress-nginx's template
// (rootfs/etc/nginx/template/nginx.tmpl, controller v1.x) renders for an
// Ingress with the annotations of the shipped manifest: the auth location
// ("location = {{ $authPath }}") copied line for line from the template,
// with the branches the annotations choose, and of the main location the
// lines about the auth request (auth_request, auth_request_set and the
// proxy_set_header of each auth-response-headers entry, as
// buildAuthResponseHeaders writes them). What the manifest leaves at the
// controller's defaults is rendered with them (no auth cache, client
// certificates, snippet, opentracing or modsecurity; proxy buffer sizes),
// and the addresses are the test's. The controller itself cannot run here;
// its nginx can.
func ingressNginxSite(t *testing.T, listen int, guard, upstream string) string {
	t.Helper()
	ann, proxySetHeaders := ingressAnnotations(t)
	const prefix = "nginx.ingress.kubernetes.io/"
	authURL := ann[prefix+"auth-url"]
	if !strings.HasSuffix(authURL, "/verify") {
		t.Fatalf("%s: auth-url %q is not logtoguard's /verify", ingressManifest, authURL)
	}
	if ann[prefix+"auth-keepalive"] != "" {
		t.Fatalf("%s sets auth-keepalive: the controller then asks through Lua, which this test does not render", ingressManifest)
	}
	var b strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	line("map $request_id $req_id { default $request_id; }")
	line("server {")
	line("    listen 127.0.0.1:%d;", listen)
	line("    server_name _;")
	line("    location = /_external-auth-Lw-Prefix {")
	line("        internal;")
	line("        access_log off;")
	line(`        set $proxy_upstream_name "api-api-8080";`)
	line("        proxy_pass_request_body     off;")
	line(`        proxy_set_header            Content-Length          "";`)
	line(`        proxy_set_header            X-Forwarded-Proto       "";`)
	line("        proxy_set_header            X-Request-ID            $req_id;")
	if method := ann[prefix+"auth-method"]; method != "" {
		line("        proxy_method                %s;", method)
		line("        proxy_set_header            X-Original-URI          $request_uri;")
		line("        proxy_set_header            X-Scheme                $pass_access_scheme;")
	}
	line("        proxy_set_header            Host                    logtoguard.logtoguard.svc.cluster.local;")
	line("        proxy_set_header            X-Original-URL          $scheme://$http_host$request_uri;")
	line("        proxy_set_header            X-Original-Method       $request_method;")
	line(`        proxy_set_header            X-Sent-From             "nginx-ingress-controller";`)
	line("        proxy_set_header            X-Real-IP               $remote_addr;")
	line("        proxy_set_header            X-Forwarded-For        $remote_addr;")
	line("        proxy_set_header            X-Auth-Request-Redirect $request_uri;")
	line("        proxy_buffering                         off;")
	line("        proxy_buffer_size                       4k;")
	line("        proxy_buffers                           4 4k;")
	line("        proxy_request_buffering                 on;")
	line("        proxy_ssl_server_name       on;")
	line("        proxy_pass_request_headers  on;")
	line("        client_max_body_size        1m;")
	// buildAuthProxySetHeaders: sorted lines.
	var set []string
	for name, value := range proxySetHeaders {
		set = append(set, fmt.Sprintf("proxy_set_header '%v' '%v';", name, value))
	}
	slices.Sort(set)
	for _, s := range set {
		line("        %s", s)
	}
	line("        proxy_http_version 1.1;")
	line("        set $target http://%s/verify;", guard)
	line("        proxy_pass $target;")
	line("    }")
	line("    location / {")
	line("        set $pass_access_scheme  $scheme;")
	line("        set $best_http_host      $http_host;")
	line("        # this location requires authentication")
	line("        auth_request        /_external-auth-Lw-Prefix;")
	line("        auth_request_set    $auth_cookie $upstream_http_set_cookie;")
	line("        add_header          Set-Cookie $auth_cookie;")
	for i, h := range strings.Split(ann[prefix+"auth-response-headers"], ",") {
		h = strings.TrimSpace(h)
		line("        auth_request_set $authHeader%d $upstream_http_%s;", i, strings.ReplaceAll(strings.ToLower(h), "-", "_"))
		line("        proxy_set_header '%s' $authHeader%d;", h, i)
	}
	line("        proxy_set_header Host $best_http_host;")
	line("        proxy_http_version 1.1;")
	line("        proxy_pass http://%s;", upstream)
	line("    }")
	line("}")
	return b.String()
}

// startIngressNginx runs nginx with ingressNginxSite in front of upstream,
// asking guard, and returns its address.
func startIngressNginx(t *testing.T, guard, upstream string) string {
	bin := proxyBinary(t, "nginx")
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil { // for nginx's workers, when they run as nobody
		t.Fatal(err)
	}
	port := freePort(t)
	main := fmt.Sprintf(`worker_processes 1;
error_log %[1]s/error.log info;
pid %[1]s/nginx.pid;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path %[1]s/body;
    proxy_temp_path %[1]s/proxy;
    fastcgi_temp_path %[1]s/fastcgi;
    uwsgi_temp_path %[1]s/uwsgi;
    scgi_temp_path %[1]s/scgi;
    include %[1]s/ingress.conf;
}
`, dir)
	for name, content := range map[string]string{"ingress.conf": ingressNginxSite(t, port, guard, upstream), "nginx.conf": main} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	startProxy(t, exec.Command(bin, "-p", dir, "-e", dir+"/error.log", "-c", dir+"/nginx.conf", "-g", "daemon off;"), "http://"+addr, dir+"/error.log")
	return addr
}

// rawDo writes req, a whole HTTP/1.1 request, to addr and returns the
// answer's status.
func rawDo(t *testing.T, addr, req string) int {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatal(err)
	}
	res, err := readResponse(conn)
	if err != nil {
		t.Fatalf("%q: %v", req, err)
	}
	return res
}

func readResponse(conn net.Conn) (int, error) {
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return 0, err
	}
	f := strings.Fields(line)
	if len(f) < 2 {
		return 0, fmt.Errorf("status line %q", line)
	}
	return strconv.Atoi(f[1])
}

// TestServeBehindIngressNginx runs the auth location that ingress-nginx's
// template renders for the shipped manifest's annotations in a real nginx
// (the controller cannot run here: see ingressNginxSite), with a client
// that spoofs the headers ingress-nginx passes on from it: X-Original-URI,
// X-Original-URL, X-Forwarded-Host, X-Forwarded-Method and X-Forwarded-Uri,
// and a request line whose host is not the Host header.
func TestServeBehindIngressNginx(t *testing.T) {
	iss := adaptertest.NewIssuer(t)
	g := startGuard(t, fmt.Sprintf(`endpoint: %s
audiences: [%s]
allow_insecure_http: true
listen: 127.0.0.1:0
routes:
  - match: "GET /read"
    scopes: [read:products]
  - match: "/public/"
    public: true
  - match: "public.example.com/"
    public: true
`, iss.Endpoint(), adaptertest.API))
	up := newEchoUpstream(t)
	addr := startIngressNginx(t, strings.TrimPrefix(g.url, "http://"), strings.TrimPrefix(up.URL, "http://"))
	token := iss.M2MToken("inventory-sync", adaptertest.API, "read:products")

	tests := []struct {
		name, request string
		status        int
		reaches       bool
	}{
		{"an honest request", "GET /read?page=2 HTTP/1.1\r\nHost: api.example.com\r\nAuthorization: Bearer " + token + "\r\n", 200, true},
		{"an honest request to a host in upper case", "GET /read HTTP/1.1\r\nHost: API.Example.com\r\nAuthorization: Bearer " + token + "\r\n", 200, true},
		{"an honest request without a token", "GET /read HTTP/1.1\r\nHost: api.example.com\r\n", 401, false},
		{"a public route", "GET /public/logo.png HTTP/1.1\r\nHost: api.example.com\r\n", 200, true},
		{"X-Original-URI of the client", "GET /read HTTP/1.1\r\nHost: api.example.com\r\nX-Original-URI: /public/x\r\n", 401, false},
		{"X-Original-URL of the client", "GET /read HTTP/1.1\r\nHost: api.example.com\r\nX-Original-URL: http://api.example.com/public/x\r\n", 401, false},
		{"X-Forwarded-Host of the client", "GET /read HTTP/1.1\r\nHost: api.example.com\r\nX-Forwarded-Host: public.example.com\r\n", 401, false},
		// Any other answer of logtoguard than 401 and 403 (here 400) is
		// 500 from ingress-nginx.
		{"X-Forwarded-Method and -Uri of the client", "GET /read HTTP/1.1\r\nHost: api.example.com\r\nX-Forwarded-Method: GET\r\nX-Forwarded-Uri: /public/x\r\n", 500, false},
		{"a request line's host that is not the Host header", "GET http://public.example.com/read HTTP/1.1\r\nHost: api.example.com\r\n", 500, false},
		{"..; out of the public subtree", "GET /public/..;/read HTTP/1.1\r\nHost: api.example.com\r\n", 500, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := up.hits.Load()
			got := rawDo(t, addr, tt.request+"Connection: close\r\n\r\n")
			if got != tt.status {
				t.Errorf("status %d, want %d", got, tt.status)
			}
			if reached := up.hits.Load() > before; reached != tt.reaches {
				t.Errorf("reached the upstream: %t, want %t", reached, tt.reaches)
			}
		})
	}
	if t.Failed() {
		t.Logf("logtoguard's log:\n%s", g.logs)
	}
}
