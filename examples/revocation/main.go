// Command revocation shows access ending when Logto says so, in a few
// seconds and with nothing to set up: it starts an embedded
// Logto-compatible issuer and the example API with Logto's webhooks on
// POST /logto/webhooks, gets a user's token through, sends the webhook
// Logto sends when the user is suspended, signed as Logto signs it, and
// shows the same token refused at once, long before it expires.
//
//	make demo-revocation    # or: cd examples && go run ./revocation
package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/logtoguard/logtoguard/examples/internal/app"
	"github.com/logtoguard/logtoguard/logtotest"
	"github.com/logtoguard/logtoguard/middleware"
)

const (
	resource = "https://api.example.com"
	userID   = "jane-8f2kq1"
	// signingKey stands in for the webhook's signing key in the Logto
	// console (LOGTO_WEBHOOK_SIGNING_KEY for the example servers).
	signingKey = "demo-signing-key-0123456789abcd"
)

func main() {
	if err := run(); err != nil {
		app.Fatal("revocation", err)
	}
}

func run() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	iss, err := logtotest.Start()
	if err != nil {
		return err
	}
	defer iss.Close()
	step(1, "Logto-compatible issuer at %s", iss.Endpoint())

	v, err := middleware.New(middleware.Config{Endpoint: iss.Endpoint(), Audiences: []string{resource}})
	if err != nil {
		return err
	}
	defer v.Close()
	if err := v.WaitReady(ctx); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	settings := app.Settings{WebhookKeys: []string{signingKey}}
	srv := &http.Server{Handler: app.NetHTTPRoutes(v, settings), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer func() { _ = srv.Close() }() // the demo is over either way
	apiURL := "http://" + ln.Addr().String()
	step(2, "API protected by logtoguard at %s, Logto's webhooks on POST %s", apiURL, app.WebhookPath)

	token := iss.UserToken(userID, "web-app", resource, app.ReadProducts)
	status, body, _, err := call(ctx, apiURL+"/products", token)
	if err != nil {
		return err
	}
	step(3, "user %s's token (valid for another hour): GET /products: %d %s", userID, status, body)
	if status != http.StatusOK {
		return fmt.Errorf("the token was refused before the suspension: %d %s", status, body)
	}

	forged := &logtotest.Webhook{URL: apiURL + app.WebhookPath, SigningKey: "not-the-signing-key-0123456789ab"}
	status, answer, err := forged.SuspendUser(ctx, userID)
	if err != nil {
		return err
	}
	step(4, "a suspension webhook signed with another key: %d %s", status, strings.TrimSpace(string(answer)))

	sender := &logtotest.Webhook{URL: apiURL + app.WebhookPath, SigningKey: signingKey}
	status, answer, err = sender.SuspendUser(ctx, userID)
	if err != nil {
		return err
	}
	step(5, "an admin suspends %s in the Logto console; Logto POSTs User.SuspensionStatus.Updated (isSuspended: true)", userID)
	fmt.Printf("   signed with the webhook's key (logto-signature-sha-256: HMAC-SHA256 of the body): %d %s\n", status, strings.TrimSpace(string(answer)))
	if status != http.StatusOK {
		return fmt.Errorf("the webhook was refused: %d", status)
	}

	status, body, challenge, err := call(ctx, apiURL+"/products", token)
	if err != nil {
		return err
	}
	step(6, "the same token, a moment later: GET /products: %d %s", status, body)
	fmt.Printf("   WWW-Authenticate: %s\n", challenge)
	if status != http.StatusUnauthorized {
		return fmt.Errorf("the token still works after the suspension: %d", status)
	}
	fmt.Println("done")
	return nil
}

func step(n int, format string, args ...any) {
	fmt.Printf("%d. "+format+"\n", append([]any{n}, args...)...)
}

// call makes one GET with the bearer token and returns the status, the
// body on one line and the WWW-Authenticate header.
func call(ctx context.Context, url, token string) (int, string, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
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
