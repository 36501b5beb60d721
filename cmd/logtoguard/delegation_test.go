package main

import (
	"strings"
	"testing"

	"github.com/logtoguard/logtoguard/logtotest"
)

// TestInspectDelegated: inspect names the actor of a delegated token
// beside its subject, and says so when act cannot be read.
func TestInspectDelegated(t *testing.T) {
	iss := newIssuer(t)
	r := cli(t, "", "inspect", iss.DelegatedToken("u_7f3k2", "support-agent", "helpdesk", api, "read:orders"))
	r.exit(t, exitOK)
	r.has(t,
		`subject +u_7f3k2$`,
		`client_id +helpdesk$`,
		`caller +user u_7f3k2 through the app helpdesk$`,
		`actor +support-agent \(act: a delegated token, the actor calls on behalf of the subject\)$`,
	)
	r.hasNot(t, `other claims`)

	bad := iss.Mint(logtotest.Token{Subject: "u_7f3k2", ClientID: "helpdesk", Audience: api, Extra: map[string]any{"act": "support-agent"}})
	r = cli(t, "", "inspect", bad)
	r.has(t, `actor +\(act is not an object with a sub string: logtoguard refuses the token\)$`)

	own := cli(t, "", "inspect", iss.UserToken("u_7f3k2", "web", api))
	own.hasNot(t, `actor `)
}

// TestInspectURLClientID: a 2,048-character URL client ID is printed
// whole, and sub == client_id with a URL is not called an M2M app.
func TestInspectURLClientID(t *testing.T) {
	iss := newIssuer(t)
	client := "https://mcp-client.example.com/" + strings.Repeat("c", 2048-31)
	r := cli(t, "", "inspect", iss.UserToken("u_7f3k2", client, api))
	r.has(t, `client_id +`+client+`$`, `caller +user u_7f3k2 through the app https://mcp-client`)
	r = cli(t, "", "inspect", iss.M2MToken(client, api))
	r.has(t, `caller +sub == client_id, a URL: Logto issues that to no one, logtoguard refuses it$`)
	r.hasNot(t, `caller +machine-to-machine`)
}

// TestVerifyDelegation: verify names the actor at the subject check, and
// --no-delegation, --actor and --client apply the route's Requirement.
func TestVerifyDelegation(t *testing.T) {
	iss := newIssuer(t)
	base := []string{"verify", "--endpoint", iss.Endpoint(), "--audience", api, "--timeout", "5s"}
	delegated := iss.DelegatedToken("u_7f3k2", "support-agent", "helpdesk", api, "read:orders")
	run := func(token string, extra ...string) result {
		t.Helper()
		return cli(t, "", append(append(append([]string{}, base...), extra...), token)...)
	}

	r := run(delegated)
	r.exit(t, exitOK)
	r.wantChecks(t, allOK)
	r.has(t, `ok +subject +u_7f3k2: a user, on whose behalf support-agent acts \(act\), through the app helpdesk$`)

	r = run(delegated, "--no-delegation")
	r.exit(t, exitInvalid)
	r.has(t, `FAIL +scopes +`, `verdict +INVALID for this route: the token is valid, but the route refuses it \(client not allowed\)$`)

	r = run(delegated, "--actor", "billing-agent", "--actor", "other")
	r.exit(t, exitInvalid)
	r.has(t, `FAIL +scopes +the actor "support-agent" may not act for others on this route`)

	r = run(delegated, "--actor", "support-agent", "--client", "helpdesk")
	r.exit(t, exitOK)
	r.has(t, `ok +scopes +requires client helpdesk; actor support-agent when delegated; granted read:orders$`)

	r = run(iss.UserToken("u_7f3k2", "web", api), "--client", "helpdesk")
	r.exit(t, exitInvalid)
	r.has(t, `FAIL +scopes +the client "web" may not use this route`)

	r = run(delegated, "--no-delegation", "--actor", "support-agent")
	r.exit(t, exitUsage)

	bad := iss.Mint(logtotest.Token{Subject: "u_7f3k2", ClientID: "helpdesk", Audience: api, Extra: map[string]any{"act": map[string]any{"sub": ""}}})
	r = run(bad)
	r.exit(t, exitInvalid)
	r.has(t, `FAIL +subject +the token's act claim has no sub string naming the actor$`)
}
