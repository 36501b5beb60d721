package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestBump(t *testing.T) {
	root := sampleRepo(t, map[string]string{
		"examples/go.mod": "module example.com/lib/examples\n\ngo 1.25.0\n\n// the adapter first, to see the tag order follow requirements\nrequire (\n\texample.com/lib/adapters/a v0.3.0\n\texample.com/lib v0.3.0\n\tgolang.org/x/oauth2 v0.30.0\n)\n",
		"go.work":         "// The workspace.\ngo 1.25.0\n\nuse (\n\t.\n\t./adapters/a\n\t./bench\n\t./examples\n)\n\nreplace (\n\texample.com/lib v0.3.0 => ./\n\texample.com/lib/adapters/a v0.3.0 => ./adapters/a\n)\n",
	})
	var out strings.Builder
	if err := bump(root, "v0.4.0", &out); err != nil {
		t.Fatal(err)
	}
	read := func(name string) string {
		data, err := os.ReadFile(filepath.Join(root, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	for name, want := range map[string][]string{
		"adapters/a/go.mod": {"require example.com/lib v0.4.0\n"},
		"bench/go.mod":      {"// logtoguard:unpublished benchmarks only\n", "require example.com/lib v0.4.0\n"},
		"examples/go.mod":   {"// the adapter first", "\texample.com/lib/adapters/a v0.4.0\n", "\texample.com/lib v0.4.0\n", "\tgolang.org/x/oauth2 v0.30.0\n"},
		"go.work":           {"// The workspace.\n", "\texample.com/lib v0.4.0 => ./\n", "\texample.com/lib/adapters/a v0.4.0 => ./adapters/a\n"},
	} {
		got := read(name)
		for _, w := range want {
			if !strings.Contains(got, w) {
				t.Errorf("%s after the bump lacks %q:\n%s", name, w, got)
			}
		}
		if strings.Contains(got, "v0.3.0") {
			t.Errorf("%s still names v0.3.0:\n%s", name, got)
		}
	}
	if got := read("go.mod"); got != "module example.com/lib\n\ngo 1.25.0\n" {
		t.Errorf("the core's go.mod changed: %q", got)
	}
	mods, err := discover(root)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := candidate(mods); err != nil || v != "v0.4.0" {
		t.Errorf("candidate after the bump = %q, %v; want v0.4.0", v, err)
	}
	if got, want := tags(mods, "v0.4.0"), []string{"v0.4.0", "adapters/a/v0.4.0", "examples/v0.4.0"}; !slices.Equal(got, want) {
		t.Errorf("tags = %q, want %q (the unpublished bench left out)", got, want)
	}

	for _, bad := range []string{"0.4.0", "v2.0.0", "v0.4", "v0.4.0+build", "latest"} {
		if err := bump(root, bad, &out); err == nil {
			t.Errorf("bump(%q) = nil, want an error", bad)
		}
	}
}
