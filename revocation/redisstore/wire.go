package redisstore

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/logtoguard/logtoguard/revocation"
	"github.com/redis/go-redis/v9"
)

// How an entry is kept in Redis: a hash per entry key, its fields below,
// expiring at Until. Times are Unix microseconds in decimal: exact in the
// doubles Lua compares them as (up to 2^53, the year 2255), and finer than
// any token's iat.
const (
	fieldKind   = "k"
	fieldSub    = "s"
	fieldOrg    = "o"
	fieldClient = "c"
	fieldAt     = "a"
	fieldUntil  = "u"
	fieldReason = "r"
)

// recordScript merges an entry into the one Redis holds under the same key
// (the later At with its Reason, the later Until), sets the key to expire
// at the merged Until, and publishes the merged entry, all in one atomic
// step: a replica that subscribed before the script ran receives it, one
// that loads after it ran reads it.
//
// KEYS[1] the entry's key; ARGV: channel, kind, subject, organization,
// client, at, until, reason.
var recordScript = redis.NewScript(`
local cur = redis.call('HMGET', KEYS[1], 'a', 'u', 'r')
local a, u, r = ARGV[6], ARGV[7], ARGV[8]
local ca, cu = tonumber(cur[1]), tonumber(cur[2])
if ca and ca > tonumber(a) then
  a = cur[1]
  r = cur[3] or ''
end
if cu and cu > tonumber(u) then
  u = cur[2]
end
redis.call('HSET', KEYS[1], 'k', ARGV[2], 's', ARGV[3], 'o', ARGV[4], 'c', ARGV[5], 'a', a, 'u', u, 'r', r)
redis.call('PEXPIREAT', KEYS[1], string.format('%d', math.ceil(tonumber(u) / 1000)))
redis.call('PUBLISH', ARGV[1], cjson.encode({k = ARGV[2], s = ARGV[3], o = ARGV[4], c = ARGV[5], a = a, u = u, r = r}))
return 1
`)

// maxTime is the latest time an entry may carry: Unix microseconds up to
// 2^53 are exact in Lua's doubles (the year 2255; [revocation.Entry.Validate]
// allows up to 2262).
var maxTime = time.UnixMicro(1 << 53)

// checkEntry checks e as [revocation.Entry.Validate] does, and refuses
// besides what the store could not carry through Redis unchanged: times
// after maxTime, and IDs that are not UTF-8 (JSON on the channel would
// replace their bytes, and the entry would no longer match the token).
func checkEntry(e revocation.Entry) error {
	if err := e.Validate(); err != nil {
		return fmt.Errorf("redisstore: %w", err)
	}
	if e.Until.After(maxTime) {
		return fmt.Errorf("redisstore: %w: Until %s after %s", revocation.ErrInvalidEntry, e.Until.UTC().Format(time.RFC3339), maxTime.UTC().Format(time.RFC3339))
	}
	for _, s := range []string{e.Subject, e.Organization, e.Client} {
		if !utf8.ValidString(s) {
			return fmt.Errorf("redisstore: %w: an ID is not UTF-8", revocation.ErrInvalidEntry)
		}
	}
	return nil
}

// ceilMicro rounds t up to the microsecond: At rounded up refuses a token
// issued within that microsecond too, never one fewer.
func ceilMicro(t time.Time) time.Time {
	r := time.UnixMicro(t.UnixMicro())
	if r.Before(t) {
		r = time.UnixMicro(t.UnixMicro() + 1)
	}
	return r
}

// scriptArgs are the ARGV of recordScript for e.
func scriptArgs(channel string, e revocation.Entry) []any {
	return []any{
		channel,
		strconv.FormatUint(uint64(e.Kind), 10),
		e.Subject, e.Organization, e.Client,
		strconv.FormatInt(e.At.UnixMicro(), 10),
		strconv.FormatInt(e.Until.UnixMicro(), 10),
		e.Reason,
	}
}

// message is an entry as recordScript publishes it: every value a string.
type message struct {
	Kind   string `json:"k"`
	Sub    string `json:"s"`
	Org    string `json:"o"`
	Client string `json:"c"`
	At     string `json:"a"`
	Until  string `json:"u"`
	Reason string `json:"r"`
}

// decodeMessage reads a published entry.
func decodeMessage(payload string) (revocation.Entry, error) {
	var m message
	if err := json.Unmarshal([]byte(payload), &m); err != nil {
		return revocation.Entry{}, fmt.Errorf("redisstore: message: %w", err)
	}
	return decode(m)
}

// decodeFields reads an entry's hash.
func decodeFields(f map[string]string) (revocation.Entry, error) {
	return decode(message{
		Kind: f[fieldKind], Sub: f[fieldSub], Org: f[fieldOrg], Client: f[fieldClient],
		At: f[fieldAt], Until: f[fieldUntil], Reason: f[fieldReason],
	})
}

func decode(m message) (revocation.Entry, error) {
	kind, err := strconv.ParseUint(m.Kind, 10, 8)
	if err != nil {
		return revocation.Entry{}, fmt.Errorf("redisstore: entry kind %q", m.Kind)
	}
	at, err := strconv.ParseInt(m.At, 10, 64)
	if err != nil {
		return revocation.Entry{}, fmt.Errorf("redisstore: entry time %q", m.At)
	}
	until, err := strconv.ParseInt(m.Until, 10, 64)
	if err != nil {
		return revocation.Entry{}, fmt.Errorf("redisstore: entry time %q", m.Until)
	}
	e := revocation.Entry{
		Kind:         revocation.Kind(kind),
		Subject:      m.Sub,
		Organization: m.Org,
		Client:       m.Client,
		At:           time.UnixMicro(at),
		Until:        time.UnixMicro(until),
		Reason:       m.Reason,
	}
	if err := checkEntry(e); err != nil {
		return revocation.Entry{}, err
	}
	return e, nil
}

// globEscape escapes the characters SCAN's MATCH reads as a pattern, so a
// prefix matches only itself.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '*', '?', '[', ']', '\\':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
