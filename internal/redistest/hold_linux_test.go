package redistest

import (
	"net"
	"testing"
)

// A stopped server keeps its port until Restart: connections are
// refused, as to a server that is down, and no other listener can take it.
func TestStoppedServerKeepsItsPort(t *testing.T) {
	s := StartServer(t)
	s.Stop()
	if err := ping(s.Addr()); err == nil {
		t.Fatal("a stopped server answers")
	}
	if l, err := net.Listen("tcp", s.Addr()); err == nil {
		l.Close()
		t.Fatal("another listener took the stopped server's port")
	}
	s.Restart()
	if err := ping(s.Addr()); err != nil {
		t.Fatalf("ping after restart: %v", err)
	}
}
