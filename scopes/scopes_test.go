package scopes

import (
	"slices"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{" ", nil},
		{"   ", nil},
		{"read:products", []string{"read:products"}},
		{"read:products write:products", []string{"read:products", "write:products"}},
		{"  a  b ", []string{"a", "b"}},
		{"a\tb", []string{"a\tb"}},
		{"a\nb c", []string{"a\nb", "c"}},
		{"urn:logto:scope:organizations all", []string{"urn:logto:scope:organizations", "all"}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got := Parse(tt.in)
			if !slices.Equal(got, tt.want) {
				t.Fatalf("Parse(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if tt.want == nil && got != nil {
				t.Fatalf("Parse(%q) = %#v, want nil", tt.in, got)
			}
		})
	}
}

func TestRequirement(t *testing.T) {
	granted := []string{"read:products", "write:orders"}
	tests := []struct {
		name        string
		req         Requirement
		wantOK      bool
		wantMissing []string
		wantString  string
	}{
		{"zero value", Requirement{}, true, nil, ""},
		{"all none", All(), true, nil, ""},
		{"any none", Any(), true, nil, ""},
		{"all met", All("read:products"), true, nil, "read:products"},
		{"all met two", All("read:products", "write:orders"), true, nil, "read:products write:orders"},
		{"all one missing", All("read:products", "write:products"), false, []string{"write:products"}, "read:products write:products"},
		{"all all missing", All("a", "b"), false, []string{"a", "b"}, "a b"},
		{"all dedup and empty", All("a", "", "a"), false, []string{"a"}, "a"},
		{"any met", Any("write:products", "read:products"), true, nil, "write:products read:products"},
		{"any missing", Any("a", "b"), false, []string{"a", "b"}, "a b"},
		{"case sensitive", All("Read:Products"), false, []string{"Read:Products"}, "Read:Products"},
		{"no prefix match", All("read"), false, []string{"read"}, "read"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.req.Satisfied(granted); got != tt.wantOK {
				t.Errorf("Satisfied = %v, want %v", got, tt.wantOK)
			}
			if got := tt.req.Missing(granted); !slices.Equal(got, tt.wantMissing) {
				t.Errorf("Missing = %q, want %q", got, tt.wantMissing)
			}
			if got := tt.req.String(); got != tt.wantString {
				t.Errorf("String = %q, want %q", got, tt.wantString)
			}
		})
	}
}

func TestRequirementNoScopesGranted(t *testing.T) {
	for _, granted := range [][]string{nil, Parse(""), {}} {
		if All("a").Satisfied(granted) || Any("a").Satisfied(granted) {
			t.Fatalf("a requirement was met by %q", granted)
		}
	}
}

func TestScopesIsACopy(t *testing.T) {
	r := All("a", "b")
	s := r.Scopes()
	s[0] = "x"
	if got := r.String(); got != "a b" {
		t.Fatalf("changing Scopes() changed the requirement: %q", got)
	}
	if r.Mode() != AllOf || Any("a").Mode() != AnyOf {
		t.Fatal("wrong mode")
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"", " ", "read:products write:products", "a  b", "a\tb", "all", strings.Repeat("x ", 100)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, claim string) {
		got := Parse(claim)
		if strings.Join(got, " ") != strings.Join(strings.FieldsFunc(claim, func(r rune) bool { return r == ' ' }), " ") {
			t.Fatalf("Parse(%q) = %q", claim, got)
		}
		for _, s := range got {
			if s == "" || strings.Contains(s, " ") {
				t.Fatalf("Parse(%q) gave scope %q", claim, s)
			}
		}
		if len(got) > 0 && !All(got...).Satisfied(got) {
			t.Fatalf("scopes %q do not satisfy themselves", got)
		}
	})
}
