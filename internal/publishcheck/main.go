// Command publishcheck proves that the repository's modules install as a
// user gets them, before they are tagged. It packs every published module
// (every go.mod but those marked "// logtoguard:unpublished") at the
// candidate version, the one the modules require their siblings at, into a
// file-based module proxy with golang.org/x/mod/zip. Then, with an empty
// module cache, no workspace and that proxy first in GOPROXY, it creates a
// user module, runs go get for each module, compiles every package of them
// and every ```go block of README.md, and go installs each command at that
// version. It prints one line per module and step.
//
//	go run ./internal/publishcheck [-root DIR] [-version vX.Y.Z] [-keep] [-offline]
//	go run ./internal/publishcheck -bump vX.Y.Z   (see scripts/release-bump.sh)
//
// Third-party modules come from the machine's module download cache
// ($(go env GOMODCACHE)/cache/download, as a second file:// proxy), so a
// warm machine needs no network; the go env GOPROXY comes last, for what
// that cache lacks, unless -offline. The repository's modules are exempt
// from the checksum database (GONOSUMDB), since they are not published yet.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

type checker struct {
	root    string
	version string
	tmp     string
	env     []string
	out     io.Writer
	verbose bool
	failed  bool
	mark    time.Time // the end of the last step
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("publishcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	root := fs.String("root", "", "repository root (default: the directory of go.work above the current one)")
	version := fs.String("version", "", "candidate version (default: the version the modules require their siblings at)")
	keep := fs.Bool("keep", false, "keep the proxy, module cache and user module (printed at the end)")
	offline := fs.Bool("offline", false, "never fall back to the network proxy")
	readme := fs.String("readme", "README.md", "Markdown file whose ```go blocks are compiled, relative to the root")
	verbose := fs.Bool("v", false, "print the go commands' output")
	bumpTo := fs.String("bump", "", "instead of checking: require every sibling at this version and replace it in go.work (scripts/release-bump.sh)")
	tagsOf := fs.String("tags", "", "instead of checking: print the git tags that publish this version, in order")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *bumpTo != "" || *tagsOf != "" {
		r := *root
		if r == "" {
			var err error
			if r, err = findRoot(); err != nil {
				fmt.Fprintf(stderr, "publishcheck: %v\n", err)
				return 2
			}
		}
		do := func() error { return bump(r, *bumpTo, stdout) }
		if *tagsOf != "" {
			do = func() error { return printTags(r, *tagsOf, stdout) }
		}
		if err := do(); err != nil {
			fmt.Fprintf(stderr, "publishcheck: %v\n", err)
			return 1
		}
		return 0
	}
	start := time.Now()
	c := &checker{out: stdout, verbose: *verbose, mark: start}
	if err := c.check(*root, *version, *readme, *keep, *offline); err != nil {
		fmt.Fprintf(stdout, "publishcheck: FAIL: %v\n", err)
		return 1
	}
	if c.failed {
		fmt.Fprintf(stdout, "publishcheck: FAIL (%.1fs)\n", time.Since(start).Seconds())
		return 1
	}
	fmt.Fprintf(stdout, "publishcheck: ok, %s installs from the packed modules (%.1fs)\n", c.version, time.Since(start).Seconds())
	return 0
}

func (c *checker) check(root, version, readme string, keep, offline bool) (err error) {
	if root == "" {
		if root, err = findRoot(); err != nil {
			return err
		}
	}
	if c.root, err = filepath.Abs(root); err != nil {
		return err
	}
	all, err := discover(c.root)
	if err != nil {
		return err
	}
	if c.version, err = candidate(all); err != nil {
		return err
	}
	if version != "" {
		c.version = version
	}
	var mods []*module
	var skipped []string
	for _, m := range all {
		if m.Unpublished != "" {
			skipped = append(skipped, m.Rel)
			continue
		}
		mods = append(mods, m)
	}
	fmt.Fprintf(c.out, "publishcheck: %d modules at %s from %s (not published: %s)\n", len(mods), c.version, c.root, strings.Join(skipped, ", "))

	if c.tmp, err = os.MkdirTemp("", "publishcheck-"); err != nil {
		return err
	}
	proxy := filepath.Join(c.tmp, "proxy")
	modcache := filepath.Join(c.tmp, "modcache")
	user := filepath.Join(c.tmp, "user")
	gobin := filepath.Join(c.tmp, "bin")
	// 0. Third-party modules at the versions the modules require, into the
	// machine's download cache (from the network the first time only), so
	// that the user's side reads them from there.
	if !offline {
		n, err := prefetch(c.tmp, mods)
		c.line("fetch", fmt.Sprintf("%d third-party module versions the modules require, into the machine's module cache", n), err, "")
	}
	c.env, err = c.environment(proxy, modcache, gobin, offline)
	if err != nil {
		return err
	}
	defer func() {
		if keep {
			fmt.Fprintf(c.out, "kept: proxy %s, module cache %s, user module %s\n", proxy, modcache, user)
			return
		}
		// The module cache is read-only, as the go command leaves it.
		_ = c.goCmd(c.tmp, "clean", "-modcache")
		if rmErr := os.RemoveAll(c.tmp); rmErr != nil && err == nil {
			err = rmErr
		}
	}()

	// 1. Pack.
	checkout := checkoutFiles(c.root)
	how := "the files git tracks"
	if checkout == nil {
		how = "the directory (not a git checkout)"
	}
	for _, m := range mods {
		p, err := pack(c.root, m, c.version, proxy, checkout)
		c.line("pack", m.Path+"@"+c.version, err, fmt.Sprintf("%d files, %d KiB, from %s", p.Files, (p.Bytes+1023)/1024, how))
	}
	if c.failed {
		return nil
	}

	// 2. A user module that gets each module.
	if err := c.userModule(user, mods); err != nil {
		return err
	}
	for _, m := range mods {
		c.line("get", m.Path+"@"+c.version, c.goCmd(user, "get", m.Path+"@"+c.version), "")
	}
	if c.failed {
		return nil
	}

	// 3. README snippets, then one build of every package and snippet.
	md, err := os.ReadFile(filepath.Join(c.root, readme))
	if err != nil {
		return err
	}
	snippets, err := extractSnippets(readme, md)
	if err != nil {
		return err
	}
	packages, err := repoPackages(mods)
	if err != nil {
		return err
	}
	for name, p := range knownPackages {
		if _, ok := packages[name]; !ok {
			packages[name] = p
		}
	}
	compiled, notCompiled := 0, []string{}
	for i, s := range snippets {
		if s.NotReason != "" {
			notCompiled = append(notCompiled, fmt.Sprintf("line %d: %s", s.Line, s.NotReason))
			continue
		}
		pkg := fmt.Sprintf("snippet%02d", i+1)
		src, err := goSource(s, readme, pkg, packages)
		if err != nil {
			c.line("snippet", fmt.Sprintf("%s:%d", readme, s.Line), err, "")
			continue
		}
		dir := filepath.Join(user, "readme", pkg)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, "snippet.go"), src, 0o644); err != nil {
			return err
		}
		compiled++
	}
	patterns := []string{"./..."}
	for _, m := range mods {
		patterns = append(patterns, m.Path+"/...")
	}
	what := fmt.Sprintf("every package of the %d modules, %d %s blocks of %s", len(mods), compiled, "```go", readme)
	if len(notCompiled) > 0 {
		what += fmt.Sprintf(" (%d marked not compiled: %s)", len(notCompiled), strings.Join(notCompiled, "; "))
	}
	buildErr := c.goCmd(user, append([]string{"build"}, patterns...)...)
	if buildErr != nil && strings.Contains(buildErr.Error(), readme+":") && strings.Contains(buildErr.Error(), "undefined: ") {
		buildErr = fmt.Errorf("%w\nhint: a %s block that uses names from the text declares them in a comment right before it,\n      <!-- snippet: func(mux *http.ServeMux, listProducts http.HandlerFunc) -->", buildErr, readme)
	}
	c.line("build", what, buildErr, "")

	// 4. go install of each command at the version, outside any module.
	for _, m := range mods {
		if !isCommand(m.Dir) {
			continue
		}
		err := c.goCmd(c.tmp, "install", m.Path+"@"+c.version)
		if err == nil {
			bin := filepath.Join(gobin, filepath.Base(m.Path))
			if out, runErr := exec.Command(bin, "help").CombinedOutput(); runErr != nil {
				err = fmt.Errorf("%s help: %v\n%s", bin, runErr, out)
			} else if out, runErr := exec.Command(bin, "version").CombinedOutput(); runErr != nil {
				err = fmt.Errorf("%s version: %v\n%s", bin, runErr, out)
			} else if !strings.Contains(string(out), " "+c.version+" ") {
				// go install users must see the version they installed.
				err = fmt.Errorf("%s version printed %q, which does not name %s", bin, strings.TrimSpace(string(out)), c.version)
			}
		}
		c.line("install", m.Path+"@"+c.version, err, "then ran help and version")
	}
	return nil
}

// line prints one step's outcome, and the error's text under it.
func (c *checker) line(step, what string, err error, detail string) {
	elapsed := time.Since(c.mark)
	c.mark = time.Now()
	if detail != "" {
		detail += ", "
	}
	detail += fmt.Sprintf("%.1fs", elapsed.Seconds())
	status := "ok"
	if err != nil {
		status = "FAIL"
		c.failed = true
	}
	fmt.Fprintf(c.out, "%-8s %-4s %s", step, status, what)
	if detail != "" && err == nil {
		fmt.Fprintf(c.out, " (%s)", detail)
	}
	fmt.Fprintln(c.out)
	if err != nil {
		for _, l := range strings.Split(strings.TrimRight(err.Error(), "\n"), "\n") {
			fmt.Fprintf(c.out, "              %s\n", l)
		}
	}
}

// environment is the go command's environment for the user's side: an
// empty module cache, no workspace, the packed modules first.
func (c *checker) environment(proxy, modcache, gobin string, offline bool) ([]string, error) {
	goenv := func(name string) (string, error) {
		out, err := exec.Command("go", "env", name).Output()
		return strings.TrimSpace(string(out)), err
	}
	machineCache, err := goenv("GOMODCACHE")
	if err != nil {
		return nil, fmt.Errorf("go env GOMODCACHE: %w", err)
	}
	proxies := []string{fileURL(proxy)}
	if dl := filepath.Join(machineCache, "cache", "download"); isDir(dl) {
		proxies = append(proxies, fileURL(dl))
		// Checksum database answers the machine already holds: what the
		// go command would otherwise ask the network for.
		if sumdb := filepath.Join(dl, "sumdb"); isDir(sumdb) {
			if err := os.CopyFS(filepath.Join(modcache, "cache", "download", "sumdb"), os.DirFS(sumdb)); err != nil {
				return nil, err
			}
		}
	}
	if !offline {
		network, err := goenv("GOPROXY")
		if err != nil {
			return nil, err
		}
		if network != "" && network != "off" {
			proxies = append(proxies, network)
		}
	}
	goflags, _ := goenv("GOFLAGS")
	core := ""
	if ms, err := discover(c.root); err == nil {
		core = ms[0].Path
	}
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "GOPROXY", "GOMODCACHE", "GOWORK", "GOFLAGS", "GONOSUMDB", "GOPRIVATE", "GONOPROXY", "GOBIN", "GOTOOLCHAIN", "GO111MODULE":
			continue
		}
		env = append(env, kv)
	}
	return append(env,
		"GOPROXY="+strings.Join(proxies, ","),
		"GOMODCACHE="+modcache,
		"GOWORK=off",
		// -trimpath keeps the build cache's entries valid for modules
		// extracted into a new module cache at each run.
		"GOFLAGS="+strings.TrimSpace(goflags+" -mod=mod -trimpath"),
		"GONOSUMDB="+core,
		"GOBIN="+gobin,
		"GOTOOLCHAIN=local",
		"GO111MODULE=on",
	), nil
}

// userModule writes an empty user module. Its go.sum starts with the
// checksums the repository's modules hold for their dependencies, so that
// third-party modules are verified without asking the checksum database;
// the packed modules' own checksums are computed by go get.
func (c *checker) userModule(dir string, mods []*module) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	goVersion := "1.25.0"
	if mods[0].File.Go != nil {
		goVersion = mods[0].File.Go.Version
	}
	gomod := fmt.Sprintf("module example.com/publishcheck/user\n\ngo %s\n", goVersion)
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte(gomod), 0o644); err != nil {
		return err
	}
	var sums []string
	for _, m := range mods {
		data, err := os.ReadFile(filepath.Join(m.Dir, "go.sum"))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		for _, l := range strings.Split(string(data), "\n") {
			if l = strings.TrimSpace(l); l != "" {
				sums = append(sums, l)
			}
		}
	}
	slices.Sort(sums)
	sums = slices.Compact(sums)
	return os.WriteFile(filepath.Join(dir, "go.sum"), []byte(strings.Join(sums, "\n")+"\n"), 0o644)
}

// goCmd runs the go command in dir with the user's environment; its
// output is the error's text when it fails.
func (c *checker) goCmd(dir string, args ...string) error {
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = c.env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if c.verbose && out.Len() > 0 {
		fmt.Fprintf(c.out, "$ go %s\n%s", strings.Join(args, " "), out.String())
	}
	if err != nil {
		return fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return nil
}

// prefetch downloads the third-party requirements of mods, as listed in
// their go.mod files, into the machine's module cache. The workspace
// downloads one version of each dependency, the highest any module wants;
// a user of one module gets that module's own, which the cache may lack.
func prefetch(dir string, mods []*module) (int, error) {
	ours := make(map[string]bool)
	for _, m := range mods {
		ours[m.Path] = true
	}
	var args []string
	for _, m := range mods {
		for _, r := range m.File.Require {
			if !ours[r.Mod.Path] && !strings.HasPrefix(r.Mod.Path, mods[0].Path+"/") {
				args = append(args, r.Mod.Path+"@"+r.Mod.Version)
			}
		}
	}
	slices.Sort(args)
	args = slices.Compact(args)
	cmd := exec.Command("go", append([]string{"mod", "download"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
	if out, err := cmd.CombinedOutput(); err != nil {
		return len(args), fmt.Errorf("go mod download: %v\n%s", err, out)
	}
	return len(args), nil
}

// findRoot returns the nearest directory at or above the current one
// holding go.work.
func findRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.work at or above the current directory: pass -root")
		}
		dir = parent
	}
}

// isCommand reports whether the module's root directory is a main package.
func isCommand(dir string) bool {
	files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		data, err := os.ReadFile(f)
		if err == nil && hasMainClause(data) {
			return true
		}
	}
	return false
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}
