package tasks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// echoServer answers with what it received: method, headers, body.
func echoServer(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Echo", "yes")
		json.NewEncoder(w).Encode(map[string]any{
			"method":      r.Method,
			"contentType": r.Header.Get("Content-Type"),
			"accept":      r.Header.Get("Accept"),
			"auth":        r.Header.Get("Authorization"),
			"custom":      r.Header.Get("X-Custom"),
			"number":      r.Header.Get("X-Number"),
			"hasNull":     r.Header.Values("X-Null") != nil,
			"body":        string(b),
			"query":       r.URL.RawQuery,
		})
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestHTTPForms(t *testing.T) {
	srv := echoServer(t)
	r := NewDefaultRegistry()
	flat := map[string]any{"uri": srv.URL + "/p?x=1", "method": "POST", "body": map[string]any{"a": 1, "s": "<b>"}}
	nested := map[string]any{"http_request": flat}
	for name, in := range map[string]any{"flat": flat, "http_request": nested} {
		t.Run(name, func(t *testing.T) {
			res := run(t, r, TypeHTTP, in, nil)
			wantStatus(t, res, Completed)
			out := output(t, res)
			if got := path(out, "response", "statusCode"); got != 200.0 {
				t.Fatalf("statusCode %v", got)
			}
			if got := path(out, "response", "reasonPhrase"); got != "OK" {
				t.Fatalf("reasonPhrase %v", got)
			}
			if got := path(out, "response", "headers", "X-Echo"); fmt.Sprint(got) != "[yes]" {
				t.Fatalf("headers %v", path(out, "response", "headers"))
			}
			body := path(out, "response", "body").(map[string]any)
			if body["method"] != "POST" || body["contentType"] != "application/json" || body["accept"] != "application/json" || body["query"] != "x=1" {
				t.Fatalf("request seen by server: %v", body)
			}
			var sent map[string]any
			if err := json.Unmarshal([]byte(body["body"].(string)), &sent); err != nil || sent["a"] != 1.0 || sent["s"] != "<b>" || len(sent) != 2 {
				t.Fatalf("body sent %q", body["body"])
			}
		})
	}
}

func TestHTTPMethods(t *testing.T) {
	var seen atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.Store(r.Method)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	r := NewDefaultRegistry()
	for _, m := range []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "get"} {
		res := run(t, r, TypeHTTP, map[string]any{"uri": srv.URL, "method": m}, nil)
		wantStatus(t, res, Completed)
		if seen.Load() != strings.ToUpper(m) {
			t.Fatalf("server saw %v for %s", seen.Load(), m)
		}
		if got := path(output(t, res), "response", "statusCode"); got != 204.0 {
			t.Fatalf("%s: status %v", m, got)
		}
	}
	res := run(t, r, TypeHTTP, map[string]any{"uri": srv.URL, "method": "FETCH"}, nil)
	wantStatus(t, res, FailedTerminal, "invalid HTTP method")
}

func TestHTTPHeadersAndBodies(t *testing.T) {
	srv := echoServer(t)
	r := NewDefaultRegistry()
	cases := []struct {
		name  string
		in    map[string]any
		check func(t *testing.T, seen map[string]any)
	}{
		{"text body with text content type is raw", map[string]any{"body": "hello \"x\"", "contentType": "text/plain"},
			func(t *testing.T, s map[string]any) {
				if s["body"] != `hello "x"` || s["contentType"] != "text/plain" {
					t.Fatalf("%v", s)
				}
			}},
		{"string body with JSON content type is JSON", map[string]any{"body": "hello"},
			func(t *testing.T, s map[string]any) {
				if s["body"] != `"hello"` {
					t.Fatalf("%v", s)
				}
			}},
		{"array body", map[string]any{"body": []any{1, "two", nil}},
			func(t *testing.T, s map[string]any) {
				if s["body"] != `[1,"two",null]` {
					t.Fatalf("%v", s)
				}
			}},
		{"no body no content type", map[string]any{"method": "GET"},
			func(t *testing.T, s map[string]any) {
				if s["body"] != "" || s["contentType"] != "" {
					t.Fatalf("%v", s)
				}
			}},
		{"headers: null skipped, number text, explicit wins", map[string]any{
			"headers": map[string]any{"X-Custom": "c", "X-Number": 42, "X-Null": nil, "Authorization": "Bearer tok", "Accept": "text/csv"},
			"accept":  "application/xml"},
			func(t *testing.T, s map[string]any) {
				if s["custom"] != "c" || s["number"] != "42" || s["hasNull"] != false || s["auth"] != "Bearer tok" || s["accept"] != "text/csv" {
					t.Fatalf("%v", s)
				}
			}},
		{"accept list", map[string]any{"accept": []any{"application/json", "text/plain"}},
			func(t *testing.T, s map[string]any) {
				if s["accept"] != "application/json, text/plain" {
					t.Fatalf("%v", s)
				}
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := map[string]any{"uri": srv.URL, "method": "PUT"}
			for k, v := range tc.in {
				in[k] = v
			}
			res := run(t, r, TypeHTTP, in, nil)
			wantStatus(t, res, Completed)
			tc.check(t, path(output(t, res), "response", "body").(map[string]any))
		})
	}
}

func TestHTTPResponseBodies(t *testing.T) {
	cases := []struct {
		ctype, body string
		want        any
	}{
		{"application/json", `{"a":[1,2]}`, map[string]any{"a": []any{1.0, 2.0}}},
		{"application/json", `[1,"x"]`, []any{1.0, "x"}},
		{"application/json", `42.5`, 42.5},
		{"application/json", `"quoted"`, "quoted"},
		{"application/json", `true`, "true"},
		{"text/plain", "plain text\nline 2", "plain text\nline 2"},
		{"text/plain", "{not json", "{not json"},
		{"text/plain", "", ""},
		{"application/octet-stream", "ok\xff\xfe", "ok\uFFFD"},
	}
	for _, tc := range cases {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", tc.ctype)
			io.WriteString(w, tc.body)
		}))
		res := run(t, NewDefaultRegistry(), TypeHTTP, map[string]any{"uri": srv.URL, "method": "GET"}, nil)
		srv.Close()
		wantStatus(t, res, Completed)
		got := path(output(t, res), "response", "body")
		if fmt.Sprintf("%#v", got) != fmt.Sprintf("%#v", tc.want) {
			t.Fatalf("body %q: got %#v, want %#v", tc.body, got, tc.want)
		}
	}
}

func TestHTTPNon2xx(t *testing.T) {
	const token = "tok-SECRET-123"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprintf(w, "denied for token %s\n%s", r.Header.Get("Authorization"), strings.Repeat("x", 1000))
	}))
	defer srv.Close()
	svc := newServices(token)
	res := run(t, NewDefaultRegistry(), TypeHTTP, map[string]any{"uri": srv.URL, "method": "GET", "headers": map[string]any{"Authorization": token}}, svc)
	wantStatus(t, res, Failed, "HTTP 403 Forbidden", "denied for token ***")
	if strings.Contains(res.Reason, token) || strings.Contains(res.Reason, "\n") || len(res.Reason) > 400 {
		t.Fatalf("reason leaks, spans lines or is long: %q", res.Reason)
	}
	if got := path(output(t, res), "response", "statusCode"); got != 403.0 {
		t.Fatalf("output keeps the response: %s", res.Output)
	}
	// A status Go has no text for keeps the server's phrase.
	srv2 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(599) }))
	defer srv2.Close()
	res = run(t, NewDefaultRegistry(), TypeHTTP, map[string]any{"uri": srv2.URL, "method": "GET"}, nil)
	wantStatus(t, res, Failed, "HTTP 599")
}

func TestHTTPTimeouts(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-time.After(5 * time.Second):
		}
	}))
	defer func() { close(release); srv.Close() }()
	start := time.Now()
	res := run(t, NewDefaultRegistry(), TypeHTTP, map[string]any{"uri": srv.URL, "method": "GET", "readTimeOut": "100", "connectionTimeOut": 50}, nil)
	wantStatus(t, res, Failed, "read timeout: no data from the server for 100ms")
	if el := time.Since(start); el > 2*time.Second {
		t.Fatalf("took %v", el)
	}

	// The caller's context bounds the call too.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	res = runCtx(ctx, t, NewDefaultRegistry(), TypeHTTP, map[string]any{"uri": srv.URL, "method": "GET", "readTimeOut": 10000}, nil)
	wantStatus(t, res, Failed, "canceled")
}

func TestHTTPConnectionRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	const secret = "qs-secret-value"
	uri := "http://user:pw@" + addr + "/x?token=" + secret
	// No masker registered: the query and user info must still not appear.
	res := run(t, NewDefaultRegistry(), TypeHTTP, map[string]any{"uri": uri, "method": "GET"}, &Services{})
	wantStatus(t, res, Failed, "cannot connect")
	if strings.Contains(res.Reason, secret) || strings.Contains(res.Reason, "pw@") {
		t.Fatalf("reason leaks the URL's secrets: %q", res.Reason)
	}
}

func TestHTTPMissingFields(t *testing.T) {
	r := NewDefaultRegistry()
	wantStatus(t, run(t, r, TypeHTTP, map[string]any{"method": "GET"}, nil), Failed, "Missing HTTP URI.  See documentation for HttpTask for required input parameters")
	wantStatus(t, run(t, r, TypeHTTP, map[string]any{"http_request": map[string]any{"uri": "http://x"}}, nil), Failed, "No HTTP method specified")
	wantStatus(t, run(t, r, TypeHTTP, `[1,2]`, nil), FailedTerminal, "not a valid HTTP request")
	wantStatus(t, run(t, r, TypeHTTP, map[string]any{"uri": "http://x", "method": "GET", "readTimeOut": "soon"}, nil), FailedTerminal, "readTimeOut")
	wantStatus(t, run(t, r, TypeHTTP, map[string]any{"uri": "::not a url", "method": "GET"}, nil), FailedTerminal, "invalid HTTP request")
}

func TestHTTPResponseLimit(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, strings.Repeat("a", 2048))
	}))
	defer srv.Close()
	res := run(t, NewDefaultRegistry(WithMaxResponseBytes(1024)), TypeHTTP, map[string]any{"uri": srv.URL, "method": "GET"}, nil)
	wantStatus(t, res, Failed, "exceeds the size limit")
}

// countingTransport is a real transport that counts round trips, to check
// which client the task uses.
type countingTransport struct {
	n  atomic.Int64
	rt http.RoundTripper
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.rt.RoundTrip(r)
}

func TestHTTPClientChoice(t *testing.T) {
	srv := echoServer(t)
	mine := &countingTransport{rt: http.DefaultTransport}
	svcTr := &countingTransport{rt: http.DefaultTransport}
	r := NewDefaultRegistry(WithHTTPClient(&http.Client{Transport: mine}))
	in := map[string]any{"uri": srv.URL, "method": "GET"}
	wantStatus(t, run(t, r, TypeHTTP, in, nil), Completed)
	wantStatus(t, run(t, r, TypeHTTP, in, &Services{HTTPClient: &http.Client{Transport: svcTr}}), Completed)
	if mine.n.Load() != 1 || svcTr.n.Load() != 1 {
		t.Fatalf("registry client %d calls, services client %d calls", mine.n.Load(), svcTr.n.Load())
	}
}

func TestHTTPAuthHook(t *testing.T) {
	srv := echoServer(t)
	in := map[string]any{"uri": srv.URL, "method": "POST", "body": "x", "auth": map[string]any{"type": "bearer", "secret": "api"}}
	// The default ApplyAuth needs the run's secrets; without them the task
	// fails terminally instead of calling unauthenticated.
	wantStatus(t, run(t, NewDefaultRegistry(), TypeHTTP, in, nil), FailedTerminal, "auth: ")

	hook := func(ctx context.Context, req *http.Request, body []byte, auth json.RawMessage, svc *Services) error {
		var a struct{ Type, Secret string }
		if err := json.Unmarshal(auth, &a); err != nil {
			return err
		}
		if a.Secret != "api" {
			return errors.New("unknown secret " + a.Secret)
		}
		req.Header.Set("Authorization", "Bearer from-"+a.Secret+"-"+string(body))
		return nil
	}
	res := run(t, NewDefaultRegistry(WithHTTPAuth(hook)), TypeHTTP, in, nil)
	wantStatus(t, res, Completed)
	if got := path(output(t, res), "response", "body", "auth"); got != `Bearer from-api-"x"` {
		t.Fatalf("auth header %v", got)
	}
	in["auth"] = map[string]any{"secret": "other"}
	wantStatus(t, run(t, NewDefaultRegistry(WithHTTPAuth(hook)), TypeHTTP, in, nil), FailedTerminal, "auth: unknown secret other")
}

func TestHTTPKeepAlive(t *testing.T) {
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "{}") }))
	srv.Config.ConnState = func(c net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	r := NewDefaultRegistry()
	for i := 0; i < 20; i++ {
		wantStatus(t, run(t, r, TypeHTTP, map[string]any{"uri": srv.URL, "method": "GET"}, nil), Completed)
	}
	if n := conns.Load(); n != 1 {
		t.Fatalf("%d connections for 20 sequential calls; the client should reuse one", n)
	}
}
