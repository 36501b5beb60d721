package middleware

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// claimNames are the claims decoded into tokenClaims. encoding/json matches
// object members to struct fields case-insensitively (with Unicode simple
// folding), so "AUD" or "ſub" would be read as aud or sub: members that
// fold to one of these names but are not exactly it are refused.
var claimNames = [...]string{"iss", "sub", "aud", "exp", "iat", "nbf", "jti", "scope", "client_id", "organization_id", "act"}

// Bounds on the shape of a token's header and claims, checked by
// structureProblem before any JSON decoding. Logto's header has 3 members
// and its claims about 10, plus what a custom JWT script adds; JSON nested
// deeper than a few levels has no use in a token.
const (
	maxHeaderMembers = 32
	maxClaimMembers  = 256
	maxDepth         = 32
	// maxAudiences bounds an aud array, counted before its strings are
	// decoded: Logto's aud is one string.
	maxAudiences = 64
)

// structureProblem bounds the shape of the JSON text b in one pass that
// allocates nothing: at most maxMembers members at the top level, nesting
// at most maxDepth deep. It returns what is wrong, or "". b need not be
// valid JSON (the decoder that runs next refuses it); the pass only has to
// be linear in len(b) and skip strings as JSON does.
func structureProblem(b []byte, maxMembers int) string {
	depth, members := 0, 0
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '"':
			if i = stringEnd(b, i); i < 0 {
				return ""
			}
		case '{', '[':
			if depth++; depth > maxDepth {
				return fmt.Sprintf("nests deeper than %d levels", maxDepth)
			}
		case '}', ']':
			depth--
		case ':':
			if depth == 1 {
				if members++; members > maxMembers {
					return fmt.Sprintf("has more than %d members", maxMembers)
				}
			}
		}
	}
	return ""
}

// stringEnd returns the index of the quote that closes the JSON string
// opened at b[open], or -1: the first quote after an even run of
// backslashes. Each run is counted once, so a scan of b that skips its
// strings with stringEnd stays linear.
func stringEnd(b []byte, open int) int {
	i := open
	for {
		j := bytes.IndexByte(b[i+1:], '"')
		if j < 0 {
			return -1
		}
		i += 1 + j
		k := i - 1
		for b[k] == '\\' {
			k--
		}
		if (i-1-k)%2 == 0 {
			return i
		}
	}
}

// arrayLen returns the number of values in the JSON array b (valid JSON),
// without decoding them: the commas at its top level, plus one.
func arrayLen(b []byte) int {
	depth, n, empty := 0, 1, true
	for i := 0; i < len(b); i++ {
		switch c := b[i]; c {
		case '"':
			empty = false
			if i = stringEnd(b, i); i < 0 {
				return n
			}
		case '{', '[':
			if depth++; depth > 1 {
				empty = false
			}
		case '}', ']':
			depth--
		case ',':
			if depth == 1 {
				n++
			}
		case ' ', '\t', '\r', '\n':
		default:
			empty = false
		}
	}
	if empty {
		return 0
	}
	return n
}

// memberProblem returns a description of what is wrong with the member
// names at the top level of the JSON object in b: a name that appears twice
// (encoding/json keeps the last; another parser may keep the first, so the
// token could mean one thing here and another elsewhere: RFC 7515, section
// 4; RFC 8725, section 3.11), or a name that only differs in case from one
// of registered, the names decoded into fields. It returns "" when there is
// none.
//
// b must be valid JSON whose shape structureProblem accepted: the scan is
// linear in len(b) (beyond 16 names, they are compared through a map), and
// allocates nothing unless there are more names or a name holds an escape
// sequence or non-ASCII.
func memberProblem(b []byte, registered []string) string {
	var seenBuf [16][]byte
	seen := seenBuf[:0]
	var seenMap map[string]struct{} // once seen is full
	depth := 0
	expectName := false
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '{':
			depth++
			expectName = depth == 1
		case '[':
			depth++
		case '}', ']':
			depth--
		case ',':
			expectName = depth == 1
		case '"':
			start, escaped := i, false
			for i++; i < len(b) && b[i] != '"'; i++ {
				switch {
				case b[i] == '\\':
					i++
					escaped = true
				case b[i] >= 0x80:
					// Decoded as encoding/json does: invalid UTF-8
					// becomes U+FFFD.
					escaped = true
				}
			}
			if !expectName {
				continue
			}
			expectName = false
			name := b[start+1 : i]
			if escaped {
				var s string
				if json.Unmarshal(b[start:i+1], &s) != nil {
					return "a member name is not a valid string"
				}
				name = []byte(s)
			}
			var dup bool
			if seenMap == nil && len(seen) == cap(seen) {
				seenMap = make(map[string]struct{}, 4*len(seen))
				for _, s := range seen {
					seenMap[string(s)] = struct{}{}
				}
			}
			if seenMap != nil {
				_, dup = seenMap[string(name)]
				seenMap[string(name)] = struct{}{}
			} else {
				dup = slices.ContainsFunc(seen, func(s []byte) bool { return bytes.Equal(s, name) })
				seen = append(seen, name)
			}
			if dup {
				return "has the member " + quote(string(name)) + " twice"
			}
			if c := foldsTo(name, escaped, registered); c != "" {
				return "has the member " + quote(string(name)) + ", which is not " + quote(c)
			}
		}
	}
	return ""
}

// foldsTo returns the name of registered that name spells in another case,
// or "". Folding keeps the length of ASCII, so a plain ASCII name is
// compared only with names of its length; a name that was escaped or holds
// other bytes may fold from longer runes (ſ, the Kelvin sign) and is
// compared with all.
func foldsTo(name []byte, escaped bool, registered []string) string {
	for _, c := range registered {
		if string(name) == c {
			return "" // the names do not fold to one another
		}
	}
	for _, c := range registered {
		if (escaped || len(name) == len(c)) && strings.EqualFold(string(name), c) {
			return c
		}
	}
	return ""
}
