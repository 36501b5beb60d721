package main

import (
	"bufio"
	"bytes"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// A snippet is one ```go block of a Markdown file.
//
// A block that is a whole file (it has a package clause) is compiled as it
// is, in a package of its own. Any other block is a fragment: its leading
// import declarations stay file-level and the rest becomes the body of a
// function. The names a fragment takes from the surrounding prose are that
// function's parameters, declared in an HTML comment right before the
// block, which Markdown does not show:
//
//	<!-- snippet: func(mux *http.ServeMux, listProducts http.HandlerFunc) -->
//
// A block that cannot be compiled says why in the same place:
//
//	<!-- snippet: not compiled (the output of a command) -->
//
// A fragment's import lines are compiled as written: a package its code
// uses without importing it is an error, as it is for a reader who copies
// the block. Only the packages of the declared parameters' types are
// imported for it, when their name is known (this repository's packages,
// and those in knownPackages), since the prose's program imports them; its
// top-level variables are marked used.
type snippet struct {
	Line      int    // line of the block's first code line in the file
	Code      string // the block, without the fences
	Params    string // the wrapper's parameter list, without parentheses
	NotReason string // why the block is not compiled; empty if it is
}

var (
	annotation = regexp.MustCompile(`^<!--\s*snippet:\s*(.*?)\s*-->$`)
	notCompile = regexp.MustCompile(`^not compiled\s*(?:\((.*)\)|:\s*(.*))$`)
	funcParams = regexp.MustCompile(`^func\((.*)\)$`)
)

// extractSnippets returns the ```go blocks of a Markdown document.
func extractSnippets(name string, md []byte) ([]snippet, error) {
	var (
		out      []snippet
		lastText string // the last non-blank line outside a block
		lastLine int
		in       bool
		indent   string
		cur      snippet
		code     []string
	)
	sc := bufio.NewScanner(bytes.NewReader(md))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		if in {
			if trimmed == "```" {
				cur.Code = strings.Join(code, "\n") + "\n"
				out = append(out, cur)
				in = false
				continue
			}
			code = append(code, strings.TrimPrefix(line, indent))
			continue
		}
		if trimmed == "```go" {
			in, indent = true, line[:len(line)-len(strings.TrimLeft(line, " \t"))]
			cur, code = snippet{Line: n + 1}, nil
			if m := annotation.FindStringSubmatch(lastText); m != nil && lastLine == n-1 {
				switch {
				case notCompile.MatchString(m[1]):
					r := notCompile.FindStringSubmatch(m[1])
					cur.NotReason = r[1] + r[2]
					if cur.NotReason == "" {
						return nil, fmt.Errorf("%s:%d: say why the block is not compiled: <!-- snippet: not compiled (reason) -->", name, n-1)
					}
				case funcParams.MatchString(m[1]):
					cur.Params = funcParams.FindStringSubmatch(m[1])[1]
				default:
					return nil, fmt.Errorf("%s:%d: unknown snippet annotation %q (want \"func(name type, ...)\" or \"not compiled (reason)\")", name, n-1, m[1])
				}
			}
			continue
		}
		if strings.HasPrefix(trimmed, "<!--") && strings.Contains(trimmed, "snippet:") && !annotation.MatchString(trimmed) {
			return nil, fmt.Errorf("%s:%d: a snippet annotation must be one line: <!-- snippet: ... -->", name, n)
		}
		if trimmed != "" {
			lastText, lastLine = trimmed, n
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if in {
		return nil, fmt.Errorf("%s:%d: the ```go block is not closed", name, cur.Line-1)
	}
	return out, nil
}

// knownPackages are the packages that a README fragment's parameters may
// name without an import line, besides the repository's own: by package
// name.
var knownPackages = map[string]string{ //nolint:gosec // G101: package paths, no credentials
	"context":           "context",
	"errors":            "errors",
	"fmt":               "fmt",
	"http":              "net/http",
	"json":              "encoding/json",
	"log":               "log",
	"os":                "os",
	"slog":              "log/slog",
	"strings":           "strings",
	"testing":           "testing",
	"time":              "time",
	"url":               "net/url",
	"clientcredentials": "golang.org/x/oauth2/clientcredentials",
	"oauth2":            "golang.org/x/oauth2",
	"gin":               "github.com/gin-gonic/gin",
	"echo":              "github.com/labstack/echo/v4",
}

// goSource is the Go file a snippet compiles as, in package pkg. file is
// the Markdown file's name for //line directives, so that compile errors
// point at its lines.
func goSource(s snippet, file, pkg string, packages map[string]string) ([]byte, error) {
	if hasPackageClause(s.Code) {
		return []byte(fmt.Sprintf("//line %s:%d:1\n%s", file, s.Line, s.Code)), nil
	}
	lines := strings.Split(strings.TrimSuffix(s.Code, "\n"), "\n")
	k := importLines(lines)
	var b strings.Builder
	fmt.Fprintf(&b, "package %s\n\n", pkg)
	fmt.Fprintf(&b, "//line %s:%d:1\n", file, s.Line)
	for _, l := range lines[:k] {
		b.WriteString(l + "\n")
	}
	fmt.Fprintf(&b, "\n//line %s-harness:1:1\nfunc _(%s) {\n", file, s.Params)
	fmt.Fprintf(&b, "//line %s:%d:1\n", file, s.Line+k)
	for _, l := range lines[k:] {
		b.WriteString(l + "\n")
	}
	b.WriteString("}\n")
	src := b.String()

	// Mark the fragment's top-level variables used, and import the
	// packages of the parameters' types that the block does not import.
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, file, src, 0)
	if err != nil {
		return nil, err // with the Markdown file's line
	}
	var used []string
	harness := f.Decls[len(f.Decls)-1].(*ast.FuncDecl)
	body := harness.Body
	for _, st := range body.List {
		switch st := st.(type) {
		case *ast.AssignStmt:
			if st.Tok == token.DEFINE {
				for _, e := range st.Lhs {
					if id, ok := e.(*ast.Ident); ok && id.Name != "_" {
						used = append(used, id.Name)
					}
				}
			}
		case *ast.DeclStmt:
			if gd, ok := st.Decl.(*ast.GenDecl); ok && gd.Tok == token.VAR {
				for _, sp := range gd.Specs {
					for _, id := range sp.(*ast.ValueSpec).Names {
						if id.Name != "_" {
							used = append(used, id.Name)
						}
					}
				}
			}
		}
	}
	imported := make(map[string]bool)
	for _, is := range f.Imports {
		p, _ := strconv.Unquote(is.Path.Value)
		name := p[strings.LastIndex(p, "/")+1:]
		if is.Name != nil {
			name = is.Name.Name
		} else if major := regexp.MustCompile(`^v[0-9]+$`); major.MatchString(name) {
			q := strings.TrimSuffix(p, "/"+name)
			name = q[strings.LastIndex(q, "/")+1:]
		}
		imported[name] = true
	}
	var auto []string
	ast.Inspect(harness.Type.Params, func(n ast.Node) bool {
		sel, ok := n.(*ast.SelectorExpr)
		if !ok {
			return true
		}
		if id, ok := sel.X.(*ast.Ident); ok {
			if p, ok := packages[id.Name]; ok && !imported[id.Name] {
				auto = append(auto, strconv.Quote(p))
				imported[id.Name] = true
			}
		}
		return false
	})
	slices.Sort(auto)
	var out strings.Builder
	fmt.Fprintf(&out, "// Code generated by publishcheck from %s; DO NOT EDIT.\n\npackage %s\n\n", file, pkg)
	if len(auto) > 0 {
		fmt.Fprintf(&out, "import (\n\t%s\n)\n\n", strings.Join(auto, "\n\t"))
	}
	rest := strings.TrimPrefix(src, fmt.Sprintf("package %s\n\n", pkg))
	rest = strings.TrimSuffix(rest, "}\n")
	out.WriteString(rest)
	if len(used) > 0 {
		fmt.Fprintf(&out, "//line %s-harness:2:1\n", file)
		for _, u := range used {
			fmt.Fprintf(&out, "\t_ = %s\n", u)
		}
	}
	out.WriteString("}\n")
	return []byte(out.String()), nil
}

// hasPackageClause reports whether code is a whole Go file.
func hasPackageClause(code string) bool {
	f, err := parser.ParseFile(token.NewFileSet(), "", code, parser.PackageClauseOnly)
	return err == nil && f.Name != nil
}

// importLines returns how many leading lines of a fragment are import
// declarations (with blank and comment lines between them).
func importLines(lines []string) int {
	k, end := 0, 0
	inBlock := false
	for i, l := range lines {
		t := strings.TrimSpace(l)
		switch {
		case inBlock:
			if t == ")" {
				inBlock = false
				end = i + 1
			}
			continue
		case t == "" || strings.HasPrefix(t, "//"):
			continue
		case t == "import (":
			inBlock = true
			continue
		case strings.HasPrefix(t, "import "):
			end = i + 1
			continue
		}
		break
	}
	k = end
	return k
}

// repoPackages maps package names to import paths for the importable
// packages of the modules: no commands, no internal or testdata packages.
func repoPackages(mods []*module) (map[string]string, error) {
	pkgs := make(map[string]string)
	for _, m := range mods {
		err := filepath.WalkDir(m.Dir, func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				name := d.Name()
				if p != m.Dir && (name == "internal" || name == "testdata" || name == "vendor" || name == "node_modules" ||
					strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
					return filepath.SkipDir
				}
				if p != m.Dir {
					if _, err := os.Stat(filepath.Join(p, "go.mod")); err == nil {
						return filepath.SkipDir // a nested module, walked on its own
					}
				}
				return nil
			}
			if !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
				return nil
			}
			f, err := parser.ParseFile(token.NewFileSet(), p, nil, parser.PackageClauseOnly)
			if err != nil || f.Name.Name == "main" || strings.HasSuffix(f.Name.Name, "_test") {
				return nil
			}
			rel, err := filepath.Rel(m.Dir, filepath.Dir(p))
			if err != nil {
				return err
			}
			ip := m.Path
			if rel != "." {
				ip += "/" + filepath.ToSlash(rel)
			}
			pkgs[f.Name.Name] = ip
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return pkgs, nil
}

// hasMainClause reports whether a Go file is in package main.
func hasMainClause(src []byte) bool {
	f, err := parser.ParseFile(token.NewFileSet(), "", src, parser.PackageClauseOnly)
	return err == nil && f.Name.Name == "main"
}
