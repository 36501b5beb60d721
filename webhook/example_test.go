package webhook_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/logtoguard/logtoguard/logtotest"
	"github.com/logtoguard/logtoguard/middleware"
	"github.com/logtoguard/logtoguard/webhook"
)

func ExampleNew() {
	logto, _ := logtotest.Start() // stands in for https://your-tenant.logto.app
	defer logto.Close()
	v, err := middleware.New(middleware.Config{Endpoint: logto.Endpoint(), Audiences: []string{"https://api.example.com"}})
	if err != nil {
		log.Fatal(err)
	}
	defer v.Close()

	// In production: webhook.ParseSigningKeys(os.Getenv("LOGTO_WEBHOOK_SIGNING_KEY")).
	signingKey := "0123456789abcdefghijklmnopqrstuv"
	hooks, err := webhook.New(webhook.Config{SigningKeys: []string{signingKey}, Store: v, Logger: quiet})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("POST /logto/webhooks", hooks)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	ctx := context.Background()
	token := logto.UserToken("user-123", "web", "https://api.example.com", "read:products")
	_, err = v.Verify(ctx, token)
	fmt.Println("before:", err)

	// Logto reports the suspension (here, a sender that signs as Logto does).
	sender := &logtotest.Webhook{URL: srv.URL + "/logto/webhooks", SigningKey: signingKey}
	status, _, _ := sender.SuspendUser(ctx, "user-123")
	fmt.Println("webhook:", status)

	_, err = v.Verify(ctx, token)
	fmt.Println("after:", v.Reject(err).Description)
	// Output:
	// before: <nil>
	// webhook: 200
	// after: the token was revoked: user suspended
}

func ExampleParse() {
	ev, err := webhook.Parse([]byte(`{"event":"Organization.Deleted","createdAt":"2026-12-07T12:00:00.123Z","params":{"id":"org-1"}}`))
	if err != nil {
		log.Fatal(err)
	}
	for _, e := range ev.Entries {
		fmt.Println(e.Key(), e.At.Format("15:04:05.000"), e.Reason)
	}
	// Output: organization:org-1 12:00:00.123 organization deleted
}

func ExampleParseSigningKeys() {
	// LOGTO_WEBHOOK_SIGNING_KEY="new-key,old-key" while rotating.
	fmt.Printf("%q\n", webhook.ParseSigningKeys("new-key,old-key"))
	// Output: ["new-key" "old-key"]
}
