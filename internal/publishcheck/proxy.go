package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"time"

	modpkg "golang.org/x/mod/module"
	"golang.org/x/mod/zip"
)

// checkoutFiles lists the files a commit of the checkout would hold: the
// files git tracks (added to the index), as they are in the working tree,
// relative to root. Untracked files are left out, as a tag leaves them out:
// a binary that go build left in a module's directory must not be packed.
// It returns nil when root is not a git checkout.
func checkoutFiles(root string) []string {
	cmd := exec.Command("git", "-C", root, "ls-files", "-z", "--cached")
	out, err := cmd.Output()
	if err != nil {
		return nil
	}
	var files []string
	for _, f := range strings.Split(string(out), "\x00") {
		if f != "" {
			files = append(files, f)
		}
	}
	return files
}

// file is a file of a module for zip.Create.
type file struct {
	rel  string // path in the module, slash-separated
	abs  string
	info os.FileInfo
}

func (f file) Path() string                 { return f.rel }
func (f file) Lstat() (os.FileInfo, error)  { return f.info, nil }
func (f file) Open() (io.ReadCloser, error) { return os.Open(f.abs) }

// moduleFiles returns the files of m among the checkout's files (paths
// relative to root). zip.Create leaves out what the go command leaves out:
// nested modules, vendored packages, irregular files.
func moduleFiles(root string, m *module, checkout []string) ([]zip.File, error) {
	prefix := ""
	if m.Rel != "." {
		prefix = m.Rel + "/"
	}
	var files []zip.File
	for _, f := range checkout {
		if !strings.HasPrefix(f, prefix) {
			continue
		}
		abs := filepath.Join(root, filepath.FromSlash(f))
		info, err := os.Lstat(abs)
		if os.IsNotExist(err) {
			continue // deleted in the working tree, not yet committed
		}
		if err != nil {
			return nil, err
		}
		files = append(files, file{rel: strings.TrimPrefix(f, prefix), abs: abs, info: info})
	}
	return files, nil
}

// packed is what pack wrote for one module.
type packed struct {
	Files int
	Bytes int64
}

// pack writes m at version into the file-based module proxy at proxyDir,
// in the layout the go command reads through GOPROXY=file://...:
// <escaped path>/@v/list, <version>.info, .mod and .zip.
func pack(root string, m *module, version, proxyDir string, checkout []string) (packed, error) {
	mv := modpkg.Version{Path: m.Path, Version: version}
	escaped, err := modpkg.EscapePath(m.Path)
	if err != nil {
		return packed{}, err
	}
	dir := filepath.Join(proxyDir, filepath.FromSlash(escaped), "@v")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return packed{}, err
	}
	var buf bytes.Buffer
	if checkout != nil {
		files, err := moduleFiles(root, m, checkout)
		if err != nil {
			return packed{}, err
		}
		err = zip.Create(&buf, mv, files)
		if err != nil {
			return packed{}, err
		}
	} else if err := zip.CreateFromDir(&buf, mv, m.Dir); err != nil {
		return packed{}, err
	}
	zipPath := filepath.Join(dir, version+".zip")
	if err := os.WriteFile(zipPath, buf.Bytes(), 0o644); err != nil {
		return packed{}, err
	}
	cf, err := zip.CheckZip(mv, zipPath)
	if err != nil {
		return packed{}, fmt.Errorf("the zip of %s: %w", mv, err)
	}
	info, err := json.Marshal(struct {
		Version string
		Time    time.Time
	}{version, time.Now().UTC().Truncate(time.Second)})
	if err != nil {
		return packed{}, err
	}
	for name, data := range map[string][]byte{
		"list":            []byte(version + "\n"),
		version + ".info": info,
		version + ".mod":  m.GoMod,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return packed{}, err
		}
	}
	return packed{Files: len(cf.Valid), Bytes: int64(buf.Len())}, nil
}

// fileURL is a GOPROXY entry for a directory.
func fileURL(dir string) string {
	return "file://" + path.Clean(filepath.ToSlash(dir))
}
