package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/semver"
)

// releaseVersion is a version a module of this repository can be tagged
// with: v0 or v1 (a v2 needs a /v2 module path), no build metadata.
var releaseVersion = regexp.MustCompile(`^v[01]\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?$`)

// bump makes every module require its siblings at version, and go.work
// replace them at that version with the checkout. It changes files only;
// the caller checks the build (scripts/release-bump.sh).
func bump(root, version string, out io.Writer) error {
	if !releaseVersion.MatchString(version) || !semver.IsValid(version) {
		return fmt.Errorf("version %q: want vMAJOR.MINOR.PATCH with MAJOR 0 or 1 (a v2 needs a /v2 module path), such as v0.2.0", version)
	}
	mods, err := discover(root)
	if err != nil {
		return err
	}
	paths := make(map[string]*module)
	for _, m := range mods {
		paths[m.Path] = m
	}
	for _, m := range mods {
		changed := false
		for _, r := range m.File.Require {
			if paths[r.Mod.Path] != nil && r.Mod.Version != version {
				if err := m.File.AddRequire(r.Mod.Path, version); err != nil {
					return err
				}
				changed = true
			}
		}
		if !changed {
			continue
		}
		m.File.Cleanup()
		data, err := m.File.Format()
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(m.Dir, "go.mod"), data, 0o644); err != nil {
			return err
		}
		fmt.Fprintf(out, "bumped   %s/go.mod\n", m.Rel)
	}

	// go.work: one replace per required sibling, at the new version.
	workPath := filepath.Join(root, "go.work")
	data, err := os.ReadFile(workPath)
	if err != nil {
		return err
	}
	wf, err := modfile.ParseWork(workPath, data, nil)
	if err != nil {
		return err
	}
	required := make(map[string]bool)
	for _, m := range mods {
		for _, r := range m.File.Require {
			if paths[r.Mod.Path] != nil {
				required[r.Mod.Path] = true
			}
		}
	}
	replaced := make(map[string]bool)
	for _, r := range wf.Replace {
		if paths[r.Old.Path] == nil || r.Old.Version == "" {
			continue
		}
		// In place, so that the line keeps its block and comments.
		tok := r.Syntax.Token
		if len(tok) > 0 && tok[0] == "replace" {
			tok = tok[1:]
		}
		if len(tok) < 2 || tok[1] != r.Old.Version {
			return fmt.Errorf("go.work: cannot read the replace of %s@%s", r.Old.Path, r.Old.Version)
		}
		tok[1] = version
		r.Old.Version = version
		replaced[r.Old.Path] = true
	}
	for _, m := range mods {
		if !required[m.Path] || replaced[m.Path] {
			continue
		}
		dir := "./" + m.Rel
		if m.Rel == "." {
			dir = "./"
		}
		if err := wf.AddReplace(m.Path, version, dir, ""); err != nil {
			return err
		}
	}
	wf.Cleanup()
	if err := os.WriteFile(workPath, modfile.Format(wf.Syntax), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(out, "bumped   go.work\n")

	return nil
}

// tagOrder sorts the modules so that each comes after the siblings it
// requires: the core first.
func tagOrder(mods []*module) []*module {
	paths := make(map[string]*module)
	for _, m := range mods {
		paths[m.Path] = m
	}
	var order []*module
	done := make(map[*module]bool)
	var visit func(m *module)
	visit = func(m *module) {
		if done[m] {
			return
		}
		done[m] = true // the go command refuses cycles between modules' requirements anyway
		for _, r := range m.File.Require {
			if dep := paths[r.Mod.Path]; dep != nil {
				visit(dep)
			}
		}
		order = append(order, m)
	}
	for _, m := range mods {
		visit(m)
	}
	return order
}

// tags returns the tags that publish version: one per published module, in
// tagOrder.
func tags(mods []*module, version string) []string {
	var out []string
	for _, m := range tagOrder(mods) {
		switch {
		case m.Unpublished != "":
		case m.Rel == ".":
			out = append(out, version)
		default:
			out = append(out, m.Rel+"/"+version)
		}
	}
	return out
}

// printTags prints the git commands that tag and push version.
func printTags(root, version string, out io.Writer) error {
	mods, err := discover(root)
	if err != nil {
		return err
	}
	ts := tags(mods, version)
	fmt.Fprintf(out, "Tag the merged commit, each module after the siblings it requires:\n\n")
	for _, t := range ts {
		fmt.Fprintf(out, "  git tag -a %s -m %q\n", t, "logtoguard "+version)
	}
	fmt.Fprintf(out, "  git push origin %s\n", strings.Join(ts, " "))
	return nil
}
