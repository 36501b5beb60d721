package revocation_test

import (
	"context"
	"fmt"
	"time"

	"github.com/logtoguard/logtoguard/revocation"
)

func ExampleNewMemory() {
	store := revocation.NewMemory(revocation.MemoryConfig{})
	suspended := time.Now() // the event's time, on Logto's clock
	err := store.Revoke(context.Background(), revocation.Entry{
		Kind:    revocation.Subject,
		Subject: "user-123",
		At:      suspended,
		Until:   suspended.Add(24 * time.Hour), // the longest token lifetime accepted
		Reason:  "user suspended",
	})
	fmt.Println(err)

	old := revocation.Token{Subject: "user-123", Client: "web", IssuedAt: suspended.Add(-10 * time.Minute)}
	e, revoked := store.Revoked(old)
	fmt.Println(revoked, e.Kind, e.Reason)

	fresh := revocation.Token{Subject: "user-123", Client: "web", IssuedAt: suspended.Add(time.Minute)}
	_, revoked = store.Revoked(fresh)
	fmt.Println(revoked)
	// Output:
	// <nil>
	// true subject user suspended
	// false
}

func ExampleEntry_Key() {
	e := revocation.Entry{Kind: revocation.Member, Subject: "user-123", Organization: "org-1"}
	fmt.Println(e.Key())
	// Output: member:8:user-123:org-1
}

func ExampleEntry_Refuses() {
	at := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	e := revocation.Entry{Kind: revocation.Organization, Organization: "org-1", At: at}
	fmt.Println(e.Refuses(revocation.Token{Subject: "user-9", Organization: "org-1", IssuedAt: at.Add(-time.Hour)}))
	fmt.Println(e.Refuses(revocation.Token{Subject: "user-9", Organization: "org-2", IssuedAt: at.Add(-time.Hour)}))
	// Output:
	// true
	// false
}
