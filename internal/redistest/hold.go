package redistest

import (
	"errors"
	"net"
	"time"
)

// hold keeps addr (a stopped server's) from other servers until the
// returned func lets it go: it listens there and resets every connection
// at once, so a client sees the server as down (its dial or its first
// command fails with a connection reset) while no other listener can bind
// the port. The listener sets SO_REUSEADDR (net.Listen does on Unix), so
// the hold is taken although the stopped server's side of its clients'
// connections sits in TIME_WAIT on the port, as it does whenever a client
// was connected at Stop; a socket bound without it could not be. The reset
// (linger 0) leaves no TIME_WAIT of the hold's own on the port, so the
// server started again binds it as before.
func hold(addr string) (func(), error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if errors.Is(err, net.ErrClosed) {
				return
			}
			if err != nil { // e.g. out of file descriptors: try again
				time.Sleep(10 * time.Millisecond)
				continue
			}
			if tc, ok := c.(*net.TCPConn); ok {
				_ = tc.SetLinger(0)
			}
			_ = c.Close()
		}
	}()
	return func() {
		_ = l.Close()
		<-done
	}, nil
}
