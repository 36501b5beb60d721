package main

import (
	"archive/zip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// writeTree writes files (slash paths relative to root) under root.
func writeTree(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func sampleRepo(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	base := map[string]string{
		"go.mod":                  "module example.com/lib\n\ngo 1.25.0\n",
		"lib.go":                  "package lib\n",
		"sub/sub.go":              "package sub\n",
		"adapters/a/go.mod":       "module example.com/lib/adapters/a\n\ngo 1.25.0\n\nrequire example.com/lib v0.3.0\n",
		"adapters/a/a.go":         "package a\n",
		"bench/go.mod":            "// logtoguard:unpublished benchmarks only\nmodule example.com/lib/bench\n\ngo 1.25.0\n\nrequire example.com/lib v0.3.0\n",
		"node_modules/x/go.mod":   "module example.com/not/searched\n",
		"testdata/mod/go.mod":     "module example.com/not/searched/either\n",
		"adapters/a/testdata/t.x": "data\n",
	}
	for k, v := range files {
		base[k] = v
	}
	writeTree(t, root, base)
	return root
}

func TestDiscoverAndCandidate(t *testing.T) {
	root := sampleRepo(t, nil)
	mods, err := discover(root)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range mods {
		got = append(got, m.Rel+"="+m.Path+"|"+m.Unpublished)
	}
	want := []string{".=example.com/lib|", "adapters/a=example.com/lib/adapters/a|", "bench=example.com/lib/bench|benchmarks only"}
	if !slices.Equal(got, want) {
		t.Fatalf("discover:\n got %q\nwant %q", got, want)
	}
	v, err := candidate(mods)
	if err != nil || v != "v0.3.0" {
		t.Fatalf("candidate = %q, %v; want v0.3.0", v, err)
	}
}

func TestCandidateRefusals(t *testing.T) {
	for _, tt := range []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"replace", map[string]string{"adapters/a/go.mod": "module example.com/lib/adapters/a\n\ngo 1.25.0\n\nrequire example.com/lib v0.3.0\n\nreplace example.com/lib => ../..\n"},
			"adapters/a/go.mod has a replace directive"},
		{"two versions", map[string]string{"bench/go.mod": "module example.com/lib/bench\n\ngo 1.25.0\n\nrequire example.com/lib v0.2.0\n"},
			"different versions: v0.2.0 (bench requires example.com/lib); v0.3.0 (adapters/a requires example.com/lib)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			mods, err := discover(sampleRepo(t, tt.files))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := candidate(mods); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("candidate = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

// TestPack: the zip holds the module's files and not a nested module's,
// not what .gitignore excludes (through the file list), and the proxy
// layout is the one the go command reads.
func TestPack(t *testing.T) {
	root := sampleRepo(t, map[string]string{"ignored/big.bin": "x"})
	mods, err := discover(root)
	if err != nil {
		t.Fatal(err)
	}
	proxy := t.TempDir()
	checkout := []string{"go.mod", "lib.go", "sub/sub.go", "adapters/a/go.mod", "adapters/a/a.go", "adapters/a/testdata/t.x", "bench/go.mod", "gone.go"}
	p, err := pack(root, mods[0], "v0.3.0", proxy, checkout)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := zip.OpenReader(filepath.Join(proxy, "example.com", "lib", "@v", "v0.3.0.zip"))
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
	}
	slices.Sort(names)
	want := []string{"example.com/lib@v0.3.0/go.mod", "example.com/lib@v0.3.0/lib.go", "example.com/lib@v0.3.0/sub/sub.go"}
	if !slices.Equal(names, want) || p.Files != len(want) {
		t.Fatalf("zip holds %q (%d files), want %q", names, p.Files, want)
	}
	for name, want := range map[string]string{
		"list":        "v0.3.0\n",
		"v0.3.0.mod":  "module example.com/lib\n\ngo 1.25.0\n",
		"v0.3.0.info": `{"Version":"v0.3.0","Time":"`,
	} {
		data, err := os.ReadFile(filepath.Join(proxy, "example.com", "lib", "@v", name))
		if err != nil || !strings.HasPrefix(string(data), want) {
			t.Errorf("%s = %q, %v; want it to start with %q", name, data, err, want)
		}
	}

	// An upper-case path is escaped as the go command expects.
	mods[1].Path = "example.com/Lib/adapters/a"
	if _, err := pack(root, mods[1], "v0.3.0", proxy, checkout); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(proxy, "example.com", "!lib", "adapters", "a", "@v", "v0.3.0.zip")); err != nil {
		t.Error(err)
	}
}
