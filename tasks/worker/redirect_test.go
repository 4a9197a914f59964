package worker_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wfrun/wfrun/tasks/worker"
)

// The worker's own client never follows the Conductor server's redirect
// to another origin: neither POST /api/token's body (the key secret, resent
// on a 307) nor the X-Authorization token of its polls (which Go's client
// keeps across hosts) reaches it. Within the server's origin a redirect is
// followed.
func TestWorkerFollowsNoRedirectElsewhere(t *testing.T) {
	const keySecret = "KeySecret-Redirect-0a0b0c0d"
	const token = "tok-Redirect-77e1"
	var mu sync.Mutex
	var elsewhere []string
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		elsewhere = append(elsewhere, r.Method+" "+r.URL.Path+" "+r.Header.Get("X-Authorization")+" "+string(b))
		mu.Unlock()
		_, _ = io.WriteString(w, `{"token":"from-elsewhere"}`)
	}))
	defer other.Close()
	for _, tc := range []struct {
		name string
		// redirect: the paths the server sends elsewhere (307).
		redirect func(path string) bool
	}{
		{"token", func(p string) bool { return p == "/api/token" }},
		{"polls", func(p string) bool { return strings.HasPrefix(p, "/api/tasks/poll") }},
		{"within the origin", func(string) bool { return false }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu2 sync.Mutex
			polled := 0
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				switch {
				case tc.redirect(r.URL.Path):
					http.Redirect(w, r, other.URL+r.URL.RequestURI(), http.StatusTemporaryRedirect)
				case r.URL.Path == "/api/token":
					_, _ = io.WriteString(w, `{"token":"`+token+`"}`)
				case r.URL.Path == "/api/moved/poll":
					mu2.Lock()
					polled++
					mu2.Unlock()
					_, _ = io.WriteString(w, `[]`)
				default:
					// Within the origin a redirect is followed.
					http.Redirect(w, r, "/api/moved/poll", http.StatusTemporaryRedirect)
				}
			}))
			defer srv.Close()
			w, err := worker.New(worker.Config{Server: srv.URL + "/api", KeyID: "kid", KeySecret: keySecret,
				Tasks: map[string]string{"wfrun_http": "HTTP"}, PollTimeout: 50 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			defer cancel()
			_ = w.Run(ctx)
			mu.Lock()
			got := append([]string(nil), elsewhere...)
			elsewhere = nil
			mu.Unlock()
			if len(got) != 0 {
				t.Errorf("another origin received %q", got)
			}
			mu2.Lock()
			defer mu2.Unlock()
			if tc.name == "token" && polled != 0 {
				t.Errorf("the worker polled without its token")
			}
			if tc.name == "within the origin" && polled == 0 {
				t.Errorf("a redirect within the server's origin was not followed")
			}
		})
	}
}
