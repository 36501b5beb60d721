package middleware

import (
	"encoding/json"
	"strings"
)

// actNames are the members of an act claim that are decoded: like
// claimNames, a member that folds to one of them but is not exactly it is
// refused.
var actNames = []string{"sub", "act"}

// actClaim is the act claim of a delegated or impersonation token (RFC
// 8693, section 4.1; Logto's token exchange): {"sub": "<actor>"}, with an
// optional act of its own naming the actor before it. sub is the actor
// when the claim is well formed; problem says what is wrong otherwise.
// A claim that is present but not well formed refuses the token, so that
// a route that refuses delegated tokens cannot be passed by an act the
// decoder could not read.
//
// Only the outer act is decoded: [Claims].Actor is its sub. A prior actor
// (the act inside it) must be a JSON object, and is otherwise left to
// [Claims.Decode]: decoding the chain level by level would scan what lies
// below each level again, work that grows with the depth times the size,
// and this runs before the signature is checked.
type actClaim struct {
	present bool
	sub     string
	problem string
}

func (a *actClaim) UnmarshalJSON(b []byte) error {
	*a = actClaim{present: true}
	if len(b) == 0 || b[0] != '{' {
		a.problem = "is not a JSON object"
		return nil
	}
	if p := memberProblem(b, actNames); p != "" {
		a.problem = p
		return nil
	}
	var v struct {
		Sub jsonString `json:"sub"`
		Act priorActor `json:"act"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		a.problem = "is not a JSON object"
		return nil
	}
	switch {
	case !v.Sub.ok || v.Sub.s == "":
		a.problem = "has no sub string naming the actor"
	case v.Act.present && !v.Act.object:
		a.problem = "holds an act that is not a JSON object"
	default:
		a.sub = v.Sub.s
	}
	return nil
}

// priorActor records the shape of the act nested in an act claim without
// decoding it: present (null too), and whether it is a JSON object.
type priorActor struct{ present, object bool }

func (p *priorActor) UnmarshalJSON(b []byte) error {
	*p = priorActor{present: true, object: len(b) > 0 && b[0] == '{'}
	return nil
}

// isURLClientID reports whether a client_id is a URL, as the client IDs of
// Client ID Metadata Documents are (https://..., up to 2,048 characters),
// rather than a Logto App ID, which never holds a colon.
func isURLClientID(id string) bool { return strings.Contains(id, "://") }
