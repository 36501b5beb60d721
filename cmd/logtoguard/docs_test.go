package main

import (
	"bytes"
	"flag"
	"fmt"
	"net"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/logtoguard/logtoguard/logtotest"
)

var update = flag.Bool("update", false, "rewrite the command output that README.md and cmd/logtoguard/README.md show")

// The documents whose command output TestDocsOutput produces.
var outputDocs = []string{"README.md", "../../README.md"}

// outputBlock matches a block of command output in a document: the
// annotation naming the scenario, then a fenced block without a language.
var outputBlock = regexp.MustCompile("(?m)^<!-- output: ([a-z0-9-]+) -->\n```\n((?:.*\n)*?)```\n")

// What the documents show in place of what changes at every run.
const (
	docPort     = "38181"
	docKID      = "WQibzWOyJPowWNfmGHCpCecATa4gLGNy9UxgG3_JaZ8"
	docJTI      = "BvauS-RlyXX0eUW0ShxTC"
	docTenant   = "https://your-tenant.logto.app"
	docOpaque   = "yNOw4vYg9QmAzB3L0cTq7rJx2KpWd8FhEuS5iVoN1aZ" // 43 characters, as Logto's
	docUser     = "u_7f3k2"
	docSPA      = "spa-app"
	docM2M      = "inventory-sync"
	docOtherAPI = "https://other.example.com"
)

// docIssued is when the documents' tokens were issued; the command runs
// 3m3s later.
var docIssued = time.Date(2026, 11, 26, 1, 32, 50, 0, time.UTC)

// docRun is one command the documents show the output of.
type docRun struct {
	shown string // the command line shown after "$ ", "" for none
	args  []string
	stdin string
	code  int
	// replace maps what changes at every run to what the document shows.
	replace []string
}

func docRuns(t *testing.T) map[string]docRun {
	clock := logtotest.WithClock(func() time.Time { return docIssued })
	iss := logtotest.New(t, clock)
	local := iss.Endpoint()
	shownLocal := "http://127.0.0.1:" + docPort
	if _, port, _ := net.SplitHostPort(strings.TrimPrefix(local, "http://")); len(port) != len(docPort) {
		t.Skipf("the issuer's port %s has not %d digits: the token sizes would differ from the documents'", port, len(docPort))
	}
	kid := iss.SigningKey().ID()
	jti := regexp.MustCompile(`(?m)^jti +(\S+)$`)
	// A tenant's issuer for README.md, its keys fetched from the local one.
	tenant := logtotest.New(t, clock, logtotest.WithIssuer(docTenant+"/oidc"))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	_ = l.Close()

	user := iss.UserToken(docUser, docSPA, api, "read:products", "write:products")
	valid := iss.M2MToken(docM2M, api, "read:products")
	expired := iss.Mint(logtotest.Token{Subject: docM2M, ClientID: docM2M, Audience: api, Scopes: []string{"read:products"},
		IssuedAt: docIssued.Add(-2 * time.Hour), TTL: time.Hour})
	verifyLocal := []string{"verify", "--endpoint", local, "--audience", api}
	shownVerify := "logtoguard verify --endpoint " + shownLocal + " --audience " + api
	common := []string{local, shownLocal, kid, docKID, tenant.SigningKey().ID(), docKID}
	runs := map[string]docRun{
		"inspect-user": {
			shown: "logtoguard inspect < token.txt", args: []string{"inspect"}, stdin: user,
			replace: []string{jtiOf(t, jti, user), docJTI},
		},
		"inspect-opaque": {shown: "logtoguard inspect < token.txt", args: []string{"inspect"}, stdin: docOpaque},
		"inspect-id-token": {
			shown: "logtoguard inspect < token.txt", args: []string{"inspect"}, stdin: iss.IDToken(docUser, docSPA),
		},
		"verify-valid": {
			shown: shownVerify + " --scope read:products - < token.txt",
			args:  append(verifyLocal, "--scope", "read:products", "-"), stdin: valid,
		},
		"verify-audience": {
			shown: shownVerify + " - < token.txt",
			args:  append(verifyLocal, "-"), stdin: iss.WrongAudienceToken(docM2M), code: exitInvalid,
		},
		"verify-expired": {
			shown: shownVerify + " - < token.txt",
			args:  append(verifyLocal, "-"), stdin: expired, code: exitInvalid,
		},
		"verify-unreachable": {
			shown: "logtoguard verify --endpoint http://127.0.0.1:3001 --audience " + api + " - < token.txt",
			args:  []string{"verify", "--endpoint", "http://" + closed, "--audience", api, "-"}, stdin: valid, code: exitUsage,
			replace: []string{closed, "127.0.0.1:3001"},
		},
		"readme-verify-audience": {
			args:  []string{"verify", "--issuer", docTenant + "/oidc", "--jwks-uri", tenant.JWKSURL(), "--audience", api, "--scope", "read:products", "-"},
			stdin: tenant.M2MToken(docM2M, docOtherAPI, "read:products"), code: exitInvalid,
			replace: []string{tenant.Endpoint(), docTenant},
		},
	}
	for name, r := range runs {
		r.replace = append(r.replace, common...)
		runs[name] = r
	}
	return runs
}

func jtiOf(t *testing.T, re *regexp.Regexp, token string) string {
	t.Helper()
	r := docCLI(docRun{args: []string{"inspect"}, stdin: token})
	m := re.FindStringSubmatch(r)
	if m == nil {
		t.Fatalf("no jti in:\n%s", r)
	}
	return m[1]
}

// docCLI runs the command 3m3s after the documents' tokens were issued.
func docCLI(r docRun) string {
	var out, errb bytes.Buffer
	a := &app{stdin: strings.NewReader(r.stdin), stdout: &out, stderr: &errb, now: func() time.Time { return docIssued.Add(3*time.Minute + 3*time.Second) }}
	code := a.run(r.args)
	if code != r.code {
		return fmt.Sprintf("exit code %d, want %d\n%s%s", code, r.code, out.String(), errb.String())
	}
	return out.String() + errb.String()
}

// TestDocsOutput runs every command whose output README.md and
// cmd/logtoguard/README.md show (a block after <!-- output: NAME -->) and
// fails when a document shows anything else: an order, a line, a flag the
// command does not print. go test -run TestDocsOutput -update rewrites the
// blocks from the command.
func TestDocsOutput(t *testing.T) {
	runs := docRuns(t)
	used := make(map[string]bool)
	for _, doc := range outputDocs {
		b, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		var failed bool
		out := outputBlock.ReplaceAllStringFunc(string(b), func(block string) string {
			m := outputBlock.FindStringSubmatch(block)
			name, shown := m[1], m[2]
			r, ok := runs[name]
			if !ok {
				t.Errorf("%s: unknown output %q", doc, name)
				failed = true
				return block
			}
			used[name] = true
			got := docCLI(r)
			got = strings.NewReplacer(r.replace...).Replace(got)
			if r.shown != "" {
				got = "$ " + r.shown + "\n" + got
			}
			if got != shown {
				if !*update {
					t.Errorf("%s: the output %s is not what the command prints (go test -run TestDocsOutput -update rewrites it):\n--- shown:\n%s--- printed:\n%s", doc, name, shown, got)
				}
				failed = true
			}
			return "<!-- output: " + name + " -->\n```\n" + got + "```\n"
		})
		if *update && failed {
			if err := os.WriteFile(doc, []byte(out), 0o644); err != nil { //nolint:gosec // G306: a document of the repository, world-readable as git checks it out
				t.Fatal(err)
			}
			t.Logf("%s: rewritten", doc)
		}
	}
	for name := range runs {
		if !used[name] {
			t.Errorf("no document shows the output %s", name)
		}
	}
}

// TestDocsVerifyFlags checks that the flag table of cmd/logtoguard/README.md
// names every flag that logtoguard help lists for verify, and no other.
func TestDocsVerifyFlags(t *testing.T) {
	section := usage[strings.Index(usage, "  logtoguard verify"):strings.Index(usage, "  logtoguard serve")]
	var help []string
	for _, m := range regexp.MustCompile(`(?m)^ {8}(--?[a-z-]+)`).FindAllStringSubmatch(section, -1) {
		help = append(help, m[1])
	}
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	doc = doc[strings.Index(doc, "### `verify`"):]
	doc = doc[:strings.Index(doc, "\n## ")]
	var table []string
	for _, m := range regexp.MustCompile("(?m)^\\| `(--?[a-z-]+)[ `]").FindAllStringSubmatch(doc, -1) {
		table = append(table, m[1])
	}
	if len(help) < 10 || strings.Join(help, " ") != strings.Join(table, " ") {
		t.Errorf("the flags of verify:\n logtoguard help:  %s\n README.md table: %s", strings.Join(help, " "), strings.Join(table, " "))
	}
}
