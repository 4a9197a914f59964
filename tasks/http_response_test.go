package tasks

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestHTTPResponseReadIntoOutput covers reading the body straight into the
// task output: bodies with and without a Content-Length, around the size
// limit, larger than the first buffer, padded with whitespace, and the
// failure excerpt taken from the same memory.
func TestHTTPResponseReadIntoOutput(t *testing.T) {
	const limit = 4096
	bigArray := "[" + strings.Repeat(`{"k":"v"},`, 600) + `{"k":"v"}]` // > limit: only without a limit
	exact := `"` + strings.Repeat("x", limit-2) + `"`                  // exactly limit bytes
	cases := []struct {
		name    string
		body    string
		chunked bool
		status  int
		limit   int64
		want    any    // decoded response.body
		reason  string // failure reason part, "" for success
	}{
		{name: "padded object", body: " \n{\"a\":1}\r\n\t", want: map[string]any{"a": 1.0}},
		{name: "padded object, chunked", body: " {\"a\":[1,2]} ", chunked: true, want: map[string]any{"a": []any{1.0, 2.0}}},
		{name: "padded number", body: "  -1.5e3\n", want: -1500.0},
		{name: "padded literal", body: " null ", want: "null"},
		{name: "padded text", body: "  hi  ", want: "  hi  "},
		{name: "big chunked array, no limit", body: bigArray, chunked: true, limit: -1, want: mustDecode(t, bigArray)},
		{name: "big array, no limit", body: bigArray, limit: -1, want: mustDecode(t, bigArray)},
		{name: "exactly the limit", body: exact, limit: limit, want: strings.Repeat("x", limit-2)},
		{name: "exactly the limit, chunked", body: exact, chunked: true, limit: limit, want: strings.Repeat("x", limit-2)},
		{name: "one byte over", body: exact + " ", limit: limit, reason: "exceeds the size limit"},
		{name: "one byte over, chunked", body: exact + " ", chunked: true, limit: limit, reason: "exceeds the size limit"},
		{name: "non-2xx JSON", body: " {\"error\":\"nope\"} ", status: 409, want: map[string]any{"error": "nope"}, reason: `HTTP 409 Conflict: {"error":"nope"}`},
		{name: "non-2xx text", body: "bad\tthing\n", status: 500, want: "bad\tthing\n", reason: "HTTP 500 Internal Server Error: bad thing"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("X-Many", "a")
				w.Header().Add("X-Many", "b\"c")
				if !tc.chunked {
					w.Header().Set("Content-Length", fmt.Sprint(len(tc.body)))
				}
				if tc.status != 0 {
					w.WriteHeader(tc.status)
				}
				// Several writes with flushes: the client sees several reads.
				for b := tc.body; len(b) > 0; {
					n := min(len(b), 700)
					io.WriteString(w, b[:n])
					w.(http.Flusher).Flush()
					b = b[n:]
				}
			}))
			defer srv.Close()
			var opts []Option
			if tc.limit != 0 {
				opts = append(opts, WithMaxResponseBytes(tc.limit))
			}
			res := run(t, NewDefaultRegistry(opts...), TypeHTTP, map[string]any{"uri": srv.URL, "method": "GET"}, nil)
			if tc.reason != "" {
				wantStatus(t, res, Failed, tc.reason)
			} else {
				wantStatus(t, res, Completed)
			}
			if tc.want == nil {
				if len(res.Output) != 0 {
					t.Fatalf("output for a failed read: %s", res.Output)
				}
				return
			}
			if !json.Valid(res.Output) || !res.OutputValid {
				t.Fatalf("output (OutputValid %v) is not JSON: %q", res.OutputValid, res.Output)
			}
			out := output(t, res)
			if got := path(out, "response", "body"); fmt.Sprintf("%#v", got) != fmt.Sprintf("%#v", tc.want) {
				t.Fatalf("body %.60q: got %.200v, want %.200v", tc.body, got, tc.want)
			}
			if got := path(out, "response", "headers", "X-Many"); fmt.Sprint(got) != `[a b"c]` {
				t.Fatalf("X-Many %v", got)
			}
		})
	}
}

func mustDecode(t *testing.T, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// FuzzHTTPResponseOutputValid holds readResponse to what HTTPTask claims
// with Result.OutputValid: whatever the status, headers and body, the
// output is one valid JSON document.
func FuzzHTTPResponseOutputValid(f *testing.F) {
	for _, s := range []struct {
		status      int
		hdr, body   string
		knownLength bool
	}{
		{200, "application/json", `{"a":1}`, true},
		{200, "text/plain", " \n\t-1.5e3\r\n", false},
		{418, "x\"y\u2028", "\xff\xfe not json", true},
		{200, "", "\u00a0{\"a\":1}\u0085", true},
		{204, "", "", true},
	} {
		f.Add(s.status, s.hdr, []byte(s.body), s.knownLength)
	}
	f.Fuzz(func(t *testing.T, status int, hdr string, body []byte, knownLength bool) {
		resp := &http.Response{StatusCode: status, Status: fmt.Sprintf("%d %s", status, hdr),
			Header: http.Header{"X-Fuzz": {hdr, hdr + "2"}, hdr: {"v"}}, Body: io.NopCloser(bytes.NewReader(body)), ContentLength: -1}
		if knownLength {
			resp.ContentLength = int64(len(body))
		}
		out, _, err := readResponse(resp, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		if !json.Valid(out) {
			t.Fatalf("output is not valid JSON: %q", out)
		}
	})
}
