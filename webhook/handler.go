package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/logtoguard/logtoguard/middleware"
	"github.com/logtoguard/logtoguard/revocation"
)

// SignatureHeader is the header Logto signs its deliveries in.
const SignatureHeader = "logto-signature-sha-256"

// Defaults of [Config].
const (
	// DefaultWindow is how far createdAt may be from the receiver's clock:
	// Logto delivers at once and retries within seconds.
	DefaultWindow = 10 * time.Minute
	// DefaultMaxBodyBytes bounds a delivery: an Organization.Membership.Updated
	// event lists up to 4 x 5,000 IDs, about 470 KB.
	DefaultMaxBodyBytes = 1 << 20
	// DefaultLifetime is how long an entry is kept after its event when the
	// store does not decide (the Validator does: its MaxTokenLifetime plus
	// leeway): the validator's defaults.
	DefaultLifetime = middleware.DefaultMaxTokenLifetime + middleware.DefaultLeeway
	// MinSigningKeyBytes is the shortest signing key accepted; Logto's are
	// 32 characters.
	MinSigningKeyBytes = 16
)

// Config configures a [Handler]. SigningKeys and Store are required.
type Config struct {
	// SigningKeys are the webhook's signing keys (Console > Webhooks > the
	// webhook > Signing key). A delivery signed with any of them is
	// accepted: list the old and the new key while rotating. Read them from
	// the environment or a file, never from code.
	SigningKeys []string
	// Store records the revocations: usually the *middleware.Validator,
	// whose Revoke keeps an entry as long as a token it refuses can live, so
	// that the webhook and the validator share one store (Redis, with
	// several replicas).
	Store revocation.Store
	// Lifetime sets Until = At + Lifetime on every entry. Default
	// DefaultLifetime; the Validator raises it to its own MaxTokenLifetime
	// plus leeway when that is longer.
	Lifetime time.Duration
	// Window refuses a delivery whose createdAt is further than this from
	// now, before or after (a replay of an old delivery). Default
	// DefaultWindow.
	Window time.Duration
	// MaxBodyBytes bounds the body: a longer one gets 413. Default
	// DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Logger receives each delivery's outcome (Info), never a signing key
	// or a body. Default slog.Default().
	Logger *slog.Logger
}

// Handler receives Logto webhooks: see the package documentation. It is
// safe for concurrent use.
type Handler struct {
	keys [][]byte
	cfg  Config
}

// New validates cfg and returns a Handler.
func New(cfg Config) (*Handler, error) {
	if len(cfg.SigningKeys) == 0 {
		return nil, errors.New("webhook: SigningKeys is required (Console > Webhooks > your webhook > Signing key)")
	}
	h := &Handler{}
	for i, k := range cfg.SigningKeys {
		k = strings.TrimSpace(k)
		if len(k) < MinSigningKeyBytes {
			return nil, fmt.Errorf("webhook: signing key %d is %d bytes, fewer than %d (Logto's are 32 characters)", i+1, len(k), MinSigningKeyBytes)
		}
		h.keys = append(h.keys, []byte(k))
	}
	cfg.SigningKeys = nil // kept only as keys
	if cfg.Store == nil {
		return nil, errors.New("webhook: Store is required (the *middleware.Validator, or a revocation.Store)")
	}
	switch {
	case cfg.Lifetime < 0, cfg.Window < 0, cfg.MaxBodyBytes < 0:
		return nil, errors.New("webhook: Lifetime, Window and MaxBodyBytes must not be negative")
	}
	if cfg.Lifetime == 0 {
		cfg.Lifetime = DefaultLifetime
	}
	if cfg.Window == 0 {
		cfg.Window = DefaultWindow
	}
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	h.cfg = cfg
	return h, nil
}

// ParseSigningKeys splits a comma-separated list of signing keys, such as
// the value of LOGTO_WEBHOOK_SIGNING_KEY, dropping spaces and empty items.
func ParseSigningKeys(s string) []string {
	var keys []string
	for _, k := range strings.Split(s, ",") {
		if k = strings.TrimSpace(k); k != "" {
			keys = append(keys, k)
		}
	}
	return keys
}

// result is the JSON body of every answer.
type result struct {
	Event   string `json:"event,omitempty"`
	Revoked int    `json:"revoked"`
	Error   string `json:"error,omitempty"`
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		h.answer(w, http.StatusMethodNotAllowed, result{Error: "only POST"})
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.cfg.MaxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			h.refuse(w, r, http.StatusRequestEntityTooLarge, fmt.Sprintf("the body is larger than %d bytes", h.cfg.MaxBodyBytes))
			return
		}
		h.refuse(w, r, http.StatusBadRequest, "the body could not be read")
		return
	}
	if !h.signed(r.Header.Values(SignatureHeader), body) {
		h.refuse(w, r, http.StatusUnauthorized, "the "+SignatureHeader+" signature is missing or does not match a signing key")
		return
	}
	ev, err := Parse(body)
	if err != nil {
		h.refuse(w, r, http.StatusBadRequest, err.Error())
		return
	}
	now := h.cfg.Now()
	if d := now.Sub(ev.CreatedAt); d > h.cfg.Window || d < -h.cfg.Window {
		h.refuse(w, r, http.StatusBadRequest, fmt.Sprintf("createdAt %s is more than %s from now (a replay, or a clock far off)", ev.CreatedAt.UTC().Format(time.RFC3339), h.cfg.Window))
		return
	}
	for i, e := range ev.Entries {
		e.Until = e.At.Add(h.cfg.Lifetime)
		if err := h.cfg.Store.Revoke(r.Context(), e); err != nil {
			if errors.Is(err, revocation.ErrInvalidEntry) {
				h.refuse(w, r, http.StatusBadRequest, err.Error())
				return
			}
			// Not recorded: Logto delivers again on a 5xx. What was recorded
			// merges with the same entries then.
			h.cfg.Logger.LogAttrs(r.Context(), slog.LevelError, "logtoguard: webhook event not recorded, answered 503 so that Logto retries",
				slog.String("event", ev.Name), slog.String("hook_id", clip(ev.HookID)), slog.Int("recorded", i), slog.Int("entries", len(ev.Entries)), slog.String("error", err.Error()))
			h.answer(w, http.StatusServiceUnavailable, result{Event: ev.Name, Revoked: i, Error: "the revocation could not be recorded; retry"})
			return
		}
	}
	if len(ev.Entries) > 0 {
		attrs := []slog.Attr{slog.String("event", ev.Name), slog.String("hook_id", clip(ev.HookID)), slog.Int("entries", len(ev.Entries))}
		for _, e := range ev.Entries[:min(len(ev.Entries), 5)] {
			attrs = append(attrs, slog.String("revoked", e.Key()))
		}
		h.cfg.Logger.LogAttrs(r.Context(), slog.LevelInfo, "logtoguard: webhook event recorded", attrs...)
	}
	h.answer(w, http.StatusOK, result{Event: ev.Name, Revoked: len(ev.Entries)})
}

// signed reports whether values hold exactly one signature that is the
// HMAC-SHA256 of body with one of the keys: hex, as Logto sends it, with or
// without a "sha256=" prefix. Every key is tried, each comparison in
// constant time.
func (h *Handler) signed(values []string, body []byte) bool {
	if len(values) != 1 {
		return false
	}
	v := strings.TrimSpace(values[0])
	if len(v) > len("sha256=") && strings.EqualFold(v[:len("sha256=")], "sha256=") {
		v = v[len("sha256="):]
	}
	got, err := hex.DecodeString(v)
	if err != nil || len(got) != sha256.Size {
		return false
	}
	ok := false
	for _, k := range h.keys {
		m := hmac.New(sha256.New, k)
		m.Write(body)
		if hmac.Equal(m.Sum(nil), got) {
			ok = true
		}
	}
	return ok
}

// refuse answers a delivery that is not acted on: never 5xx, so that Logto
// does not deliver it again.
func (h *Handler) refuse(w http.ResponseWriter, r *http.Request, status int, why string) {
	h.cfg.Logger.LogAttrs(r.Context(), slog.LevelInfo, "logtoguard: webhook delivery refused",
		slog.Int("status", status), slog.String("reason", why), slog.String("remote", r.RemoteAddr))
	h.answer(w, status, result{Error: why})
}

func (h *Handler) answer(w http.ResponseWriter, status int, res result) {
	b, _ := json.Marshal(res)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
