package main

import (
	"runtime/debug"
	"strings"
	"testing"
)

func TestVersion(t *testing.T) {
	for _, tt := range []struct {
		name string
		info *debug.BuildInfo
		ok   bool
		want string
	}{
		{"go install at a version", &debug.BuildInfo{
			GoVersion: "go1.25.4",
			Main:      debug.Module{Path: "github.com/logtoguard/logtoguard/cmd/logtoguard", Version: "v0.3.1"},
		}, true, "logtoguard v0.3.1 (github.com/logtoguard/logtoguard/cmd/logtoguard), built with go1.25.4"},
		{"a checkout with local changes", &debug.BuildInfo{
			GoVersion: "go1.25.4",
			Main:      debug.Module{Path: "github.com/logtoguard/logtoguard/cmd/logtoguard", Version: "(devel)"},
			Settings: []debug.BuildSetting{
				{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"},
				{Key: "vcs.time", Value: "2026-12-07T10:00:00Z"},
				{Key: "vcs.modified", Value: "true"},
			},
		}, true, "logtoguard (devel) (github.com/logtoguard/logtoguard/cmd/logtoguard), revision 0123456789ab of 2026-12-07T10:00:00Z with local changes, built with go1.25.4"},
		{"no version", &debug.BuildInfo{Main: debug.Module{Path: "x"}}, true, "logtoguard (devel) (x)"},
		{"no build information", nil, false, "logtoguard (unknown version: built without module information)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := version(tt.info, tt.ok); got != tt.want {
				t.Errorf("version() = %q, want %q", got, tt.want)
			}
		})
	}

	// The command prints the test binary's own build information.
	for _, args := range [][]string{{"version"}, {"--version"}, {"-version"}} {
		r := cli(t, "", args...)
		r.exit(t, exitOK)
		if !strings.HasPrefix(r.stdout, "logtoguard ") || !strings.HasSuffix(r.stdout, "\n") || strings.Count(r.stdout, "\n") != 1 {
			t.Errorf("%v: stdout %q, want one line starting with \"logtoguard \"", args, r.stdout)
		}
	}
	r := cli(t, "", "version", "extra")
	r.exit(t, exitUsage)
	if want := "logtoguard version: takes no arguments"; !strings.Contains(r.stderr, want) {
		t.Errorf("stderr %q, want %q", r.stderr, want)
	}
}
