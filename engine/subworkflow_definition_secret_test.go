package engine_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/internal/redistest"
	"github.com/wfrun/wfrun/interpolate"
	"github.com/wfrun/wfrun/store/seal"
	"github.com/wfrun/wfrun/tasks"
)

// dynDefSecret is the secret a definition built at run time carries.
const dynDefSecret = "dyn-S3cr3tV4lue-77aa41"

// dynDefParent builds its SUB_WORKFLOW's definition at run time (an
// INLINE's output): the child's second task takes the secret's value under
// `_secrets`, its first ("hold") is where a test stops the process.
const dynDefParent = `{"name":"dyndef_parent","version":1,"schemaVersion":2,"tasks":[
  {"name":"mk","taskReferenceName":"mk","type":"INLINE","inputParameters":{"tok":"${workflow.secrets.dyn_key}","evaluatorType":"javascript",
    "expression":"({name:'dyndef_child',version:1,schemaVersion:2,tasks:[{name:'hold',taskReferenceName:'h',type:'SIMPLE'},{name:'probe',taskReferenceName:'p',type:'SIMPLE',inputParameters:{_secrets:{x:$.tok},n:7}}]})"}},
  {"name":"sw","taskReferenceName":"sw","type":"SUB_WORKFLOW","subWorkflowParam":{"name":"dyndef_child","version":1,"workflowDefinition":"${mk.output.result}"}}]}`

// dynDefEngine runs dynDefParent over rs: hold blocks until release is
// closed (or its context ends), probe records the input it is given.
func dynDefEngine(t *testing.T, rs runstore.Store, ring *seal.Keyring, holding chan<- struct{}, release <-chan struct{}, probed func(json.RawMessage)) *engine.Engine {
	t.Helper()
	e, err := engine.New(
		engine.WithRegistry(tasks.NewDefaultRegistry()),
		engine.WithRunStore(rs),
		engine.WithKeyring(ring),
		engine.WithPollInterval(20*time.Millisecond),
		engine.WithSecrets(func(engine.Principal, string, string) interpolate.SecretSource {
			return interpolate.MapSecrets{"dyn_key": json.RawMessage(`"` + dynDefSecret + `"`)}
		}),
		engine.WithWorker("hold", func(ctx context.Context, _ json.RawMessage) (json.RawMessage, error) {
			if holding != nil {
				holding <- struct{}{}
			}
			select {
			case <-release:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			return json.RawMessage(`{}`), nil
		}),
		engine.WithWorker("probe", func(_ context.Context, in json.RawMessage) (json.RawMessage, error) {
			probed(in)
			return json.RawMessage(`{"ok":true}`), nil
		}),
	)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// dynDefRecorder keeps every byte handed to the store it wraps.
type dynDefRecorder struct {
	runstore.Store
	mu  sync.Mutex
	all bytes.Buffer
}

func (s *dynDefRecorder) keep(ch *runstore.Change) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, b := range [][]byte{ch.Head, ch.Input, ch.Output, ch.Variables, ch.TaskDefs, ch.Mocks, ch.Definition} {
		s.all.Write(b)
	}
	for _, t := range ch.Tasks {
		s.all.Write(t.Doc)
	}
	for _, l := range ch.Log {
		s.all.Write(l.Doc)
	}
}

func (s *dynDefRecorder) Commit(ctx context.Context, id string, ch *runstore.Change) error {
	s.keep(ch)
	return s.Store.Commit(ctx, id, ch)
}

func (s *dynDefRecorder) Restore(ctx context.Context, id string, ch *runstore.Change) error {
	s.keep(ch)
	return s.Store.Restore(ctx, id, ch)
}

func (s *dynDefRecorder) Archive(ctx context.Context, id string, archived []byte, sum runstore.Summary) error {
	s.mu.Lock()
	s.all.Write(archived)
	s.mu.Unlock()
	return s.Store.Archive(ctx, id, archived, sum)
}

// dynDefBackend is a store and every byte it holds.
type dynDefBackend struct {
	open func(t *testing.T) runstore.Store // the store, opened (again)
	raw  func(t *testing.T) map[string][]byte
}

func dynDefBackends(t *testing.T) map[string]dynDefBackend {
	mem := &dynDefRecorder{Store: runstore.NewMemory()}
	db := filepath.Join(t.TempDir(), "runs.db")
	return map[string]dynDefBackend{
		"memory": {
			open: func(*testing.T) runstore.Store { return mem },
			raw: func(*testing.T) map[string][]byte {
				mem.mu.Lock()
				defer mem.mu.Unlock()
				return map[string][]byte{"memory writes": bytes.Clone(mem.all.Bytes())}
			},
		},
		"bolt": {
			open: func(t *testing.T) runstore.Store {
				rs, err := runstore.OpenBolt(db)
				if err != nil {
					t.Fatal(err)
				}
				return rs
			},
			raw: func(t *testing.T) map[string][]byte {
				b, err := os.ReadFile(db)
				if err != nil {
					t.Fatal(err)
				}
				return map[string][]byte{"runs.db": b}
			},
		},
	}
}

func redisBackend(t *testing.T) dynDefBackend {
	addr := redistest.Start(t)
	rdb := goredis.NewClient(&goredis.Options{Addr: addr})
	t.Cleanup(func() { _ = rdb.Close() })
	return dynDefBackend{
		open: func(t *testing.T) runstore.Store {
			rs, err := runstore.OpenRedis("redis://" + addr)
			if err != nil {
				t.Fatal(err)
			}
			return rs
		},
		raw: func(t *testing.T) map[string][]byte {
			ctx := context.Background()
			keys, err := rdb.Keys(ctx, "*").Result()
			if err != nil || len(keys) == 0 {
				t.Fatalf("redis keys: %v %v", keys, err)
			}
			out := map[string][]byte{}
			for _, k := range keys {
				d, err := rdb.Dump(ctx, k).Result()
				if err != nil {
					t.Fatal(err)
				}
				out["key "+k] = []byte(d)
			}
			return out
		},
	}
}

// noDynDefSecret fails when a stored byte holds the secret or a piece of
// it (its first and last 8 characters).
func noDynDefSecret(t *testing.T, when string, raw map[string][]byte) {
	t.Helper()
	for where, b := range raw {
		for _, piece := range []string{dynDefSecret, dynDefSecret[:8], dynDefSecret[len(dynDefSecret)-8:]} {
			if i := bytes.Index(b, []byte(piece)); i >= 0 {
				t.Errorf("%s: %s holds %q of the secret at %d", when, where, piece, i)
			}
		}
	}
}

// TestDynamicSubWorkflowDefinitionKeepsNoSecret: a SUB_WORKFLOW's
// definition built at run time, whose task takes a secret's value under
// `_secrets`, reaches no stored byte of any store in clear (the
// definitions part included), while the child waits and after the run
// ends; the process is stopped while the child waits, and another one
// resumes the run from what is stored: the child's task still gets the
// value, and the run completes.
func TestDynamicSubWorkflowDefinitionKeepsNoSecret(t *testing.T) {
	backends := dynDefBackends(t)
	backends["redis"] = redisBackend(t)
	for name, b := range backends {
		t.Run(name, func(t *testing.T) {
			k, err := seal.GenerateKey()
			if err != nil {
				t.Fatal(err)
			}
			ring, err := seal.NewKeyring(k)
			if err != nil {
				t.Fatal(err)
			}
			var mu sync.Mutex
			var inputs []json.RawMessage
			probed := func(in json.RawMessage) {
				mu.Lock()
				inputs = append(inputs, in)
				mu.Unlock()
			}
			rs := b.open(t)
			holding := make(chan struct{}, 1)
			e1 := dynDefEngine(t, rs, ring, holding, nil, probed)
			def, err := e1.Parse([]byte(dynDefParent))
			if err != nil {
				t.Fatal(err)
			}
			ctx, stop := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() {
				_, err := e1.Start(ctx, def, json.RawMessage(`{}`), engine.WithRunID("dyndef-parent"))
				done <- err
			}()
			select {
			case <-holding:
			case err := <-done:
				t.Fatalf("the run ended before its child's first task: %v", err)
			case <-time.After(30 * time.Second):
				t.Fatal("the child's first task never ran")
			}
			noDynDefSecret(t, "while the child waits", b.raw(t))
			stop() // the process stops: the run stays as stored
			<-done
			if name != "memory" {
				if err := rs.Close(); err != nil {
					t.Fatal(err)
				}
				rs = b.open(t)
			}
			defer rs.Close()
			release := make(chan struct{})
			close(release)
			e2 := dynDefEngine(t, rs, ring, nil, release, probed)
			res, err := e2.Resume(context.Background(), "dyndef-parent")
			if err != nil || res.Status != engine.StatusCompleted {
				t.Fatalf("resume: %v %+v", err, res)
			}
			mu.Lock()
			got := inputs
			mu.Unlock()
			if len(got) != 1 {
				t.Fatalf("probe ran %d times, want once", len(got))
			}
			var in struct {
				Secrets struct {
					X string `json:"x"`
				} `json:"_secrets"`
				N int `json:"n"`
			}
			if err := json.Unmarshal(got[0], &in); err != nil || in.Secrets.X != dynDefSecret || in.N != 7 {
				t.Errorf("the resumed child's task got _secrets.x %q (len %d), n %d: want the secret's value, n 7 (%v)",
					strings.Repeat("*", min(len(in.Secrets.X), 3)), len(in.Secrets.X), in.N, err)
			}
			noDynDefSecret(t, "after the run ended", b.raw(t))
		})
	}
}

// TestStartWorkflowDefinitionBuiltAtRunTimeKeepsNoSecret: START_WORKFLOW's
// workflowDef built at run time, whose task takes a secret's value under
// `_secrets`: the started run gives its task the value, and the bolt file
// holds no piece of it.
func TestStartWorkflowDefinitionBuiltAtRunTimeKeepsNoSecret(t *testing.T) {
	b := dynDefBackends(t)["bolt"]
	rs := b.open(t)
	defer rs.Close()
	k, err := seal.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	ring, err := seal.NewKeyring(k)
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	close(release)
	var mu sync.Mutex
	var got []json.RawMessage
	e := dynDefEngine(t, rs, ring, nil, release, func(in json.RawMessage) {
		mu.Lock()
		got = append(got, in)
		mu.Unlock()
	})
	parent := strings.Replace(dynDefParent,
		`{"name":"sw","taskReferenceName":"sw","type":"SUB_WORKFLOW","subWorkflowParam":{"name":"dyndef_child","version":1,"workflowDefinition":"${mk.output.result}"}}]}`,
		`{"name":"st","taskReferenceName":"st","type":"START_WORKFLOW","inputParameters":{"startWorkflow":{"name":"dyndef_child","workflowDef":"${mk.output.result}"}}}],
		 "outputParameters":{"id":"${st.output.workflowId}"}}`, 1)
	def, err := e.Parse([]byte(parent))
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.Start(context.Background(), def, json.RawMessage(`{}`))
	if err != nil || res.Status != engine.StatusCompleted {
		t.Fatalf("%v %+v", err, res)
	}
	var out struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(res.Output, &out); err != nil || out.ID == "" {
		t.Fatalf("output %s: %v", res.Output, err)
	}
	if v := waitRun(t, e, out.ID); v.Status != engine.StatusCompleted {
		t.Fatalf("started run %s %q", v.Status, v.Reason)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 {
		t.Fatalf("probe ran %d times", len(got))
	}
	var in struct {
		Secrets struct {
			X string `json:"x"`
		} `json:"_secrets"`
	}
	if json.Unmarshal(got[0], &in) != nil || in.Secrets.X != dynDefSecret {
		t.Errorf("the started run's task did not get the secret's value under _secrets.x (len %d)", len(in.Secrets.X))
	}
	noDynDefSecret(t, "after the started run ended", b.raw(t))
}
