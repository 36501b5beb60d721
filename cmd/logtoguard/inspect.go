package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/logtoguard/logtoguard/internal/logto"
	"github.com/logtoguard/logtoguard/scopes"
)

const notVerified = "NOT VERIFIED: decoded without checking the signature, issuer or audience.\n" +
	"Anyone can write these values; run `logtoguard verify` to check them against your tenant.\n"

// standardClaims are shown on lines of their own; others are listed by name.
var standardClaims = []string{"iss", "aud", "sub", "client_id", "act", "organization_id", "scope", "iat", "exp", "nbf", "jti"}

func (a *app) inspect(args []string) int {
	fs := newFlagSet("inspect")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return a.usageError("inspect", flagError(err))
	}
	token, err := a.readToken(pos)
	if err != nil {
		return a.usageError("inspect", err.Error())
	}
	d := decode(token)
	w := a.stdout
	fmt.Fprint(w, notVerified)
	fmt.Fprintln(w)
	line(w, "token", fmt.Sprintf("%s (%d bytes, %d %s)", preview(token), len(token), d.parts, plural(d.parts, "part", "parts")))

	var hints []string
	switch d.kind() {
	case kindGarbage:
		line(w, "kind", "not a token: "+d.err.Error())
		if d.header != nil || d.parts == 3 {
			hints = append(hints, "a JWT is three base64url parts, header.payload.signature; check that the whole token was copied")
		}
		printHints(w, hints)
		return exitInvalid
	case kindOpaque:
		line(w, "kind", "opaque access token (not a JWT): no API can verify it")
		if len(token) != 43 {
			line(w, "", fmt.Sprintf("Logto's opaque tokens are 43 characters; this one has %d", len(token)))
		}
		hints = append(hints,
			"Logto returns an opaque token when the client did not pass `resource`: request the access "+
				"token with resource=<your API identifier> (Logto SDKs: list the API in `resources` and call "+
				"getAccessToken(<your API identifier>))")
		printHints(w, hints)
		return exitOK
	case kindJWE:
		line(w, "kind", "encrypted token (JWE, 5 parts): its claims cannot be read without the decryption key")
		if h := d.jweHeaderSummary(); h != "" {
			line(w, "header", h)
		}
		hints = append(hints, "Logto issues signed JWTs (3 parts), never encrypted ones; logtoguard refuses JWE")
		printHints(w, hints)
		return exitOK
	}

	k := d.kind()
	aud := d.audience()
	line(w, "kind", d.kindText(k, aud))
	line(w, "header", d.headerSummary())
	iss := d.str("iss")
	switch ep, ok := endpointOf(iss); {
	case iss == "":
		line(w, "issuer", "(none)")
		hints = append(hints, "the token has no iss: Logto always sets it; this is not a Logto token")
	case ok:
		line(w, "issuer", iss)
		line(w, "", "Logto endpoint "+ep+" (--endpoint, Config.Endpoint)")
	default:
		line(w, "issuer", iss)
		hints = append(hints, "the issuer does not end with /oidc as Logto's do: is this a Logto token?")
	}
	switch {
	case len(aud) == 0:
		line(w, "audience", "(none)")
	case k == kindID:
		line(w, "audience", strings.Join(aud, ", ")+" (the client ID of the app the user signed in to)")
	default:
		line(w, "audience", strings.Join(aud, ", "))
	}
	sub, client := d.str("sub"), d.str("client_id")
	line(w, "subject", orNone(sub))
	line(w, "client_id", orNone(client))
	if k != kindID {
		switch {
		case sub != "" && sub == client && strings.Contains(client, "://"):
			line(w, "caller", "sub == client_id, a URL: Logto issues that to no one, logtoguard refuses it")
		case sub != "" && sub == client:
			line(w, "caller", "machine-to-machine app "+client+" (sub == client_id)")
		case sub != "":
			line(w, "caller", "user "+sub+orEmpty(" through the app ", client))
		}
		if act := d.actor(); act != "" {
			line(w, "actor", act+" (act: a delegated token, the actor calls on behalf of the subject)")
		} else if d.has("act") {
			line(w, "actor", "(act is not an object with a sub string: logtoguard refuses the token)")
		}
	}
	org := d.str("organization_id")
	if org == "" && k == kindOrganization {
		for _, a := range aud {
			if id, ok := logto.OrganizationAudience(a); ok {
				org = id + " (from the audience)"
			}
		}
	}
	line(w, "organization", orNone(org))
	granted := scopes.Parse(d.str("scope"))
	if k != kindID {
		if len(granted) == 0 {
			line(w, "scopes", "(none)")
		} else {
			line(w, "scopes", strings.Join(granted, " "))
		}
	}
	now := a.now()
	iat, hasIat := d.issuedAt()
	if hasIat {
		line(w, "issued at", stamp(iat)+" ("+ago(iat, now)+")")
	}
	exp, hasExp := d.expiresAt()
	switch {
	case !hasExp:
		line(w, "expires at", "(no exp): logtoguard refuses tokens without exp")
	case !exp.After(now):
		line(w, "expires at", stamp(exp)+" (expired "+human(now.Sub(exp))+" ago)")
	default:
		left := "in " + human(exp.Sub(now))
		if hasIat && exp.After(iat) {
			left += "; lifetime " + human(exp.Sub(iat))
		}
		line(w, "expires at", stamp(exp)+" ("+left+")")
	}
	if nbf, ok := d.notBefore(); ok {
		line(w, "not before", stamp(nbf)+" ("+ago(nbf, now)+")")
	}
	if jti := d.str("jti"); jti != "" {
		line(w, "jti", jti)
	}
	var other []string
	for name := range d.claims {
		if !slices.Contains(standardClaims, name) {
			other = append(other, name)
		}
	}
	if len(other) > 0 {
		slices.Sort(other)
		line(w, "other claims", strings.Join(other, ", "))
	}
	if d.err != nil {
		line(w, "warning", d.err.Error())
	}

	hints = append(hints, d.hints(k, aud, granted, now)...)
	if hasExp && !exp.After(now) {
		hints = append(hints, "the token has expired: get a new one (clients should renew before exp; "+
			"golang.org/x/oauth2/clientcredentials does it on its own)")
	}
	if hasIat && iat.Sub(now) > 30*time.Second {
		hints = append(hints, "the token was issued "+human(iat.Sub(now))+" in the future: the clocks of this "+
			"machine and of Logto disagree (logtoguard allows 30s of skew)")
	}
	printHints(w, hints)
	if cmd := verifyCommand(k, iss, aud); cmd != "" {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "check it: "+cmd)
	}
	return exitOK
}

// kindText describes what the token is.
func (d *decoded) kindText(k kind, aud []string) string {
	switch k {
	case kindManagement:
		return "access token for Logto's Management API (" + strings.Join(aud, ", ") + ")"
	case kindOrganization:
		return "organization token (aud urn:logto:organization:<id>): organization permissions, no API resource"
	case kindID:
		return "ID token (OpenID Connect): it tells the app who signed in; it is not an access token"
	case kindOtherJWT:
		return "JWT that is not an access token (typ " + fmt.Sprintf("%q", d.headerString("typ")) + ", want at+jwt)"
	}
	what := "JWT access token for the API resource " + orNone(strings.Join(aud, ", "))
	if d.str("organization_id") != "" {
		what = "JWT access token for the organization-level API resource " + strings.Join(aud, ", ")
	}
	return what
}

// hints lists the mistakes the claims point at.
func (d *decoded) hints(k kind, aud, granted []string, now time.Time) []string {
	var h []string
	switch k {
	case kindID:
		h = append(h, "this is an ID token: send the access token instead, requested with "+
			"resource=<your API identifier>; an API must refuse ID tokens (typ "+
			fmt.Sprintf("%q", d.headerString("typ"))+", want at+jwt)")
	case kindManagement:
		h = append(h, "this token is for Logto's Management API; your API must refuse it: request the "+
			"token with resource=<your API identifier>")
	case kindOrganization:
		h = append(h, "an organization token is accepted only by an API configured with "+
			"AcceptOrganizationTokens (--org-tokens), and each route must check that the organization is "+
			"the one it addresses")
	case kindOtherJWT:
		h = append(h, "Logto's access tokens have typ at+jwt; logtoguard refuses other types")
	case kindAccess:
		if len(aud) == 0 {
			h = append(h, "the token has no audience: request it with resource=<your API identifier>")
		}
		if d.str("organization_id") != "" {
			h = append(h, "a token of an organization-level API resource: routes must check that "+
				"organization_id is the organization they address")
		}
	}
	switch alg := d.headerString("alg"); {
	case alg == "" || strings.EqualFold(alg, "none") || strings.HasPrefix(strings.ToUpper(alg), "HS"):
		h = append(h, fmt.Sprintf("alg %q: Logto signs with ES384 (or RS256), never with a shared secret "+
			"or none; logtoguard refuses it", alg))
	case d.err != nil:
		h = append(h, fmt.Sprintf("alg %q is unknown: logtoguard refuses it", alg))
	}
	if d.headerString("kid") == "" {
		h = append(h, "the header has no kid: Logto always sets it, and logtoguard refuses tokens without one")
	}
	if k == kindAccess || k == kindManagement || k == kindOrganization {
		_, present := d.claims["scope"]
		if len(granted) == 0 && k != kindOrganization {
			why := "Logto left out the scope claim"
			if present {
				why = "the scope claim is empty"
			}
			h = append(h, why+": none of the requested scopes was granted; assign the app or user a role "+
				"with the API's permissions, and request them in `scope`")
		}
	}
	return h
}

// headerSummary shows alg, typ and kid.
func (d *decoded) headerSummary() string {
	parts := []string{
		"alg " + orNone(d.headerString("alg")),
		"typ " + orNone(d.headerString("typ")),
		"kid " + orNone(d.headerString("kid")),
	}
	var other []string
	for name := range d.header {
		if name != "alg" && name != "typ" && name != "kid" {
			other = append(other, name)
		}
	}
	if len(other) > 0 {
		slices.Sort(other)
		parts = append(parts, "also "+strings.Join(other, ", "))
	}
	return strings.Join(parts, ", ")
}

// jweHeaderSummary shows alg and enc of an encrypted token, "" when the
// header cannot be read.
func (d *decoded) jweHeaderSummary() string {
	h := d.jweHeader()
	if h == nil {
		return ""
	}
	alg, _ := h["alg"].(string)
	enc, _ := h["enc"].(string)
	return "alg " + orNone(alg) + ", enc " + orNone(enc)
}

// verifyCommand suggests the verify command for an access token.
func verifyCommand(k kind, iss string, aud []string) string {
	ep, ok := endpointOf(iss)
	if !ok {
		return ""
	}
	switch k {
	case kindAccess:
		if len(aud) == 0 {
			return ""
		}
		return "logtoguard verify --endpoint " + ep + " --audience " + aud[0] + " -"
	case kindOrganization:
		return "logtoguard verify --endpoint " + ep + " --audience <your API identifier> --org-tokens -"
	}
	return ""
}

func line(w io.Writer, label, value string) {
	fmt.Fprintf(w, "%-13s %s\n", label, value)
}

func printHints(w io.Writer, hints []string) {
	if len(hints) == 0 {
		return
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "hints:")
	for _, h := range hints {
		fmt.Fprintln(w, "  - "+h)
	}
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// orEmpty returns prefix+s, or "" when s is empty.
func orEmpty(prefix, s string) string {
	if s == "" {
		return ""
	}
	return prefix + s
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
