package middleware

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
)

// maxNumericDate bounds exp, iat and nbf to the years 0000 to 9999, where
// every value converts to a time.Time without overflow.
const maxNumericDate = 253402300799

var errNumericDate = errors.New("a NumericDate claim is not a number of seconds between the years 0 and 9999")

// numericDate is a NumericDate claim (RFC 7519, section 2): a JSON number of
// seconds since the epoch. Fractions are dropped, as golang-jwt does by
// default. It decodes without allocating.
type numericDate struct {
	sec int64
	set bool // false when the claim is absent or null
}

func (d *numericDate) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	// The bytes are one JSON value, already checked by encoding/json:
	// anything but a number (a string, a bool, an object) fails here.
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil || math.IsNaN(f) || f > maxNumericDate || f < -maxNumericDate {
		return errNumericDate
	}
	d.sec, d.set = int64(math.Floor(f)), true
	return nil
}

func (d numericDate) time() time.Time {
	if !d.set {
		return time.Time{}
	}
	return time.Unix(d.sec, 0)
}

var errTooManyAudiences = fmt.Errorf("the aud claim holds more than %d values", maxAudiences)

// audience is the aud claim: a string or an array of strings (RFC 7519,
// section 4.1.3).
type audience []string

func (a *audience) UnmarshalJSON(b []byte) error {
	switch {
	case string(b) == "null":
		*a = nil
		return nil
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*a = audience{s}
		return nil
	default:
		if len(b) > 0 && b[0] == '[' && arrayLen(b) > maxAudiences {
			return errTooManyAudiences
		}
		var ss []string
		if err := json.Unmarshal(b, &ss); err != nil {
			return err
		}
		*a = ss
		return nil
	}
}

// checkLifetime checks exp and iat (both required) and nbf against now
// with the leeway, with the semantics of golang-jwt's validator: a token is
// expired from exp+leeway on, and is not valid yet before iat-leeway or
// nbf-leeway. It is expired too from iat+maxLifetime+leeway on. Logto sets
// iat on every access token; without it MaxTokenLifetime would not bound
// the token, which could then outlive the revocations that refuse it.
func checkLifetime(tc *tokenClaims, now time.Time, leeway, maxLifetime time.Duration) *Error {
	if !tc.ExpiresAt.set {
		return fail(CheckExp, ErrMalformed, "the exp claim is missing")
	}
	if !tc.IssuedAt.set {
		return fail(CheckIat, ErrMalformed, "the iat claim is missing (Logto sets it on every access token)")
	}
	if !now.Before(tc.ExpiresAt.time().Add(leeway)) {
		return newError(ErrExpired, "the token has expired")
	}
	if !now.Before(tc.IssuedAt.time().Add(maxLifetime + leeway)) {
		e := newError(ErrExpired, "the token has expired: it was issued longer ago than this API accepts")
		e.Detail = "iat " + tc.IssuedAt.time().UTC().Format(time.RFC3339) + ", MaxTokenLifetime " + maxLifetime.String()
		return e
	}
	if now.Before(tc.IssuedAt.time().Add(-leeway)) {
		return fail(CheckIat, ErrNotYetValid, "the token's iat is in the future: check the clocks")
	}
	if tc.NotBefore.set && now.Before(tc.NotBefore.time().Add(-leeway)) {
		return fail(CheckNbf, ErrNotYetValid, "the token is not valid yet (nbf)")
	}
	return nil
}
