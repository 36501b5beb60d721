package logtotest

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// SignWebhook returns the logto-signature-sha-256 header Logto sends with
// a webhook delivery: the hex HMAC-SHA256 of the raw body, keyed with the
// webhook's signing key.
func SignWebhook(signingKey string, body []byte) string {
	m := hmac.New(sha256.New, []byte(signingKey))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// Webhook sends deliveries shaped and signed as Logto's webhooks send them
// to an endpoint: a test's way to check a receiver (package webhook, or one
// of the user's own) without a Logto. URL and SigningKey are required.
type Webhook struct {
	// URL is the endpoint, such as srv.URL + "/logto/webhooks".
	URL string
	// SigningKey signs every delivery, as the webhook's signing key in the
	// Logto console does.
	SigningKey string
	// HookID is the hookId of every delivery. Default "hook-test".
	HookID string
	// Client sends the deliveries. Default http.DefaultClient.
	Client *http.Client
	// Now gives createdAt. Default time.Now.
	Now func() time.Time
}

// Send posts payload as one delivery: hookId and createdAt are added when
// absent, and the body is signed. It returns the status and body of the
// answer.
func (h *Webhook) Send(ctx context.Context, payload map[string]any) (int, []byte, error) {
	p := make(map[string]any, len(payload)+2)
	for k, v := range payload {
		p[k] = v
	}
	if _, ok := p["hookId"]; !ok {
		p["hookId"] = h.hookID()
	}
	if _, ok := p["createdAt"]; !ok {
		p["createdAt"] = h.now().UTC().Format("2006-01-02T15:04:05.000Z")
	}
	body, err := json.Marshal(p)
	if err != nil {
		return 0, nil, fmt.Errorf("logtotest: %w", err)
	}
	return h.SendRaw(ctx, body, SignWebhook(h.SigningKey, body))
}

// SendRaw posts body with signature as the logto-signature-sha-256 header
// (none when empty), as Logto does: for tests of bodies and signatures a
// receiver must refuse.
func (h *Webhook) SendRaw(ctx context.Context, body []byte, signature string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.URL, bytes.NewReader(body))
	if err != nil {
		return 0, nil, fmt.Errorf("logtotest: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Logto (https://logto.io/)")
	if signature != "" {
		req.Header.Set("logto-signature-sha-256", signature)
	}
	client := h.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("logtotest: %w", err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, answer, err
}

// userObject is a user as Logto's webhooks carry it (its user info fields).
func userObject(userID string, suspended bool, now time.Time) map[string]any {
	return map[string]any{
		"id": userID, "username": userID, "primaryEmail": nil, "primaryPhone": nil, "name": nil, "avatar": nil,
		"customData": map[string]any{}, "identities": map[string]any{}, "profile": map[string]any{},
		"applicationId": nil, "isSuspended": suspended, "lastSignInAt": now.UnixMilli(),
		"createdAt": now.UnixMilli(), "updatedAt": now.UnixMilli(),
	}
}

// SuspendUser sends User.SuspensionStatus.Updated for userID with
// isSuspended true, as PATCH /api/users/:userId/is-suspended makes Logto send
// it.
func (h *Webhook) SuspendUser(ctx context.Context, userID string) (int, []byte, error) {
	return h.Send(ctx, map[string]any{
		"event": "User.SuspensionStatus.Updated", "path": "/users/" + userID + "/is-suspended", "method": "PATCH",
		"status": 200, "params": map[string]any{"userId": userID}, "matchedRoute": "/users/:userId/is-suspended",
		"data": userObject(userID, true, h.now()),
	})
}

// DeleteUser sends User.Deleted for userID, as DELETE /api/users/:userId
// makes Logto send it.
func (h *Webhook) DeleteUser(ctx context.Context, userID string) (int, []byte, error) {
	return h.Send(ctx, map[string]any{
		"event": "User.Deleted", "path": "/users/" + userID, "method": "DELETE", "status": 204,
		"params": map[string]any{"userId": userID}, "matchedRoute": "/users/:userId",
		"data": userObject(userID, false, h.now()),
	})
}

// RemoveMember sends Organization.Membership.Updated for userID removed from
// organizationID, as DELETE /api/organizations/:id/users/:userId makes Logto
// send it (with removedUserIds, as Logto lists removals).
func (h *Webhook) RemoveMember(ctx context.Context, organizationID, userID string) (int, []byte, error) {
	return h.Send(ctx, map[string]any{
		"event": "Organization.Membership.Updated", "path": "/organizations/" + organizationID + "/users/" + userID,
		"method": "DELETE", "status": 204, "params": map[string]any{"id": organizationID, "userId": userID},
		"matchedRoute": "/organizations/:id/users/:userId", "organizationId": organizationID,
		"removedUserIds": []string{userID},
	})
}

// DeleteOrganization sends Organization.Deleted, as DELETE
// /api/organizations/:id makes Logto send it.
func (h *Webhook) DeleteOrganization(ctx context.Context, organizationID string) (int, []byte, error) {
	return h.Send(ctx, map[string]any{
		"event": "Organization.Deleted", "path": "/organizations/" + organizationID, "method": "DELETE",
		"status": 204, "params": map[string]any{"id": organizationID}, "matchedRoute": "/organizations/:id",
	})
}

func (h *Webhook) hookID() string {
	if h.HookID != "" {
		return h.HookID
	}
	return "hook-test"
}

func (h *Webhook) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}
