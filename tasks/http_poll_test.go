package tasks

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// counterServer answers {"randomInt": n} where n counts the calls.
func counterServer(t *testing.T) (*httptest.Server, *atomic.Int64) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"randomInt": %d}`, n.Add(1))
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func TestHTTPPollUntilCondition(t *testing.T) {
	srv, calls := counterServer(t)
	r := NewDefaultRegistry()
	cases := []struct {
		name string
		in   map[string]any
	}{
		// Orkes' documented shape: everything inside http_request.
		{"orkes nested", map[string]any{"http_request": map[string]any{
			"uri": srv.URL, "method": "GET", "accept": "application/json", "contentType": "application/json",
			"terminationCondition": "(function(){ return $.output.response.body.randomInt > 2;})();",
			"pollingInterval":      "0.01", "pollingStrategy": "FIXED", "encode": true,
		}}},
		{"flat", map[string]any{
			"uri": srv.URL, "method": "GET",
			"terminationCondition": "$.output.body.randomInt >= 3 && $.pollCount == 3",
			"pollingInterval":      0.01,
		}},
		{"poll fields beside http_request, expr evaluator", map[string]any{
			"http_request":         map[string]any{"uri": srv.URL, "method": "GET"},
			"terminationCondition": "$.output.statusCode == 200 && $.output.response.body.randomInt > 2",
			"evaluatorType":        "expr",
			"pollingInterval":      "0.01",
			"pollingStrategy":      "LINEAR_BACKOFF",
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			calls.Store(0)
			res := run(t, r, TypeHTTPPoll, tc.in, nil)
			wantStatus(t, res, Completed)
			out := output(t, res)
			if calls.Load() != 3 || out["pollCount"] != 3.0 || path(out, "response", "body", "randomInt") != 3.0 {
				t.Fatalf("calls %d, output %s", calls.Load(), res.Output)
			}
		})
	}
}

func TestHTTPPollMaxPollCount(t *testing.T) {
	srv, calls := counterServer(t)
	res := run(t, NewDefaultRegistry(), TypeHTTPPoll, map[string]any{
		"uri": srv.URL, "method": "GET", "terminationCondition": "false",
		"pollingInterval": 0.001, "maxPollCount": 4,
	}, nil)
	wantStatus(t, res, Failed, "not met after 4 polls")
	if calls.Load() != 4 || output(t, res)["pollCount"] != 4.0 {
		t.Fatalf("calls %d output %s", calls.Load(), res.Output)
	}
}

// Cancelling the context during the wait between polls ends the task at
// once. The context is cancelled when the task announces that wait (its
// progress line), not after a fixed time, so a slow first call on a loaded
// machine cannot be what the cancellation interrupts.
func TestHTTPPollCancel(t *testing.T) {
	srv, calls := counterServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	svc := newServices()
	var waits atomic.Int64
	svc.Logf = func(format string, args ...any) {
		if strings.Contains(fmt.Sprintf(format, args...), "condition not met after poll 1, next in 1h0m0s") {
			waits.Add(1)
			cancel()
		}
	}
	start := time.Now()
	res := runCtx(ctx, t, NewDefaultRegistry(), TypeHTTPPoll, map[string]any{
		"uri": srv.URL, "method": "GET", "terminationCondition": "false", "pollingInterval": 3600,
	}, svc)
	wantStatus(t, res, Failed, "canceled after 1 polls")
	// An hour's wait was cut short: a minute is generous on any machine.
	if el := time.Since(start); el > time.Minute || calls.Load() != 1 || waits.Load() != 1 {
		t.Fatalf("took %v, %d calls, %d waits announced", el, calls.Load(), waits.Load())
	}
}

func TestHTTPPollFailures(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
	}))
	defer srv.Close()
	r := NewDefaultRegistry()
	res := run(t, r, TypeHTTPPoll, map[string]any{"uri": srv.URL, "method": "GET", "terminationCondition": "true", "pollingInterval": 0}, nil)
	wantStatus(t, res, Failed, "HTTP 502")
	wantStatus(t, run(t, r, TypeHTTPPoll, map[string]any{"uri": srv.URL, "method": "GET"}, nil), FailedTerminal, "missing terminationCondition")
	wantStatus(t, run(t, r, TypeHTTPPoll, map[string]any{"uri": srv.URL, "method": "GET", "terminationCondition": "((("}, nil), FailedTerminal, "terminationCondition: javascript: compile")
	wantStatus(t, run(t, r, TypeHTTPPoll, map[string]any{"uri": srv.URL, "method": "GET", "terminationCondition": "true", "pollingStrategy": "RANDOM"}, nil), FailedTerminal, "pollingStrategy")
	wantStatus(t, run(t, r, TypeHTTPPoll, map[string]any{"uri": srv.URL, "method": "GET", "terminationCondition": "true", "pollingInterval": "-1"}, nil), FailedTerminal, "pollingInterval")

	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`{}`)) }))
	defer ok.Close()
	res = run(t, r, TypeHTTPPoll, map[string]any{"uri": ok.URL, "method": "GET", "terminationCondition": "$.output.response.body.missing.deeper", "pollingInterval": 0}, nil)
	wantStatus(t, res, Failed, "terminationCondition: javascript: evaluate", "TypeError")
}

func TestPollWait(t *testing.T) {
	cases := []struct {
		strategy string
		n        int
		want     time.Duration
	}{
		{PollFixed, 1, 10 * time.Second},
		{PollFixed, 5, 10 * time.Second},
		{PollLinearBackoff, 1, 10 * time.Second},
		{PollLinearBackoff, 3, 30 * time.Second},
		{PollExponentialBackoff, 1, 10 * time.Second},
		{PollExponentialBackoff, 2, 20 * time.Second},
		{PollExponentialBackoff, 4, 80 * time.Second},
		{PollExponentialBackoff, 60, maxPollWait},
	}
	for _, tc := range cases {
		c := &pollConfig{interval: 10 * time.Second, strategy: tc.strategy}
		if got := c.wait(tc.n); got != tc.want {
			t.Errorf("%s poll %d: wait %v, want %v", tc.strategy, tc.n, got, tc.want)
		}
	}
}

func TestHTTPPollMinInterval(t *testing.T) {
	srv, calls := counterServer(t)
	start := time.Now()
	res := run(t, NewDefaultRegistry(WithMinPollInterval(150*time.Millisecond)), TypeHTTPPoll, map[string]any{
		"uri": srv.URL, "method": "GET", "terminationCondition": "$.pollCount >= 2", "pollingInterval": 0,
	}, nil)
	wantStatus(t, res, Completed)
	if el := time.Since(start); el < 150*time.Millisecond || calls.Load() != 2 {
		t.Fatalf("took %v with %d calls; the floor was not applied", el, calls.Load())
	}
}
