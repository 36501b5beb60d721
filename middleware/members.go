package middleware

import (
	"bytes"
	"encoding/json"
	"strings"
)

// claimNames are the claims decoded into tokenClaims. encoding/json matches
// object members to struct fields case-insensitively (with Unicode simple
// folding), so "AUD" or "ſub" would be read as aud or sub: members that
// fold to one of these names but are not exactly it are refused.
var claimNames = [...]string{"iss", "sub", "aud", "exp", "iat", "nbf", "jti", "scope", "client_id", "organization_id"}

// memberProblem returns a description of what is wrong with the member
// names at the top level of the JSON object in b: a name that appears twice
// (encoding/json keeps the last; another parser may keep the first, so the
// token could mean one thing here and another elsewhere: RFC 7515, section
// 4; RFC 8725, section 3.11), or, when claims is true, a name that only
// differs in case from a registered claim. It returns "" when there is none.
//
// b must be valid JSON: it is a segment that encoding/json has already
// decoded into an object. The scan only tracks strings and nesting, so it
// allocates nothing unless a name holds an escape sequence or non-ASCII.
func memberProblem(b []byte, claims bool) string {
	var seenBuf [16][]byte
	seen := seenBuf[:0]
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
			for _, prev := range seen {
				if bytes.Equal(prev, name) {
					return "has the member " + quote(string(name)) + " twice"
				}
			}
			seen = append(seen, name)
			if claims {
				if c := foldsToClaim(name, escaped); c != "" {
					return "has the member " + quote(string(name)) + ", which is not " + quote(c)
				}
			}
		}
	}
	return ""
}

// foldsToClaim returns the registered claim that name spells in another
// case, or "". Folding keeps the length of ASCII, so a plain ASCII name is
// compared only with names of its length; a name that was escaped or holds
// other bytes may fold from longer runes (ſ, the Kelvin sign) and is
// compared with all.
func foldsToClaim(name []byte, escaped bool) string {
	for _, c := range claimNames {
		if string(name) == c {
			return "" // the names do not fold to one another
		}
	}
	for _, c := range claimNames {
		if (escaped || len(name) == len(c)) && strings.EqualFold(string(name), c) {
			return c
		}
	}
	return ""
}

// checkMembers refuses a token whose header or claims repeat a member, or
// whose claims spell a registered claim in another case.
func (v *Validator) checkMembers(raw string) *Error {
	header, rest, _ := strings.Cut(raw, ".")
	payload, _, _ := strings.Cut(rest, ".")
	for _, seg := range [...]struct {
		part, name string
		claims     bool
	}{{header, "header", false}, {payload, "claims", true}} {
		b, err := v.parser.DecodeSegment(seg.part)
		if err != nil {
			return fail(CheckEncoding, ErrMalformed, "the token is not valid base64url")
		}
		if p := memberProblem(b, seg.claims); p != "" {
			return fail(CheckMembers, ErrMalformed, "the token's "+seg.name+" "+p)
		}
	}
	return nil
}
