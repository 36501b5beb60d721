package mcpguard

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

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

// CheckServer reports, as an error, every tool that the guard's
// requirements (Options.Tools, [Guard.Tool], [AddTool]) name and s does not
// serve: a requirement keyed by a misspelt name protects nothing. Call it
// once the server's tools are added, where the server is built:
//
//	if err := guard.CheckServer(ctx, server); err != nil {
//		log.Fatal(err)
//	}
//
// It lists s's tools through a session of its own, in memory. Once it has
// passed, Options.AuthenticateUnlistedTools lets unlisted tools through;
// names given to [Guard.Tool] later are not checked again.
func (g *Guard) CheckServer(ctx context.Context, s *mcp.Server) error {
	if s == nil {
		return errors.New("mcpguard: CheckServer: nil server")
	}
	served, err := serverTools(ctx, s)
	if err != nil {
		return fmt.Errorf("mcpguard: CheckServer: listing the server's tools: %w", err)
	}
	g.mu.RLock()
	var missing []string
	for name := range g.tools {
		if !served[name] {
			missing = append(missing, name)
		}
	}
	g.mu.RUnlock()
	if len(missing) > 0 {
		slices.Sort(missing)
		var b strings.Builder
		for i, name := range missing {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(strconv.Quote(name))
			for tool := range served {
				if strings.EqualFold(tool, name) {
					fmt.Fprintf(&b, " (the server has %q)", tool)
				}
			}
		}
		return fmt.Errorf("mcpguard: requirements name tools the server does not serve: %s", b.String())
	}
	g.checked.Store(true)
	return nil
}

// serverTools returns the names of the tools s serves, listed through an
// in-memory session.
func serverTools(ctx context.Context, s *mcp.Server) (map[string]bool, error) {
	ct, st := mcp.NewInMemoryTransports()
	ss, err := s.Connect(ctx, st, nil)
	if err != nil {
		return nil, err
	}
	defer func() { _ = ss.Close() }()
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "mcpguard", Version: "check"}, nil).Connect(ctx, ct, nil)
	if err != nil {
		return nil, err
	}
	defer func() { _ = cs.Close() }()
	served := map[string]bool{}
	if cs.InitializeResult().Capabilities.Tools == nil {
		return served, nil // a server without tools does not answer tools/list
	}
	for tool, err := range cs.Tools(ctx, nil) {
		if err != nil {
			return nil, err
		}
		served[tool.Name] = true
	}
	return served, nil
}
