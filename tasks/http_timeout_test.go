package tasks

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// trickleServer answers with a body of n bytes, one every gap.
func trickleServer(t *testing.T, n int, gap time.Duration) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Content-Length", strconv.Itoa(n))
		for i := 0; i < n; i++ {
			if _, err := w.Write([]byte{'a'}); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			select {
			case <-time.After(gap):
			case <-r.Context().Done():
				return
			}
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// readTimeOut bounds each wait for data, as Conductor's socket timeout does,
// not the whole call: a body that keeps coming, a byte within every
// readTimeOut, is read to its end however long that takes; the same body
// with a pause longer than readTimeOut fails the task at the pause.
func TestHTTPReadTimeoutIsBetweenBytes(t *testing.T) {
	for _, tc := range []struct {
		name     string
		gap      time.Duration
		readMS   int
		want     Status
		reasonHs string
	}{
		{"bytes within readTimeOut", 40 * time.Millisecond, 300, Completed, ""},
		{"a pause longer than readTimeOut", 400 * time.Millisecond, 150, Failed, "read timeout: no data from the server for 150ms"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := trickleServer(t, 12, tc.gap)
			start := time.Now()
			res := run(t, NewDefaultRegistry(), TypeHTTP, map[string]any{"uri": srv.URL, "method": "GET", "readTimeOut": tc.readMS, "connectionTimeOut": 100}, nil)
			el := time.Since(start)
			wantStatus(t, res, tc.want, tc.reasonHs)
			switch tc.want {
			case Completed:
				// Longer than readTimeOut + connectionTimeOut: no total bound.
				if got := path(output(t, res), "response", "body"); got != strings.Repeat("a", 12) || el < 400*time.Millisecond {
					t.Fatalf("body %v after %v", got, el)
				}
			default:
				if el < 150*time.Millisecond || el > 3*time.Second {
					t.Fatalf("failed after %v", el)
				}
			}
		})
	}
}

// A server that takes the connection and never answers (the listener
// never accepts; the kernel completes the handshake) fails the task after
// readTimeOut, and so does one that sends part of the body and stalls.
func TestHTTPReadTimeoutWithoutAnswer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	release := make(chan struct{})
	stall := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		io.WriteString(w, `{"partial":`)
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-time.After(5 * time.Second):
		}
	}))
	defer func() { close(release); stall.Close() }()
	for _, uri := range []string{"http://" + ln.Addr().String() + "/x", stall.URL} {
		start := time.Now()
		res := run(t, NewDefaultRegistry(), TypeHTTP, map[string]any{"uri": uri, "method": "POST", "body": map[string]any{"a": 1}, "readTimeOut": 100, "connectionTimeOut": 50}, nil)
		wantStatus(t, res, Failed, "read timeout: no data from the server for 100ms")
		if el := time.Since(start); el < 100*time.Millisecond || el > 3*time.Second {
			t.Fatalf("%s: failed after %v", uri, el)
		}
	}
}

// Between calls a pooled connection has no deadline: a connection idle for
// longer than the last call's readTimeOut is still reused, and the next
// call (with another readTimeOut) gets its own bound.
func TestHTTPKeepAliveOutlivesReadTimeOut(t *testing.T) {
	var conns atomic.Int64
	var slow atomic.Bool
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if slow.Load() {
			time.Sleep(300 * time.Millisecond)
		}
		io.WriteString(w, "{}")
	}))
	srv.Config.ConnState = func(c net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	r := NewDefaultRegistry()
	in := map[string]any{"uri": srv.URL, "method": "GET", "readTimeOut": 50}
	wantStatus(t, run(t, r, TypeHTTP, in, nil), Completed)
	time.Sleep(250 * time.Millisecond) // the deadline left by the call passes
	wantStatus(t, run(t, r, TypeHTTP, in, nil), Completed)
	if n := conns.Load(); n != 1 {
		t.Fatalf("%d connections; the idle one should have been reused", n)
	}
	// The next call's own readTimeOut applies on the reused connection,
	// shorter or longer than the one it left.
	slow.Store(true)
	wantStatus(t, run(t, r, TypeHTTP, map[string]any{"uri": srv.URL, "method": "GET", "readTimeOut": 1000}, nil), Completed)
	wantStatus(t, run(t, r, TypeHTTP, in, nil), Failed, "read timeout")
}

// A client of the embedder's with an *http.Transport is used through a
// clone that applies both timeouts at the connection, keeping its dialer;
// any other RoundTripper gets the whole call bounded by their sum.
func TestHTTPTimeoutsWithTheEmbeddersClient(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-time.After(5 * time.Second):
		}
	}))
	defer func() { close(release); srv.Close() }()
	var dialed []time.Duration
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		dl, ok := ctx.Deadline()
		if ok {
			dialed = append(dialed, time.Until(dl).Round(100*time.Millisecond))
		}
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}}
	defer tr.CloseIdleConnections()
	own := &http.Client{Transport: tr}
	in := map[string]any{"uri": srv.URL, "method": "GET", "readTimeOut": 100, "connectionTimeOut": 2000}
	wantStatus(t, run(t, NewDefaultRegistry(WithHTTPClient(own)), TypeHTTP, in, nil), Failed, "read timeout")
	wantStatus(t, run(t, NewDefaultRegistry(), TypeHTTP, in, &Services{HTTPClient: own}), Failed, "read timeout")
	if len(dialed) != 2 || dialed[0] != 2*time.Second || dialed[1] != 2*time.Second {
		t.Fatalf("the client's dialer saw deadlines %v, want 2s twice", dialed)
	}

	other := &http.Client{Transport: &countingTransport{rt: http.DefaultTransport}}
	in["connectionTimeOut"] = 50
	wantStatus(t, run(t, NewDefaultRegistry(WithHTTPClient(other)), TypeHTTP, in, nil), Failed, "no complete response within 150ms")
}

// Over TLS and HTTP/2 (a client of the embedder's for an httptest TLS
// server), the timeouts apply too: the connection under TLS is the timed
// one, and one HTTP/2 connection serves call after call.
func TestHTTPTimeoutsOverTLSAndHTTP2(t *testing.T) {
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
			return
		}
		io.WriteString(w, `{"proto":`+strconv.Itoa(r.ProtoMajor)+`}`)
	}))
	srv.EnableHTTP2 = true
	srv.Config.ConnState = func(c net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.StartTLS()
	defer srv.Close()
	svc := &Services{HTTPClient: srv.Client()}
	r := NewDefaultRegistry()
	for i := 0; i < 3; i++ {
		res := run(t, r, TypeHTTP, map[string]any{"uri": srv.URL + "/fast", "method": "GET", "readTimeOut": 100}, svc)
		wantStatus(t, res, Completed)
		if got := path(output(t, res), "response", "body", "proto"); got != 2.0 {
			t.Fatalf("served over HTTP/%v", got)
		}
		time.Sleep(150 * time.Millisecond) // idle past readTimeOut
	}
	start := time.Now()
	wantStatus(t, run(t, r, TypeHTTP, map[string]any{"uri": srv.URL + "/slow", "method": "GET", "readTimeOut": 100}, svc), Failed, "read timeout")
	if el := time.Since(start); el > 3*time.Second {
		t.Fatalf("failed after %v", el)
	}
	if n := conns.Load(); n != 1 {
		t.Fatalf("%d connections for the calls before the slow one, want 1", n)
	}
}

// The clone of an embedder's transport keeps its HTTP/2 choice and its
// dialing; a transport that dials TLS itself is left as it is.
func TestTimedTransportClones(t *testing.T) {
	tt := newTimedTransports()
	plain := &http.Transport{}
	c, ok := tt.get(plain)
	if !ok || c == http.RoundTripper(plain) || !c.(*http.Transport).ForceAttemptHTTP2 {
		t.Fatalf("plain: %v %v", ok, c)
	}
	if again, _ := tt.get(plain); again != c {
		t.Fatal("a second clone of the same transport")
	}
	if same, ok := tt.get(c); !ok || same != c {
		t.Fatal("a timed clone is cloned again")
	}
	withTLS := &http.Transport{TLSClientConfig: &tls.Config{ServerName: "x"}}
	if c, ok := tt.get(withTLS); !ok || c.(*http.Transport).ForceAttemptHTTP2 {
		t.Fatalf("TLS config: HTTP/2 forced where the base would not try it")
	}
	ownTLS := &http.Transport{DialTLSContext: func(context.Context, string, string) (net.Conn, error) { return nil, io.EOF }}
	if c, ok := tt.get(ownTLS); ok || c != http.RoundTripper(ownTLS) {
		t.Fatal("a transport with its own TLS dialer was cloned")
	}
}
