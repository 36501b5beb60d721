// Package scopes reads the space-separated scope claim of a Logto access
// token and checks it against what a route requires.
//
// Logto puts the granted permissions of an access token in one string claim,
// "scope", separated by single spaces. The claim is left out when nothing that
// was requested was granted, and organization tokens can carry an empty
// string: both mean "no scopes", and [Parse] returns nil for both.
//
// A [Requirement] is either all-of ([All]) or any-of ([Any]). [Requirement.Missing]
// tells what a token lacks, which is what an RFC 6750 insufficient_scope
// response reports to the caller.
package scopes
