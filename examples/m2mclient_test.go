package examples_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/logtoguard/logtoguard/logtotest"
)

func TestM2MClient(t *testing.T) {
	iss := logtotest.New(t)
	iss.AddResource(api, "read:products", "write:products")
	iss.AddM2MApp("inventory-sync", "s3cret", "read:products")
	s := start(t, "nethttp", logtoEnv(iss)...)
	waitReady(t, s)

	cmd := exec.Command(binary(t, "m2mclient"))
	cmd.Env = append(os.Environ(),
		"LOGTO_ENDPOINT="+iss.Endpoint(),
		"LOGTO_APP_ID=inventory-sync",
		"LOGTO_APP_SECRET=s3cret",
		"LOGTO_API_RESOURCE="+api,
		"LOGTO_SCOPES=read:products",
		"API_URL="+s.URL,
	)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("m2mclient: %v\n%s", err, out)
	}
	for _, want := range []string{"GET /whoami: 200", `"client_id":"inventory-sync"`, `"m2m":true`, "GET /products: 200", `"Keyboard"`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestM2MClientBadSettings(t *testing.T) {
	tests := []struct {
		env  []string
		want string
	}{
		{nil, "LOGTO_ENDPOINT"},
		{[]string{"LOGTO_ENDPOINT=http://127.0.0.1:1"}, "LOGTO_APP_ID"},
		{[]string{"LOGTO_ENDPOINT=http://127.0.0.1:1", "LOGTO_APP_ID=a"}, "LOGTO_APP_SECRET"},
		{[]string{"LOGTO_ENDPOINT=http://127.0.0.1:1", "LOGTO_APP_ID=a", "LOGTO_APP_SECRET=b"}, "LOGTO_API_RESOURCE"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			cmd := exec.Command(binary(t, "m2mclient"))
			cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, tt.env...)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			if err := cmd.Run(); err == nil {
				t.Fatal("exit status 0 with a missing setting")
			}
			out := strings.TrimSpace(stderr.String())
			if strings.Contains(out, "\n") || !strings.Contains(out, tt.want) {
				t.Fatalf("stderr %q: want one line naming %s", out, tt.want)
			}
		})
	}
}
