package server_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine/server"
	"github.com/wfrun/wfrun/internal/testkit"
	"github.com/wfrun/wfrun/store"
	"github.com/wfrun/wfrun/store/memory"
)

type testServer struct {
	*httptest.Server
	srv   *server.Server
	store store.Store
	logs  *testkit.SyncBuffer
}

func newTestServer(t *testing.T, opts ...server.Option) *testServer {
	t.Helper()
	st := memory.New()
	logs := &testkit.SyncBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv, err := server.New(st, append([]server.Option{server.WithLogger(logger)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	return &testServer{Server: hs, srv: srv, store: st, logs: logs}
}

// serveTest serves srv on a test HTTP server; at cleanup the server is
// closed, then srv shut down (its runs stop).
func serveTest(t *testing.T, srv *server.Server) *httptest.Server {
	t.Helper()
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		hs.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return hs
}

// do sends a raw request and returns status, content type and body.
func (ts *testServer) do(t *testing.T, method, path, body string, hdr ...string) (int, string, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, ts.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
}

// assertNoLeak fails when value appears in the logs.
func (ts *testServer) assertNoLeak(t *testing.T, values ...string) {
	t.Helper()
	logs := ts.logs.String()
	for _, v := range values {
		if v != "" && strings.Contains(logs, v) {
			t.Errorf("secret value %q appears in the server log", v)
		}
	}
}

const authYAML = `
tokenTTL: 1h
applications:
  - keyId: app-all
    keySecret: app-all-secret-0123456789
    scopes: ["*"]
  - keyId: app-reader
    keySecret: app-reader-secret-0123456789
    scopes: ["secrets:get:shared_*", "workflows:start:*"]
taskclusterClients:
  - clientId: tc-admin
    accessToken: tc-admin-token-0123456789
    scopes: ["secrets:*"]
  - clientId: tc-reader
    accessToken: tc-reader-token-0123456789
    scopes: ["secrets:get:project/app/*"]
`

func authConfig(t *testing.T) *server.AuthConfig {
	t.Helper()
	c, err := server.ParseAuthConfig([]byte(authYAML), "test")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func serverWithAuth(t *testing.T) server.Option { return server.WithAuth(authConfig(t)) }

// registerStart registers workflow definition def (POST
// /api/metadata/workflow) and starts workflow name with input {} (POST
// /api/workflow/{name}), failing the test unless both answer 200; it
// returns the run's id.
func (ts *testServer) registerStart(t *testing.T, def, name string) string {
	t.Helper()
	if st, _, body := ts.do(t, "POST", "/api/metadata/workflow", def); st != 200 {
		t.Fatalf("register: %d %s", st, body)
	}
	st, _, id := ts.do(t, "POST", "/api/workflow/"+name, `{}`)
	if st != 200 {
		t.Fatalf("start: %d %s", st, id)
	}
	return id
}
