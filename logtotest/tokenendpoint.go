package logtotest

import (
	"crypto/subtle"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

type resource struct {
	ttl    time.Duration
	scopes []string
}

type app struct {
	secret string
	scopes []string
}

// AddResource registers an API resource, as created in the Logto console:
// its identifier (the indicator, which tokens carry as aud) and the
// permissions (scopes) it defines. Its tokens live [DefaultTTL]. Registering
// the same indicator again replaces it.
func (i *Issuer) AddResource(indicator string, scopes ...string) {
	i.AddResourceTTL(indicator, DefaultTTL, scopes...)
}

// AddResourceTTL is [Issuer.AddResource] with the token lifetime that Logto
// lets each API resource set; ttl <= 0 means [DefaultTTL].
func (i *Issuer) AddResourceTTL(indicator string, ttl time.Duration, scopes ...string) {
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	i.resources[indicator] = resource{ttl: ttl, scopes: slices.Clone(scopes)}
}

// AddM2MApp registers a machine-to-machine app with its secret and the
// scopes that its roles grant it, across all resources. Registering the same
// appID again replaces it.
func (i *Issuer) AddM2MApp(appID, secret string, scopes ...string) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.apps[appID] = app{secret: secret, scopes: slices.Clone(scopes)}
}

// resourceTTL is the lifetime of tokens for indicator.
func (i *Issuer) resourceTTL(indicator string) time.Duration {
	i.mu.Lock()
	defer i.mu.Unlock()
	if r, ok := i.resources[indicator]; ok {
		return r.ttl
	}
	return DefaultTTL
}

// tokenError is Logto's error body: the OAuth error and its description,
// plus Logto's code and message.
type tokenError struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
	Code        string `json:"code"`
	Message     string `json:"message"`
}

// errorMessages are Logto's messages for the OAuth errors that the token
// endpoint returns.
var errorMessages = map[string]string{
	"invalid_request":        "Request is invalid.",
	"invalid_client":         "Client authentication failed.",
	"unsupported_grant_type": "Unsupported `grant_type` requested.",
	"invalid_target":         "Invalid resource indicator.",
}

// tokenResponse is the client credentials response.
type tokenResponse struct {
	AccessToken string `json:"access_token"`
	ExpiresIn   int64  `json:"expires_in"`
	TokenType   string `json:"token_type"`
	Scope       string `json:"scope,omitempty"`
}

// serveToken implements Logto's client credentials grant, in the order of
// its checks: client authentication, grant type, resource, then scopes.
func (i *Issuer) serveToken(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	fail := func(status int, code, description string) {
		if code == "invalid_client" {
			w.Header().Set("WWW-Authenticate", `Basic realm="`+i.issuer+`"`)
		}
		writeJSON(w, status, tokenError{Error: code, Description: description, Code: "oidc." + code, Message: errorMessages[code]})
	}

	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/x-www-form-urlencoded" {
		fail(http.StatusBadRequest, "invalid_request", "only application/x-www-form-urlencoded content-type bodies are supported")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		fail(http.StatusBadRequest, "invalid_request", "could not parse the request body")
		return
	}
	form := r.PostForm

	// Client authentication: client_secret_basic or client_secret_post.
	clientID, secret, basic := r.BasicAuth()
	if basic {
		// RFC 6749 2.3.1: both parts are form-encoded before Basic.
		clientID, secret = formDecode(clientID), formDecode(secret)
		if form.Has("client_secret") {
			fail(http.StatusBadRequest, "invalid_request", "client authentication must only be provided using one mechanism")
			return
		}
		if id := form.Get("client_id"); id != "" && id != clientID {
			fail(http.StatusBadRequest, "invalid_request", "mismatch in body and authorization client ids")
			return
		}
	} else {
		clientID, secret = form.Get("client_id"), form.Get("client_secret")
	}
	i.mu.Lock()
	a, known := i.apps[clientID]
	i.mu.Unlock()
	if clientID == "" || !known || subtle.ConstantTimeCompare([]byte(secret), []byte(a.secret)) != 1 {
		fail(http.StatusUnauthorized, "invalid_client", "client authentication failed")
		return
	}

	switch grant := form["grant_type"]; {
	case len(grant) == 0 || grant[0] == "":
		fail(http.StatusBadRequest, "invalid_request", "missing required parameter 'grant_type'")
		return
	case len(grant) > 1:
		fail(http.StatusBadRequest, "invalid_request", "'grant_type' parameter must only be provided once")
		return
	case grant[0] != "client_credentials":
		fail(http.StatusBadRequest, "unsupported_grant_type", "unsupported grant_type requested")
		return
	}

	if form.Get("organization_id") != "" {
		fail(http.StatusBadRequest, "invalid_request", "logtotest: organization_id (organization tokens for apps) is not supported")
		return
	}
	indicators := slices.DeleteFunc(slices.Clone(form["resource"]), func(s string) bool { return s == "" })
	switch {
	case len(indicators) == 0:
		fail(http.StatusBadRequest, "invalid_target", "both `resource` and `organization_id` are not provided")
		return
	case len(indicators) > 1:
		fail(http.StatusBadRequest, "invalid_target", "only a single resource indicator value is supported for this grant type")
		return
	}
	i.mu.Lock()
	res, known := i.resources[indicators[0]]
	i.mu.Unlock()
	if !known {
		fail(http.StatusBadRequest, "invalid_target", "resource indicator is missing, or unknown")
		return
	}

	// Requested scopes that the app's roles do not grant on this resource
	// are dropped; Logto never answers invalid_scope here.
	var granted []string
	for _, s := range strings.Split(form.Get("scope"), " ") {
		if s != "" && !slices.Contains(granted, s) && slices.Contains(a.scopes, s) && slices.Contains(res.scopes, s) {
			granted = append(granted, s)
		}
	}
	token := i.Mint(Token{Subject: clientID, ClientID: clientID, Audience: indicators[0], Scopes: granted, TTL: res.ttl})
	writeJSON(w, http.StatusOK, tokenResponse{
		AccessToken: token,
		ExpiresIn:   int64(res.ttl / time.Second),
		TokenType:   "Bearer",
		Scope:       strings.Join(granted, " "),
	})
}

// formDecode undoes application/x-www-form-urlencoded encoding, keeping the
// value as it is when it is not validly encoded.
func formDecode(s string) string {
	if d, err := url.QueryUnescape(s); err == nil {
		return d
	}
	return s
}
