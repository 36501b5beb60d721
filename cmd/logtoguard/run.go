package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/logtoguard/logtoguard/cmd/logtoguard/internal/command"
	"github.com/logtoguard/logtoguard/cmd/logtoguard/internal/dev"
	"github.com/logtoguard/logtoguard/cmd/logtoguard/internal/serve"
)

// Exit codes.
const (
	exitOK      = command.ExitOK
	exitInvalid = command.ExitInvalid
	exitUsage   = command.ExitUsage
)

// maxInput bounds what is read from standard input: far above any token.
const maxInput = 1 << 20

const usage = `logtoguard: explain why an API refuses a Logto access token

Usage:
  logtoguard inspect [TOKEN|-]
      Decode a token WITHOUT verifying it and explain what it is: kind,
      header, issuer, audience, subject, client, actor, organization, scopes,
      lifetime, and hints for common mistakes.

  logtoguard verify --endpoint URL --audience API [flags] [TOKEN|-]
      Run every check an API protected by logtoguard runs, against the
      tenant's keys, and print one line per check.
        --endpoint URL    Logto endpoint, such as https://tenant.logto.app
                          (the issuer is URL/oidc)
        --issuer ISS      exact trusted issuer, instead of the one derived
                          from --endpoint (repeatable: a custom domain)
        --jwks-uri URL    JWKS URL, instead of discovery
        --audience API    API identifier the token must be for (repeatable)
        --scope SCOPE     required scope (repeatable, or space-separated)
        --any-scope       one of the --scope values is enough
        --org-tokens      accept organization tokens
                          (urn:logto:organization:<id>)
        --organization ID the organization the route addresses: the token
                          must be for it (an organization token opens only
                          such a route)
        --client ID       the route admits only tokens requested by this
                          app (client_id, repeatable)
        --no-delegation   the route refuses delegated tokens (act)
        --actor ID        the route admits delegated tokens only from this
                          actor (act.sub, repeatable)
        --allow-insecure-http
                          allow plain http to a Logto that is not on this
                          machine, such as http://logto:3001 on a private
                          network (loopback http is always allowed)
        --timeout D       how long to wait for the keys (default 10s)
        -v                log what the library logs to stderr

  logtoguard serve --config FILE
      Run the decision service that lets nginx, Caddy, Traefik or Envoy
      protect any API (logtoguard serve --help for its flags).

  logtoguard dev [--scope SCOPE]... [flags]
      Run a Logto-compatible issuer on localhost until Ctrl-C, to try an
      API or serve without a Logto tenant: prints LOGTO_ENDPOINT, an M2M
      app and a token (logtoguard dev --help for its flags).
  logtoguard dev token [--scope SCOPE]... [flags]
      Mint another token from the running one.

  logtoguard version
      The version of this binary (also --version), from its build
      information: the module version for go install ...@VERSION.

  logtoguard help
      This text.

The token is read from standard input when TOKEN is "-" or missing, which
keeps it out of the shell history; a leading "Bearer " is stripped.

Exit codes: 0 valid (verify) or described (inspect); 1 invalid token (verify)
or not a token (inspect); 2 usage error or keys unreachable.
`

// app is the command with its streams and clock; tests set the clock.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	now            func() time.Time
}

// run is the whole command: main only hands it the process's arguments and
// streams, and exits with what it returns.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr, now: time.Now}
	return a.run(args)
}

func (a *app) run(args []string) int {
	if len(args) == 0 {
		fmt.Fprint(a.stderr, usage)
		return exitUsage
	}
	switch cmd, rest := args[0], args[1:]; cmd {
	case "help", "-h", "-help", "--help":
		fmt.Fprint(a.stdout, usage)
		return exitOK
	case "inspect":
		return a.inspect(rest)
	case "verify":
		return a.verify(rest)
	case "serve":
		return serve.Run(rest, a.stdout, a.stderr)
	case "dev":
		return dev.Main(rest, a.stdout, a.stderr)
	case "version", "-version", "--version":
		if len(rest) > 0 {
			return a.usageError("version", "takes no arguments")
		}
		fmt.Fprintln(a.stdout, version(debug.ReadBuildInfo()))
		return exitOK
	default:
		return a.usageError("", fmt.Sprintf("unknown command %q (want inspect, verify, serve, dev, version or help)", cmd))
	}
}

// usageError prints a one-line error and returns exitUsage.
func (a *app) usageError(cmd, msg string) int { return command.UsageError(a.stderr, cmd, msg) }

// parseFlags, newFlagSet and flagError are the commands' shared flag
// handling.
var (
	parseFlags = command.ParseFlags
	newFlagSet = command.NewFlagSet
	flagError  = command.FlagError
)

// readToken returns the token from the positional arguments or standard
// input, without surrounding space, quotes, "Authorization:" or "Bearer ".
func (a *app) readToken(pos []string) (string, error) {
	var raw string
	switch {
	case len(pos) > 1:
		return "", fmt.Errorf("expected one token, got %d arguments", len(pos))
	case len(pos) == 1 && pos[0] != "-":
		raw = pos[0]
	default:
		if f, ok := a.stdin.(*os.File); ok {
			if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
				return "", errors.New("no token: pass it as an argument, or pipe it on standard input")
			}
		}
		b, err := io.ReadAll(io.LimitReader(a.stdin, maxInput+1))
		if err != nil {
			return "", fmt.Errorf("reading standard input: %v", err)
		}
		if len(b) > maxInput {
			return "", fmt.Errorf("standard input is larger than %d bytes: not a token", maxInput)
		}
		raw = string(b)
	}
	tok := cleanToken(raw)
	if tok == "" {
		return "", errors.New("no token: the input is empty")
	}
	return tok, nil
}

// cleanToken strips what is commonly pasted around a token: space and line
// breaks, quotes, an "Authorization:" header name and the Bearer scheme.
func cleanToken(s string) string {
	s = strings.TrimSpace(s)
	s = strings.Trim(s, `"'`)
	s = strings.TrimSpace(s)
	if name, rest, ok := strings.Cut(s, ":"); ok && strings.EqualFold(strings.TrimSpace(name), "Authorization") {
		s = strings.TrimSpace(rest)
	}
	if scheme, rest, ok := strings.Cut(s, " "); ok && strings.EqualFold(scheme, "Bearer") {
		s = strings.TrimSpace(rest)
	}
	return s
}

// preview is what the command prints of a token: never more than its first
// 12 characters.
func preview(token string) string {
	const n = 10
	if len(token) <= n {
		return token
	}
	return token[:n] + "…"
}

// ago says how long ago t was, or how far ahead it is, from now.
func ago(t, now time.Time) string {
	d := t.Sub(now)
	switch {
	case d > -time.Second && d < time.Second:
		return "now"
	case d < 0:
		return human(-d) + " ago"
	default:
		return "in " + human(d)
	}
}

// human writes d rounded to the second, leaving out zero units: 1h, 5m,
// 59m59s, 2d3h.
func human(d time.Duration) string {
	d = d.Round(time.Second)
	if d < time.Second {
		return "0s"
	}
	days := d / (24 * time.Hour)
	d -= days * 24 * time.Hour
	h := d / time.Hour
	d -= h * time.Hour
	m := d / time.Minute
	d -= m * time.Minute
	s := d / time.Second
	var b strings.Builder
	if days > 0 {
		fmt.Fprintf(&b, "%dd", days)
	}
	if h > 0 {
		fmt.Fprintf(&b, "%dh", h)
	}
	if days == 0 && m > 0 {
		fmt.Fprintf(&b, "%dm", m)
	}
	if days == 0 && h == 0 && s > 0 {
		fmt.Fprintf(&b, "%ds", s)
	}
	return b.String()
}

// stamp formats a time for the output, in UTC.
func stamp(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") }
