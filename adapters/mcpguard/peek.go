package mcpguard

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"

	"github.com/logtoguard/logtoguard/middleware"
)

// methodCallTool is the JSON-RPC method of a tool call.
const methodCallTool = "tools/call"

// readBody reads r's body, at most limit bytes, and puts it back for the
// handlers after this one.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, invalidRequest("the request has no body")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	_ = r.Body.Close()
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, invalidRequest(fmt.Sprintf("the request body exceeds %d bytes", limit))
		}
		return nil, invalidRequest("the request body could not be read")
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	return body, nil
}

// toolCalls returns the names of the tools that body, a JSON-RPC message or
// batch, calls (tools/call requests), in order.
//
// It decodes messages with the SDK's own decoder (jsonrpc.DecodeMessage),
// as the SDK does, so that both see the same methods. Anything it cannot
// read is an error, never passed on: a body that the SDK could read
// differently must not pass unchecked. The tool's name is the params
// member "name", found by a token scan that refuses a params object with
// two members of that name in any case or spelling, so that no decoder
// (the SDK's is case-sensitive and keeps the last duplicate) can see
// another name than this one.
func toolCalls(body []byte) ([]string, error) {
	if !utf8.Valid(body) {
		return nil, invalidRequest("the request body is not UTF-8")
	}
	msgs := []json.RawMessage{body}
	if t := bytes.TrimLeft(body, " \t\r\n"); len(t) > 0 && t[0] == '[' {
		// A batch, which the SDK reads first; anything else, it reads
		// as one message, as here.
		if err := json.Unmarshal(body, &msgs); err != nil {
			return nil, invalidRequest("the request body is not a JSON-RPC batch")
		}
		if len(msgs) == 0 {
			return nil, invalidRequest("the JSON-RPC batch is empty")
		}
	}
	var names []string
	for _, raw := range msgs {
		msg, err := jsonrpc.DecodeMessage(raw)
		if err != nil {
			return nil, invalidRequest("the request body is not a JSON-RPC message")
		}
		req, ok := msg.(*jsonrpc.Request)
		if !ok || req.Method != methodCallTool {
			continue
		}
		name, err := toolName(req.Params)
		if err != nil {
			return nil, err
		}
		names = append(names, name)
	}
	return names, nil
}

// toolName returns the member "name" of params, a tools/call's params
// object.
func toolName(params json.RawMessage) (string, error) {
	dec := json.NewDecoder(bytes.NewReader(params))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return "", invalidRequest("tools/call params must be an object")
	}
	var name string
	found := false
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return "", invalidRequest("tools/call params must be an object")
		}
		key, _ := t.(string)
		if !strings.EqualFold(key, "name") {
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return "", invalidRequest("tools/call params must be an object")
			}
			continue
		}
		if found || key != "name" {
			return "", invalidRequest("tools/call params must have one member \"name\"")
		}
		found = true
		if err := dec.Decode(&name); err != nil || strings.ContainsRune(name, utf8.RuneError) {
			return "", invalidRequest("the tools/call name must be a string")
		}
	}
	return name, nil
}

func invalidRequest(desc string) error {
	return &middleware.Error{Kind: middleware.ErrInvalidRequest, Description: desc}
}
