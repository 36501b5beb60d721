package benchmarks_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/logtoguard/logtoguard/adapters/connectguard"
	"github.com/logtoguard/logtoguard/middleware"
)

// listProcedure is the procedure of the Connect benchmark.
const listProcedure = "/shop.v1.Products/List"

// BenchmarkConnectUnary serves a unary call of the Connect protocol in
// process (the connect handler's ServeHTTP with an httptest.ResponseRecorder,
// no socket): behind connectguard, whose requirement the token meets and
// whose verdict is already cached, and behind nothing (bare). Both get the
// same request, Authorization header included, and the same handler. The
// issue's target: connectguard at most 1.3x bare.
func BenchmarkConnectUnary(b *testing.B) {
	f := newFixture(b, "ES384")
	tok := f.token()
	v := newLogtoguard(b, f, true)
	guard, err := connectguard.New(v, map[string]middleware.Requirement{listProcedure: middleware.Scopes("read:products")})
	if err != nil {
		b.Fatal(err)
	}
	list := func(_ context.Context, _ *connect.Request[wrapperspb.StringValue]) (*connect.Response[wrapperspb.StringValue], error) {
		return connect.NewResponse(wrapperspb.String("ok")), nil
	}
	body, err := proto.Marshal(wrapperspb.String("p1"))
	if err != nil {
		b.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodPost, listProcedure, nil)
	r.Header.Set("Content-Type", "application/proto")
	r.Header.Set("Authorization", "Bearer "+tok)
	serve := func(b *testing.B, h http.Handler) bool {
		r.Body = io.NopCloser(bytes.NewReader(body))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			b.Errorf("got %d %s, want 200", w.Code, w.Body)
			return false
		}
		return true
	}
	for _, s := range []struct {
		name string
		h    http.Handler
	}{
		{"server=bare", connect.NewUnaryHandler(listProcedure, list)},
		{"server=connectguard", connect.NewUnaryHandler(listProcedure, list, connect.WithInterceptors(guard))},
	} {
		if !serve(b, s.h) { // warm: keys fetched, token cached
			b.FailNow()
		}
		b.Run(s.name, func(b *testing.B) {
			b.ReportAllocs()
			defer cpuMetric(b)()
			for b.Loop() {
				if !serve(b, s.h) {
					return
				}
			}
		})
	}
}
