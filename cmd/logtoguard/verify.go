package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/logtoguard/logtoguard/internal/logto"
	"github.com/logtoguard/logtoguard/jwks"
	"github.com/logtoguard/logtoguard/middleware"
)

// defaultTimeout bounds the wait for the keys.
const defaultTimeout = 10 * time.Second

// step is one check, in the order the library runs them (see
// middleware.Validator.Verify): a check printed before the failing one has
// passed.
type step int

const (
	stepFormat    step = iota // size, shape, base64url, JSON
	stepAlgorithm             // alg in the allowlist
	stepMembers               // no member twice (shown only when it fails)
	stepCrit                  // no crit header (shown only when it fails)
	stepType                  // typ at+jwt
	stepKID                   // a kid header (shown only when it fails)
	stepIssuer                // iss trusted
	stepAudience              // aud is this API
	stepLifetime              // exp and iat (required), nbf
	stepSubject               // sub present
	stepSignature             // key by kid, signature
	stepScopes                // the route's scope requirement
	stepNone                  // nothing failed
)

var stepNames = [...]string{
	stepFormat:    "format",
	stepAlgorithm: "algorithm",
	stepMembers:   "members",
	stepCrit:      "header",
	stepType:      "type",
	stepKID:       "key id",
	stepIssuer:    "issuer",
	stepAudience:  "audience",
	stepLifetime:  "lifetime",
	stepSubject:   "subject",
	stepSignature: "signature",
	stepScopes:    "scopes",
}

// list is a repeatable string flag.
type list []string

func (l *list) String() string     { return strings.Join(*l, " ") }
func (l *list) Set(s string) error { *l = append(*l, s); return nil }

type verifyFlags struct {
	endpoint, jwksURI    string
	issuers, audiences   list
	scopes               list
	anyScope, orgTokens  bool
	organization         string
	clients, actors      list
	noDelegation         bool
	allowInsecureHTTP    bool
	verbose              bool
	timeout              time.Duration
	requirement          middleware.Requirement
	requirementSpecified bool
}

func (a *app) verify(args []string) int {
	var f verifyFlags
	fs := newFlagSet("verify")
	fs.StringVar(&f.endpoint, "endpoint", "", "")
	fs.StringVar(&f.jwksURI, "jwks-uri", "", "")
	fs.Var(&f.issuers, "issuer", "")
	fs.Var(&f.audiences, "audience", "")
	fs.Var(&f.scopes, "scope", "")
	fs.BoolVar(&f.anyScope, "any-scope", false, "")
	fs.BoolVar(&f.orgTokens, "org-tokens", false, "")
	fs.StringVar(&f.organization, "organization", "", "")
	fs.Var(&f.clients, "client", "")
	fs.Var(&f.actors, "actor", "")
	fs.BoolVar(&f.noDelegation, "no-delegation", false, "")
	fs.BoolVar(&f.allowInsecureHTTP, "allow-insecure-http", false, "")
	fs.BoolVar(&f.verbose, "v", false, "")
	fs.DurationVar(&f.timeout, "timeout", defaultTimeout, "")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return a.usageError("verify", flagError(err))
	}
	switch {
	case len(f.audiences) == 0:
		return a.usageError("verify", "--audience is required (the API identifier of your API resource in Logto)")
	case f.endpoint == "" && len(f.issuers) == 0:
		return a.usageError("verify", "--endpoint is required (such as https://your-tenant.logto.app), or --issuer")
	case f.timeout <= 0:
		return a.usageError("verify", "--timeout must be positive")
	}
	var wanted []string
	for _, s := range f.scopes {
		wanted = append(wanted, strings.Fields(s)...)
	}
	f.requirementSpecified = len(wanted) > 0 || f.organization != "" || len(f.clients) > 0 || len(f.actors) > 0 || f.noDelegation
	f.requirement = middleware.Requirement{Scopes: wanted}
	if f.anyScope {
		f.requirement = middleware.Requirement{AnyScopes: wanted}
	}
	if f.organization != "" {
		f.requirement.Organization = "organization"
	}
	f.requirement.Clients, f.requirement.Actors, f.requirement.NoDelegation = f.clients, f.actors, f.noDelegation
	if err := f.requirement.Validate(); err != nil {
		return a.usageError("verify", strings.TrimPrefix(err.Error(), "middleware: requirement "))
	}
	token, err := a.readToken(pos)
	if err != nil {
		return a.usageError("verify", err.Error())
	}
	return a.runVerify(&f, token)
}

// recorder remembers the URLs the key set requests, to name the JWKS URL
// that discovery led to.
type recorder struct {
	base http.RoundTripper
	mu   sync.Mutex
	last string // the last URL requested
	jwks string // the last URL requested that is not discovery
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	u := req.URL.String()
	r.mu.Lock()
	r.last = u
	if !strings.HasSuffix(req.URL.Path, "/.well-known/openid-configuration") {
		r.jwks = u
	}
	r.mu.Unlock()
	return r.base.RoundTrip(req)
}

func (r *recorder) urls() (last, jwks string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last, r.jwks
}

func (a *app) runVerify(f *verifyFlags, token string) int {
	logger := slog.New(slog.DiscardHandler)
	if f.verbose {
		logger = slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	rec := &recorder{base: http.DefaultTransport}
	client := &http.Client{Transport: rec}
	fetchFailed := make(chan error, 1)
	v, err := middleware.New(middleware.Config{
		Endpoint:                 f.endpoint,
		Issuers:                  f.issuers,
		JWKSURL:                  f.jwksURI,
		Audiences:                f.audiences,
		AcceptOrganizationTokens: f.orgTokens,
		AllowInsecureHTTP:        f.allowInsecureHTTP,
		HTTPClient:               client,
		FetchTimeout:             f.timeout,
		Cache:                    middleware.CacheConfig{Disabled: true},
		Now:                      a.now,
		Logger:                   logger,
		Hooks: middleware.Hooks{KeyFetch: func(_ string, err error) {
			if err != nil {
				select {
				case fetchFailed <- err:
				default:
				}
			}
		}},
	})
	if err != nil {
		msg := err.Error()
		if strings.Contains(msg, "AllowInsecureHTTP") {
			msg += " (here: --allow-insecure-http)"
		}
		return a.usageError("verify", msg)
	}
	defer v.Close()

	w := a.stdout
	fmt.Fprintf(w, "verifying %s (%d bytes)\n", preview(token), len(token))
	fmt.Fprintf(w, "  issuer    %s\n", strings.Join(v.Issuers(), ", "))
	fmt.Fprintf(w, "  audience  %s\n", strings.Join(v.Audiences(), ", "))
	if f.requirementSpecified {
		fmt.Fprintf(w, "  scopes    %s\n", requirementText(f.requirement))
	}
	fmt.Fprintln(w)

	ctx, cancel := context.WithTimeout(context.Background(), f.timeout)
	defer cancel()

	// Keys: the first failed fetch is reported at once rather than waiting
	// for the retries of the background loop.
	ready := make(chan error, 1)
	go func() { ready <- v.WaitReady(ctx) }()
	var keyErr error
	select {
	case keyErr = <-ready:
	case keyErr = <-fetchFailed:
	}
	last, jwksURL := rec.urls()
	if keyErr != nil {
		where := last
		if where == "" {
			where = strings.Join(v.Issuers(), ", ")
		}
		check(w, "FAIL", "keys", "could not load the signing keys from "+where)
		more(w, keyErr.Error())
		more(w, "check that the endpoint is right (the issuer is <endpoint>/oidc) and reachable from here, or pass --jwks-uri")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "verdict   KEYS UNAVAILABLE: nothing else was checked")
		return exitUsage
	}
	kids := publishedKIDs(ctx, jwksURL, client, logger)
	count := "keys could not be counted"
	if kids != nil {
		count = fmt.Sprintf("%d %s", len(kids), plural(len(kids), "key", "keys"))
	}
	check(w, "ok", "keys", "loaded from "+jwksURL+" ("+count+")")

	claims, verr := v.Verify(ctx, token)
	var scopeErr *middleware.ScopeError
	var routeErr *middleware.Error // organization or caller
	if verr == nil && f.requirementSpecified {
		err := middleware.Authorize(claims, f.requirement, func(string) string { return f.organization })
		if !errors.As(err, &scopeErr) && err != nil && !errors.As(err, &routeErr) {
			verr = err
		}
	}

	d := decode(token)
	var e *middleware.Error
	failed := stepNone
	switch {
	case scopeErr != nil, routeErr != nil:
		failed = stepScopes
	case verr == nil:
	case errors.As(verr, &e):
		failed = failedStep(e)
	default:
		// Not one of the library's errors: say so without guessing a step.
		check(w, "FAIL", "verify", verr.Error())
		fmt.Fprintln(w)
		fmt.Fprintln(w, "verdict   INVALID: "+refusal(verr))
		return exitInvalid
	}

	for s := stepFormat; s < stepNone; s++ {
		if (s == stepMembers || s == stepCrit || s == stepKID) && s != failed {
			continue // checks that are only worth a line when they fail
		}
		switch {
		case s < failed:
			if s == stepFormat && failed == stepAlgorithm && !d.signatureDecodes() {
				// The library refuses an unknown alg before it decodes the
				// signature: the format was not fully checked.
				check(w, "skip", stepNames[s], "not checked")
				continue
			}
			check(w, "ok", stepNames[s], okText(s, d, claims, v, f, a.now()))
		case s == failed:
			if s == stepScopes && routeErr != nil {
				check(w, "FAIL", stepNames[s], routeErr.Description)
				continue
			}
			if s == stepScopes {
				check(w, "FAIL", stepNames[s], "missing "+strings.Join(scopeErr.Missing, ", "))
				more(w, "the route requires "+requirementText(f.requirement)+"; the token grants "+grantedText(claims.Scopes))
				more(w, "assign the app or user a role with these permissions, and request them in `scope`")
				continue
			}
			check(w, "FAIL", stepNames[s], e.Description)
			if e.Detail != "" {
				more(w, e.Detail)
			}
			for _, m := range failExtra(s, e, d, kids, a.now()) {
				more(w, m)
			}
		default:
			check(w, "skip", stepNames[s], "not checked (an earlier check failed)")
		}
	}

	fmt.Fprintln(w)
	switch {
	case failed == stepNone:
		fmt.Fprintln(w, "verdict   VALID: an API configured like this accepts the token")
		return exitOK
	case scopeErr != nil:
		fmt.Fprintln(w, "verdict   INVALID for this route: the token is valid, but it lacks a scope the route requires")
		return exitInvalid
	case routeErr != nil:
		fmt.Fprintln(w, "verdict   INVALID for this route: the token is valid, but the route refuses it ("+strings.TrimPrefix(routeErr.Kind.Error(), "middleware: ")+")")
		return exitInvalid
	case errors.Is(verr, middleware.ErrKeysUnavailable):
		fmt.Fprintln(w, "verdict   KEYS UNAVAILABLE: the signing keys could not be loaded, so the token could not be checked")
		return exitUsage
	default:
		fmt.Fprintln(w, "verdict   INVALID: "+refusal(e.Kind))
		return exitInvalid
	}
}

// refusal words the verdict on a refused token as a sentence: the library's
// error without its package prefix, which is for logs.
func refusal(err error) string {
	return "an API configured like this refuses the token (" + strings.TrimPrefix(err.Error(), "middleware: ") + ")"
}

// failedStep names the step of the library's check that refused the token
// (middleware.CheckOf): the library says which check failed.
func failedStep(e *middleware.Error) step {
	switch middleware.CheckOf(e) {
	case middleware.CheckAlgorithm:
		return stepAlgorithm
	case middleware.CheckMembers:
		return stepMembers
	case middleware.CheckCrit:
		return stepCrit
	case middleware.CheckType:
		return stepType
	case middleware.CheckKID:
		return stepKID
	case middleware.CheckIssuer:
		return stepIssuer
	case middleware.CheckAudience:
		return stepAudience
	case middleware.CheckAdmission, middleware.CheckKey, middleware.CheckSignature:
		return stepSignature
	case middleware.CheckExp, middleware.CheckIat, middleware.CheckNbf:
		return stepLifetime
	case middleware.CheckSub, middleware.CheckAct:
		return stepSubject
	case middleware.CheckScope, middleware.CheckOrganization, middleware.CheckClient:
		return stepScopes
	}
	// size, characters, parts, encoding, structure, json.
	return stepFormat
}

// signatureDecodes reports whether the signature part is valid base64url.
func (d *decoded) signatureDecodes() bool {
	i := strings.LastIndexByte(d.token, '.')
	if i < 0 {
		return false
	}
	_, err := unverifiedParser.DecodeSegment(d.token[i+1:])
	return err == nil
}

// okText explains a passed check: from the verified claims when the token
// was accepted, else from the decoded token (the check passed, so what it
// looked at is as printed).
func okText(s step, d *decoded, c *middleware.Claims, v *middleware.Validator, f *verifyFlags, now time.Time) string {
	switch s {
	case stepFormat:
		return fmt.Sprintf("JWT, 3 parts, %d bytes", len(d.token))
	case stepAlgorithm:
		return d.headerString("alg") + " (allowed: " + strings.Join(middleware.DefaultAlgorithms(), ", ") + ")"
	case stepType:
		return d.headerString("typ")
	case stepIssuer:
		return d.str("iss") + " (trusted)"
	case stepAudience:
		aud := d.audience()
		var matched []string
		for _, a := range aud {
			if _, org := logto.OrganizationAudience(a); slices.Contains(v.Audiences(), a) || (f.orgTokens && org) {
				matched = append(matched, a)
			}
		}
		if len(matched) == 0 {
			matched = aud
		}
		return strings.Join(matched, ", ")
	case stepSignature:
		return "verified with key " + d.headerString("kid")
	case stepLifetime:
		exp, ok := d.expiresAt()
		if c != nil {
			exp, ok = c.ExpiresAt, true
		}
		if !ok {
			return "checked"
		}
		return "expires " + stamp(exp) + " (" + ago(exp, now) + ")"
	case stepSubject:
		sub, client := d.str("sub"), d.str("client_id")
		if sub == client {
			return sub + ": machine-to-machine app (sub == client_id)"
		}
		if act := d.actor(); act != "" {
			return sub + ": a user, on whose behalf " + act + " acts (act)" + orEmpty(", through the app ", client)
		}
		return sub + ": a user" + orEmpty(", through the app ", client)
	case stepScopes:
		if !f.requirementSpecified {
			return "none required (--scope); granted " + grantedText(c.Scopes)
		}
		return "requires " + requirementText(f.requirement) + "; granted " + grantedText(c.Scopes)
	}
	return "passed"
}

// failExtra adds what the command itself knows to a failing line.
func failExtra(s step, e *middleware.Error, d *decoded, kids []string, now time.Time) []string {
	switch s {
	case stepSignature:
		if errors.Is(e, middleware.ErrUnknownKey) && kids != nil {
			return []string{"the JWKS publishes " + orNone(strings.Join(kids, ", ")),
				"a token from another tenant, or signed by a key Logto no longer publishes"}
		}
	case stepLifetime:
		if exp, ok := d.expiresAt(); ok && errors.Is(e, middleware.ErrExpired) {
			return []string{"expired at " + stamp(exp) + " (" + human(now.Sub(exp)) + " ago): get a new token"}
		}
		if iat, ok := d.issuedAt(); ok && errors.Is(e, middleware.ErrNotYetValid) {
			return []string{"issued at " + stamp(iat) + " (" + ago(iat, now) + "): the clocks of this machine and Logto disagree"}
		}
	case stepType:
		if aud := d.audience(); d.kind() == kindID && len(aud) == 1 && d.str("client_id") == "" {
			return []string{"its aud " + fmt.Sprintf("%q", aud[0]) + " is an app's client ID, as in an ID token"}
		}
	}
	return nil
}

// publishedKIDs loads the JWKS the validator uses once more, with the same
// package, to count its usable keys and name them. nil when it fails.
func publishedKIDs(ctx context.Context, url string, client *http.Client, logger *slog.Logger) []string {
	if url == "" {
		return nil
	}
	set, err := jwks.New(ctx, jwks.Options{URL: url, Client: client, Logger: logger})
	if err != nil {
		return nil
	}
	defer set.Close()
	if set.WaitReady(ctx) != nil {
		return nil
	}
	kids := set.KIDs()
	slices.Sort(kids)
	return kids
}

func requirementText(r middleware.Requirement) string {
	var parts []string
	switch {
	case len(r.AnyScopes) > 0:
		parts = append(parts, "one of "+strings.Join(r.AnyScopes, ", "))
	case len(r.Scopes) > 0:
		parts = append(parts, strings.Join(r.Scopes, ", "))
	}
	if len(r.Clients) > 0 {
		parts = append(parts, "client "+strings.Join(r.Clients, " or "))
	}
	if r.NoDelegation {
		parts = append(parts, "no delegated token")
	}
	if len(r.Actors) > 0 {
		parts = append(parts, "actor "+strings.Join(r.Actors, " or ")+" when delegated")
	}
	if len(parts) == 0 {
		return "no scope"
	}
	return strings.Join(parts, "; ")
}

func grantedText(granted []string) string {
	if len(granted) == 0 {
		return "(none)"
	}
	return strings.Join(granted, " ")
}

func check(w io.Writer, status, name, text string) {
	fmt.Fprintf(w, "%-4s  %-9s  %s\n", status, name, text)
}

// more continues the line above.
func more(w io.Writer, text string) {
	fmt.Fprintf(w, "%-4s  %-9s  %s\n", "", "", text)
}
