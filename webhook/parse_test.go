package webhook_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/logtoguard/logtoguard/revocation"
	"github.com/logtoguard/logtoguard/webhook"
)

// recordedAt is the createdAt of every payload in testdata.
var recordedAt = time.Date(2026, 12, 7, 12, 0, 0, 123e6, time.UTC)

func readPayload(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestParseRecorded maps every payload in testdata, each shaped as Logto's
// source builds it (see testdata/README.md), to the revocations it makes.
func TestParseRecorded(t *testing.T) {
	const (
		user = "u1ab2cd3ef4g"
		org  = "orgq1w2e3r4t5y6"
		app  = "m2m1a2b3c4d5e6f7g8h9"
	)
	e := func(kind revocation.Kind, sub, o, reason string) revocation.Entry {
		return revocation.Entry{Kind: kind, Subject: sub, Organization: o, At: recordedAt, Until: recordedAt, Reason: reason}
	}
	removed := "removed from the organization"
	tests := []struct {
		file  string
		event string
		want  []revocation.Entry
	}{
		{"user-suspended.json", webhook.UserSuspensionStatusUpdated, []revocation.Entry{e(revocation.Subject, user, "", "user suspended")}},
		{"user-unsuspended.json", webhook.UserSuspensionStatusUpdated, nil},
		{"user-deleted.json", webhook.UserDeleted, []revocation.Entry{e(revocation.Subject, user, "", "user deleted")}},
		{"membership-delete-user.json", webhook.OrganizationMembershipUpdated, []revocation.Entry{e(revocation.Member, user, org, removed)}},
		{"membership-delete-user-delta.json", webhook.OrganizationMembershipUpdated, []revocation.Entry{e(revocation.Member, user, org, removed)}},
		{"membership-replace-delta.json", webhook.OrganizationMembershipUpdated, []revocation.Entry{e(revocation.Member, user, org, removed), e(revocation.Member, "u2bc3de4fg5h", org, removed)}},
		{"membership-replace.json", webhook.OrganizationMembershipUpdated, []revocation.Entry{e(revocation.Organization, "", org, "organization membership replaced")}},
		{"membership-added.json", webhook.OrganizationMembershipUpdated, nil},
		// A replacement that only adds: Logto omits removedUserIds when it
		// is empty, so nobody left.
		{"membership-replace-added.json", webhook.OrganizationMembershipUpdated, nil},
		{"membership-apps-replace-added.json", webhook.OrganizationMembershipUpdated, nil},
		{"membership-jit.json", webhook.OrganizationMembershipUpdated, nil},
		{"membership-apps-removed.json", webhook.OrganizationMembershipUpdated, []revocation.Entry{e(revocation.Member, app, org, removed)}},
		{"membership-delete-app.json", webhook.OrganizationMembershipUpdated, []revocation.Entry{e(revocation.Member, app, org, removed)}},
		{"organization-deleted.json", webhook.OrganizationDeleted, []revocation.Entry{e(revocation.Organization, "", org, "organization deleted")}},
		{"role-scopes-updated.json", "Role.Scopes.Updated", nil},
		{"post-sign-in.json", "PostSignIn", nil},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			ev, err := webhook.Parse(readPayload(t, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if ev.Name != tt.event || ev.HookID != "hk9x8y7z6w5v4u" || !ev.CreatedAt.Equal(recordedAt) {
				t.Errorf("event %q, hook %q, createdAt %v; want %q, hk9x8y7z6w5v4u, %v", ev.Name, ev.HookID, ev.CreatedAt, tt.event, recordedAt)
			}
			if len(ev.Entries) != len(tt.want) {
				t.Fatalf("entries %+v, want %+v", ev.Entries, tt.want)
			}
			for i := range tt.want {
				got := ev.Entries[i]
				if got.Kind != tt.want[i].Kind || got.Subject != tt.want[i].Subject || got.Organization != tt.want[i].Organization ||
					got.Reason != tt.want[i].Reason || !got.At.Equal(recordedAt) {
					t.Errorf("entry %d: %+v, want %+v", i, got, tt.want[i])
				}
			}
		})
	}
}

// TestParseRefused: a used event without what it needs, and bodies that are
// not Logto payloads, are refused with ErrPayload; unused events with odd
// bodies are not.
func TestParseRefused(t *testing.T) {
	long := strings.Repeat("x", revocation.MaxIDBytes+1)
	refused := map[string]string{
		"not JSON":                  `{"event":`,
		"an array":                  `[]`,
		"no event":                  `{"createdAt":"2026-12-07T12:00:00.123Z"}`,
		"event not a string":        `{"event":7,"createdAt":"2026-12-07T12:00:00.123Z"}`,
		"no createdAt":              `{"event":"User.Deleted"}`,
		"createdAt not a time":      `{"event":"PostSignIn","createdAt":"yesterday"}`,
		"createdAt a number":        `{"event":"PostSignIn","createdAt":1796644800123}`,
		"suspension without user":   `{"event":"User.SuspensionStatus.Updated","createdAt":"2026-12-07T12:00:00.123Z","data":{"isSuspended":true}}`,
		"suspension data a string":  `{"event":"User.SuspensionStatus.Updated","createdAt":"2026-12-07T12:00:00.123Z","params":{"userId":"u1"},"data":"u1"}`,
		"user IDs that differ":      `{"event":"User.Deleted","createdAt":"2026-12-07T12:00:00.123Z","params":{"userId":"u1"},"data":{"id":"u2"}}`,
		"params not strings":        `{"event":"User.Deleted","createdAt":"2026-12-07T12:00:00.123Z","params":{"userId":7}}`,
		"membership without org":    `{"event":"Organization.Membership.Updated","createdAt":"2026-12-07T12:00:00.123Z","removedUserIds":["u1"]}`,
		"removed IDs not strings":   `{"event":"Organization.Membership.Updated","createdAt":"2026-12-07T12:00:00.123Z","organizationId":"o1","removedUserIds":[1]}`,
		"organization deleted, ???": `{"event":"Organization.Deleted","createdAt":"2026-12-07T12:00:00.123Z"}`,
		"an ID too long":            `{"event":"User.Deleted","createdAt":"2026-12-07T12:00:00.123Z","params":{"userId":"` + long + `"}}`,
		"an empty removed ID":       `{"event":"Organization.Membership.Updated","createdAt":"2026-12-07T12:00:00.123Z","organizationId":"o1","removedUserIds":[""]}`,
	}
	for name, body := range refused {
		t.Run(name, func(t *testing.T) {
			if _, err := webhook.Parse([]byte(body)); !errors.Is(err, webhook.ErrPayload) {
				t.Fatalf("Parse = %v, want ErrPayload", err)
			}
		})
	}
	// An unused event's other fields are not read.
	ev, err := webhook.Parse([]byte(`{"event":"Role.Deleted","createdAt":"2026-12-07T12:00:00Z","params":{"id":7},"data":[1,2]}`))
	if err != nil || len(ev.Entries) != 0 {
		t.Fatalf("unused event with odd fields: %+v, %v", ev, err)
	}
	// Suspension without isSuspended: fail closed.
	ev, err = webhook.Parse([]byte(`{"event":"User.SuspensionStatus.Updated","createdAt":"2026-12-07T12:00:00Z","params":{"userId":"u1"}}`))
	if err != nil || len(ev.Entries) != 1 || ev.Entries[0].Subject != "u1" {
		t.Fatalf("suspension without isSuspended: %+v, %v; want the user revoked", ev, err)
	}
}

// TestParseMembershipCap: a list of MembershipDeltaCap IDs may have been cut
// by Logto, so the whole organization is revoked too.
func TestParseMembershipCap(t *testing.T) {
	ids := make([]string, webhook.MembershipDeltaCap)
	for i := range ids {
		ids[i] = `"u` + strings.Repeat("0", 5) + string(rune('a'+i%26)) + itoa(i) + `"`
	}
	body := `{"event":"Organization.Membership.Updated","createdAt":"2026-12-07T12:00:00Z","method":"PUT","params":{"id":"o1"},"organizationId":"o1","removedUserIds":[` + strings.Join(ids, ",") + `]}`
	ev, err := webhook.Parse([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(ev.Entries); n != webhook.MembershipDeltaCap+1 {
		t.Fatalf("%d entries, want %d", n, webhook.MembershipDeltaCap+1)
	}
	if last := ev.Entries[len(ev.Entries)-1]; last.Kind != revocation.Organization || last.Organization != "o1" {
		t.Fatalf("last entry %+v, want the organization", last)
	}
}

func itoa(i int) string {
	const digits = "0123456789"
	if i < 10 {
		return digits[i : i+1]
	}
	return itoa(i/10) + digits[i%10:i%10+1]
}
