package middleware

import (
	"strings"
	"testing"
)

// TestCapText: a text of up to n bytes is kept whole; a longer one is cut
// to at most n bytes on a character boundary and marked.
func TestCapText(t *testing.T) {
	tests := []struct {
		s    string
		n    int
		want string
	}{
		{"", 3, ""},
		{"abc", 3, "abc"},
		{"abcd", 3, "abc..."},
		{strings.Repeat("x", 100), 100, strings.Repeat("x", 100)},
		{strings.Repeat("x", 101), 100, strings.Repeat("x", 100) + "..."},
		{"aé", 2, "a..."}, // é is two bytes: not cut in its middle
		{"aé", 3, "aé"},
		{"éé", 1, "..."},
		{"\x80\x80\x80abc", 2, "..."}, // invalid UTF-8: no character starts before the bound
	}
	for _, tt := range tests {
		if got := capText(tt.s, tt.n); got != tt.want {
			t.Errorf("capText(%q, %d) = %q, want %q", tt.s, tt.n, got, tt.want)
		}
	}
}

// TestText: plain printable ASCII is written as it is; a space, a control
// character, DEL, non-ASCII, quotes, backslashes, commas and brackets are
// quoted.
func TestText(t *testing.T) {
	tests := []struct{ s, want string }{
		{"app-1", "app-1"},
		{"~!", "~!"},
		{"a b", `"a b"`},
		{"a\x1f", `"a\x1f"`},
		{"a\x7f", `"a\x7f"`},
		{"é", `"é"`},
		{`a"b`, `"a\"b"`},
		{`a\b`, `"a\\b"`},
		{"a,b", `"a,b"`},
		{"[a]", `"[a]"`},
	}
	for _, tt := range tests {
		if got := text(tt.s); got != tt.want {
			t.Errorf("text(%q) = %s, want %s", tt.s, got, tt.want)
		}
	}
}
