package main

import (
	"fmt"
	"runtime/debug"
	"strings"
)

// version says which logtoguard this is, from the build information the Go
// toolchain embeds: the module version for `go install ...@v1.2.3` (and
// "(devel)" for a build from a checkout), the Go version, and the VCS
// revision when the build recorded one.
func version(info *debug.BuildInfo, ok bool) string {
	if !ok || info == nil {
		return "logtoguard (unknown version: built without module information)"
	}
	v := info.Main.Version
	if v == "" {
		v = "(devel)"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "logtoguard %s", v)
	if info.Main.Path != "" {
		fmt.Fprintf(&b, " (%s)", info.Main.Path)
	}
	var rev, modified, at string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value
		case "vcs.time":
			at = s.Value
		}
	}
	if rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		fmt.Fprintf(&b, ", revision %s", rev)
		if at != "" {
			fmt.Fprintf(&b, " of %s", at)
		}
		if modified == "true" {
			b.WriteString(" with local changes")
		}
	}
	if info.GoVersion != "" {
		fmt.Fprintf(&b, ", built with %s", info.GoVersion)
	}
	return b.String()
}
