package webhook

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/logtoguard/logtoguard/revocation"
)

// The events [Parse] maps to revocations.
const (
	UserSuspensionStatusUpdated   = "User.SuspensionStatus.Updated"
	UserDeleted                   = "User.Deleted"
	OrganizationMembershipUpdated = "Organization.Membership.Updated"
	OrganizationDeleted           = "Organization.Deleted"
)

// MembershipDeltaCap is the most IDs Logto puts in one list of an
// Organization.Membership.Updated event (removedUserIds and the others): a
// longer list is cut. A list of this length may be incomplete, so the whole
// organization's tokens are revoked instead.
const MembershipDeltaCap = 5000

// ErrPayload is the class of every error of [Parse]: the body is not a Logto
// webhook payload, or an event it uses lacks what it needs.
var ErrPayload = errors.New("webhook: invalid payload")

// Event is a parsed delivery.
type Event struct {
	// Name is the event, such as "User.Deleted".
	Name string
	// HookID is the webhook's ID in Logto.
	HookID string
	// CreatedAt is when Logto built the delivery, on Logto's clock, after
	// the change it reports.
	CreatedAt time.Time
	// Entries are the revocations the event makes, with At = CreatedAt and
	// no Until; none for an event that ends no access.
	Entries []revocation.Entry
}

// envelope is what every delivery carries; the rest depends on the event.
type envelope struct {
	Event     string `json:"event"`
	HookID    string `json:"hookId"`
	CreatedAt string `json:"createdAt"`
}

// dataHook is the management API context of a data hook event, and the
// fields of the events used here.
type dataHook struct {
	Method string            `json:"method"`
	Params map[string]string `json:"params"`
	Data   json.RawMessage   `json:"data"`

	// Organization.Membership.Updated
	// Logto omits a list that is empty; it sends none of them without its
	// dev features (in the versions that have them) or before it had them.
	OrganizationID        string   `json:"organizationId"`
	AddedUserIDs          []string `json:"addedUserIds"`
	RemovedUserIDs        []string `json:"removedUserIds"`
	AddedApplicationIDs   []string `json:"addedApplicationIds"`
	RemovedApplicationIDs []string `json:"removedApplicationIds"`
}

// user is the part of a user object (data of user events) read here.
type user struct {
	ID          string `json:"id"`
	IsSuspended *bool  `json:"isSuspended"`
}

// Parse reads a delivery's body, already authenticated, and returns the
// event and the revocations it makes. An event it does not use gives no
// entries and no error, whatever else its body holds. The errors match
// [ErrPayload].
func Parse(body []byte) (Event, error) {
	var env envelope
	if err := json.Unmarshal(body, &env); err != nil {
		return Event{}, fmt.Errorf("%w: not a JSON object with event and createdAt strings: %v", ErrPayload, err)
	}
	if env.Event == "" {
		return Event{}, fmt.Errorf("%w: no event", ErrPayload)
	}
	created, err := time.Parse(time.RFC3339Nano, env.CreatedAt)
	if err != nil {
		return Event{}, fmt.Errorf("%w: createdAt %q is not an ISO 8601 time", ErrPayload, clip(env.CreatedAt))
	}
	ev := Event{Name: env.Event, HookID: env.HookID, CreatedAt: created}
	switch env.Event {
	case UserSuspensionStatusUpdated, UserDeleted, OrganizationMembershipUpdated, OrganizationDeleted:
	default:
		return ev, nil
	}
	var d dataHook
	if err := json.Unmarshal(body, &d); err != nil {
		return ev, fmt.Errorf("%w: %s: %v", ErrPayload, env.Event, err)
	}
	entry := func(kind revocation.Kind, subject, org, reason string) revocation.Entry {
		return revocation.Entry{Kind: kind, Subject: subject, Organization: org, At: created, Until: created, Reason: reason}
	}
	switch env.Event {
	case UserSuspensionStatusUpdated, UserDeleted:
		u, err := d.user()
		if err != nil {
			return ev, fmt.Errorf("%w: %s: %v", ErrPayload, env.Event, err)
		}
		switch {
		case env.Event == UserDeleted:
			ev.Entries = append(ev.Entries, entry(revocation.Subject, u.ID, "", "user deleted"))
		case u.IsSuspended == nil:
			// The status is not said: fail closed.
			ev.Entries = append(ev.Entries, entry(revocation.Subject, u.ID, "", "user suspension status changed"))
		case *u.IsSuspended:
			ev.Entries = append(ev.Entries, entry(revocation.Subject, u.ID, "", "user suspended"))
		}
	case OrganizationDeleted:
		org := d.Params["id"]
		if org == "" {
			var o struct {
				ID string `json:"id"`
			}
			_ = json.Unmarshal(d.Data, &o) // absent for a 204; an empty ID is refused below
			org = o.ID
		}
		if org == "" {
			return ev, fmt.Errorf("%w: %s names no organization (params.id)", ErrPayload, env.Event)
		}
		ev.Entries = append(ev.Entries, entry(revocation.Organization, "", org, "organization deleted"))
	case OrganizationMembershipUpdated:
		org := d.OrganizationID
		if org == "" {
			org = d.Params["id"]
		}
		if org == "" {
			return ev, fmt.Errorf("%w: %s names no organization (organizationId)", ErrPayload, env.Event)
		}
		const removed = "removed from the organization"
		seen := map[string]bool{}
		member := func(id string) {
			if !seen[id] {
				seen[id] = true
				ev.Entries = append(ev.Entries, entry(revocation.Member, id, org, removed))
			}
		}
		for _, id := range d.RemovedUserIDs {
			member(id)
		}
		for _, id := range d.RemovedApplicationIDs {
			member(id)
		}
		// Without the lists (Logto before they were added, or with them
		// turned off): DELETE /organizations/:id/users/:userId and
		// /applications/:applicationId name the one removed.
		if d.Method == http.MethodDelete {
			for _, p := range []string{"userId", "applicationId"} {
				if id := d.Params[p]; id != "" {
					member(id)
				}
			}
		}
		// A replacement (PUT) that lists nobody, or a list Logto may have
		// cut: whoever left is unknown, so every token for the organization
		// issued before it is refused (members get new ones). A PUT that
		// lists only whom it added removed nobody: Logto omits an empty
		// list, so any list present means the lists were sent.
		unknown := d.Method == http.MethodPut && d.AddedUserIDs == nil && d.RemovedUserIDs == nil &&
			d.AddedApplicationIDs == nil && d.RemovedApplicationIDs == nil
		if unknown || len(d.RemovedUserIDs) >= MembershipDeltaCap || len(d.RemovedApplicationIDs) >= MembershipDeltaCap {
			ev.Entries = append(ev.Entries, entry(revocation.Organization, "", org, "organization membership replaced"))
		}
	}
	for _, e := range ev.Entries {
		if err := e.Validate(); err != nil {
			return ev, fmt.Errorf("%w: %s: %v", ErrPayload, env.Event, err)
		}
	}
	return ev, nil
}

// user returns the user a user event is about: data.id, or params.userId;
// when both are present they must agree.
func (d *dataHook) user() (user, error) {
	var u user
	if len(d.Data) > 0 && string(d.Data) != "null" {
		if err := json.Unmarshal(d.Data, &u); err != nil {
			return u, fmt.Errorf("data is not a user object: %v", err)
		}
	}
	param := d.Params["userId"]
	switch {
	case u.ID == "" && param == "":
		return u, errors.New("names no user (data.id, params.userId)")
	case u.ID == "":
		u.ID = param
	case param != "" && param != u.ID:
		return u, fmt.Errorf("data.id %q and params.userId %q differ", clip(u.ID), clip(param))
	}
	return u, nil
}

// clip cuts s to 64 bytes, for an error message.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
