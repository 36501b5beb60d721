package main

import (
	"bytes"
	"encoding/base64"
	"errors"
	"net"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/logtoguard/logtoguard/logtotest"
)

const api = "https://api.example.com"

// t0 is the clock of the issuer and of the command in these tests, so that
// times and lifetimes print the same at every run.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func newIssuer(t *testing.T, opts ...logtotest.Option) *logtotest.Issuer {
	t.Helper()
	return logtotest.New(t, append([]logtotest.Option{logtotest.WithClock(func() time.Time { return t0 })}, opts...)...)
}

type result struct {
	code           int
	stdout, stderr string
}

// cli runs the command at t0 with stdin as standard input.
func cli(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	a := &app{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errb, now: func() time.Time { return t0 }}
	code := a.run(args)
	return result{code, out.String(), errb.String()}
}

// noToken fails if the output holds more of the token than a short prefix.
func (r result) noToken(t *testing.T, token string) {
	t.Helper()
	if len(token) > 12 && strings.Contains(r.stdout+r.stderr, token[:13]) {
		t.Errorf("the output holds more than 12 characters of the token:\n%s%s", r.stdout, r.stderr)
	}
}

func (r result) exit(t *testing.T, want int) {
	t.Helper()
	if r.code != want {
		t.Errorf("exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, want, r.stdout, r.stderr)
	}
}

// has fails unless a line of stdout matches each pattern (anchored at the
// line's start).
func (r result) has(t *testing.T, patterns ...string) {
	t.Helper()
	for _, p := range patterns {
		if !regexp.MustCompile(`(?m)^` + p).MatchString(r.stdout) {
			t.Errorf("no line matches %q in:\n%s", p, r.stdout)
		}
	}
}

func (r result) hasNot(t *testing.T, patterns ...string) {
	t.Helper()
	for _, p := range patterns {
		if regexp.MustCompile(`(?m)^` + p).MatchString(r.stdout) {
			t.Errorf("a line matches %q in:\n%s", p, r.stdout)
		}
	}
}

var checkLine = regexp.MustCompile(`(?m)^(ok|FAIL|skip)\s{2,}(\S+(?: \S+)?)\s{2,}`)

// checks returns the check lines of verify as "name:status", in order.
func (r result) checks() string {
	var out []string
	for _, m := range checkLine.FindAllStringSubmatch(r.stdout, -1) {
		out = append(out, m[2]+":"+m[1])
	}
	return strings.Join(out, " ")
}

func (r result) wantChecks(t *testing.T, want string) {
	t.Helper()
	if got := r.checks(); got != want {
		t.Errorf("checks\n got %s\nwant %s\nstdout:\n%s", got, want, r.stdout)
	}
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// jwe returns a token shaped like an encrypted JWT: five parts.
func jwe() string {
	return strings.Join([]string{b64(`{"alg":"RSA-OAEP","enc":"A256GCM"}`), b64("key"), b64("iv"), b64("ciphertext"), b64("tag")}, ".")
}

func TestInspect(t *testing.T) {
	iss := newIssuer(t)
	kid := iss.SigningKey().ID()
	ep := regexp.QuoteMeta(iss.Endpoint())
	unsigned := b64(`{"alg":"none","typ":"at+jwt"}`) + "." + b64(`{"iss":"`+iss.Issuer()+`","aud":"`+api+`","sub":"a","client_id":"a","exp":1900000000}`) + "."

	tests := []struct {
		name  string
		token string
		want  []string // patterns of lines that must be there
		not   []string // patterns of lines that must not
	}{
		{
			name:  "m2m",
			token: iss.M2MToken("inventory-sync", api, "read:products", "write:products"),
			want: []string{
				`kind +JWT access token for the API resource https://api\.example\.com$`,
				`header +alg ES384, typ at\+jwt, kid ` + kid + `$`,
				`issuer +` + ep + `/oidc$`,
				` +Logto endpoint ` + ep + ` `,
				`audience +https://api\.example\.com$`,
				`subject +inventory-sync$`,
				`client_id +inventory-sync$`,
				`caller +machine-to-machine app inventory-sync \(sub == client_id\)$`,
				`organization +\(none\)$`,
				`scopes +read:products write:products$`,
				`issued at +2026-03-01 12:00:00 UTC \(now\)$`,
				`expires at +2026-03-01 13:00:00 UTC \(in 1h; lifetime 1h\)$`,
				`check it: logtoguard verify --endpoint ` + ep + ` --audience https://api\.example\.com -$`,
			},
			not: []string{`hints:`},
		},
		{
			name:  "user",
			token: iss.UserToken("u_7f3k2", "spa-app", api, "read:products"),
			want: []string{
				`kind +JWT access token for the API resource https://api\.example\.com$`,
				`subject +u_7f3k2$`,
				`client_id +spa-app$`,
				`caller +user u_7f3k2 through the app spa-app$`,
				`scopes +read:products$`,
			},
		},
		{
			name:  "organization",
			token: iss.OrganizationToken("u_7f3k2", "spa-app", "org_acme", "invite:member"),
			want: []string{
				`kind +organization token \(aud urn:logto:organization:<id>\)`,
				`audience +urn:logto:organization:org_acme$`,
				`organization +org_acme \(from the audience\)$`,
				`scopes +invite:member$`,
				`  - an organization token is accepted only by an API configured with AcceptOrganizationTokens`,
				`check it: logtoguard verify --endpoint ` + ep + ` --audience <your API identifier> --org-tokens -$`,
			},
		},
		{
			name: "organization-level API resource",
			token: iss.Mint(logtotest.Token{Subject: "u_7f3k2", ClientID: "spa-app", Audience: api,
				OrganizationID: "org_acme", Scopes: []string{"read:products"}}),
			want: []string{
				`kind +JWT access token for the organization-level API resource https://api\.example\.com$`,
				`organization +org_acme$`,
				`  - a token of an organization-level API resource: routes must check that organization_id`,
			},
		},
		{
			name:  "expired",
			token: iss.ExpiredToken("inventory-sync", api, "read:products"),
			want: []string{
				`issued at +2026-03-01 10:00:00 UTC \(2h ago\)$`,
				`expires at +2026-03-01 11:00:00 UTC \(expired 1h ago\)$`,
				`  - the token has expired: get a new one`,
			},
		},
		{
			name:  "opaque",
			token: iss.OpaqueToken(),
			want: []string{
				`token +\S{10}… \(43 bytes, 1 part\)$`,
				`kind +opaque access token \(not a JWT\)`,
				`  - Logto returns an opaque token when the client did not pass ` + "`resource`" + `: request the access token with resource=<your API identifier>`,
			},
			not: []string{`issuer`, `check it:`},
		},
		{
			name:  "wrong audience: the Management API",
			token: iss.WrongAudienceToken("inventory-sync"),
			want: []string{
				`kind +access token for Logto's Management API \(https://default\.logto\.app/api\)$`,
				`audience +https://default\.logto\.app/api$`,
				`scopes +all$`,
				`  - this token is for Logto's Management API; your API must refuse it`,
			},
			not: []string{`check it:`},
		},
		{
			name:  "Management API of a Logto Cloud tenant",
			token: iss.M2MToken("inventory-sync", "https://x9k2md.logto.app/api", "all"),
			want: []string{
				`kind +access token for Logto's Management API \(https://x9k2md\.logto\.app/api\)$`,
				`  - this token is for Logto's Management API`,
			},
		},
		{
			name:  "ID token",
			token: iss.IDToken("u_7f3k2", "spa-app"),
			want: []string{
				`kind +ID token \(OpenID Connect\)`,
				`header +alg ES384, typ JWT, kid ` + kid + `$`,
				`audience +spa-app \(the client ID of the app the user signed in to\)$`,
				`client_id +\(none\)$`,
				`  - this is an ID token: send the access token instead, requested with resource=<your API identifier>`,
			},
			not: []string{`caller`, `scopes`, `check it:`},
		},
		{
			name:  "no scope granted",
			token: iss.M2MToken("inventory-sync", api),
			want: []string{
				`scopes +\(none\)$`,
				`  - Logto left out the scope claim: none of the requested scopes was granted`,
			},
		},
		{
			name:  "encrypted",
			token: jwe(),
			want: []string{
				`kind +encrypted token \(JWE, 5 parts\)`,
				`header +alg RSA-OAEP, enc A256GCM$`,
				`  - Logto issues signed JWTs \(3 parts\), never encrypted ones`,
			},
		},
		{
			name:  "shared-secret algorithm",
			token: iss.Mint(logtotest.Token{Subject: "a", ClientID: "a", Audience: api, Header: map[string]any{"alg": "HS256"}}),
			want:  []string{`  - alg "HS256": Logto signs with ES384 \(or RS256\), never with a shared secret`},
		},
		{
			name:  "unsigned",
			token: unsigned,
			want:  []string{`header +alg none, typ at\+jwt, kid \(none\)$`, `  - alg "none": Logto signs with ES384 \(or RS256\), never with a shared secret or none`},
		},
		{
			name:  "no kid",
			token: iss.Mint(logtotest.Token{Subject: "a", ClientID: "a", Audience: api, Header: map[string]any{"kid": nil}}),
			want:  []string{`header +alg ES384, typ at\+jwt, kid \(none\)$`, `  - the header has no kid`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := cli(t, tt.token+"\n", "inspect")
			r.exit(t, exitOK)
			r.has(t, `NOT VERIFIED: decoded without checking the signature, issuer or audience\.$`)
			r.has(t, tt.want...)
			r.hasNot(t, tt.not...)
			r.noToken(t, tt.token)
			if r.stderr != "" {
				t.Errorf("stderr: %s", r.stderr)
			}
		})
	}
}

// The token comes as an argument, from stdin, or after "-", with or without
// "Bearer " or a whole Authorization header.
func TestInspectInput(t *testing.T) {
	iss := newIssuer(t)
	token := iss.M2MToken("inventory-sync", api, "read:products")
	kind := `kind +JWT access token for the API resource https://api\.example\.com$`
	for _, tt := range []struct {
		name, stdin string
		args        []string
	}{
		{"argument", "", []string{"inspect", token}},
		{"argument with Bearer", "", []string{"inspect", "Bearer " + token}},
		{"stdin", token, []string{"inspect"}},
		{"stdin after -", "  bearer " + token + "\r\n", []string{"inspect", "-"}},
		{"Authorization header", "Authorization: Bearer " + token + "\n", []string{"inspect"}},
		{"quoted", `"` + token + `"`, []string{"inspect"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := cli(t, tt.stdin, tt.args...)
			r.exit(t, exitOK)
			r.has(t, kind)
			r.noToken(t, token)
		})
	}
}

func TestInspectGarbage(t *testing.T) {
	for _, tt := range []struct {
		name, input, want string
	}{
		{"words", "this is not a token", `kind +not a token: character ' ' at offset 4 is not in the base64url alphabet$`},
		{"three parts, no JSON", "abc.def.ghi", `kind +not a token: token is malformed: could not JSON decode header`},
		{"two parts", "eyJhbGciOiJFUzM4NCJ9.e30", `kind +not a token: 2 dot-separated parts \(a JWT has 3\)$`},
		{"four parts", "a.b.c.d", `kind +not a token: 4 dot-separated parts \(a JWT has 3\)$`},
		{"padded base64", "eyJhbGciOiJFUzM4NCJ9.e30=.c2ln", `kind +not a token: character '=' at offset 24`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := cli(t, tt.input, "inspect")
			r.exit(t, exitInvalid)
			r.has(t, `NOT VERIFIED`, tt.want)
			r.hasNot(t, `issuer`, `audience`)
		})
	}
}

func TestUsage(t *testing.T) {
	for _, tt := range []struct {
		name  string
		stdin string
		args  []string
		want  string // the one line on stderr
	}{
		{"unknown command", "", []string{"decode"}, `logtoguard: unknown command "decode" (want inspect, verify, serve, dev, version or help) (see logtoguard help)`},
		{"two tokens", "", []string{"inspect", "a", "b"}, `logtoguard inspect: expected one token, got 2 arguments (see logtoguard help)`},
		{"empty stdin", " \n", []string{"inspect"}, `logtoguard inspect: no token: the input is empty (see logtoguard help)`},
		{"unknown flag", "", []string{"inspect", "--verify", "x"}, `logtoguard inspect: flag provided but not defined: -verify (see logtoguard help)`},
		{"no audience", "x", []string{"verify", "--endpoint", "https://t.logto.app"}, `logtoguard verify: --audience is required (the API identifier of your API resource in Logto) (see logtoguard help)`},
		{"no endpoint", "x", []string{"verify", "--audience", api}, `logtoguard verify: --endpoint is required (such as https://your-tenant.logto.app), or --issuer (see logtoguard help)`},
		{"endpoint with /oidc", "x", []string{"verify", "--endpoint", "https://t.logto.app/oidc", "--audience", api}, `logtoguard verify: middleware: endpoint "https://t.logto.app/oidc" must not include /oidc (it is added) (see logtoguard help)`},
		{"Management API audience", "x", []string{"verify", "--endpoint", "https://t.logto.app", "--audience", "https://t.logto.app/api"}, `logtoguard verify: middleware: audience "https://t.logto.app/api" is Logto's Management API; use your own API resource's identifier (see logtoguard help)`},
		{"plain http to a remote Logto", "x", []string{"verify", "--endpoint", "http://t.logto.app", "--audience", api}, `logtoguard verify: middleware: Endpoint "http://t.logto.app" is plain http to a host that is not loopback, so the signing keys could be replaced on the way: use https, or set AllowInsecureHTTP if Logto is reached on a private network (such as http://logto:3001 in Docker Compose) (here: --allow-insecure-http) (see logtoguard help)`},
		{"bad timeout", "x", []string{"verify", "--endpoint", "https://t.logto.app", "--audience", api, "--timeout", "0s"}, `logtoguard verify: --timeout must be positive (see logtoguard help)`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := cli(t, tt.stdin, tt.args...)
			r.exit(t, exitUsage)
			if got := r.stderr; got != tt.want+"\n" {
				t.Errorf("stderr\n got %q\nwant %q", got, tt.want+"\n")
			}
			if r.stdout != "" {
				t.Errorf("stdout: %q", r.stdout)
			}
		})
	}

	t.Run("no arguments", func(t *testing.T) {
		r := cli(t, "", []string{}...)
		r.exit(t, exitUsage)
		if !strings.Contains(r.stderr, "logtoguard verify --endpoint URL --audience API") {
			t.Errorf("no usage on stderr: %q", r.stderr)
		}
	})
	for _, arg := range []string{"help", "-h", "--help"} {
		t.Run(arg, func(t *testing.T) {
			r := cli(t, "", arg)
			r.exit(t, exitOK)
			r.has(t, `  logtoguard inspect \[TOKEN\|-\]$`, `  logtoguard verify --endpoint URL --audience API \[flags\] \[TOKEN\|-\]$`)
		})
	}
}

// allOK is the verify check list of an accepted token.
const allOK = "keys:ok format:ok algorithm:ok type:ok issuer:ok audience:ok lifetime:ok subject:ok signature:ok scopes:ok"

func TestVerify(t *testing.T) {
	iss := newIssuer(t)
	ep := iss.Endpoint()
	kid := iss.SigningKey().ID()
	base := []string{"verify", "--endpoint", ep, "--audience", api, "--timeout", "5s"}
	mint := func(spec logtotest.Token) string {
		if spec.Subject == "" {
			spec.Subject, spec.ClientID = "inventory-sync", "inventory-sync"
		}
		if spec.Audience == nil {
			spec.Audience = api
		}
		return iss.Mint(spec)
	}

	tests := []struct {
		name   string
		token  string
		extra  []string
		code   int
		checks string
		want   []string
	}{
		{
			name:   "valid",
			token:  iss.M2MToken("inventory-sync", api, "read:products"),
			code:   exitOK,
			checks: allOK,
			want: []string{
				`ok +keys +loaded from ` + regexp.QuoteMeta(iss.JWKSURL()) + ` \(1 key\)$`,
				`ok +algorithm +ES384 `,
				`ok +type +at\+jwt$`,
				`ok +issuer +` + regexp.QuoteMeta(iss.Issuer()) + ` \(trusted\)$`,
				`ok +audience +https://api\.example\.com$`,
				`ok +signature +verified with key ` + kid + `$`,
				`ok +lifetime +expires 2026-03-01 13:00:00 UTC \(in 1h\)$`,
				`ok +subject +inventory-sync: machine-to-machine app \(sub == client_id\)$`,
				`ok +scopes +none required \(--scope\); granted read:products$`,
				`verdict +VALID`,
			},
		},
		{
			name:   "scopes granted",
			token:  iss.UserToken("u_7f3k2", "spa-app", api, "read:products", "write:products"),
			extra:  []string{"--scope", "read:products write:products"},
			code:   exitOK,
			checks: allOK,
			want: []string{
				`ok +subject +u_7f3k2: a user, through the app spa-app$`,
				`ok +scopes +requires read:products, write:products; granted read:products write:products$`,
			},
		},
		{
			name:   "any of the scopes",
			token:  iss.M2MToken("inventory-sync", api, "write:products"),
			extra:  []string{"--scope", "read:products", "--scope", "write:products", "--any-scope"},
			code:   exitOK,
			checks: allOK,
			want:   []string{`ok +scopes +requires one of read:products, write:products; granted write:products$`},
		},
		{
			name:   "missing scope",
			token:  iss.M2MToken("inventory-sync", api, "read:products"),
			extra:  []string{"--scope", "write:products"},
			code:   exitInvalid,
			checks: "keys:ok format:ok algorithm:ok type:ok issuer:ok audience:ok lifetime:ok subject:ok signature:ok scopes:FAIL",
			want: []string{
				`FAIL +scopes +missing write:products$`,
				` +the route requires write:products; the token grants read:products$`,
				`verdict +INVALID for this route: the token is valid, but it lacks a scope the route requires$`,
			},
		},
		{
			name:   "expired",
			token:  iss.ExpiredToken("inventory-sync", api, "read:products"),
			code:   exitInvalid,
			checks: "keys:ok format:ok algorithm:ok type:ok issuer:ok audience:ok lifetime:FAIL subject:skip signature:skip scopes:skip",
			want: []string{
				`FAIL +lifetime +the token has expired$`,
				` +expired at 2026-03-01 11:00:00 UTC \(1h ago\): get a new token$`,
				`verdict +INVALID: an API configured like this refuses the token \(token expired\)$`,
			},
		},
		{
			name:   "opaque",
			token:  iss.OpaqueToken(),
			code:   exitInvalid,
			checks: "keys:ok format:FAIL algorithm:skip type:skip issuer:skip audience:skip lifetime:skip subject:skip signature:skip scopes:skip",
			want: []string{
				`FAIL +format +token is opaque, not a JWT: request the access token with resource=<your API identifier>$`,
				`verdict +INVALID: an API configured like this refuses the token \(opaque token\)$`,
			},
		},
		{
			name:   "wrong audience",
			token:  iss.WrongAudienceToken("inventory-sync"),
			code:   exitInvalid,
			checks: "keys:ok format:ok algorithm:ok type:ok issuer:ok audience:FAIL lifetime:skip subject:skip signature:skip scopes:skip",
			want: []string{
				`FAIL +audience +the token is for Logto's Management API, not this API`,
				` +expected one of \[https://api\.example\.com\], received \[https://default\.logto\.app/api\]$`,
				`verdict +INVALID: an API configured like this refuses the token \(audience mismatch\)$`,
			},
		},
		{
			name:   "another API's audience",
			token:  iss.M2MToken("inventory-sync", "https://billing.example.com", "read:invoices"),
			code:   exitInvalid,
			checks: "keys:ok format:ok algorithm:ok type:ok issuer:ok audience:FAIL lifetime:skip subject:skip signature:skip scopes:skip",
			want: []string{
				`FAIL +audience +the token's audience "https://billing\.example\.com" is not this API$`,
				` +expected one of \[https://api\.example\.com\], received \[https://billing\.example\.com\]$`,
			},
		},
		{
			name:   "ID token",
			token:  iss.IDToken("u_7f3k2", "spa-app"),
			code:   exitInvalid,
			checks: "keys:ok format:ok algorithm:ok type:FAIL issuer:skip audience:skip lifetime:skip subject:skip signature:skip scopes:skip",
			want: []string{
				`FAIL +type +the token is not an access token \(typ "JWT", want at\+jwt\)`,
				` +its aud "spa-app" is an app's client ID, as in an ID token$`,
				`verdict +INVALID: an API configured like this refuses the token \(not an access token\)$`,
			},
		},
		{
			name:   "foreign key",
			token:  iss.ForeignKeyToken("inventory-sync", api, "read:products"),
			code:   exitInvalid,
			checks: "keys:ok format:ok algorithm:ok type:ok issuer:ok audience:ok lifetime:ok subject:ok signature:FAIL scopes:skip",
			want: []string{
				`FAIL +signature +the token is signed with a key the issuer does not publish$`,
				` +the JWKS publishes ` + kid + `$`,
				`verdict +INVALID: an API configured like this refuses the token \(unknown signing key\)$`,
			},
		},
		{
			name:   "untrusted issuer",
			token:  mint(logtotest.Token{Issuer: "https://evil.example.com/oidc"}),
			code:   exitInvalid,
			checks: "keys:ok format:ok algorithm:ok type:ok issuer:FAIL audience:skip lifetime:skip subject:skip signature:skip scopes:skip",
			want:   []string{`FAIL +issuer +the token's issuer "https://evil\.example\.com/oidc" is not trusted by this API: if it is your Logto tenant on a custom domain, add it to the trusted issuers$`},
		},
		{
			name:   "organization token refused",
			token:  iss.OrganizationToken("u_7f3k2", "spa-app", "org_acme", "invite:member"),
			code:   exitInvalid,
			checks: "keys:ok format:ok algorithm:ok type:ok issuer:ok audience:FAIL lifetime:skip subject:skip signature:skip scopes:skip",
		},
		{
			name:   "organization token accepted",
			token:  iss.OrganizationToken("u_7f3k2", "spa-app", "org_acme", "invite:member"),
			extra:  []string{"--org-tokens", "--organization", "org_acme", "--scope", "invite:member"},
			code:   exitOK,
			checks: allOK,
			want:   []string{`ok +audience +urn:logto:organization:org_acme$`},
		},
		{
			name:   "organization token on a route for no organization",
			token:  iss.OrganizationToken("u_7f3k2", "spa-app", "org_acme", "invite:member"),
			extra:  []string{"--org-tokens", "--scope", "invite:member"},
			code:   exitInvalid,
			checks: "keys:ok format:ok algorithm:ok type:ok issuer:ok audience:ok lifetime:ok subject:ok signature:ok scopes:FAIL",
			want: []string{`FAIL +scopes +an organization token is accepted only on routes for its organization$`,
				`verdict +INVALID for this route: the token is valid, but the route refuses it \(organization mismatch\)$`},
		},
		{
			name:   "organization token for another organization",
			token:  iss.OrganizationToken("u_7f3k2", "spa-app", "org_acme", "invite:member"),
			extra:  []string{"--org-tokens", "--organization", "org_globex"},
			code:   exitInvalid,
			checks: "keys:ok format:ok algorithm:ok type:ok issuer:ok audience:ok lifetime:ok subject:ok signature:ok scopes:FAIL",
			want:   []string{`FAIL +scopes +the token is not for organization "org_globex"$`},
		},
		{
			name:   "encrypted",
			token:  jwe(),
			code:   exitInvalid,
			checks: "keys:ok format:FAIL algorithm:skip type:skip issuer:skip audience:skip lifetime:skip subject:skip signature:skip scopes:skip",
			want:   []string{`FAIL +format +encrypted tokens \(JWE\) are not accepted$`},
		},
		{
			name:   "not a token",
			token:  "abc.def.ghi",
			code:   exitInvalid,
			checks: "keys:ok format:FAIL algorithm:skip type:skip issuer:skip audience:skip lifetime:skip subject:skip signature:skip scopes:skip",
			want:   []string{`FAIL +format +the token is malformed$`},
		},
		// The checks that the library reports as malformed tokens are placed
		// where the library runs them.
		{
			name:   "algorithm not allowed",
			token:  mint(logtotest.Token{Header: map[string]any{"alg": "HS256"}}),
			code:   exitInvalid,
			checks: "keys:ok format:ok algorithm:FAIL type:skip issuer:skip audience:skip lifetime:skip subject:skip signature:skip scopes:skip",
			want:   []string{`FAIL +algorithm +algorithm "HS256" is not allowed$`},
		},
		{
			name:   "crit header",
			token:  mint(logtotest.Token{Header: map[string]any{"crit": []string{"exp"}}}),
			code:   exitInvalid,
			checks: "keys:ok format:ok algorithm:ok header:FAIL type:skip issuer:skip audience:skip lifetime:skip subject:skip signature:skip scopes:skip",
			want:   []string{`FAIL +header +the crit header is not supported$`},
		},
		{
			name:   "no kid",
			token:  mint(logtotest.Token{Header: map[string]any{"kid": nil}}),
			code:   exitInvalid,
			checks: "keys:ok format:ok algorithm:ok type:ok key id:FAIL issuer:skip audience:skip lifetime:skip subject:skip signature:skip scopes:skip",
			want:   []string{`FAIL +key id +the kid header is missing$`},
		},
		{
			name:   "no exp",
			token:  mint(logtotest.Token{Extra: map[string]any{"exp": nil}}),
			code:   exitInvalid,
			checks: "keys:ok format:ok algorithm:ok type:ok issuer:ok audience:ok lifetime:FAIL subject:skip signature:skip scopes:skip",
			want:   []string{`FAIL +lifetime +the exp claim is missing$`},
		},
		{
			name:   "no sub",
			token:  mint(logtotest.Token{Extra: map[string]any{"sub": nil}}),
			code:   exitInvalid,
			checks: "keys:ok format:ok algorithm:ok type:ok issuer:ok audience:ok lifetime:ok subject:FAIL signature:skip scopes:skip",
			want:   []string{`FAIL +subject +the sub claim is missing$`},
		},
		{
			name:   "claim of the wrong type",
			token:  mint(logtotest.Token{Extra: map[string]any{"exp": "tomorrow"}}),
			code:   exitInvalid,
			checks: "keys:ok format:FAIL algorithm:skip type:skip issuer:skip audience:skip lifetime:skip subject:skip signature:skip scopes:skip",
		},
		{
			name:   "issued in the future",
			token:  mint(logtotest.Token{IssuedAt: t0.Add(10 * time.Minute)}),
			code:   exitInvalid,
			checks: "keys:ok format:ok algorithm:ok type:ok issuer:ok audience:ok lifetime:FAIL subject:skip signature:skip scopes:skip",
			want:   []string{` +issued at 2026-03-01 12:10:00 UTC \(in 10m\): the clocks of this machine and Logto disagree$`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := cli(t, tt.token, append(append([]string{}, base...), tt.extra...)...)
			r.exit(t, tt.code)
			r.wantChecks(t, tt.checks)
			r.has(t, tt.want...)
			r.noToken(t, tt.token)
		})
	}
}

// A token signed with a forged signature under the issuer's real kid fails
// the signature check itself.
func TestVerifyForgedSignature(t *testing.T) {
	iss := newIssuer(t)
	token := iss.M2MToken("inventory-sync", api, "read:products")
	other := iss.M2MToken("someone-else", api, "read:products")
	forged := token[:strings.LastIndexByte(token, '.')] + other[strings.LastIndexByte(other, '.'):]
	r := cli(t, forged, "verify", "--endpoint", iss.Endpoint(), "--audience", api)
	r.exit(t, exitInvalid)
	r.wantChecks(t, "keys:ok format:ok algorithm:ok type:ok issuer:ok audience:ok lifetime:ok subject:ok signature:FAIL scopes:skip")
	r.has(t, `FAIL +signature +the token's signature is invalid$`)
}

// Flags may follow the token, the JWKS URL and issuers may be given
// instead of discovery, as for a Logto custom domain.
func TestVerifyCustomDomain(t *testing.T) {
	iss := newIssuer(t, logtotest.WithIssuer("https://auth.example.com/oidc"))
	token := iss.M2MToken("inventory-sync", api, "read:products")
	r := cli(t, "", "verify", token, "--issuer", "https://auth.example.com/oidc", "--jwks-uri", iss.JWKSURL(), "--audience", api)
	r.exit(t, exitOK)
	r.wantChecks(t, allOK)
	r.has(t, `ok +keys +loaded from `+regexp.QuoteMeta(iss.JWKSURL())+` \(1 key\)$`,
		`ok +issuer +https://auth\.example\.com/oidc \(trusted\)$`)

	// The same token against the default domain's issuer only.
	r = cli(t, "", "verify", token, "--endpoint", iss.Endpoint(), "--jwks-uri", iss.JWKSURL(), "--audience", api)
	r.exit(t, exitInvalid)
	r.has(t, `FAIL +issuer +the token's issuer "https://auth\.example\.com/oidc" is not trusted by this API: if it is your Logto tenant on a custom domain, add it to the trusted issuers$`)
}

// A staged rotation publishes two keys; both are counted.
func TestVerifyCountsKeys(t *testing.T) {
	iss := newIssuer(t)
	iss.StageRotation()
	r := cli(t, iss.M2MToken("inventory-sync", api), "verify", "--endpoint", iss.Endpoint(), "--audience", api)
	r.exit(t, exitOK)
	r.has(t, `ok +keys +loaded from \S+ \(2 keys\)$`)
}

func TestVerifyKeysUnavailable(t *testing.T) {
	iss := newIssuer(t)
	token := iss.M2MToken("inventory-sync", api, "read:products")

	t.Run("endpoint unreachable", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		closed := "http://" + l.Addr().String()
		l.Close()
		r := cli(t, token, "verify", "--endpoint", closed, "--audience", api, "--timeout", "5s")
		r.exit(t, exitUsage)
		r.wantChecks(t, "keys:FAIL")
		r.has(t, `FAIL +keys +could not load the signing keys from `+regexp.QuoteMeta(closed)+`/oidc/\.well-known/openid-configuration$`,
			` +jwks: fetch failed: discovery: .*connection refused`,
			`verdict +KEYS UNAVAILABLE`)
		r.noToken(t, token)
	})
	t.Run("JWKS down", func(t *testing.T) {
		iss.SetJWKSDown(true)
		defer iss.SetJWKSDown(false)
		r := cli(t, token, "verify", "--endpoint", iss.Endpoint(), "--audience", api, "--timeout", "5s")
		r.exit(t, exitUsage)
		r.has(t, `FAIL +keys +could not load the signing keys from `+regexp.QuoteMeta(iss.JWKSURL())+`$`, ` +jwks: fetch failed: .*503`)
	})
	t.Run("JWKS too slow for the timeout", func(t *testing.T) {
		iss.SetJWKSDelay(time.Minute)
		defer iss.SetJWKSDelay(0)
		r := cli(t, token, "verify", "--endpoint", iss.Endpoint(), "--audience", api, "--timeout", "200ms")
		r.exit(t, exitUsage)
		r.wantChecks(t, "keys:FAIL")
	})
}

func TestHuman(t *testing.T) {
	for _, tt := range []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"},
		{400 * time.Millisecond, "0s"},
		{59 * time.Second, "59s"},
		{5 * time.Minute, "5m"},
		{59*time.Minute + 59*time.Second, "59m59s"},
		{time.Hour, "1h"},
		{time.Hour + 90*time.Second, "1h1m"},
		{49 * time.Hour, "2d1h"},
		{30 * 24 * time.Hour, "30d"},
	} {
		if got := human(tt.d); got != tt.want {
			t.Errorf("human(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}

// The built binary hands its arguments, streams and exit code through main.
func TestBinary(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to build the binary: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "logtoguard")
	if out, err := exec.Command(goTool, "build", "-buildvcs=false", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	iss := logtotest.New(t) // the binary runs on the real clock
	token := iss.M2MToken("inventory-sync", api, "read:products")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String()
	l.Close()

	for _, tt := range []struct {
		name   string
		stdin  string
		args   []string
		code   int
		stdout string // a line that must be there
		stderr string
	}{
		{"valid token as argument", "", []string{"verify", "--endpoint", iss.Endpoint(), "--audience", api, token}, 0, "verdict   VALID", ""},
		{"expired token on stdin", iss.ExpiredToken("inventory-sync", api), []string{"verify", "--endpoint", iss.Endpoint(), "--audience", api, "-"}, 1, "FAIL  lifetime", ""},
		{"missing scope", token, []string{"verify", "--endpoint", iss.Endpoint(), "--audience", api, "--scope", "write:products"}, 1, "FAIL  scopes", ""},
		{"keys unreachable", token, []string{"verify", "--endpoint", closed, "--audience", api}, 2, "FAIL  keys", ""},
		{"inspect", "Bearer " + token, []string{"inspect"}, 0, "caller        machine-to-machine app inventory-sync (sub == client_id)", ""},
		{"inspect garbage", "not a token", []string{"inspect"}, 1, "kind          not a token", ""},
		{"help", "", []string{"help"}, 0, "Usage:", ""},
		{"version", "", []string{"version"}, 0, "logtoguard (devel) (github.com/logtoguard/logtoguard/cmd/logtoguard), built with go1.", ""},
		{"--version", "", []string{"--version"}, 0, "logtoguard (devel) (github.com/logtoguard/logtoguard/cmd/logtoguard), built with go1.", ""},
		{"no arguments", "", nil, 2, "", "Usage:"},
		{"bad usage", "", []string{"verify", "--audience", api, token}, 2, "", "logtoguard verify: --endpoint is required"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(bin, tt.args...)
			cmd.Stdin = strings.NewReader(tt.stdin)
			var out, errb bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &errb
			err := cmd.Run()
			code := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tt.code {
				t.Errorf("exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.code, out.String(), errb.String())
			}
			if !strings.Contains(out.String(), tt.stdout) || !strings.Contains(errb.String(), tt.stderr) {
				t.Errorf("want %q on stdout and %q on stderr\nstdout:\n%s\nstderr:\n%s", tt.stdout, tt.stderr, out.String(), errb.String())
			}
			if strings.Contains(out.String()+errb.String(), token[:13]) {
				t.Errorf("the output holds the token")
			}
		})
	}
}
