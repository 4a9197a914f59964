package redistest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Option configures StartServer.
type Option func(*Server)

// Persistent makes the server write every command to an append-only file
// (fsync always) in its directory, so data survives Stop and Restart: for
// "Redis goes away mid-operation, nothing acknowledged is lost" tests.
func Persistent() Option { return func(s *Server) { s.persistent = true } }

// Cluster starts the server in cluster mode as a one-node cluster owning all
// 16384 slots, so tests see Cluster semantics (CROSSSLOT checks, MOVED-free
// routing) with a single process.
func Cluster() Option { return func(s *Server) { s.cluster = true } }

// Server is a running redis-server owned by one test.
type Server struct {
	persistent bool
	cluster    bool

	t    testing.TB
	bin  string
	dir  string
	port int

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	// held keeps the port while the server is stopped (hold), so that no
	// other process's server takes it before Restart (nil: not held).
	held func()
}

// Start launches a redis-server for t and returns its "127.0.0.1:PORT" address.
// The server is stopped at t's cleanup.
func Start(t testing.TB) string {
	t.Helper()
	return StartServer(t).Addr()
}

// StartServer is Start returning a handle, for tests that stop or restart
// Redis in the middle of an operation.
func StartServer(t testing.TB, opts ...Option) *Server {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("redistest: redis-server not found on PATH (required when CI=true): %v", err)
		}
		t.Skipf("redistest: redis-server not found on PATH; skipping (set CI=true to make this fatal)")
	}
	s := &Server{t: t, bin: bin, dir: t.TempDir()}
	for _, o := range opts {
		o(s)
	}
	var lastErr error
	// A free port can be taken between picking and binding; retry a few times.
	for range 5 {
		s.port, err = freePort()
		if err != nil {
			t.Fatalf("redistest: pick a free port: %v", err)
		}
		if lastErr = s.launch(); lastErr == nil {
			t.Cleanup(s.close)
			return s
		}
	}
	t.Fatalf("redistest: start redis-server: %v", lastErr)
	return nil
}

// Addr is the server's "127.0.0.1:PORT" address; it stays the same across
// Restart.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// Stop kills the server and waits for it to exit. It is safe to call twice.
// Until Restart the port stays this server's (hold): connections to it
// are reset, as by a server that is down, but no other server (another
// test's, in this process or another) can take it, which would make
// Restart find that server in its place, and this test lose it when that
// test ends. A port that cannot be kept fails the test (Errorf, as Stop
// may be called from any goroutine).
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopLocked()
	if s.held == nil {
		release, err := hold(s.Addr())
		if err != nil {
			s.t.Errorf("redistest: keep port %d while the server is stopped: %v", s.port, err)
			return
		}
		s.held = release
	}
}

func (s *Server) stopLocked() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.done
	s.cmd = nil
}

// close stops the server for good (t's cleanup): the port is let go.
func (s *Server) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopLocked()
	s.release()
}

// release lets go of the port held while stopped.
func (s *Server) release() {
	if s.held != nil {
		s.held()
		s.held = nil
	}
}

// Restart stops the server if it runs and starts it again on the same port,
// with the same (empty, unpersisted) data directory: data is lost, as after
// a crash of a cache-only Redis.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	var err error
	for range 50 {
		if err = s.launch(); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.t.Fatalf("redistest: restart redis-server: %v", err)
}

func (s *Server) launch() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.release()
	args := []string{
		"--port", strconv.Itoa(s.port),
		"--bind", "127.0.0.1",
		"--dir", s.dir,
		"--save", "",
		"--protected-mode", "yes",
		"--daemonize", "no",
		"--loglevel", "warning",
	}
	if s.persistent {
		args = append(args, "--appendonly", "yes", "--appendfsync", "always")
	} else {
		args = append(args, "--appendonly", "no")
	}
	if s.cluster {
		args = append(args, "--cluster-enabled", "yes", "--cluster-config-file", "nodes-"+strconv.Itoa(s.port)+".conf")
	}
	cmd := exec.Command(s.bin, args...)
	var logBuf strings.Builder
	var logMu sync.Mutex
	cmd.Stdout = lockedWriter{&logMu, &logBuf}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-done:
			logMu.Lock()
			defer logMu.Unlock()
			return fmt.Errorf("redis-server exited early: %s", strings.TrimSpace(logBuf.String()))
		default:
		}
		if ping(s.Addr()) == nil {
			// The server that answers must be this one: another
			// test's may have taken the port first (this one then
			// exits, unable to bind it), and goes when that test ends.
			if pid, err := serverPID(s.Addr()); err != nil || pid != cmd.Process.Pid {
				_ = cmd.Process.Kill()
				<-done
				if err != nil {
					return fmt.Errorf("redis-server on port %d: %w", s.port, err)
				}
				return fmt.Errorf("port %d is another redis-server's (pid %d)", s.port, pid)
			}
			if s.cluster {
				if err := s.assignSlots(); err != nil {
					_ = cmd.Process.Kill()
					<-done
					return err
				}
			}
			s.cmd, s.done = cmd, done
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	_ = cmd.Process.Kill()
	<-done
	return fmt.Errorf("redis-server on port %d did not answer PING within 10s", s.port)
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *strings.Builder
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// ping speaks just enough RESP to check that the server is ready, so this
// package does not depend on a Redis client.
func ping(addr string) error {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(500 * time.Millisecond))
	if _, err := c.Write([]byte("*1\r\n$4\r\nPING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if strings.TrimSpace(line) != "+PONG" {
		return fmt.Errorf("unexpected PING reply %q", strings.TrimSpace(line))
	}
	return nil
}

// serverPID is the process id of the redis-server answering at addr (its
// INFO server's process_id).
func serverPID(addr string) (int, error) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte("*2\r\n$4\r\nINFO\r\n$6\r\nserver\r\n")); err != nil {
		return 0, err
	}
	r := bufio.NewReader(c)
	head, err := r.ReadString('\n')
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(head, "$")))
	if !strings.HasPrefix(head, "$") || err != nil || n < 0 {
		return 0, fmt.Errorf("unexpected INFO reply %q", strings.TrimSpace(head))
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "process_id:"); ok {
			return strconv.Atoi(v)
		}
	}
	return 0, errors.New("INFO server has no process_id")
}

// command sends one RESP command and returns the first reply line.
func command(addr string, args ...string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := c.Write([]byte(b.String())); err != nil {
		return "", err
	}
	r := bufio.NewReader(c)
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimSpace(line)
	if strings.HasPrefix(line, "$") { // bulk string: read its body
		body, err := r.ReadString('\n')
		if err != nil {
			return "", err
		}
		return strings.TrimSpace(body), nil
	}
	if strings.HasPrefix(line, "-") {
		return "", fmt.Errorf("redis: %s", line[1:])
	}
	return line, nil
}

// assignSlots makes a fresh cluster-mode node own every slot and waits for
// the cluster to report ok.
func (s *Server) assignSlots() error {
	if _, err := command(s.Addr(), "CLUSTER", "ADDSLOTSRANGE", "0", "16383"); err != nil && !strings.Contains(err.Error(), "busy") {
		return fmt.Errorf("assign cluster slots: %w", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		info, err := command(s.Addr(), "CLUSTER", "INFO")
		if err == nil && strings.Contains(info, "cluster_state:ok") {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return errors.New("one-node cluster did not reach cluster_state:ok")
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
