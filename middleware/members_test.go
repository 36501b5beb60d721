package middleware

import (
	"bytes"
	"encoding/json"
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
		claims bool
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
		{`{"alg":"none","alg":"ES384"}`, false, `has the member "alg" twice`},
		{`{}`, true, ""},
		{"{\"a\xff\":1,\"a\xfe\":2}", true, "has the member \"a\ufffd\" twice"},
		{`{"a":"\ud800"}`, true, ""},
	}
	for _, tt := range tests {
		if got := memberProblem([]byte(tt.in), tt.claims); got != tt.want {
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
		got := memberProblem(b, false)
		if dup != (got != "") {
			t.Fatalf("%q: memberProblem %q, encoding/json duplicate %v %q", b, got, dup, name)
		}
		if dup && !strings.Contains(got, quote(name)) && !strings.Contains(got, "not a valid string") {
			t.Fatalf("%q: memberProblem %q, encoding/json duplicate %q", b, got, name)
		}
	})
}
