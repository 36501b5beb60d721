package redisstore_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/logtoguard/logtoguard/revocation"
	"github.com/logtoguard/logtoguard/revocation/redisstore"
	"github.com/redis/go-redis/v9"
)

// Two replicas of one API share revocations through Redis: a user
// suspended on the first is refused by the second.
func Example() {
	// In a program: opts, err := redis.ParseURL(os.Getenv("LOGTO_REDIS_URL")).
	client := redis.NewClient(&redis.Options{Addr: redisAddr})
	defer client.Close()

	first, err := redisstore.New(redisstore.Config{Client: client, Prefix: "example:"})
	if err != nil {
		log.Fatal(err)
	}
	defer first.Close()
	second, err := redisstore.New(redisstore.Config{Client: client, Prefix: "example:"})
	if err != nil {
		log.Fatal(err)
	}
	defer second.Close()

	// Ready means in sync: a readiness probe keeps a replica out of the load
	// balancer until its first full load is done.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := first.WaitReady(ctx); err != nil {
		log.Fatal(err)
	}
	if err := second.WaitReady(ctx); err != nil {
		log.Fatal(err)
	}

	// What the webhook receiver does when Logto reports a suspension.
	suspended := time.Now()
	err = first.Revoke(ctx, revocation.Entry{
		Kind:    revocation.Subject,
		Subject: "user-1",
		At:      suspended,
		Until:   suspended.Add(time.Hour), // the longest token lifetime accepted
		Reason:  "user suspended",
	})
	if err != nil {
		log.Fatal(err) // a webhook answers 503: Logto delivers the event again
	}

	token := revocation.Token{Subject: "user-1", IssuedAt: suspended.Add(-10 * time.Minute)}
	for ctx.Err() == nil {
		if e, refused := second.Revoked(token); refused {
			fmt.Println("refused on the second replica:", e.Reason)
			break
		}
		time.Sleep(time.Millisecond)
	}
	// Output: refused on the second replica: user suspended
}

// Stats says whether a replica is in sync with Redis, for a readiness
// probe, and counts what happened, for metrics.
func ExampleStore_Stats() {
	client := redis.NewClient(&redis.Options{Addr: redisAddr})
	defer client.Close()
	store, err := redisstore.New(redisstore.Config{Client: client, Prefix: "example-stats:"})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := store.WaitReady(ctx); err != nil {
		log.Fatal(err)
	}

	st := store.Stats()
	fmt.Println("in sync:", st.InSync, "loads:", st.Loads, "disconnects:", st.Disconnects, "entries:", st.Entries)
	// Output: in sync: true loads: 1 disconnects: 0 entries: 0
}
