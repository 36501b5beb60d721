package main

import (
	"go/parser"
	"go/token"
	"strings"
	"testing"
)

const sampleMD = "# Title\n" +
	"\n" +
	"```go\n" + // line 3
	"package main\n" +
	"\n" +
	"func main() {}\n" +
	"```\n" +
	"\n" +
	"<!-- snippet: func(mux *http.ServeMux, list http.HandlerFunc) -->\n" +
	"```go\n" + // line 10
	"import \"github.com/example/lib/adapter\"\n" +
	"\n" +
	"g := adapter.New()\n" +
	"mux.Handle(\"/\", g.Wrap(list))\n" +
	"```\n" +
	"\n" +
	"<!-- snippet: not compiled (pseudo-code) -->\n" +
	"```go\n" +
	"x := ...\n" +
	"```\n" +
	"\n" +
	"```sh\n" +
	"make test\n" +
	"```\n" +
	"\n" +
	"  ```go\n" + // indented, in a list: line 26
	"  v, err := middleware.New(middleware.Config{})\n" +
	"  ```\n"

func TestExtractSnippets(t *testing.T) {
	got, err := extractSnippets("README.md", []byte(sampleMD))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 {
		t.Fatalf("got %d snippets, want 4 (the sh block is not Go): %+v", len(got), got)
	}
	want := []snippet{
		{Line: 4, Code: "package main\n\nfunc main() {}\n"},
		{Line: 11, Params: "mux *http.ServeMux, list http.HandlerFunc", Code: "import \"github.com/example/lib/adapter\"\n\ng := adapter.New()\nmux.Handle(\"/\", g.Wrap(list))\n"},
		{Line: 19, NotReason: "pseudo-code", Code: "x := ...\n"},
		{Line: 27, Code: "v, err := middleware.New(middleware.Config{})\n"},
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("snippet %d:\n got %+v\nwant %+v", i, got[i], want[i])
		}
	}
}

func TestExtractSnippetsErrors(t *testing.T) {
	for _, tt := range []struct{ md, want string }{
		{"<!-- snippet: compile later -->\n```go\nx\n```\n", `README.md:1: unknown snippet annotation "compile later"`},
		{"<!-- snippet: not compiled () -->\n```go\nx\n```\n", "README.md:1: say why"},
		{"```go\nx := 1\n", "README.md:1: the ```go block is not closed"},
		{"<!-- snippet:\nfunc() -->\n```go\nx\n```\n", "README.md:1: a snippet annotation must be one line"},
	} {
		_, err := extractSnippets("README.md", []byte(tt.md))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("extractSnippets(%q) = %v, want an error containing %q", tt.md, err, tt.want)
		}
	}
}

func TestGoSource(t *testing.T) {
	packages := map[string]string{
		"http":       "net/http",
		"middleware": "github.com/example/lib/middleware",
		"adapter":    "github.com/example/lib/adapter",
	}
	s := snippet{
		Line:   11,
		Params: "mux *http.ServeMux, list http.HandlerFunc",
		Code:   "import \"github.com/example/lib/adapter\"\n\nv, err := middleware.New(middleware.Config{})\ng := adapter.New(v)\nmux.Handle(\"/\", g.Wrap(list))\n",
	}
	src, err := goSource(s, "README.md", "snippet02", packages)
	if err != nil {
		t.Fatal(err)
	}
	f, err := parser.ParseFile(token.NewFileSet(), "snippet.go", src, 0)
	if err != nil {
		t.Fatalf("generated source does not parse: %v\n%s", err, src)
	}
	var imports []string
	for _, is := range f.Imports {
		imports = append(imports, is.Path.Value)
	}
	// adapter is imported by the block itself and http (a parameter's
	// type) by the harness. middleware, which the block uses without
	// importing it, is not imported for it: a reader who copies the block
	// gets the same compile error as the check.
	if got, want := strings.Join(imports, " "), `"net/http" "github.com/example/lib/adapter"`; got != want {
		t.Errorf("imports = %s, want %s", got, want)
	}
	for _, want := range []string{
		"package snippet02\n",
		"//line README.md:11:1\nimport \"github.com/example/lib/adapter\"\n",
		"func _(mux *http.ServeMux, list http.HandlerFunc) {\n//line README.md:12:1\n\nv, err := middleware.New",
		"\t_ = v\n\t_ = err\n\t_ = g\n}\n",
	} {
		if !strings.Contains(string(src), want) {
			t.Errorf("generated source lacks %q:\n%s", want, src)
		}
	}

	// A whole file is kept as it is, its lines mapped to the document.
	src, err = goSource(snippet{Line: 4, Code: "package main\n\nfunc main() {}\n"}, "README.md", "snippet01", packages)
	if err != nil {
		t.Fatal(err)
	}
	if want := "//line README.md:4:1\npackage main\n\nfunc main() {}\n"; string(src) != want {
		t.Errorf("whole file:\n got %q\nwant %q", src, want)
	}

	// A fragment that does not parse is reported at its line in the document.
	_, err = goSource(snippet{Line: 40, Code: "x := 1\ny := ...\n"}, "README.md", "snippet03", packages)
	if err == nil || !strings.Contains(err.Error(), "README.md:41:") {
		t.Errorf("goSource of a bad fragment = %v, want an error at README.md:41", err)
	}
}
