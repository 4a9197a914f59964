package server_test

import (
	"encoding/json"
	"testing"

	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/engine/server"
)

// With --auth, a GET of a run loads it once: the scope check and the answer
// read the same view. Refusals (404 for a caller who may not read it) load
// it once too.
func TestGetRunLoadsItOnce(t *testing.T) {
	cfg, err := server.ParseAuthConfig([]byte(scopesYAML), "test")
	if err != nil {
		t.Fatal(err)
	}
	runs := &loadCounter{Store: runstore.NewMemory()}
	ts := &scopedServer{conductorServer: newConductorServer(t, runs, server.WithAuth(cfg)), tokens: map[string]string{"anonymous": ""}}
	for _, k := range []string{"admin", "alice", "rita", "carol"} {
		_, _, body := ts.do(t, "POST", "/api/token", `{"keyId":"`+k+`","keySecret":"`+k+`-secret-0123456789"}`)
		var tok struct{ Token string }
		if err := json.Unmarshal([]byte(body), &tok); err != nil || tok.Token == "" {
			t.Fatalf("token of %s: %s", k, body)
		}
		ts.tokens[k] = tok.Token
	}
	if st, _, body := ts.as(t, "admin", "POST", "/api/metadata/workflow", guardedDef); st != 200 {
		t.Fatalf("register: %d %s", st, body)
	}
	id := ts.startGuarded(t, true) // ended: nothing else loads it meanwhile
	for _, c := range []struct {
		who, path string
		status    int
	}{
		{"rita", "/api/workflow/" + id, 200},
		{"rita", "/api/workflow/" + id + "/status", 200},
		{"alice", "/api/workflow/" + id, 200},
		{"carol", "/api/workflow/" + id, 404},
		{"admin", "/api/workflow/no-such-run", 404},
	} {
		before := runs.loads.Load()
		if st, _, body := ts.as(t, c.who, "GET", c.path, ""); st != c.status {
			t.Fatalf("%s GET %s: %d %s", c.who, c.path, st, body)
		}
		if n := runs.loads.Load() - before; n != 1 {
			t.Errorf("%s GET %s loaded the run %d times", c.who, c.path, n)
		}
	}
}
