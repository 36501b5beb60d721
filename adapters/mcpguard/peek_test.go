package mcpguard

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	segjson "github.com/segmentio/encoding/json"

	"github.com/logtoguard/logtoguard/middleware"
)

// sdkUnmarshal decodes as the SDK does (its internal/json: segmentio's
// decoder, case-sensitive).
func sdkUnmarshal(data []byte, v any) error {
	dec := segjson.NewDecoder(bytes.NewReader(data))
	dec.DontMatchCaseInsensitiveStructFields()
	return dec.Decode(v)
}

// sdkToolCalls is what the SDK reads from body: the tools that its
// tools/call requests name, as its readBatch and tools/call params decoding
// see them; ok is false if it would refuse the body.
func sdkToolCalls(body []byte) (names []string, ok bool) {
	var raws []json.RawMessage
	if err := sdkUnmarshal(body, &raws); err != nil {
		raws = []json.RawMessage{body}
	}
	for _, raw := range raws {
		msg, err := jsonrpc.DecodeMessage(raw)
		if err != nil {
			return nil, false
		}
		req, isReq := msg.(*jsonrpc.Request)
		if !isReq || req.Method != methodCallTool {
			continue
		}
		var params struct {
			Name string `json:"name"`
		}
		if err := sdkUnmarshal(req.Params, &params); err != nil {
			continue // the SDK answers invalid params: no tool runs
		}
		names = append(names, params.Name)
	}
	return names, true
}

var peekSeeds = []string{
	`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"create_product","arguments":{"name":"Desk"}}}`,
	`[{"jsonrpc":"2.0","id":1,"method":"tools/list"},{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"a"}}]`,
	`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"Name":"a","name":"b"}}`,
	`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a","name":"b"}}`,
	`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"n\u0061me":"a"}}`,
	`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a\ud800"}}`,
	`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":null}`,
	`{"jsonrpc":"2.0","id":1,"method":"tools/cal\u006c","params":{"name":"a"}}`,
	`{"jsonrpc":"2.0","id":1,"METHOD":"tools/call","method":"ping","params":{"name":"a"}}`,
	`{"jsonrpc":"2.0","id":1,"result":{}}`,
	` [ ] `, `null`, `"x"`, `[`, `[1]`, "\xff",
}

func TestToolCalls(t *testing.T) {
	for _, c := range []struct {
		body string
		want []string
	}{
		{peekSeeds[0], []string{"create_product"}},
		{peekSeeds[1], []string{"a"}},
		{peekSeeds[4], []string{"a"}},
		{peekSeeds[7], []string{"a"}},
		{peekSeeds[9], nil},
		{`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"arguments":{}}}`, []string{""}},
	} {
		got, err := toolCalls([]byte(c.body))
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("%s: got %q, %v; want %q", c.body, got, err, c.want)
		}
	}
	// An empty body, and one of white space only, are no request at all.
	for _, body := range []string{"", " \r\n\t", peekSeeds[2], peekSeeds[3], peekSeeds[5], peekSeeds[6], peekSeeds[10], peekSeeds[11], peekSeeds[13], peekSeeds[14], peekSeeds[15]} {
		if got, err := toolCalls([]byte(body)); !errors.Is(err, middleware.ErrInvalidRequest) {
			t.Errorf("%s: got %q, %v; want invalid_request", body, got, err)
		}
	}
}

// FuzzToolCalls: the peek never panics, and whenever it lets a body pass,
// the SDK reads no other tool calls from it than the peek reported.
func FuzzToolCalls(f *testing.F) {
	for _, s := range peekSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		names, err := toolCalls(body)
		if err != nil {
			if !errors.Is(err, middleware.ErrInvalidRequest) {
				t.Fatalf("error %v is not invalid_request", err)
			}
			return
		}
		sdk, ok := sdkToolCalls(body)
		if !ok {
			return // the SDK refuses the body: nothing runs
		}
		for _, name := range sdk {
			if !slices.Contains(names, name) {
				t.Fatalf("the SDK calls %q, the peek saw %q", name, names)
			}
		}
	})
}

// BenchmarkToolCalls is the cost of the peek on a tools/call: a small one,
// and one with 64 KiB of arguments.
func BenchmarkToolCalls(b *testing.B) {
	big := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"create_product","arguments":{"description":"` +
		string(bytes.Repeat([]byte("a"), 64<<10)) + `"}}}`
	for _, c := range []struct{ name, body string }{{"small", peekSeeds[0]}, {"64KiB", big}} {
		b.Run(c.name, func(b *testing.B) {
			body := []byte(c.body)
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if names, err := toolCalls(body); err != nil || len(names) != 1 {
					b.Fatal(names, err)
				}
			}
		})
	}
}
