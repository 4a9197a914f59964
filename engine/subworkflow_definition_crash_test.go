//go:build unix

package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/store/seal"
)

// TestKillAtEveryWriteOfADynamicDefinitionRun: the run of
// TestDynamicSubWorkflowDefinitionKeepsNoSecret, killed before and after
// each of its writes and resumed by another process with the same key:
// the child, loaded from its stored definition (its `_secrets` sealed),
// gives its task the secret's value, the run completes, and the bolt file
// holds no piece of the value.
func TestKillAtEveryWriteOfADynamicDefinitionRun(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a process per persistence point")
	}
	key, err := seal.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	ring, err := seal.NewKeyring(key)
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	close(release)
	count := &killAtWrite{Store: runstore.NewMemory()}
	e := dynDefEngine(t, count, ring, nil, release, func(json.RawMessage) {})
	def, err := e.Parse([]byte(dynDefParent))
	if err != nil {
		t.Fatal(err)
	}
	if r, err := e.Start(context.Background(), def, json.RawMessage(`{}`), engine.WithRunID("dyndef-parent")); err != nil || r.Status != engine.StatusCompleted {
		t.Fatalf("reference run: %v %+v", err, r)
	}
	var resumedProbes int
	total := int(count.n.Load())
	killAtEveryWrite(t, "", total, 4, func(t *testing.T, k int, killBefore bool) {
		var db string
		crashInBolt(t, "TestDynamicDefinitionCrashChild", "WFRUN_DYNDEF", k, killBefore, func(rs runstore.Store) []string {
			db = rs.(interface{ Path() string }).Path()
			return []string{"WFRUN_DYNDEF_KEY=" + seal.EncodeKey(key)}
		}, func(rs runstore.Store) {
			var mu sync.Mutex
			var got []json.RawMessage
			e := dynDefEngine(t, rs, ring, nil, release, func(in json.RawMessage) {
				mu.Lock()
				got = append(got, in)
				mu.Unlock()
			})
			r, err := e.Resume(context.Background(), "dyndef-parent")
			switch {
			case k == 1 && killBefore && errors.Is(err, runstore.ErrNotFound):
				return // killed before the run was stored
			case k == total && !killBefore && errors.Is(err, engine.ErrNotRunning):
				return // killed after the run's last write
			}
			if err != nil || r.Status != engine.StatusCompleted {
				t.Fatalf("resume after write %d: %v %+v", k, err, r)
			}
			for _, in := range got {
				var v struct {
					Secrets struct {
						X string `json:"x"`
					} `json:"_secrets"`
				}
				if json.Unmarshal(in, &v) != nil || v.Secrets.X != dynDefSecret {
					t.Errorf("the resumed child's task did not get the secret's value under _secrets.x (len %d)", len(v.Secrets.X))
				}
			}
			resumedProbes += len(got)
			raw, err := os.ReadFile(db)
			if err != nil {
				t.Fatal(err)
			}
			noDynDefSecret(t, "after the resumed run ended", map[string][]byte{filepath.Base(db): raw})
		})
	})
	if resumedProbes == 0 {
		t.Error("no resume ran the child's task from its stored definition")
	}
}

// TestDynamicDefinitionCrashChild is the child process (skipped unless
// started by TestKillAtEveryWriteOfADynamicDefinitionRun).
func TestDynamicDefinitionCrashChild(t *testing.T) {
	store := openKillChild(t, "WFRUN_DYNDEF", "TestKillAtEveryWriteOfADynamicDefinitionRun")
	raw, err := seal.ParseKey(os.Getenv("WFRUN_DYNDEF_KEY"))
	if err != nil {
		t.Fatal(err)
	}
	ring, err := seal.NewKeyring(raw)
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	close(release)
	e := dynDefEngine(t, store, ring, nil, release, func(json.RawMessage) {})
	def, err := e.Parse([]byte(dynDefParent))
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.Start(context.Background(), def, json.RawMessage(`{}`), engine.WithRunID("dyndef-parent"))
	t.Fatalf("child was not killed (writes made: all): %v", err)
}
