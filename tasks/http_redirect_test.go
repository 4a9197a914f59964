package tasks_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/wfrun/wfrun/tasks"
)

// recorder is a server that records what reaches it.
type recorder struct {
	*httptest.Server
	mu   sync.Mutex
	seen []string
}

func newRecorder(t *testing.T) *recorder {
	rec := &recorder{}
	rec.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rec.mu.Lock()
		rec.seen = append(rec.seen, r.Method+" "+r.URL.Path+" "+headerText(r.Header)+" body="+string(b))
		rec.mu.Unlock()
		_, _ = io.WriteString(w, `{"ok":true}`)
	}))
	t.Cleanup(rec.Close)
	return rec
}

func (r *recorder) requests() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.seen, "\n")
}

func headerText(h http.Header) string {
	var b strings.Builder
	for k, v := range h {
		b.WriteString(k + "=" + strings.Join(v, ",") + ";")
	}
	return b.String()
}

// Redirects are followed only to the same scheme, host and port, unless the
// task names the other host in followRedirects; even then no header of the
// task, no credential and no body goes there.
func TestHTTPRedirects(t *testing.T) {
	const (
		custom   = "custom-header-secret-4242"
		amzToken = "amz-session-token-7373"
		bodyVal  = "request-body-secret-5151"
		bearer   = "bearer-credential-6262"
	)
	other := newRecorder(t) // another host:port
	var origin *httptest.Server
	origin = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/same":
			http.Redirect(w, r, origin.URL+"/final", http.StatusFound)
		case "/away":
			http.Redirect(w, r, other.URL+"/landing", http.StatusFound)
		case "/away307":
			http.Redirect(w, r, other.URL+"/landing", http.StatusTemporaryRedirect)
		case "/final":
			_, _ = io.WriteString(w, `{"here":true,"auth":"`+r.Header.Get("Authorization")+`"}`)
		}
	}))
	defer origin.Close()
	otherHost := strings.TrimPrefix(other.URL, "http://")

	for _, tc := range []struct {
		name, path, method string
		follow             any
		wantStatus         tasks.Status
		wantReason         string
		wantOtherSeen      bool
	}{
		{"same origin is followed", "/same", "GET", nil, tasks.Completed, "", false},
		{"another host is not followed", "/away", "GET", nil, tasks.Failed, "HTTP 302", false},
		{"another host is not followed for POST", "/away", "POST", nil, tasks.Failed, "HTTP 302", false},
		{"false follows nothing", "/same", "GET", false, tasks.Failed, "HTTP 302", false},
		{"listed host is followed, bare", "/away", "GET", []string{otherHost}, tasks.Completed, "", true},
		{"listed host after a POST 302 becomes a GET without body", "/away", "POST", []string{otherHost}, tasks.Completed, "", true},
		{"307 would resend the body to another host", "/away307", "POST", []string{otherHost}, tasks.Failed, "resend the request body", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := map[string]any{
				"uri": origin.URL + tc.path, "method": tc.method,
				"headers": map[string]string{"X-Api-Key": custom, "X-Amz-Security-Token": amzToken, "Authorization": "Bearer " + bearer},
			}
			if tc.method == "POST" {
				in["body"] = map[string]string{"v": bodyVal}
			}
			if tc.follow != nil {
				in["followRedirects"] = tc.follow
			}
			before := other.requests()
			res := execute(t, tasks.TypeHTTP, in, &tasks.Services{Masker: maskerWith(custom, amzToken, bodyVal, bearer)})
			if res.Status != tc.wantStatus || !strings.Contains(res.Reason, tc.wantReason) {
				t.Fatalf("%s: %s (want %s %q)", res.Status, res.Reason, tc.wantStatus, tc.wantReason)
			}
			got := strings.TrimPrefix(other.requests(), before)
			if (got != "") != tc.wantOtherSeen {
				t.Fatalf("other host saw %q", got)
			}
			assertNoPiece(t, "the other host's requests", got, custom, amzToken, bodyVal, bearer)
		})
	}
}

func TestHTTPRedirectPolicyInput(t *testing.T) {
	res := execute(t, tasks.TypeHTTP, map[string]any{"uri": "http://127.0.0.1:1/x", "method": "GET", "followRedirects": []string{"evil.example/path"}}, nil)
	if res.Status != tasks.FailedTerminal || !strings.Contains(res.Reason, "followRedirects") {
		t.Fatalf("%s: %s", res.Status, res.Reason)
	}
}

func TestHTTPFollowRedirectsValidated(t *testing.T) {
	h, _ := tasks.NewDefaultRegistry().Lookup(tasks.TypeHTTP)
	errs := h.(tasks.Validator).Validate([]byte(`{"inputParameters":{"uri":"http://x","method":"GET","followRedirects":{"hosts":"x"}}}`))
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "followRedirects") {
		t.Fatalf("%v", errs)
	}
	if errs := h.(tasks.Validator).Validate([]byte(`{"inputParameters":{"uri":"http://x","method":"GET","followRedirects":["api.example.com:8443"]}}`)); len(errs) != 0 {
		t.Fatalf("%v", errs)
	}
}

// roundTripFunc is a RoundTripper of a type that cannot be compared.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// One HTTP task serves calls with different clients, one after the other:
// the same-origin policy holds for each, and each call goes through its own
// client's current transport (the task reuses its copy of a client only
// while the client is unchanged).
func TestHTTPRedirectsAcrossClients(t *testing.T) {
	other := newRecorder(t)
	var origin *httptest.Server
	origin = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/same":
			http.Redirect(w, r, origin.URL+"/final", http.StatusFound)
		case "/away":
			http.Redirect(w, r, other.URL+"/landing", http.StatusFound)
		case "/final":
			_, _ = io.WriteString(w, `{"here":true}`)
		}
	}))
	defer origin.Close()
	task, _ := tasks.NewDefaultRegistry().Lookup(tasks.TypeHTTP)
	var mu sync.Mutex
	trips := map[string]int{}
	counting := func(name string, next http.RoundTripper) roundTripFunc {
		return func(r *http.Request) (*http.Response, error) {
			mu.Lock()
			trips[name]++
			mu.Unlock()
			return next.RoundTrip(r)
		}
	}
	plain := &http.Client{Transport: &http.Transport{}}
	funcClient := &http.Client{Transport: counting("func", http.DefaultTransport)}
	swapped := &http.Client{Transport: &http.Transport{}}
	for i, step := range []struct {
		client     *http.Client
		swapTo     http.RoundTripper // set as client.Transport before the call
		path       string
		wantStatus tasks.Status
		wantTrips  string // "name=n" after the call, "" to skip
	}{
		{plain, nil, "/same", tasks.Completed, ""},
		{plain, nil, "/away", tasks.Failed, ""},
		{funcClient, nil, "/same", tasks.Completed, "func=2"},
		{funcClient, nil, "/away", tasks.Failed, "func=3"},
		{plain, nil, "/same", tasks.Completed, "func=3"},
		{swapped, nil, "/same", tasks.Completed, ""},
		{swapped, counting("swapped", http.DefaultTransport), "/same", tasks.Completed, "swapped=2"},
		{swapped, counting("swapped-again", http.DefaultTransport), "/away", tasks.Failed, "swapped-again=1"},
	} {
		if step.swapTo != nil {
			step.client.Transport = step.swapTo
		}
		in := []byte(`{"uri":"` + origin.URL + step.path + `","method":"GET"}`)
		res := task.Execute(context.Background(), &tasks.Request{TaskType: tasks.TypeHTTP, Input: in, Services: &tasks.Services{HTTPClient: step.client}})
		if res.Status != step.wantStatus {
			t.Fatalf("step %d (%s): %s %s, want %s", i, step.path, res.Status, res.Reason, step.wantStatus)
		}
		if step.wantTrips != "" {
			name, n, _ := strings.Cut(step.wantTrips, "=")
			mu.Lock()
			got := trips[name]
			mu.Unlock()
			if fmt.Sprint(got) != n {
				t.Fatalf("step %d: %d round trips through %s, want %s", i, got, name, n)
			}
		}
	}
	if seen := other.requests(); seen != "" {
		t.Fatalf("the other host was reached: %q", seen)
	}
}
