package revocation

import (
	"errors"
	"fmt"
	"strconv"
	"time"
	"unicode"
	"unicode/utf8"
)

// Kind says which tokens an [Entry] refuses.
type Kind uint8

const (
	// Subject refuses every token of a subject: a user, or a
	// machine-to-machine app's sub (its App ID); and every delegated token
	// the subject acts with ([Token].Actor).
	Subject Kind = iota + 1
	// Member refuses a subject's tokens within one organization:
	// organization tokens for it, and API tokens carrying its
	// organization_id.
	Member
	// Organization refuses every token for an organization.
	Organization
	// Client refuses every token requested by a client_id.
	Client
)

// String returns the kind's lowercase name ("subject", "member",
// "organization", "client").
func (k Kind) String() string {
	switch k {
	case Subject:
		return "subject"
	case Member:
		return "member"
	case Organization:
		return "organization"
	case Client:
		return "client"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Limits of an [Entry], checked by [Entry.Validate]: Logto's IDs are about
// 12 to 21 characters; a reason is a few words.
const (
	MaxIDBytes     = 256
	MaxReasonBytes = 200
)

// ErrInvalidEntry is the class of every error of [Entry.Validate], matched
// with errors.Is.
var ErrInvalidEntry = errors.New("revocation: invalid entry")

// ErrFull is returned by [Memory.Revoke] when the store holds MaxEntries
// entries that are all still needed: a revocation is never silently
// forgotten, and never pushes out another one. A webhook that gets it
// answers 503, so that Logto delivers the event again.
var ErrFull = errors.New("revocation: store full")

// minAt and maxAt bound At and Until to the times that fit in an int64 of
// nanoseconds since the epoch.
var (
	minAt = time.Unix(0, 0)
	maxAt = time.Unix(0, 1<<63-1)
)

// Entry is one revocation: the tokens of its Kind and IDs whose iat is at
// or before At are refused.
type Entry struct {
	// Kind says which IDs are set and which tokens are refused.
	Kind Kind
	// Subject is the sub of Subject and Member entries.
	Subject string
	// Organization is the organization ID of Member and Organization
	// entries.
	Organization string
	// Client is the client_id of Client entries.
	Client string
	// At is on Logto's clock: tokens whose iat is at or before At are
	// refused (a token without iat is refused too).
	At time.Time
	// Until is when the entry may be forgotten: no token it refuses can
	// still be valid after it (At plus the longest token lifetime the API
	// accepts, plus leeway).
	Until time.Time
	// Reason is short and safe to show to the caller, such as "user
	// suspended" or "removed from the organization".
	Reason string
}

// Key names what is revoked (the kind and IDs, not the times or reason):
// two entries with one Key merge, keeping the later At and Until. It is
// unambiguous for every pair of IDs.
func (e Entry) Key() string {
	switch e.Kind {
	case Subject:
		return "subject:" + e.Subject
	case Member:
		return "member:" + strconv.Itoa(len(e.Subject)) + ":" + e.Subject + ":" + e.Organization
	case Organization:
		return "organization:" + e.Organization
	case Client:
		return "client:" + e.Client
	}
	return e.Kind.String()
}

// Validate checks that e can be recorded: a known Kind with its IDs set and
// the others empty, IDs and Reason within [MaxIDBytes] and
// [MaxReasonBytes], a Reason of printable UTF-8, At set after 1970 and
// Until not before At. Every error matches [ErrInvalidEntry].
func (e Entry) Validate() error {
	var need, none []field
	sub := field{"Subject", e.Subject}
	org := field{"Organization", e.Organization}
	cli := field{"Client", e.Client}
	switch e.Kind {
	case Subject:
		need, none = []field{sub}, []field{org, cli}
	case Member:
		need, none = []field{sub, org}, []field{cli}
	case Organization:
		need, none = []field{org}, []field{sub, cli}
	case Client:
		need, none = []field{cli}, []field{sub, org}
	default:
		return invalid("unknown kind %d", e.Kind)
	}
	for _, f := range need {
		if f.value == "" {
			return invalid("a %s entry needs %s", e.Kind, f.name)
		}
		if len(f.value) > MaxIDBytes {
			return invalid("%s is %d bytes, more than %d", f.name, len(f.value), MaxIDBytes)
		}
	}
	for _, f := range none {
		if f.value != "" {
			return invalid("a %s entry has no %s (a subject within one organization is a member entry)", e.Kind, f.name)
		}
	}
	if e.At.Before(minAt) || e.At.After(maxAt) {
		return invalid("At %s is not set or out of range", e.At.Format(time.RFC3339))
	}
	if e.Until.Before(e.At) || e.Until.After(maxAt) {
		return invalid("Until %s is before At %s or out of range", e.Until.Format(time.RFC3339), e.At.Format(time.RFC3339))
	}
	if len(e.Reason) > MaxReasonBytes {
		return invalid("Reason is %d bytes, more than %d", len(e.Reason), MaxReasonBytes)
	}
	if !printable(e.Reason) {
		return invalid("Reason must be printable UTF-8")
	}
	return nil
}

// Refuses reports whether e refuses t: t is of e's kind and IDs (a
// Subject entry refuses the tokens of its subject as actor too) and was
// issued at or before e.At (or carries no iat). It does not look at Until.
func (e Entry) Refuses(t Token) bool {
	switch e.Kind {
	case Subject:
		if e.Subject == "" || (t.Subject != e.Subject && t.Actor != e.Subject) {
			return false
		}
	case Member:
		if t.Subject == "" || t.Subject != e.Subject || t.Organization != e.Organization {
			return false
		}
	case Organization:
		if t.Organization == "" || t.Organization != e.Organization {
			return false
		}
	case Client:
		if t.Client == "" || t.Client != e.Client {
			return false
		}
	default:
		return false
	}
	return !t.IssuedAt.After(e.At)
}

// Token is what a revocation is checked against, taken from verified
// claims.
type Token struct {
	// Subject is the sub claim.
	Subject string
	// Actor is the actor of a delegated or impersonation token (act.sub,
	// from Logto's token exchange); empty for the subject's own token. A
	// Subject entry of the actor refuses the token too: a suspended or
	// deleted user acts for nobody.
	Actor string
	// Client is the client_id claim.
	Client string
	// Organization is the organization_id claim of an API token, or the ID
	// in an organization token's audience (urn:logto:organization:<id>).
	Organization string
	// IssuedAt is the iat claim; zero when absent (such a token is refused
	// by every entry of its IDs).
	IssuedAt time.Time
}

type field struct{ name, value string }

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidEntry}, args...)...)
}

func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}
