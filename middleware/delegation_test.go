package middleware_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/logtoguard/logtoguard/logtotest"
	"github.com/logtoguard/logtoguard/middleware"
)

// TestDelegatedClaims: a token from Logto's token exchange carries act
// {"sub": actor}: Verify puts the actor in Claims.Actor, beside the
// subject it acts for; the subject's own token has none.
func TestDelegatedClaims(t *testing.T) {
	iss := logtotest.New(t)
	v := newValidator(t, iss, nil)
	c, err := v.Verify(context.Background(), iss.DelegatedToken("user-1", "support-agent", "helpdesk", api, "read:orders"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Subject != "user-1" || c.Actor != "support-agent" || c.ClientID != "helpdesk" || !c.IsDelegated() || c.IsM2M() {
		t.Fatalf("got sub %q act %q client_id %q delegated %t m2m %t, want user-1 support-agent helpdesk true false",
			c.Subject, c.Actor, c.ClientID, c.IsDelegated(), c.IsM2M())
	}
	own, err := v.Verify(context.Background(), iss.UserToken("user-1", "helpdesk", api))
	if err != nil {
		t.Fatal(err)
	}
	if own.Actor != "" || own.IsDelegated() {
		t.Fatalf("the user's own token: actor %q delegated %t, want none", own.Actor, own.IsDelegated())
	}
	// A chain (RFC 8693, section 4.1): the outer act is the current actor;
	// the prior one stays in the raw claims.
	chain, err := v.Verify(context.Background(), iss.Mint(logtotest.Token{
		Subject: "user-1", ClientID: "helpdesk", Audience: api,
		Extra: map[string]any{"act": map[string]any{"sub": "agent-2", "act": map[string]any{"sub": "agent-1"}}},
	}))
	if err != nil {
		t.Fatal(err)
	}
	var raw struct {
		Act struct {
			Act struct {
				Sub string `json:"sub"`
			} `json:"act"`
		} `json:"act"`
	}
	if err := chain.Decode(&raw); err != nil {
		t.Fatal(err)
	}
	if chain.Actor != "agent-2" || raw.Act.Act.Sub != "agent-1" {
		t.Fatalf("chain: actor %q, prior %q, want agent-2, agent-1", chain.Actor, raw.Act.Act.Sub)
	}
}

// TestActMalformed: an act claim that is present but that the validator
// cannot read as Logto writes it refuses the token, rather than passing it
// for the subject's own: otherwise a route that refuses delegated tokens
// would let it through.
func TestActMalformed(t *testing.T) {
	iss := logtotest.New(t)
	v := newValidator(t, iss, nil)
	mint := func(act any) string {
		return iss.Mint(logtotest.Token{Subject: "user-1", ClientID: "helpdesk", Audience: api, Extra: map[string]any{"act": act}})
	}
	key := iss.SigningKey()
	header := []byte(`{"alg":"` + key.Algorithm() + `","typ":"at+jwt","kid":"` + key.ID() + `"}`)
	raw := func(act string) string {
		return iss.MintRaw(nil, header, []byte(`{"sub":"user-1","client_id":"helpdesk","aud":"`+api+`","iss":"`+iss.Issuer()+`","exp":4102444800,"iat":`+strconv.FormatInt(time.Now().Unix(), 10)+`,"jti":"j","act":`+act+`}`))
	}
	tests := []struct {
		name  string
		token string
		check middleware.Check
	}{
		{"a string", mint("support-agent"), middleware.CheckAct},
		{"an array", mint([]string{"support-agent"}), middleware.CheckAct},
		{"an empty object", mint(map[string]any{}), middleware.CheckAct},
		{"an empty sub", mint(map[string]any{"sub": ""}), middleware.CheckAct},
		{"a numeric sub", mint(map[string]any{"sub": 7}), middleware.CheckAct},
		{"SUB for sub", mint(map[string]any{"SUB": "support-agent"}), middleware.CheckAct},
		{"a prior actor that is not an object", mint(map[string]any{"sub": "a", "act": "b"}), middleware.CheckAct},
		{"null", raw(`null`), middleware.CheckAct},
		{"sub twice", raw(`{"sub":"support-agent","sub":"user-1"}`), middleware.CheckAct},
		{"a prior actor that is null", raw(`{"sub":"a","act":null}`), middleware.CheckAct},
		{"a prior actor that is an array", raw(`{"sub":"a","act":[{"sub":"b"}]}`), middleware.CheckAct},
		{"a prior actor that is a number", raw(`{"sub":"a","act":7}`), middleware.CheckAct},
		{"act twice in the outer act", raw(`{"sub":"a","act":{"sub":"b"},"act":{"sub":"c"}}`), middleware.CheckAct},
		{"ACT for act", iss.Mint(logtotest.Token{Subject: "user-1", ClientID: "helpdesk", Audience: api, Extra: map[string]any{"ACT": map[string]any{"sub": "x"}}}), middleware.CheckMembers},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := v.Verify(context.Background(), tt.token)
			if !errors.Is(err, middleware.ErrMalformed) || middleware.CheckOf(err) != tt.check {
				t.Fatalf("got %v (claims %v, check %v), want ErrMalformed by check %v", err, c, middleware.CheckOf(err), tt.check)
			}
		})
	}
	if c, err := v.Verify(context.Background(), raw(`{"sub":"support-agent"}`)); err != nil || c.Actor != "support-agent" {
		t.Fatalf("the same raw token with a well-formed act: %v, %v", c, err)
	}
	// A prior actor is only required to be an object: what it holds is
	// left to Claims.Decode, so that Verify decodes one level only.
	for _, act := range []string{`{"sub":"support-agent","act":{}}`, `{"sub":"support-agent","act":{"sub":7,"SUB":"x"}}`} {
		if c, err := v.Verify(context.Background(), raw(act)); err != nil || c.Actor != "support-agent" {
			t.Fatalf("act %s: %v, %v; want actor support-agent", act, c, err)
		}
	}
}

// TestActNestedCostsNoMoreThanFlat: a forged token whose act is nested as
// deep as the structure bound allows costs what one of the same size with
// a flat act costs, before the signature (here: refused for its issuer,
// after the claims are decoded). Decoding the chain level by level
// scanned everything below each level again: 31 levels allocated ten
// times as often (409 against 41) and took 15 times as long. Allocations
// are counted, not time, so that the test cannot flake.
func TestActNestedCostsNoMoreThanFlat(t *testing.T) {
	iss := logtotest.New(t)
	v := newValidator(t, iss, func(c *middleware.Config) {
		c.Cache.Disabled = true
		c.Logger = slog.New(slog.DiscardHandler)
	})
	key := iss.SigningKey()
	header := []byte(`{"alg":"` + key.Algorithm() + `","typ":"at+jwt","kid":"` + key.ID() + `"}`)
	// act returns an act claim of depth levels, the innermost padded so that
	// the token is about 15 KB whatever the depth.
	act := func(depth int) string {
		var b strings.Builder
		for i := range depth {
			fmt.Fprintf(&b, `{"sub":"agent-%d","act":`, i)
		}
		b.WriteString(`{"sub":"agent","x":"` + strings.Repeat("p", 11_000-b.Len()) + `"}`)
		b.WriteString(strings.Repeat("}", depth))
		return b.String()
	}
	token := func(issuer string, depth int) string {
		return iss.MintRaw(nil, header, []byte(`{"sub":"user-1","client_id":"helpdesk","aud":"`+api+
			`","iss":"`+issuer+`","exp":4102444800,"iat":`+strconv.FormatInt(time.Now().Unix(), 10)+`,"jti":"j","act":`+act(depth)+`}`))
	}
	forged := func(depth int) string { return token("https://evil.example.com/oidc", depth) }
	allocs := func(tok string) float64 {
		if _, err := v.Verify(context.Background(), tok); !errors.Is(err, middleware.ErrIssuer) {
			t.Fatalf("%d bytes: %v, want ErrIssuer", len(tok), err)
		}
		return testing.AllocsPerRun(20, func() { _, _ = v.Verify(context.Background(), tok) })
	}
	flat, deep := forged(0), forged(30) // 31 objects: 32 levels with the claims
	if len(deep) > middleware.DefaultMaxTokenBytes {
		t.Fatalf("%d bytes, over MaxTokenBytes", len(deep))
	}
	// The JSON scanner's stack grows with the depth (a few allocations,
	// bounded by the structure bound); decoding level by level allocated
	// about a dozen times per level.
	if a, b := allocs(flat), allocs(deep); b > a+16 {
		t.Fatalf("act nested 31 deep: %v allocations, flat act of the same size: %v; want no more than 16 more", b, a)
	}
	// The same chain from the trusted issuer is accepted, its outer actor
	// the token's.
	if c, err := v.Verify(context.Background(), token(iss.Issuer(), 30)); err != nil || c.Actor != "agent-0" {
		t.Fatalf("the chain of 31 actors from the issuer: %v, %v; want actor agent-0", c, err)
	}
}

// TestAuthorizeDelegation: NoDelegation refuses a delegated token, Actors
// admits only listed actors' delegated tokens and leaves the subject's own
// alone, and Clients is an allow-list of client_id for users' and M2M
// tokens alike. Every refusal is a 403 (ErrClient) naming what was refused.
func TestAuthorizeDelegation(t *testing.T) {
	iss := logtotest.New(t)
	v := newValidator(t, iss, nil)
	verify := func(tok string) *middleware.Claims {
		t.Helper()
		c, err := v.Verify(context.Background(), tok)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	own := verify(iss.UserToken("user-1", "web", api))
	delegated := verify(iss.DelegatedToken("user-1", "agent-1", "helpdesk", api))
	otherActor := verify(iss.DelegatedToken("user-1", "agent-2", "helpdesk", api))
	m2m := verify(iss.M2MToken("inventory-sync", api))

	tests := []struct {
		name   string
		c      *middleware.Claims
		req    middleware.Requirement
		inDesc string // "" when allowed
	}{
		{"own token, NoDelegation", own, middleware.Requirement{NoDelegation: true}, ""},
		{"delegated token, NoDelegation", delegated, middleware.Requirement{NoDelegation: true}, `act "agent-1"`},
		{"delegated token, no rule", delegated, middleware.Requirement{}, ""},
		{"listed actor", delegated, middleware.Requirement{Actors: []string{"agent-1"}}, ""},
		{"unlisted actor", otherActor, middleware.Requirement{Actors: []string{"agent-1"}}, `actor "agent-2"`},
		{"own token, Actors", own, middleware.Requirement{Actors: []string{"agent-1"}}, ""},
		{"listed client, user", own, middleware.Requirement{Clients: []string{"web"}}, ""},
		{"unlisted client, user", own, middleware.Requirement{Clients: []string{"helpdesk"}}, `client "web"`},
		{"listed client, delegated", delegated, middleware.Requirement{Clients: []string{"helpdesk"}}, ""},
		{"listed client, M2M", m2m, middleware.Requirement{Clients: []string{"inventory-sync"}}, ""},
		{"unlisted client, M2M", m2m, middleware.Requirement{Clients: []string{"web"}}, `client "inventory-sync"`},
		{"listed client, refused delegation", delegated, middleware.Requirement{Clients: []string{"helpdesk"}, NoDelegation: true}, "not one acting for it"},
		{"User and NoDelegation, M2M", m2m, middleware.Requirement{User: true, NoDelegation: true}, "users' tokens only"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.req.Validate(); err != nil {
				t.Fatal(err)
			}
			err := middleware.Authorize(tt.c, tt.req, nil)
			if tt.inDesc == "" {
				if err != nil {
					t.Fatalf("got %v, want nil", err)
				}
				return
			}
			var e *middleware.Error
			if !errors.Is(err, middleware.ErrClient) || !errors.As(err, &e) || middleware.CheckOf(err) != middleware.CheckClient {
				t.Fatalf("got %v, want an *Error of ErrClient", err)
			}
			if !strings.Contains(e.Description, tt.inDesc) {
				t.Errorf("description %q, want it to contain %q", e.Description, tt.inDesc)
			}
			if rej := v.Reject(err); rej.Status != 403 || rej.Error != "insufficient_scope" {
				t.Errorf("answer %d %s, want 403 insufficient_scope", rej.Status, rej.Error)
			}
		})
	}
}

func TestRequirementValidateDelegation(t *testing.T) {
	for _, tt := range []struct {
		name string
		req  middleware.Requirement
		want string
	}{
		{"NoDelegation with Actors", middleware.Requirement{NoDelegation: true, Actors: []string{"a"}}, "cannot also list their Actors"},
		{"an empty actor", middleware.Requirement{Actors: []string{""}}, "Actors"},
		{"an empty client", middleware.Requirement{Clients: []string{""}}, "Clients"},
		{"a client with a space", middleware.Requirement{Clients: []string{"a b"}}, "Clients"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.req.Validate(); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error naming %q", err, tt.want)
			}
		})
	}
}

// TestRejectedLogsActor: the log line of a refused delegated token names
// the actor beside the subject.
func TestRejectedLogsActor(t *testing.T) {
	iss := logtotest.New(t)
	var b strings.Builder
	var mu sync.Mutex
	v := newValidator(t, iss, func(c *middleware.Config) { c.Logger = newTestLogger(&b, &mu) })
	tok := iss.Mint(logtotest.Token{Subject: "user-1", ClientID: "helpdesk", Actor: "agent-1", Audience: logtotest.ManagementAPI})
	if _, err := v.Verify(context.Background(), tok); !errors.Is(err, middleware.ErrAudience) {
		t.Fatalf("got %v, want ErrAudience", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(b.String(), "sub=user-1 client_id=helpdesk kid=") || !strings.Contains(b.String(), " act=agent-1") {
		t.Fatalf("log %q, want sub=user-1 and act=agent-1", b.String())
	}
}
