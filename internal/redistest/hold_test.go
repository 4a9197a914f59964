package redistest

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

// A stopped server keeps its port until Restart: clients see a server that
// is down, and no other listener can take the port. A client is connected
// at Stop, as in a test stopping Redis under a connection pool: the
// server's side of that connection then sits in TIME_WAIT on the port,
// which must not keep the port from being held.
func TestStoppedServerKeepsItsPort(t *testing.T) {
	s := StartServer(t)
	c, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	if err := pingOn(c, r); err != nil {
		t.Fatal(err)
	}
	s.Stop()
	if err := pingOn(c, r); err == nil {
		t.Fatal("the connection open at Stop still answers")
	}
	for range 3 {
		if err := ping(s.Addr()); err == nil {
			t.Fatal("a stopped server answers")
		}
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

// A port that cannot be kept at Stop fails the test instead of being left
// to whoever takes it.
func TestStopThatCannotKeepThePortFails(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	rec := &recordingTB{TB: t}
	s := &Server{t: rec, port: l.Addr().(*net.TCPAddr).Port}
	s.Stop()
	if len(rec.errors) != 1 || !strings.Contains(rec.errors[0], fmt.Sprintf("keep port %d", s.port)) {
		t.Fatalf("Stop on a port another listener has: errors %q", rec.errors)
	}
	if s.held != nil {
		t.Fatal("a port not kept is taken for held")
	}
}

type recordingTB struct {
	testing.TB
	errors []string
}

func (r *recordingTB) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func pingOn(c net.Conn, r *bufio.Reader) error {
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte("*1\r\n$4\r\nPING\r\n")); err != nil {
		return err
	}
	line, err := r.ReadString('\n')
	if err != nil {
		return err
	}
	if strings.TrimSpace(line) != "+PONG" {
		return fmt.Errorf("PING: %q", line)
	}
	return nil
}
