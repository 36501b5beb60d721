package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/semver"
)

// unpublishedMarker marks a go.mod whose module is never published (the
// benchmarks, this check): a comment line "// logtoguard:unpublished
// <reason>". The publish check and scripts/release-bump.sh read it, so
// no list of modules is written anywhere else.
var unpublishedMarker = regexp.MustCompile(`(?m)^//\s*logtoguard:unpublished\b[ \t]*(.*)$`)

// module is one go.mod of the repository.
type module struct {
	Path        string // module path
	Dir         string // absolute directory
	Rel         string // directory relative to the root, slash-separated; "." for the root
	GoMod       []byte // the go.mod file as it is
	File        *modfile.File
	Unpublished string // the marker's reason; empty for a published module
}

// discover finds every go.mod under root, as the go command would see the
// modules of a checkout: directories named testdata or vendor, or starting
// with "." or "_", and node_modules are not searched. The root module comes
// first, then the others by path.
func discover(root string) ([]*module, error) {
	var mods []*module
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if p != root && (name == "testdata" || name == "vendor" || name == "node_modules" ||
				strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Name() != "go.mod" {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		f, err := modfile.Parse(p, data, nil)
		if err != nil {
			return err
		}
		if f.Module == nil {
			return fmt.Errorf("%s: no module line", p)
		}
		dir := filepath.Dir(p)
		rel, err := filepath.Rel(root, dir)
		if err != nil {
			return err
		}
		m := &module{Path: f.Module.Mod.Path, Dir: dir, Rel: filepath.ToSlash(rel), GoMod: data, File: f}
		if sm := unpublishedMarker.FindSubmatch(data); sm != nil {
			m.Unpublished = strings.TrimSpace(string(sm[1]))
			if m.Unpublished == "" {
				m.Unpublished = "unpublished"
			}
		}
		mods = append(mods, m)
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(mods, func(a, b *module) int {
		switch {
		case a.Rel == ".":
			return -1
		case b.Rel == ".":
			return 1
		}
		return strings.Compare(a.Path, b.Path)
	})
	if len(mods) == 0 || mods[0].Rel != "." {
		return nil, fmt.Errorf("%s: no go.mod at the root", root)
	}
	return mods, nil
}

// candidate returns the version at which the modules require their
// siblings: the version about to be published. Every such requirement must
// name the same version, and no published go.mod may hold a replace.
func candidate(mods []*module) (string, error) {
	paths := make(map[string]bool)
	for _, m := range mods {
		paths[m.Path] = true
	}
	versions := make(map[string][]string) // version -> "requirer requires path"
	var errs []error
	for _, m := range mods {
		if len(m.File.Replace) > 0 {
			errs = append(errs, fmt.Errorf("%s/go.mod has a replace directive: a replace is ignored for the module's users; put it in go.work", m.Rel))
		}
		for _, r := range m.File.Require {
			if paths[r.Mod.Path] {
				versions[r.Mod.Version] = append(versions[r.Mod.Version], m.Rel+" requires "+r.Mod.Path)
			}
		}
	}
	if len(versions) == 0 {
		errs = append(errs, errors.New("no module requires a sibling: pass -version"))
	}
	if len(versions) > 1 {
		var lines []string
		for v, who := range versions {
			lines = append(lines, fmt.Sprintf("%s (%s)", v, strings.Join(who, ", ")))
		}
		slices.Sort(lines)
		errs = append(errs, fmt.Errorf("the modules require their siblings at different versions: %s; run scripts/release-bump.sh", strings.Join(lines, "; ")))
	}
	if err := errors.Join(errs...); err != nil {
		return "", err
	}
	var v string
	for v = range versions {
	}
	if !semver.IsValid(v) || semver.Build(v) != "" {
		return "", fmt.Errorf("siblings are required at %q, which is not a version that can be tagged", v)
	}
	return v, nil
}
