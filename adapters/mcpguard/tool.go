package mcpguard

import (
	"context"
	"errors"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/logtoguard/logtoguard/middleware"
)

// AddTool adds the tool t with handler h to s, as mcp.AddTool does, and
// sets req as its requirement ([Guard.Tool]), so that the tool and what it
// requires are declared in one place. The handler checks req again on the
// claims of each call (unless req names an organization, which only the
// HTTP request resolves) and returns the refusal as the tool's error (the
// validator's description of it): the
// tool stays protected even if it is served without [Guard.Handler].
//
// It panics where mcp.AddTool or [Guard.Tool] do: an invalid tool or
// requirement, when the server is built.
func AddTool[In, Out any](g *Guard, s *mcp.Server, t *mcp.Tool, req middleware.Requirement, h mcp.ToolHandlerFor[In, Out]) {
	g.Tool(t.Name, req)
	mcp.AddTool(s, t, func(ctx context.Context, call *mcp.CallToolRequest, in In) (*mcp.CallToolResult, Out, error) {
		if req.Organization == "" {
			claims, _ := Claims(call)
			if err := middleware.Authorize(claims, req, nil); err != nil {
				// The validator reports the refusal and describes it
				// as it would over HTTP.
				var zero Out
				return nil, zero, errors.New(g.v.Reject(err).Description)
			}
		}
		return h(ctx, call, in)
	})
}
