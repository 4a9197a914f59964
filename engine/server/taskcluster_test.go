package server_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v3"
	"github.com/redis/go-redis/v9"
	"github.com/taskcluster/httpbackoff/v3"
	tcclient "github.com/taskcluster/taskcluster/v44/clients/client-go"
	"github.com/taskcluster/taskcluster/v44/clients/client-go/tcsecrets"

	"github.com/wfrun/wfrun/engine/server"
	"github.com/wfrun/wfrun/internal/redistest"
)

func tcClient(ts *testServer, clientID, token string) *tcsecrets.Secrets {
	var creds *tcclient.Credentials
	if clientID != "" {
		creds = &tcclient.Credentials{ClientID: clientID, AccessToken: token}
	}
	c := tcsecrets.New(creds, ts.URL)
	// 5xx are retried for 15 minutes by default: keep failures fast.
	eb := backoff.NewExponentialBackOff()
	eb.MaxElapsedTime = 200 * time.Millisecond
	c.HTTPBackoffClient = &httpbackoff.Client{BackOffSettings: eb}
	return c
}

// tcStatus extracts the HTTP status of a tcclient error.
func tcStatus(err error) int {
	var apiErr *tcclient.APICallException
	if errors.As(err, &apiErr) {
		var bad httpbackoff.BadHttpResponseCode
		if errors.As(apiErr.RootCause, &bad) {
			return bad.HttpResponseCode
		}
		if apiErr.CallSummary != nil && apiErr.CallSummary.HTTPResponse != nil {
			return apiErr.CallSummary.HTTPResponse.StatusCode
		}
	}
	return 0
}

func tcSecret(t *testing.T, v any, expires time.Time) *tcsecrets.Secret {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return &tcsecrets.Secret{Secret: b, Expires: tcclient.Time(expires)}
}

// TestTaskclusterClient drives the Taskcluster secrets API with the real
// v44 Go client: anonymously with auth off, and with Hawk credentials.
func TestTaskclusterClient(t *testing.T) {
	for _, tc := range []struct {
		name, id, token string
		opts            []server.Option
	}{
		{name: "no auth"},
		{name: "hawk", id: "tc-admin", token: "tc-admin-token-0123456789", opts: []server.Option{serverWithAuth(t)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := newTestServer(t, tc.opts...)
			c := tcClient(ts, tc.id, tc.token)
			if err := c.Ping(); err != nil {
				t.Fatalf("Ping: %v", err)
			}
			future := time.Now().Add(time.Hour).UTC().Truncate(time.Millisecond)
			// "/" and ":" arrive query-escaped (%2F, %3A); the MAC covers the escaped URI.
			name := "project/app:prod/db"
			if err := c.Set(name, tcSecret(t, map[string]string{"password": "tc-value-0042-xyz"}, future)); err != nil {
				t.Fatalf("Set: %v", err)
			}
			got, err := c.Get(name)
			if err != nil {
				t.Fatalf("Get: %v", err)
			}
			if string(got.Secret) != `{"password":"tc-value-0042-xyz"}` || !time.Time(got.Expires).Equal(future) {
				t.Errorf("Get = %s expires %v, want the value and %v", got.Secret, time.Time(got.Expires), future)
			}
			if _, err := c.Get("project/missing"); tcStatus(err) != 404 {
				t.Errorf("Get(missing): status %d (%v), want 404", tcStatus(err), err)
			}
			// Expired reads as missing: 404, as Taskcluster does since v36.
			if err := c.Set("project/old", tcSecret(t, map[string]string{"k": "expired-value-77"}, time.Now().Add(-time.Minute))); err != nil {
				t.Fatalf("Set(expired): %v", err)
			}
			if _, err := c.Get("project/old"); tcStatus(err) != 404 {
				t.Errorf("Get(expired): status %d, want 404", tcStatus(err))
			}
			for i := range 5 {
				if err := c.Set(fmt.Sprintf("page/%d", i), tcSecret(t, map[string]int{"i": i}, future)); err != nil {
					t.Fatal(err)
				}
			}
			var all []string
			tok, pages := "", 0
			for {
				l, err := c.List(tok, "2")
				if err != nil {
					t.Fatalf("List: %v", err)
				}
				pages++
				all = append(all, l.Secrets...)
				if tok = l.ContinuationToken; tok == "" {
					break
				}
			}
			want := "page/0,page/1,page/2,page/3,page/4,project/app:prod/db"
			if strings.Join(all, ",") != want || pages < 3 {
				t.Errorf("List pages=%d names=%v, want %s (expired left out)", pages, all, want)
			}
			if err := c.Remove(name); err != nil {
				t.Fatalf("Remove: %v", err)
			}
			if err := c.Remove(name); err != nil {
				t.Errorf("Remove of a missing secret: %v, want 200", err)
			}
			// A non-object secret is refused, as the real schema does.
			if err := c.Set("project/str", &tcsecrets.Secret{Secret: json.RawMessage(`"str"`), Expires: tcclient.Time(future)}); tcStatus(err) != 400 {
				t.Errorf("Set(string secret): status %d, want 400", tcStatus(err))
			}
			ts.assertNoLeak(t, "tc-value-0042-xyz", "expired-value-77", tc.token)
		})
	}
}

// TestTaskclusterHawk: wrong tokens, missing scopes, replays and stale
// timestamps are refused with the statuses the client reports.
func TestTaskclusterHawk(t *testing.T) {
	offset := time.Duration(0)
	ts := newTestServer(t, serverWithAuth(t), server.WithClock(func() time.Time { return time.Now().Add(offset) }))
	future := time.Now().Add(time.Hour)
	admin := tcClient(ts, "tc-admin", "tc-admin-token-0123456789")
	if err := admin.Set("project/app/key", tcSecret(t, map[string]string{"v": "hawk-value-5150"}, future)); err != nil {
		t.Fatal(err)
	}
	if err := admin.Set("other/key", tcSecret(t, map[string]string{"v": "other-value-6160"}, future)); err != nil {
		t.Fatal(err)
	}
	reader := tcClient(ts, "tc-reader", "tc-reader-token-0123456789")
	if _, err := reader.Get("project/app/key"); err != nil {
		t.Errorf("reader Get(project/app/key): %v", err)
	}
	for _, n := range []string{"other/key", "other/none"} {
		if _, err := reader.Get(n); tcStatus(err) != 403 {
			t.Errorf("reader Get(%s): status %d, want 403 whether or not it exists", n, tcStatus(err))
		}
	}
	if err := reader.Set("project/app/key", tcSecret(t, map[string]string{"v": "x"}, future)); tcStatus(err) != 403 {
		t.Errorf("reader Set: status %d, want 403", tcStatus(err))
	}
	if _, err := reader.List("", ""); tcStatus(err) != 403 {
		t.Errorf("reader List: status %d, want 403", tcStatus(err))
	}
	if _, err := tcClient(ts, "", "").Get("project/app/key"); tcStatus(err) != 403 {
		t.Errorf("anonymous Get: status %d, want 403", tcStatus(err))
	}
	if _, err := tcClient(ts, "tc-admin", "wrong-token-000000000000").Get("project/app/key"); tcStatus(err) != 401 {
		t.Errorf("wrong access token: status %d, want 401", tcStatus(err))
	}
	if _, err := tcClient(ts, "nobody", "wrong-token-000000000000").Get("project/app/key"); tcStatus(err) != 401 {
		t.Errorf("unknown client: status %d, want 401", tcStatus(err))
	}
	// authorizedScopes narrows a client.
	narrowed := tcClient(ts, "tc-admin", "tc-admin-token-0123456789")
	narrowed.Credentials.AuthorizedScopes = []string{"secrets:get:project/*"}
	if _, err := narrowed.Get("other/key"); tcStatus(err) != 403 {
		t.Errorf("authorizedScopes: status %d, want 403", tcStatus(err))
	}

	// Replay: the same signed request twice.
	creds := &tcclient.Credentials{ClientID: "tc-admin", AccessToken: "tc-admin-token-0123456789"}
	req, _ := http.NewRequest("GET", ts.URL+"/api/secrets/v1/secret/project%2Fapp%2Fkey", nil)
	if err := creds.SignRequest(req); err != nil {
		t.Fatal(err)
	}
	send := func() (int, string) {
		r2, _ := http.NewRequest(req.Method, req.URL.String(), nil)
		r2.Header = req.Header.Clone()
		resp, err := http.DefaultClient.Do(r2)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b) + resp.Header.Get("WWW-Authenticate")
	}
	if st, _ := send(); st != 200 {
		t.Fatalf("first use of a signed request: %d", st)
	}
	if st, body := send(); st != 401 || !strings.Contains(body, "AuthenticationFailed") || !strings.Contains(body, "Hawk") {
		t.Errorf("replayed request: %d %s, want 401 AuthenticationFailed", st, body)
	}
	// Outside the skew window: the server clock is 16 minutes ahead.
	offset = 16 * time.Minute
	if _, err := admin.Get("project/app/key"); tcStatus(err) != 401 {
		t.Errorf("stale timestamp: status %d, want 401", tcStatus(err))
	}
	offset = 14 * time.Minute
	if _, err := admin.Get("project/app/key"); err != nil {
		t.Errorf("timestamp within the skew window: %v", err)
	}
	ts.assertNoLeak(t, "hawk-value-5150", "other-value-6160", "tc-admin-token-0123456789", "tc-reader-token-0123456789")
	st, ct, metrics := ts.do(t, "GET", "/metrics", "")
	if st != 200 || !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("/metrics: %d %s", st, ct)
	}
	for _, want := range []string{`wfrun_secret_reads_denied_total{api="taskcluster"} 6`, `wfrun_http_requests_total{code="401",method="GET",route="GET /api/secrets/v1/secret/{name...}"} 4`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if st, _, body := ts.do(t, "GET", "/healthz", ""); st != 200 || !strings.Contains(body, `"healthy":true`) {
		t.Errorf("/healthz: %d %s", st, body)
	}
}

// TestHawkReplayAcrossProcesses: two servers sharing a Redis (as serve
// processes behind one address do) refuse a signed request replayed to the
// other one; each still takes fresh requests.
func TestHawkReplayAcrossProcesses(t *testing.T) {
	addr := redistest.Start(t)
	newServer := func() *testServer {
		rc := redis.NewClient(&redis.Options{Addr: addr})
		t.Cleanup(func() { _ = rc.Close() })
		return newTestServer(t, serverWithAuth(t), server.WithSharedQueue(rc))
	}
	a, b := newServer(), newServer()
	creds := &tcclient.Credentials{ClientID: "tc-admin", AccessToken: "tc-admin-token-0123456789"}
	signed := func(base string) *http.Request {
		req, _ := http.NewRequest("GET", base+"/api/secrets/v1/secrets", nil)
		if err := creds.SignRequest(req); err != nil {
			t.Fatal(err)
		}
		return req
	}
	send := func(req *http.Request, to string) int {
		r2, _ := http.NewRequest(req.Method, to+req.URL.Path, nil)
		r2.Header = req.Header.Clone()
		r2.Host = req.URL.Host // the signature covers the host the client meant
		resp, err := http.DefaultClient.Do(r2)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	req := signed(a.URL)
	if st := send(req, a.URL); st != 200 {
		t.Fatalf("first use on A: %d", st)
	}
	if st := send(req, b.URL); st != 401 {
		t.Errorf("the same request replayed to B: %d, want 401", st)
	}
	if st := send(signed(a.URL), b.URL); st != 200 {
		t.Errorf("a fresh request to B (signed for A's host, as behind a load balancer): %d", st)
	}
}
