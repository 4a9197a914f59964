package redistest

import (
	"testing"
)

func TestStartAnswersPingAndStops(t *testing.T) {
	s := StartServer(t)
	if err := ping(s.Addr()); err != nil {
		t.Fatalf("ping after start: %v", err)
	}
	s.Stop()
	if err := ping(s.Addr()); err == nil {
		t.Fatal("server still answers after Stop")
	}
	s.Restart()
	if err := ping(s.Addr()); err != nil {
		t.Fatalf("ping after restart: %v", err)
	}
}

func TestTwoServersAreIndependent(t *testing.T) {
	a, b := Start(t), Start(t)
	if a == b {
		t.Fatalf("two servers share address %s", a)
	}
}

func TestPersistentKeepsDataAcrossRestart(t *testing.T) {
	s := StartServer(t, Persistent())
	if _, err := command(s.Addr(), "SET", "k", "v1"); err != nil {
		t.Fatal(err)
	}
	s.Restart()
	got, err := command(s.Addr(), "GET", "k")
	if err != nil || got != "v1" {
		t.Fatalf("after restart GET k = %q, %v", got, err)
	}
}

func TestClusterOwnsAllSlots(t *testing.T) {
	s := StartServer(t, Cluster())
	info, err := command(s.Addr(), "CLUSTER", "INFO")
	if err != nil || info != "cluster_state:ok" {
		t.Fatalf("cluster info %q, %v", info, err)
	}
	// Cluster semantics: keys in different slots cannot share a command.
	if _, err := command(s.Addr(), "MSET", "a", "1", "b", "2"); err == nil {
		t.Fatal("MSET across slots succeeded; not in cluster mode?")
	}
	if _, err := command(s.Addr(), "MSET", "{t}a", "1", "{t}b", "2"); err != nil {
		t.Fatalf("MSET within one hash tag: %v", err)
	}
}

// A server launched on a port another redis-server already answers on
// fails to start: it must not take the other for its own (which goes when
// the other's test ends, leaving this test's clients refused).
func TestLaunchRefusesAnotherServersPort(t *testing.T) {
	a := StartServer(t)
	b := &Server{t: t, bin: a.bin, dir: t.TempDir(), port: a.port}
	err := b.launch()
	if err == nil {
		b.close()
		t.Fatal("launch on another server's port succeeded")
	}
	if err := ping(a.Addr()); err != nil {
		t.Fatalf("the other server: %v", err)
	}
}
