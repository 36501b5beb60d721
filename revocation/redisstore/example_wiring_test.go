package redisstore_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/logtoguard/logtoguard/adapters/nethttp"
	"github.com/logtoguard/logtoguard/logtotest"
	"github.com/logtoguard/logtoguard/middleware"
	"github.com/logtoguard/logtoguard/revocation/redisstore"
	"github.com/logtoguard/logtoguard/webhook"
	"github.com/redis/go-redis/v9"
)

// An API replica wired for revocations shared through Redis: the store is
// the validator's Config.Revocations, Logto's webhooks are received at
// POST /logto/webhooks and recorded through the validator, and the
// readiness probe asks both. A user suspended in Logto gets 401 at once.
func Example_replica() {
	// Stand-ins for Logto and for a second replica's webhook delivery.
	logto, err := logtotest.Start()
	if err != nil {
		log.Fatal(err)
	}
	defer logto.Close()
	const api = "https://api.example.com"

	// In a program: redis.ParseURL(os.Getenv("LOGTO_REDIS_URL")), and the
	// signing keys from webhook.ParseSigningKeys(os.Getenv("LOGTO_WEBHOOK_SIGNING_KEY")).
	client := redis.NewClient(&redis.Options{Addr: redisAddr})
	defer client.Close()
	signingKeys := []string{"the-webhook-signing-key"}

	store, err := redisstore.New(redisstore.Config{Client: client, Prefix: "example-replica:"})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	v, err := middleware.New(middleware.Config{Endpoint: logto.Endpoint(), Audiences: []string{api}, Revocations: store})
	if err != nil {
		log.Fatal(err)
	}
	defer v.Close()
	hooks, err := webhook.New(webhook.Config{SigningKeys: signingKeys, Store: v})
	if err != nil {
		log.Fatal(err)
	}

	mux := http.NewServeMux()
	mux.Handle("POST /logto/webhooks", hooks)
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !v.Ready() || !store.Ready() { // keys loaded, revocations in sync
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	mux.Handle("GET /products", nethttp.New(v).Authenticate(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, "products")
	})))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := v.WaitReady(ctx); err != nil {
		log.Fatal(err)
	}
	if err := store.WaitReady(ctx); err != nil {
		log.Fatal(err)
	}

	token := logto.UserToken("user-1", "web-app", api, "read:products")
	get := func(path string) int {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	fmt.Println("ready:", get("/readyz"))
	fmt.Println("before:", get("/products"))

	logtoHook := &logtotest.Webhook{URL: srv.URL + "/logto/webhooks", SigningKey: signingKeys[0]}
	status, _, err := logtoHook.SuspendUser(ctx, "user-1")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("webhook:", status)
	fmt.Println("after:", get("/products"))
	// Output:
	// ready: 200
	// before: 200
	// webhook: 200
	// after: 401
}
