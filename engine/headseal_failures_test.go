package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
)

// A failure run's head names the run whose end started it (failureOf, its
// gate): it executes only once that end is stored. A failed run's head
// names the failure runs of its ends a restart replaced
// (restartedFailures): they pass their gate. Someone who can write the run
// store removes a gate, so that a failure run of an end never stored
// executes; or points it at another run, so that the failure run of a
// stored end is dropped; or names a failure run among a failed run's
// restarted ones, to let it through. Each is refused, naming the run whose
// head was edited, and the failure run's task never runs. A head an
// earlier wfrun wrote (failuresSealed absent) is believed and sealed so at
// its next write. On memory, bolt and a real redis-server.
func TestFailureRunGateIsAuthenticated(t *testing.T) {
	const id = "5b0d7a4e-0000-4000-8000-00000000b36f"
	type scenario int
	const (
		storedEnd   scenario = iota // the failed run's end is stored: the failure run executes
		neverStored                 // it is not: the failure run is dropped
	)
	cases := []struct {
		name   string
		sc     scenario
		edit   func(t *testing.T, s *storedRun, failed *storedRun)
		want   string // the failure run's status; "" refused
		naming string // the run the refusal names: "failure" or "failed"
	}{
		{"untouched", storedEnd, nil, engine.StatusCompleted, ""},
		{"an earlier wfrun's", storedEnd, func(t *testing.T, s, _ *storedRun) {
			if err := engine.SealFailuresAsEarlierWfrun(s.doc, strID(t, s.doc["workflowId"]), keyring(t, 21)); err != nil {
				t.Fatal(err)
			}
		}, engine.StatusCompleted, ""},
		{"untouched, end never stored", neverStored, nil, engine.StatusTerminated, ""},
		{"gate pointed at another run", storedEnd, func(_ *testing.T, s, _ *storedRun) {
			s.doc["failureOf"] = json.RawMessage(`"5b0d7a4e-0000-4000-8000-00000000b37f"`)
		}, "", "failure"},
		{"gate removed", neverStored, func(_ *testing.T, s, _ *storedRun) { delete(s.doc, "failureOf") }, "", "failure"},
		{"gate removed, its head as an earlier wfrun's", neverStored, func(_ *testing.T, s, _ *storedRun) {
			delete(s.doc, "failureOf")
			delete(s.doc, "failuresSealed")
		}, "", "failure"},
		{"named among the failed run's restarted", neverStored, func(t *testing.T, s, failed *storedRun) {
			failed.doc["restartedFailures"], _ = json.Marshal(strID(t, s.doc["workflowId"]))
		}, "", "failed"},
	}
	for _, b := range slotBackends() {
		t.Run(b.name, func(t *testing.T) {
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					rs := &endArchiver{Store: b.open(t), id: id, fail: true, failArchive: c.sc == neverStored}
					var notified atomic.Int64
					e1 := failureRig(t, rs, &notified, engine.WithLeaseTTL(300*time.Millisecond))
					res, err := startFails(t, e1, id)
					var fid string
					if c.sc == storedEnd {
						if err != nil {
							t.Fatal(err)
						}
						fid = failureRunOf(t, res)
					} else if !errors.Is(err, runstore.ErrUnavailable) {
						t.Fatalf("Start = %v, want the archive's failure", err)
					}
					_ = e1.WaitStarted(context.Background()) // the failure run stopped at its gate
					if c.sc == neverStored {
						runs := runsOf(t, rs.Store, "on_fail")
						if len(runs) != 1 {
							t.Fatalf("failure runs %+v, want one", runs)
						}
						fid = runs[0].ID
					}
					if c.edit != nil {
						s := loadStoredRun(t, rs.Store, fid)
						if string(s.doc["failuresSealed"]) != "true" {
							t.Fatalf("stored failure run head: failuresSealed %s", s.doc["failuresSealed"])
						}
						var failed *storedRun
						if c.sc == neverStored {
							failed = loadStoredRun(t, rs.Store, id)
						}
						c.edit(t, s, failed)
						s.restoreWith(t, rs.Store, fid, s.log)
						if failed != nil {
							failed.restoreWith(t, rs.Store, id, failed.log)
						}
					}
					e2 := failureRig(t, rs, &notified)
					fres, err := resumeOnceFree(t, e2, fid)
					n := notified.Load()
					if c.want != "" {
						if err != nil || fres.Status != c.want || (n == 1) != (c.want == engine.StatusCompleted) {
							t.Fatalf("failure run: %+v %v, notified %d times", fres, err, n)
						}
						if c.want == engine.StatusCompleted {
							raw, archived, err := rs.Store.Load(context.Background(), fid)
							if err != nil || !archived || !strings.Contains(string(raw), `"failuresSealed":true`) {
								t.Fatalf("the failure run's stored head: %v %v %s", archived, err, raw)
							}
						}
						return
					}
					named := fid
					if c.naming == "failed" {
						named = id
					}
					if !errors.Is(err, engine.ErrHeadNotAuthentic) || !strings.Contains(err.Error(), named) || n != 0 {
						t.Fatalf("edited head (%s): resume %v %+v, notified %d times", c.name, err, fres, n)
					}
				})
			}
		})
	}
}

// strID is the JSON string raw holds.
func strID(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatal(err)
	}
	return s
}
