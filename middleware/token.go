package middleware

import (
	"net/http"
	"net/url"
	"strings"
)

// BearerToken extracts the bearer token from the Authorization header of r
// (RFC 6750, section 2.1; the scheme is matched case-insensitively). It
// returns an error matching [ErrNoToken] when there is none (or another
// scheme, such as Basic), and [ErrInvalidRequest] for two Authorization
// headers, an empty or malformed value, or a token in the access_token query
// parameter, which this library never accepts (URLs end up in logs).
func BearerToken(r *http.Request) (string, error) {
	values := r.Header.Values("Authorization")
	inQuery := r.URL != nil && tokenInQuery(r.URL.RawQuery)
	switch {
	case len(values) == 0 && inQuery:
		return "", newError(ErrInvalidRequest, "tokens in the query string are not accepted: send Authorization: Bearer <token>")
	case len(values) == 0:
		return "", newError(ErrNoToken, "")
	}
	if inQuery {
		return "", newError(ErrInvalidRequest, "the token was sent in more than one place")
	}
	return AuthorizationToken(values)
}

// AuthorizationToken extracts the bearer token from the values of an
// Authorization header, or of gRPC's authorization metadata, with the rules
// of [BearerToken]: nothing or another scheme matches [ErrNoToken]; two
// values, an empty or malformed one match [ErrInvalidRequest].
func AuthorizationToken(values []string) (string, error) {
	switch len(values) {
	case 0:
		return "", newError(ErrNoToken, "")
	case 1:
	default:
		return "", newError(ErrInvalidRequest, "more than one Authorization header")
	}
	v := values[0]
	scheme, rest, _ := strings.Cut(v, " ")
	if !strings.EqualFold(scheme, "Bearer") {
		if strings.TrimSpace(v) == "" {
			return "", newError(ErrInvalidRequest, "the Authorization header is empty")
		}
		return "", newError(ErrNoToken, "")
	}
	token := strings.Trim(rest, " ")
	switch {
	case token == "":
		return "", newError(ErrInvalidRequest, "the bearer token is empty")
	case strings.IndexByte(token, ' ') >= 0 || strings.IndexByte(token, '\t') >= 0 || strings.IndexByte(token, ',') >= 0:
		// Three vectorised scans: a third of the time of ContainsAny.
		return "", newError(ErrInvalidRequest, "the Authorization header holds more than one value")
	}
	return token, nil
}

// tokenInQuery reports whether the query has an access_token parameter, as
// the parsed query names it: percent-encoded (access%5Ftoken), without a
// value (?access_token), anywhere in the query. A query that holds neither
// the name nor a percent sign cannot name it, and is not parsed.
func tokenInQuery(rawQuery string) bool {
	if rawQuery == "" || (!strings.Contains(rawQuery, "access_token") && strings.IndexByte(rawQuery, '%') < 0) {
		return false
	}
	q, _ := url.ParseQuery(rawQuery) // what parses is what a handler would read
	return q.Has("access_token")
}
