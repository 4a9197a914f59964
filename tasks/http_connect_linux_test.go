package tasks

import (
	"context"
	"net"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fullListener returns the address of a loopback listener whose accept
// queue is full (backlog 0, one connection queued and never accepted):
// the kernel drops further SYNs, so a connect there hangs until the
// caller's timeout, as with an unreachable host.
func fullListener(t *testing.T) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Skipf("socket: %v", err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(sa.(*syscall.SockaddrInet4).Port)
	// Fill the queue; stop at the first connect that does not complete.
	for i := 0; i < 8; i++ {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err != nil {
			return addr
		}
		t.Cleanup(func() { c.Close() })
	}
	t.Skip("the kernel accepted every connection: cannot make a connect hang here")
	return ""
}

// connectionTimeOut bounds connecting: a host that never completes the
// handshake fails the task after it, with a reason that says so.
func TestHTTPConnectTimeout(t *testing.T) {
	addr := fullListener(t)
	start := time.Now()
	res := run(t, NewDefaultRegistry(), TypeHTTP, map[string]any{"uri": "http://" + addr + "/x", "method": "GET", "connectionTimeOut": 150, "readTimeOut": 5000}, nil)
	wantStatus(t, res, Failed, "connect timeout after 150ms")
	if el := time.Since(start); el < 150*time.Millisecond || el > 3*time.Second {
		t.Fatalf("failed after %v", el)
	}
}

// A request body the server never reads (more than the socket buffers
// hold: the listener's receive buffer is made small) does not hang the
// task: the transport reads the response while it writes, and when that
// read times out the reason says so, not "use of closed connection".
func TestHTTPRequestTheServerNeverReads(t *testing.T) {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
		if err != nil {
			return err
		}
		return serr
	}}
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close() // never accepts
	body := strings.Repeat("x", 8<<20)
	start := time.Now()
	res := run(t, NewDefaultRegistry(), TypeHTTP, map[string]any{"uri": "http://" + ln.Addr().String() + "/upload", "method": "PUT",
		"contentType": "text/plain", "body": body, "readTimeOut": 200}, nil)
	wantStatus(t, res, Failed, "read timeout: no data from the server for 200ms")
	if el := time.Since(start); el > 10*time.Second {
		t.Fatalf("failed after %v", el)
	}
}
