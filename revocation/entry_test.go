package revocation_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/logtoguard/logtoguard/revocation"
)

var (
	t0    = time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	until = t0.Add(25 * time.Hour)
)

func TestEntryValidate(t *testing.T) {
	ok := func(e revocation.Entry) revocation.Entry {
		e.At, e.Until, e.Reason = t0, until, "user suspended"
		return e
	}
	long := strings.Repeat("a", revocation.MaxIDBytes+1)
	tests := []struct {
		name  string
		e     revocation.Entry
		valid bool
	}{
		{"subject", ok(revocation.Entry{Kind: revocation.Subject, Subject: "u1"}), true},
		{"member", ok(revocation.Entry{Kind: revocation.Member, Subject: "u1", Organization: "o1"}), true},
		{"organization", ok(revocation.Entry{Kind: revocation.Organization, Organization: "o1"}), true},
		{"client", ok(revocation.Entry{Kind: revocation.Client, Client: "app1"}), true},
		{"empty reason", revocation.Entry{Kind: revocation.Client, Client: "app1", At: t0, Until: t0}, true},
		{"zero kind", ok(revocation.Entry{Subject: "u1"}), false},
		{"unknown kind", ok(revocation.Entry{Kind: 9, Subject: "u1"}), false},
		{"subject without ID", ok(revocation.Entry{Kind: revocation.Subject}), false},
		{"member without organization", ok(revocation.Entry{Kind: revocation.Member, Subject: "u1"}), false},
		{"member without subject", ok(revocation.Entry{Kind: revocation.Member, Organization: "o1"}), false},
		{"organization without ID", ok(revocation.Entry{Kind: revocation.Organization}), false},
		{"client without ID", ok(revocation.Entry{Kind: revocation.Client}), false},
		{"subject with organization", ok(revocation.Entry{Kind: revocation.Subject, Subject: "u1", Organization: "o1"}), false},
		{"subject with client", ok(revocation.Entry{Kind: revocation.Subject, Subject: "u1", Client: "c"}), false},
		{"organization with subject", ok(revocation.Entry{Kind: revocation.Organization, Organization: "o1", Subject: "u1"}), false},
		{"client with subject", ok(revocation.Entry{Kind: revocation.Client, Client: "c", Subject: "u1"}), false},
		{"member with client", ok(revocation.Entry{Kind: revocation.Member, Subject: "u1", Organization: "o1", Client: "c"}), false},
		{"ID too long", ok(revocation.Entry{Kind: revocation.Subject, Subject: long}), false},
		{"zero At", revocation.Entry{Kind: revocation.Subject, Subject: "u1", Until: until}, false},
		{"At before 1970", revocation.Entry{Kind: revocation.Subject, Subject: "u1", At: time.Unix(-1, 0), Until: until}, false},
		{"At after 2262", revocation.Entry{Kind: revocation.Subject, Subject: "u1", At: time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC), Until: time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC)}, false},
		{"zero Until", revocation.Entry{Kind: revocation.Subject, Subject: "u1", At: t0}, false},
		{"Until before At", revocation.Entry{Kind: revocation.Subject, Subject: "u1", At: t0, Until: t0.Add(-time.Second)}, false},
		{"reason too long", revocation.Entry{Kind: revocation.Subject, Subject: "u1", At: t0, Until: until, Reason: strings.Repeat("r", revocation.MaxReasonBytes+1)}, false},
		{"reason with a line break", revocation.Entry{Kind: revocation.Subject, Subject: "u1", At: t0, Until: until, Reason: "a\r\nb"}, false},
		{"reason not UTF-8", revocation.Entry{Kind: revocation.Subject, Subject: "u1", At: t0, Until: until, Reason: "\xff"}, false},
		{"reason in another script", revocation.Entry{Kind: revocation.Subject, Subject: "u1", At: t0, Until: until, Reason: "utilisateur suspendu, ユーザー停止"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.e.Validate()
			if tt.valid && err != nil {
				t.Fatalf("Validate() = %v, want nil", err)
			}
			if !tt.valid && !errors.Is(err, revocation.ErrInvalidEntry) {
				t.Fatalf("Validate() = %v, want ErrInvalidEntry", err)
			}
		})
	}
}

func TestEntryKey(t *testing.T) {
	entries := []revocation.Entry{
		{Kind: revocation.Subject, Subject: "a"},
		{Kind: revocation.Subject, Subject: "a:b"},
		{Kind: revocation.Member, Subject: "a", Organization: "b:c"},
		{Kind: revocation.Member, Subject: "a:b", Organization: "c"},
		{Kind: revocation.Member, Subject: "a:1:b", Organization: "c"},
		{Kind: revocation.Member, Subject: "a", Organization: "1:b:c"},
		{Kind: revocation.Organization, Organization: "a"},
		{Kind: revocation.Client, Client: "a"},
	}
	seen := map[string]revocation.Entry{}
	for _, e := range entries {
		k := e.Key()
		if prev, dup := seen[k]; dup {
			t.Errorf("Key() of %+v and %+v is %q for both", prev, e, k)
		}
		seen[k] = e
	}
	a := revocation.Entry{Kind: revocation.Subject, Subject: "u1", At: t0, Until: until, Reason: "x"}
	b := revocation.Entry{Kind: revocation.Subject, Subject: "u1", At: t0.Add(time.Hour), Until: until.Add(time.Hour), Reason: "y"}
	if a.Key() != b.Key() {
		t.Errorf("Key() depends on the times or reason: %q, %q", a.Key(), b.Key())
	}
}

func TestEntryRefuses(t *testing.T) {
	before, after := t0.Add(-time.Second), t0.Add(time.Second)
	sub := revocation.Entry{Kind: revocation.Subject, Subject: "u1", At: t0}
	mem := revocation.Entry{Kind: revocation.Member, Subject: "u1", Organization: "o1", At: t0}
	org := revocation.Entry{Kind: revocation.Organization, Organization: "o1", At: t0}
	cli := revocation.Entry{Kind: revocation.Client, Client: "app", At: t0}
	tests := []struct {
		name string
		e    revocation.Entry
		t    revocation.Token
		want bool
	}{
		{"subject, issued before", sub, revocation.Token{Subject: "u1", IssuedAt: before}, true},
		{"subject, issued at At", sub, revocation.Token{Subject: "u1", IssuedAt: t0}, true},
		{"subject, issued after", sub, revocation.Token{Subject: "u1", IssuedAt: after}, false},
		{"subject, no iat", sub, revocation.Token{Subject: "u1"}, true},
		{"subject, another", sub, revocation.Token{Subject: "u2", IssuedAt: before}, false},
		{"subject, as actor", sub, revocation.Token{Subject: "u2", Actor: "u1", IssuedAt: before}, true},
		{"subject, as actor, issued after", sub, revocation.Token{Subject: "u2", Actor: "u1", IssuedAt: after}, false},
		{"subject, another actor", sub, revocation.Token{Subject: "u2", Actor: "u3", IssuedAt: before}, false},
		{"member, as actor", mem, revocation.Token{Subject: "u2", Actor: "u1", Organization: "o1", IssuedAt: before}, false},
		{"subject, in an organization", sub, revocation.Token{Subject: "u1", Organization: "o9", IssuedAt: before}, true},
		{"member, its organization", mem, revocation.Token{Subject: "u1", Organization: "o1", IssuedAt: before}, true},
		{"member, no organization", mem, revocation.Token{Subject: "u1", IssuedAt: before}, false},
		{"member, another organization", mem, revocation.Token{Subject: "u1", Organization: "o2", IssuedAt: before}, false},
		{"member, another subject", mem, revocation.Token{Subject: "u2", Organization: "o1", IssuedAt: before}, false},
		{"member, issued after", mem, revocation.Token{Subject: "u1", Organization: "o1", IssuedAt: after}, false},
		{"organization", org, revocation.Token{Subject: "u7", Organization: "o1", IssuedAt: before}, true},
		{"organization, another", org, revocation.Token{Subject: "u7", Organization: "o2", IssuedAt: before}, false},
		{"organization, none", org, revocation.Token{Subject: "u7", IssuedAt: before}, false},
		{"client", cli, revocation.Token{Subject: "app", Client: "app", IssuedAt: before}, true},
		{"client, a user's token through it", cli, revocation.Token{Subject: "u1", Client: "app", IssuedAt: before}, true},
		{"client, another", cli, revocation.Token{Subject: "u1", Client: "web", IssuedAt: before}, false},
		{"client, issued after", cli, revocation.Token{Client: "app", IssuedAt: after}, false},
		{"empty IDs never match", revocation.Entry{Kind: revocation.Subject, At: t0}, revocation.Token{IssuedAt: before}, false},
		{"unknown kind", revocation.Entry{Kind: 9, Subject: "u1", At: t0}, revocation.Token{Subject: "u1", IssuedAt: before}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.e.Refuses(tt.t); got != tt.want {
				t.Errorf("Refuses() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestKindString(t *testing.T) {
	for k, want := range map[revocation.Kind]string{
		revocation.Subject: "subject", revocation.Member: "member", revocation.Organization: "organization",
		revocation.Client: "client", 0: "kind(0)", 7: "kind(7)",
	} {
		if got := k.String(); got != want {
			t.Errorf("Kind(%d).String() = %q, want %q", k, got, want)
		}
	}
}
