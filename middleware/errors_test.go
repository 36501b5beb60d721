package middleware_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/logtoguard/logtoguard/logtotest"
	"github.com/logtoguard/logtoguard/middleware"
)

// TestErrorCheck: every rejection names the check that failed, in the
// error, through CheckOf, in the Rejected hook and in the log line.
func TestErrorCheck(t *testing.T) {
	e := newAttackEnv(t)
	var (
		mu     sync.Mutex
		logs   strings.Builder
		hooked []error
	)
	v, err := middleware.New(middleware.Config{
		Endpoint:  e.a.Endpoint(),
		Tenants:   []middleware.Tenant{{Endpoint: e.r.srv.URL}},
		Audiences: []string{api},
		Now:       func() time.Time { return e.now },
		Logger:    newTestLogger(&logs, &mu),
		Hooks: middleware.Hooks{Rejected: func(err error) {
			mu.Lock()
			defer mu.Unlock()
			hooked = append(hooked, err)
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := v.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	r := func(h map[string]any, c map[string]any) string { return e.rToken(rHeader(h), e.rClaims(c)) }
	rRaw := func(h, c string) string { return e.rToken([]byte(h), []byte(c)) }
	tests := []struct {
		name  string
		token string
		want  middleware.Check
	}{
		{"empty", "", middleware.CheckRequest},
		{"size", strings.Repeat("a", middleware.DefaultMaxTokenBytes+1), middleware.CheckSize},
		{"characters", "a.b.c!", middleware.CheckCharacters},
		{"opaque", e.a.OpaqueToken(), middleware.CheckParts},
		{"two parts", "a.b", middleware.CheckParts},
		{"empty part", "a..c", middleware.CheckParts},
		{"encoding", "a.b.c", middleware.CheckEncoding},
		{"header not JSON", seg([]byte("{")) + ".e30.AA", middleware.CheckJSON},
		{"claim type", r(nil, map[string]any{"sub": 1}), middleware.CheckJSON},
		{"structure", e.rToken(rHeader(nil), e.rRawClaims(nil, `"x":`+nested(40))), middleware.CheckStructure},
		{"too many audiences", r(nil, map[string]any{"aud": audiences(65)}), middleware.CheckStructure},
		{"algorithm", r(map[string]any{"alg": "HS256"}, nil), middleware.CheckAlgorithm},
		{"crit", r(map[string]any{"crit": []string{"exp"}}, nil), middleware.CheckCrit},
		{"typ", r(map[string]any{"typ": "JWT"}, nil), middleware.CheckType},
		{"kid", r(map[string]any{"kid": nil}, nil), middleware.CheckKID},
		{"issuer", r(nil, map[string]any{"iss": "https://other.logto.app/oidc"}), middleware.CheckIssuer},
		{"audience", r(nil, map[string]any{"aud": "https://other.example.com"}), middleware.CheckAudience},
		{"members", rRaw(`{"alg":"ES384","typ":"at+jwt","kid":"r-es384","kid":"r-es384"}`, string(e.rClaims(nil))), middleware.CheckMembers},
		{"claim name case", e.rToken(rHeader(nil), e.rRawClaims(nil, `"Scope":"x"`)), middleware.CheckMembers},
		{"key", r(map[string]any{"kid": "nope"}, nil), middleware.CheckKey},
		{"signature", replacePart(r(nil, nil), 2, part(e.mintA(nil, nil), 2)), middleware.CheckSignature},
		{"exp missing", r(nil, map[string]any{"exp": nil}), middleware.CheckExp},
		{"expired", r(nil, map[string]any{"exp": e.now.Unix() - 3600}), middleware.CheckExp},
		{"iat", r(nil, map[string]any{"iat": e.now.Unix() + 3600}), middleware.CheckIat},
		{"nbf", r(nil, map[string]any{"nbf": e.now.Unix() + 3600}), middleware.CheckNbf},
		{"sub", r(nil, map[string]any{"sub": ""}), middleware.CheckSub},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mu.Lock()
			hooked = nil
			logs.Reset()
			mu.Unlock()
			_, err := v.Verify(ctx, tt.token)
			var me *middleware.Error
			if !errors.As(err, &me) {
				t.Fatalf("got %v, want a *middleware.Error", err)
			}
			if me.Check != tt.want {
				t.Errorf("Check %v, want %v (%v)", me.Check, tt.want, err)
			}
			if got := middleware.CheckOf(fmt.Errorf("wrapped: %w", err)); got != tt.want {
				t.Errorf("CheckOf %v, want %v", got, tt.want)
			}
			if tt.want == middleware.CheckRequest {
				return // reported by WriteError, not Verify
			}
			mu.Lock()
			defer mu.Unlock()
			if len(hooked) != 1 || middleware.CheckOf(hooked[0]) != tt.want {
				t.Errorf("Rejected hook saw %v, want one error of check %v", hooked, tt.want)
			}
			if want := "check=" + tt.want.String(); !strings.Contains(logs.String(), want) {
				t.Errorf("log %q lacks %q", logs.String(), want)
			}
		})
	}
}

// TestCheckOf: errors that are not the token's get their check too, and
// every check has a distinct name.
func TestCheckOf(t *testing.T) {
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	_, noToken := middleware.BearerToken(req)
	tests := []struct {
		err  error
		want middleware.Check
	}{
		{noToken, middleware.CheckRequest},
		{middleware.Authorize(&middleware.Claims{}, middleware.Scopes("x"), nil), middleware.CheckScope},
		{middleware.Authorize(&middleware.Claims{}, middleware.Requirement{Organization: "o"}, nil), middleware.CheckOrganization},
		{middleware.Authorize(&middleware.Claims{}, middleware.Requirement{M2M: true}, nil), middleware.CheckClient},
		{errors.New("other"), middleware.CheckNone},
		{nil, middleware.CheckNone},
	}
	for i, tt := range tests {
		if got := middleware.CheckOf(tt.err); got != tt.want {
			t.Errorf("%d: CheckOf(%v) = %v, want %v", i, tt.err, got, tt.want)
		}
	}
	seen := map[string]middleware.Check{}
	for c := middleware.CheckNone; c.String() != "none" || c == middleware.CheckNone; c++ {
		if prev, ok := seen[c.String()]; ok {
			t.Errorf("checks %d and %d are both named %q", prev, c, c.String())
		}
		seen[c.String()] = c
		if c > 200 {
			t.Fatal("no end to the checks")
		}
	}
	if len(seen) < 20 {
		t.Errorf("only %d checks named", len(seen))
	}
}

// TestRejectionLogsKID: the token's kid is logged with issuer and audience
// rejections, the mistakes an operator looks into.
func TestRejectionLogsKID(t *testing.T) {
	iss := logtotest.New(t)
	var (
		mu   sync.Mutex
		logs strings.Builder
	)
	v := newValidator(t, iss, func(c *middleware.Config) { c.Logger = newTestLogger(&logs, &mu) })
	kid := iss.SigningKey().ID()
	for _, tok := range []string{
		iss.Mint(logtotest.Token{Subject: "app-1", ClientID: "app-1", Audience: api, Issuer: "https://other.logto.app/oidc"}),
		iss.WrongAudienceToken("app-1"),
	} {
		mu.Lock()
		logs.Reset()
		mu.Unlock()
		if _, err := v.Verify(context.Background(), tok); err == nil {
			t.Fatal("accepted")
		}
		mu.Lock()
		if !strings.Contains(logs.String(), "kid="+kid) {
			t.Errorf("log %q lacks kid=%s", logs.String(), kid)
		}
		mu.Unlock()
	}
}

// TestAttackerTextInErrors: whatever a token carries (line breaks, quotes,
// kilobytes of text) reaches Error(), Description and Detail only quoted
// and capped, so that a logger printing err.Error() (from the Rejected
// hook, say) writes one line of bounded length.
func TestAttackerTextInErrors(t *testing.T) {
	e := newAttackEnv(t)
	v, err := middleware.New(middleware.Config{
		Endpoint:                 e.r.srv.URL,
		Audiences:                []string{api},
		AcceptOrganizationTokens: true,
		Now:                      func() time.Time { return e.now },
		Logger:                   slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := v.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	evil := "x\"\n level=ERROR msg=\"forged\"\r\n\u202e" + strings.Repeat("A", 3000)
	many := make([]string, 40)
	for i := range many {
		many[i] = evil
	}
	r := func(h, c map[string]any) string { return e.rToken(rHeader(h), e.rClaims(c)) }
	tests := map[string]string{
		"aud":                    r(nil, map[string]any{"aud": evil}),
		"aud array":              r(nil, map[string]any{"aud": many}),
		"aud mixed":              r(nil, map[string]any{"aud": append([]string{"urn:logto:organization:" + evil}, many...)}),
		"iss":                    r(nil, map[string]any{"iss": evil}),
		"typ":                    r(map[string]any{"typ": evil}, nil),
		"alg":                    r(map[string]any{"alg": evil}, nil),
		"kid":                    r(map[string]any{"kid": evil}, nil),
		"member name twice":      e.rToken(rHeader(nil), e.rRawClaims(nil, fmt.Sprintf(`%q:1,%q:2`, evil, evil))),
		"claim name in capitals": e.rToken(rHeader(nil), e.rRawClaims([]string{"sub"}, fmt.Sprintf(`"SUB":%q`, evil))),
	}
	for name, tok := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := v.Verify(ctx, tok)
			var me *middleware.Error
			if !errors.As(err, &me) {
				t.Fatalf("got %v, want a *middleware.Error", err)
			}
			for what, s := range map[string]string{"Error()": err.Error(), "Description": me.Description, "Detail": me.Detail} {
				if len(s) > 2048 {
					t.Errorf("%s is %d bytes long", what, len(s))
				}
				if i := strings.IndexFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f || r == '\u202e' }); i >= 0 {
					t.Errorf("%s holds a raw control character at %d: %q", what, i, s)
				}
			}
		})
	}
}
