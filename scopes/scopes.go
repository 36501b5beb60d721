package scopes

import (
	"slices"
	"strings"
)

// Parse splits a scope claim into its scopes. Scopes are separated by one or
// more ASCII spaces (RFC 6749, section 3.3); empty input gives nil. Tabs,
// newlines and other characters are not separators and stay part of a scope,
// so a scope can never be smuggled in through unusual white space.
func Parse(claim string) []string {
	if claim == "" {
		return nil
	}
	n := 0
	for i := 0; i < len(claim); i++ {
		if claim[i] != ' ' && (i == 0 || claim[i-1] == ' ') {
			n++
		}
	}
	if n == 0 {
		return nil
	}
	out := make([]string, 0, n)
	for len(claim) > 0 {
		i := strings.IndexByte(claim, ' ')
		if i < 0 {
			out = append(out, claim)
			break
		}
		if i > 0 {
			out = append(out, claim[:i])
		}
		claim = claim[i+1:]
	}
	return out
}

// Has reports whether granted contains scope. The comparison is exact and
// case-sensitive, as OAuth scopes are.
func Has(granted []string, scope string) bool {
	return slices.Contains(granted, scope)
}

// Mode says how the scopes of a [Requirement] combine.
type Mode uint8

const (
	// AllOf requires every listed scope.
	AllOf Mode = iota
	// AnyOf requires at least one of the listed scopes.
	AnyOf
)

// Requirement is what a route asks of a token's scopes. The zero value
// requires nothing. Build one with [All] or [Any].
type Requirement struct {
	mode   Mode
	scopes []string
}

// All requires every one of scopes. Duplicates and empty strings are dropped.
func All(scopes ...string) Requirement { return Requirement{mode: AllOf, scopes: clean(scopes)} }

// Any requires at least one of scopes. Duplicates and empty strings are
// dropped; Any with no scopes requires nothing.
func Any(scopes ...string) Requirement { return Requirement{mode: AnyOf, scopes: clean(scopes)} }

func clean(in []string) []string {
	out := make([]string, 0, len(in))
	for _, s := range in {
		if s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// Mode reports whether r is all-of or any-of.
func (r Requirement) Mode() Mode { return r.mode }

// Scopes returns a copy of the scopes r names.
func (r Requirement) Scopes() []string { return slices.Clone(r.scopes) }

// Satisfied reports whether granted meets r.
func (r Requirement) Satisfied(granted []string) bool {
	if len(r.scopes) == 0 {
		return true
	}
	if r.mode == AnyOf {
		for _, s := range r.scopes {
			if Has(granted, s) {
				return true
			}
		}
		return false
	}
	for _, s := range r.scopes {
		if !Has(granted, s) {
			return false
		}
	}
	return true
}

// Missing returns what granted lacks to meet r, or nil when r is met. For
// all-of it lists each required scope not granted; for any-of, when none is
// granted, it lists all of them (any one would do).
func (r Requirement) Missing(granted []string) []string {
	if r.Satisfied(granted) {
		return nil
	}
	if r.mode == AnyOf {
		return slices.Clone(r.scopes)
	}
	var missing []string
	for _, s := range r.scopes {
		if !Has(granted, s) {
			missing = append(missing, s)
		}
	}
	return missing
}

// String returns the required scopes separated by spaces, the form of the
// scope parameter of an RFC 6750 insufficient_scope challenge.
func (r Requirement) String() string { return strings.Join(r.scopes, " ") }
