package tasks

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Conductor's HTTP task applies connectionTimeOut as the connect timeout and
// readTimeOut as the socket's read timeout (SO_TIMEOUT: the longest wait for
// the next bytes), not as a bound on the whole call. wfrun does the same on
// every *http.Transport it dials through:
//
//   - the dialer gets the call's connectionTimeOut (connectTimeoutKey in the
//     request context; read only when a connection is dialed);
//   - each connection is a timedConn. While a call uses it (from the
//     transport's GotConn to the end of the call: callConns), every read
//     must return data within the call's readTimeOut. A request the server
//     does not read is bounded too: the transport reads the response while
//     it writes, and closes the connection when that read times out.
//
// No cancellable context, timer or goroutine is made per call, and calls in
// a row on one connection do not even touch its deadline: the bound rides on
// the deadline the network poller already keeps per connection. A peer that
// trickles a byte within every readTimeOut is bounded by the task's own
// timeoutSeconds / responseTimeoutSeconds, as in Conductor.

// deadlineSlack is the share of readTimeOut by which a connection's read
// deadline may run past now+readTimeOut: the deadline is moved only once it
// is closer than readTimeOut (or further than readTimeOut plus the slack),
// not on every read, and a read is never cut before readTimeOut.
const deadlineSlack = 8 // readTimeOut/8

// timedConn is a dialed connection that applies the read timeout of the
// calls using it. Between calls, a pooled connection's read (the
// transport's wait for the next response) has no deadline: one left from
// the last call that expires there is lifted and the read resumed, so
// keep-alive is not cut short.
type timedConn struct {
	net.Conn
	born time.Time // monotonic origin of readBy

	mu    sync.Mutex // orders begin, the setting of the deadline and its lifting
	calls atomic.Int32
	idle  atomic.Int64 // readTimeOut of the latest call, ns
	// The read deadline in force, as ns since born; 0: none.
	readBy atomic.Int64
	// expired is set when a call's read timed out (the transport then
	// closes the connection; a write under way fails as closed).
	expired atomic.Bool
}

func newTimedConn(c net.Conn) *timedConn { return &timedConn{Conn: c, born: time.Now()} }

func (c *timedConn) Read(p []byte) (int, error) {
	for {
		if c.calls.Load() > 0 {
			c.extend()
		}
		n, err := c.Conn.Read(p)
		if n > 0 || err == nil || !errors.Is(err, os.ErrDeadlineExceeded) {
			return n, err
		}
		if !c.stale() {
			c.expired.Store(true)
			return n, err
		}
	}
}

// extend moves the read deadline to readTimeOut past now (plus the slack)
// unless it is already within that window.
func (c *timedConn) extend() {
	now := int64(time.Since(c.born))
	if c.inWindow(now) {
		return
	}
	c.mu.Lock()
	// Set only while a call uses the connection (the last one may have
	// ended since the check above).
	if c.calls.Load() > 0 {
		c.setLocked(now)
	}
	c.mu.Unlock()
}

// inWindow reports whether the deadline lies between readTimeOut and
// readTimeOut plus the slack from now.
func (c *timedConn) inWindow(now int64) bool {
	idle, by := c.idle.Load(), c.readBy.Load()
	return by >= now+idle && by <= now+idle+idle/deadlineSlack
}

func (c *timedConn) setLocked(now int64) {
	idle := c.idle.Load()
	at := now + idle + idle/deadlineSlack
	c.readBy.Store(at)
	_ = c.Conn.SetReadDeadline(c.born.Add(time.Duration(at)))
}

// stale reports, after a read timed out, whether the deadline did not apply:
// no call uses the connection (a pooled one; the deadline is lifted), or a
// call began meanwhile and set a later one. The read is then resumed.
func (c *timedConn) stale() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.calls.Load() == 0 {
		c.readBy.Store(0)
		_ = c.Conn.SetReadDeadline(time.Time{})
		return true
	}
	return c.readBy.Load() > int64(time.Since(c.born))
}

// begin starts a call's use of the connection. The deadline is set at once
// (the transport's read of the response may already be waiting) unless the
// one in force already fits the call.
func (c *timedConn) begin(idle time.Duration) {
	c.mu.Lock()
	c.idle.Store(int64(idle))
	c.calls.Add(1)
	if now := int64(time.Since(c.born)); !c.inWindow(now) {
		c.setLocked(now)
	}
	c.mu.Unlock()
}

// end ends a call's use. The deadline stays: the next call on the
// connection usually finds it fitting; a pooled read that reaches it
// lifts it (stale).
func (c *timedConn) end() { c.calls.Add(-1) }

// timedConnOf returns the timedConn under c (directly or under TLS).
func timedConnOf(c net.Conn) *timedConn {
	switch x := c.(type) {
	case *timedConn:
		return x
	case *tls.Conn:
		tc, _ := x.NetConn().(*timedConn)
		return tc
	}
	return nil
}

// timedDial wraps a transport's dialer: the call's connectionTimeOut bounds
// dialing, and the connection is a timedConn.
func timedDial(dial func(context.Context, string, string) (net.Conn, error)) func(context.Context, string, string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		if d, ok := ctx.Value(connectTimeoutKey{}).(time.Duration); ok && d > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, d)
			defer cancel()
		}
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return newTimedConn(c), nil
	}
}

// callConns is one call's hold on the connections it uses: the transport
// reports each one (GotConn; a redirect may use several), and done releases
// them.
type callConns struct {
	trace  httptrace.ClientTrace
	idle   time.Duration
	conns  []*timedConn
	pooled bool
}

var callConnsPool = sync.Pool{New: func() any {
	cc := &callConns{pooled: true}
	cc.trace.GotConn = cc.gotConn
	return cc
}}

// startCall returns ctx with the call's connect timeout and the trace that
// applies readTimeOut to the connections the call gets. done must be called
// once the response body has been read or the call has failed.
func startCall(ctx context.Context, connect, read time.Duration) (context.Context, *callConns) {
	var cc *callConns
	if httptrace.ContextClientTrace(ctx) == nil {
		cc = callConnsPool.Get().(*callConns)
	} else {
		// WithClientTrace merges the caller's trace into this one: a
		// trace of its own, never reused.
		cc = &callConns{}
		cc.trace.GotConn = cc.gotConn
	}
	cc.idle = read
	ctx = context.WithValue(ctx, connectTimeoutKey{}, connect)
	return httptrace.WithClientTrace(ctx, &cc.trace), cc
}

func (cc *callConns) gotConn(info httptrace.GotConnInfo) {
	if tc := timedConnOf(info.Conn); tc != nil {
		tc.begin(cc.idle)
		cc.conns = append(cc.conns, tc)
	}
}

// readTimedOut reports whether a read of the call timed out.
func (cc *callConns) readTimedOut() bool {
	for _, tc := range cc.conns {
		if tc.expired.Load() {
			return true
		}
	}
	return false
}

func (cc *callConns) done() {
	for i, tc := range cc.conns {
		tc.end()
		cc.conns[i] = nil
	}
	cc.conns = cc.conns[:0]
	if cc.pooled {
		callConnsPool.Put(cc)
	}
}

// timedTransports gives each *http.Transport an equivalent one that dials
// through timedDial: the default client's is built so; a client's own
// (WithHTTPClient, Services.HTTPClient) is cloned once, keeping its settings
// (proxy, TLS, limits, dialer). Other RoundTrippers cannot be reached at the
// connection; their calls are bounded as a whole (callDeadlines).
type timedTransports struct {
	mu     sync.Mutex
	clones map[*http.Transport]*http.Transport // base → timed clone
	timed  map[*http.Transport]bool            // every timed transport
}

// maxTimedClones bounds the clone cache against an embedder that makes a
// transport per call; the oldest is dropped (its idle connections closed).
const maxTimedClones = 32

func newTimedTransports() *timedTransports {
	return &timedTransports{clones: map[*http.Transport]*http.Transport{}, timed: map[*http.Transport]bool{}}
}

// adopt records tr, whose dialer is already timedDial.
func (tt *timedTransports) adopt(tr *http.Transport) {
	tt.mu.Lock()
	tt.timed[tr] = true
	tt.mu.Unlock()
}

// get returns the transport to use for rt and whether it applies the
// timeouts at the connection.
func (tt *timedTransports) get(rt http.RoundTripper) (http.RoundTripper, bool) {
	if rt == nil {
		rt = http.DefaultTransport
	}
	base, ok := rt.(*http.Transport)
	if !ok || base.DialTLSContext != nil || base.DialTLS != nil || base.Dial != nil {
		// A dialer that returns TLS connections, or the deprecated Dial
		// (which DialContext would override): left as they are.
		return rt, false
	}
	tt.mu.Lock()
	defer tt.mu.Unlock()
	if tt.timed[base] {
		return base, true
	}
	if c := tt.clones[base]; c != nil {
		return c, true
	}
	if len(tt.clones) >= maxTimedClones {
		for b, c := range tt.clones {
			delete(tt.clones, b)
			delete(tt.timed, c)
			c.CloseIdleConnections()
			break
		}
	}
	c := base.Clone() // which settles the base's HTTP/2 setup first
	if _, h2 := base.TLSNextProto["h2"]; h2 {
		// The base speaks HTTP/2 (configured, or by default having no
		// dialer of its own); a Transport with a dialer does only when
		// forced: keep the base's choice.
		c.ForceAttemptHTTP2 = true
	}
	dial := c.DialContext
	if dial == nil {
		dial = (&net.Dialer{}).DialContext // what a Transport without one uses
	}
	c.DialContext = timedDial(dial)
	tt.clones[base] = c
	tt.timed[c] = true
	return c, true
}
