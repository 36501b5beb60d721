package middleware

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
)

// oracleDuplicate finds a duplicate top-level member with encoding/json's
// own tokenizer: slow, and the reference memberProblem must agree with.
func oracleDuplicate(b []byte) (string, bool) {
	dec := json.NewDecoder(bytes.NewReader(b))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return "", false
	}
	var seen []string
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return "", false
		}
		name := t.(string)
		if slices.Contains(seen, name) {
			return name, true
		}
		seen = append(seen, name)
		var skip json.RawMessage
		if dec.Decode(&skip) != nil {
			return "", false
		}
	}
	return "", false
}

func TestMemberProblem(t *testing.T) {
	tests := []struct {
		in     string
		claims bool // the registered names: claimNames, else headerNames
		want   string
	}{
		{`{"iss":"a","sub":"b","aud":["x","x"],"exp":1}`, true, ""},
		{`{"aud":"a","aud":"b"}`, true, `has the member "aud" twice`},
		{` { "aud" : "a" , "aud" : "b" } `, true, `has the member "aud" twice`},
		{`{"aud":"a","\u0061ud":"b"}`, true, `has the member "aud" twice`},
		{`{"x":{"a":1,"a":2},"y":[{"a":1},{"a":1}]}`, true, ""},
		{`{"x":"\"aud\":","aud":"\\","aud":1}`, true, `has the member "aud" twice`},
		{`{"x":"{[","y":"]}","x":1}`, true, `has the member "x" twice`},
		{`{"AUD":"a"}`, true, `has the member "AUD", which is not "aud"`},
		{`{"ſub":"admin"}`, true, `has the member "ſub", which is not "sub"`},
		{`{"Client_ID":"x"}`, true, `has the member "Client_ID", which is not "client_id"`},
		{`{"AUD":"a"}`, false, ""},
		{`{"ALG":"ES384"}`, false, `has the member "ALG", which is not "alg"`},
		{`{"Kid":"k"}`, false, `has the member "Kid", which is not "kid"`},
		{`{"crit":[],"CRIT":1}`, false, `has the member "CRIT", which is not "crit"`},
		{manyMembers(40, "m3"), true, `has the member "m3" twice`},
		{manyMembers(40, "m39"), true, `has the member "m39" twice`},
		{manyMembers(40, ""), true, ""},
		{manyMembers(17, "m0"), true, `has the member "m0" twice`},
		{`{"alg":"none","alg":"ES384"}`, false, `has the member "alg" twice`},
		{`{}`, true, ""},
		{"{\"a\xff\":1,\"a\xfe\":2}", true, "has the member \"a\ufffd\" twice"},
		{`{"a":"\ud800"}`, true, ""},
	}
	for _, tt := range tests {
		names := headerNames
		if tt.claims {
			names = claimNames[:]
		}
		if got := memberProblem([]byte(tt.in), names); got != tt.want {
			t.Errorf("memberProblem(%s, %v) = %q, want %q", tt.in, tt.claims, got, tt.want)
		}
	}
}

// FuzzMemberProblem checks the scanner against encoding/json's tokenizer on
// every valid JSON object the fuzzer finds.
func FuzzMemberProblem(f *testing.F) {
	for _, s := range []string{
		`{"iss":"https://t.logto.app/oidc","sub":"a","aud":"x","exp":1,"scope":"a b"}`,
		`{"aud":"a","aud":"b"}`, `{"a":{"b":[1,{"c":"}"}]},"a\"":2,"a":3}`,
		`{"alg":"ES384","typ":"at+jwt","kid":"k"}`, `{"\u0061":1,"a":2}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if !json.Valid(b) || !bytes.HasPrefix(bytes.TrimLeft(b, " \t\r\n"), []byte("{")) {
			return
		}
		name, dup := oracleDuplicate(b)
		got := memberProblem(b, nil)
		if dup != (got != "") {
			t.Fatalf("%q: memberProblem %q, encoding/json duplicate %v %q", b, got, dup, name)
		}
		if dup && !strings.Contains(got, quote(name)) && !strings.Contains(got, "not a valid string") {
			t.Fatalf("%q: memberProblem %q, encoding/json duplicate %q", b, got, name)
		}
	})
}

// manyMembers returns an object of n members m0, m1, ..., then dup again
// when it is not empty.
func manyMembers(n int, dup string) string {
	var b strings.Builder
	b.WriteString(`{`)
	for i := range n {
		fmt.Fprintf(&b, `"m%d":%d,`, i, i)
	}
	if dup != "" {
		fmt.Fprintf(&b, `"%s":0,`, dup)
	}
	return strings.TrimSuffix(b.String(), ",") + "}"
}

// oracleShape measures b with encoding/json's tokenizer: the members at the
// top level of an object and the deepest nesting.
func oracleShape(b []byte) (members, depth int, ok bool) {
	dec := json.NewDecoder(bytes.NewReader(b))
	d := 0
	for {
		t, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, 0, false
		}
		switch t {
		case json.Delim('{'), json.Delim('['):
			d++
			depth = max(depth, d)
		case json.Delim('}'), json.Delim(']'):
			d--
		}
	}
	dec = json.NewDecoder(bytes.NewReader(b))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return 0, depth, true
	}
	for dec.More() {
		if _, err := dec.Token(); err != nil {
			return 0, 0, false
		}
		members++
		var skip json.RawMessage
		if dec.Decode(&skip) != nil {
			return 0, 0, false
		}
	}
	return members, depth, true
}

func TestStructureProblem(t *testing.T) {
	tests := []struct {
		in   string
		max  int
		want string
	}{
		{`{"a":1,"b":{"c":[1,2,{"d":3}]}}`, 2, ""},
		{`{"a":1,"b":2,"c":3}`, 2, "has more than 2 members"},
		{`{"a":{"x":1,"y":2,"z":3}}`, 2, ""},
		{`{"a":"\":\":\":"}`, 1, ""},
		{`{"a":"x\\","b":1}`, 1, "has more than 1 members"},
		{`{"a":"\\\":,:,"}`, 1, ""},
		{nested(maxDepth), 1, ""},
		{nested(maxDepth + 1), 1, "nests deeper than 32 levels"},
		{`{"a":"` + strings.Repeat(`[`, 100) + `"}`, 1, ""},
		{`{"a":"unterminated`, 1, ""},
		// What follows an unterminated string is not scanned.
		{`{"a":"` + strings.Repeat(`{`, maxDepth+1), 1, ""},
		// A member after a nested value is at the top level again.
		{`{"a":{},"b":[],"c":2}`, 2, "has more than 2 members"},
		{`{` + strings.Repeat(`"a":[],`, maxDepth+1) + `"z":1}`, maxDepth + 2, ""},
		{manyMembers(maxClaimMembers, ""), maxClaimMembers, ""},
		{manyMembers(maxClaimMembers+1, ""), maxClaimMembers, "has more than 256 members"},
	}
	for _, tt := range tests {
		if got := structureProblem([]byte(tt.in), tt.max); got != tt.want {
			t.Errorf("structureProblem(%.60s, %d) = %q, want %q", tt.in, tt.max, got, tt.want)
		}
	}
}

func nested(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }

// FuzzStructureProblem checks the one-pass bound against encoding/json's
// tokenizer on every valid JSON text the fuzzer finds.
func FuzzStructureProblem(f *testing.F) {
	for _, s := range []string{
		`{"iss":"https://t.logto.app/oidc","sub":"a","aud":["x"],"exp":1}`,
		`{"a":"\"}\\","b":[{"c":{}}]}`, `[[[[]]]]`, `"x"`, `{"a":{"b":{"c":1}},"d":2}`,
	} {
		f.Add([]byte(s), uint8(2))
	}
	f.Fuzz(func(t *testing.T, b []byte, maxMembers uint8) {
		if !json.Valid(b) {
			return
		}
		members, depth, ok := oracleShape(b)
		if !ok {
			return
		}
		want := ""
		switch {
		case depth > maxDepth:
			want = "nests deeper"
		case members > int(maxMembers):
			want = "has more than"
		}
		got := structureProblem(b, int(maxMembers))
		// Either bound may be found first in the text; both refuse.
		if (got == "") != (want == "") {
			t.Fatalf("%q (max %d): structureProblem %q; encoding/json: %d members, depth %d", b, maxMembers, got, members, depth)
		}
	})
}

func TestArrayLen(t *testing.T) {
	for in, want := range map[string]int{
		`[]`: 0, ` [ ] `: 0, `["a"]`: 1, `["a","b"]`: 2, `["a,b","c"]`: 2, `[[1,2],{"a":1,"b":2},3]`: 3,
		`["\\",","]`: 2, `["\"",","]`: 2, `[1]`: 1, `[null,true]`: 2, `[[]]`: 1, `[{}]`: 1,
	} {
		var ref []json.RawMessage
		if err := json.Unmarshal([]byte(in), &ref); err != nil || len(ref) != want {
			t.Fatalf("bad row %s: %v, %d", in, err, len(ref))
		}
		if got := arrayLen([]byte(in)); got != want {
			t.Errorf("arrayLen(%s) = %d, want %d", in, got, want)
		}
	}
}

// TestMemberProblemAllocatesNothing: the member check of a token shaped as
// Logto's (a few members, no escapes) allocates nothing: the names it has
// seen fit on the stack until there are many.
func TestMemberProblemAllocatesNothing(t *testing.T) {
	header := []byte(`{"alg":"ES384","typ":"at+jwt","kid":"9Fy6Du07EKrtGmcQ06tw5uVUswe9ogyXaAgY6h8-bZw"}`)
	claims := []byte(`{"jti":"abc","sub":"app-1","iat":1,"exp":2,"scope":"read:products","client_id":"app-1","iss":"https://t.logto.app/oidc","aud":"https://api.example.com"}`)
	var p string
	allocs := testing.AllocsPerRun(100, func() {
		p = memberProblem(header, headerNames) + memberProblem(claims, claimNames[:])
	})
	if p != "" || allocs != 0 {
		t.Fatalf("memberProblem: %q, %v allocations; want none of either", p, allocs)
	}
}
