// Command quickstart is the quick start, end to end, in a few seconds and
// with nothing to set up: it starts an embedded Logto-compatible issuer,
// registers an API resource and a machine-to-machine app there, serves the
// example API protected by logtoguard, and walks through what a client sees.
//
//	make demo    # or: cd examples && go run ./quickstart
//
// With LOGTO_ENDPOINT, LOGTO_API_RESOURCE, LOGTO_APP_ID and LOGTO_APP_SECRET
// set, it runs the same flow against a real Logto tenant instead.
package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"golang.org/x/oauth2/clientcredentials"

	"github.com/logtoguard/logtoguard/examples/internal/app"
	"github.com/logtoguard/logtoguard/logtotest"
	"github.com/logtoguard/logtoguard/middleware"
)

// The embedded issuer's setup; LOGTO_API_RESOURCE, LOGTO_APP_ID and
// LOGTO_APP_SECRET replace them against a real tenant.
var (
	resource  = "https://api.example.com"
	appID     = "inventory-sync"
	appSecret = "inventory-sync-secret"
)

func main() {
	if err := run(); err != nil {
		app.Fatal("quickstart", err)
	}
}

func run() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// Logto: a real tenant when LOGTO_ENDPOINT is set, else an embedded
	// issuer with an API resource of two permissions and an M2M app whose
	// role grants only read:products.
	var iss *logtotest.Issuer
	endpoint := strings.TrimRight(strings.TrimSpace(os.Getenv("LOGTO_ENDPOINT")), "/")
	if endpoint != "" {
		for _, v := range []struct {
			name string
			dst  *string
		}{{"LOGTO_API_RESOURCE", &resource}, {"LOGTO_APP_ID", &appID}, {"LOGTO_APP_SECRET", &appSecret}} {
			if *v.dst = strings.TrimSpace(os.Getenv(v.name)); *v.dst == "" {
				return fmt.Errorf("%s is required with LOGTO_ENDPOINT", v.name)
			}
		}
		step(1, "Logto tenant at %s", endpoint)
		fmt.Printf("   API resource %s; M2M app %s, whose role should grant %s but not %s\n", resource, appID, app.ReadProducts, app.WriteProducts)
	} else {
		var err error
		iss, err = logtotest.Start()
		if err != nil {
			return err
		}
		defer iss.Close()
		iss.AddResource(resource, app.ReadProducts, app.WriteProducts)
		iss.AddM2MApp(appID, appSecret, app.ReadProducts)
		endpoint = iss.Endpoint()
		step(1, "Logto-compatible issuer at %s", endpoint)
		fmt.Printf("   API resource %s with permissions %s, %s\n", resource, app.ReadProducts, app.WriteProducts)
		fmt.Printf("   M2M app %s, granted %s\n", appID, app.ReadProducts)
	}

	// The API: the net/http example, verifying tokens with logtoguard.
	v, err := middleware.New(middleware.Config{Endpoint: endpoint, Audiences: []string{resource}})
	if err != nil {
		return err
	}
	defer v.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: app.NetHTTPRoutes(v, app.Settings{}), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer func() { _ = srv.Close() }() // the demo is over either way
	apiURL := "http://" + ln.Addr().String()
	for !v.Ready() {
		if ctx.Err() != nil {
			return errors.New("the API never loaded the signing keys")
		}
		time.Sleep(10 * time.Millisecond)
	}
	step(2, "API protected by logtoguard at %s (signing keys loaded)", apiURL)

	// The client: the client credentials grant, as a Logto M2M app does.
	cfg := clientcredentials.Config{
		ClientID:       appID,
		ClientSecret:   appSecret,
		TokenURL:       endpoint + "/oidc/token",
		Scopes:         []string{app.ReadProducts},
		EndpointParams: url.Values{"resource": {resource}},
	}
	tok, err := cfg.Token(ctx)
	if err != nil {
		return fmt.Errorf("token request: %v", err)
	}
	step(3, "token request: POST %s grant_type=client_credentials resource=%s scope=%s", cfg.TokenURL, resource, app.ReadProducts)
	fmt.Printf("   got a %s access token (%d characters), expires %s\n", tok.TokenType, len(tok.AccessToken), tok.Expiry.UTC().Format(time.RFC3339))

	status, body, _, err := call(ctx, "GET", apiURL+"/products", tok.AccessToken)
	if err != nil {
		return err
	}
	step(4, "GET /products with the token: %d %s", status, body)
	if status != http.StatusOK {
		return fmt.Errorf("GET /products: %d, want 200", status)
	}

	status, body, challenge, err := call(ctx, "POST", apiURL+"/products", tok.AccessToken)
	if err != nil {
		return err
	}
	step(5, "POST /products without write:products: %d %s", status, body)
	fmt.Printf("   WWW-Authenticate: %s\n", challenge)
	if status != http.StatusForbidden {
		return fmt.Errorf("POST /products: %d, want 403", status)
	}

	status, body, challenge, err = call(ctx, "GET", apiURL+"/products", tamper(tok.AccessToken))
	if err != nil {
		return err
	}
	step(6, "GET /products with a tampered token (write:products added to its payload): %d %s", status, body)
	fmt.Printf("   WWW-Authenticate: %s\n", challenge)
	if status != http.StatusUnauthorized {
		return fmt.Errorf("tampered token: %d, want 401", status)
	}

	fresh := tok
	if iss == nil {
		step(7, "key rotation: rotate the signing key in the Logto console and run again; the API needs no restart")
	} else {
		old := iss.SigningKey().ID()
		iss.RotateKeys()
		fresh, err = cfg.Token(ctx)
		if err != nil {
			return fmt.Errorf("token request after rotation: %v", err)
		}
		status, _, _, err = call(ctx, "GET", apiURL+"/products", fresh.AccessToken)
		if err != nil {
			return err
		}
		step(7, "key rotation survived: signing key %s replaced by %s; a new token gets %d, no restart", short(old), short(iss.SigningKey().ID()), status)
		if status != http.StatusOK {
			return fmt.Errorf("after rotation: %d, want 200", status)
		}
	}

	status, body, _, err = call(ctx, "GET", apiURL+"/whoami", fresh.AccessToken)
	if err != nil {
		return err
	}
	step(8, "GET /whoami, the claims the handler saw: %d %s", status, body)
	if status != http.StatusOK {
		return fmt.Errorf("GET /whoami: %d, want 200", status)
	}
	fmt.Println("done")
	return nil
}

func step(n int, format string, args ...any) {
	fmt.Printf("%d. "+format+"\n", append([]any{n}, args...)...)
}

// call makes one request with the bearer token and returns the status, the
// body on one line and the WWW-Authenticate header.
func call(ctx context.Context, method, url, token string) (int, string, string, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, nil)
	if err != nil {
		return 0, "", "", err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, "", "", err
	}
	return resp.StatusCode, strings.TrimSpace(string(body)), resp.Header.Get("WWW-Authenticate"), nil
}

// tamper grants the token write:products by editing its payload, as an
// attacker raising their own permissions would; the signature no longer
// matches.
func tamper(tok string) string {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return tok + "x"
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return tok + "x"
	}
	var claims map[string]any
	if err := json.Unmarshal(raw, &claims); err != nil {
		return tok + "x"
	}
	claims["scope"] = app.ReadProducts + " " + app.WriteProducts
	raw, _ = json.Marshal(claims)
	return parts[0] + "." + base64.RawURLEncoding.EncodeToString(raw) + "." + parts[2]
}

func short(kid string) string {
	if len(kid) > 12 {
		return kid[:12] + "…"
	}
	return kid
}
