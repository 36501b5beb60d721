package redisstore

import (
	"encoding/json"
	"testing"
	"time"
)

// FuzzDecodeMessage: whatever arrives on the channel (anyone with access to
// Redis can publish there), decoding never panics, and an entry it accepts
// is valid and comes back unchanged through the store's own encoding.
func FuzzDecodeMessage(f *testing.F) {
	for _, seed := range []string{
		`{"k":"1","s":"user-1","o":"","c":"","a":"1765000000000000","u":"1765086400000000","r":"user suspended"}`,
		`{"k":"2","s":"u","o":"org","c":"","a":"1765000000123456","u":"1765000000123456","r":""}`,
		`{"k":"4","c":"m2m-app","a":"1","u":"2"}`,
		`{"k":"9","s":"u","a":"1","u":"2"}`,
		`{"k":"1","s":"u\/x","a":"-1","u":"9007199254740993"}`,
		`{"k":"1","s":"u","a":"1e3","u":"2"}`,
		`[]`, `null`, `{`, ``,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, payload string) {
		e, err := decodeMessage(payload)
		if err != nil {
			return
		}
		if err := checkEntry(e); err != nil {
			t.Fatalf("decoded an entry the store refuses: %+v: %v", e, err)
		}
		args := scriptArgs("ch", e)
		m := message{Kind: args[1].(string), Sub: args[2].(string), Org: args[3].(string), Client: args[4].(string), At: args[5].(string), Until: args[6].(string), Reason: args[7].(string)}
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		back, err := decodeMessage(string(b))
		if err != nil {
			t.Fatalf("the store's own encoding of %+v does not decode: %v", e, err)
		}
		if !sameEntry(back, e) || back.At.Location() != time.Local {
			t.Fatalf("round trip: %+v, want %+v", back, e)
		}
	})
}
