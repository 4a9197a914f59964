package engine_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/interpolate"
	"github.com/wfrun/wfrun/store/seal"
)

func keyring(t *testing.T, b byte) *seal.Keyring {
	k, err := seal.NewKeyring(bytes.Repeat([]byte{b}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

const persistDef = `{"name":"persist","tasks":[
  {"name":"issue","taskReferenceName":"issue","inputParameters":{"auth":"${workflow.secrets.api_token}"}},
  {"name":"approve","taskReferenceName":"approve","type":"HUMAN"},
  {"name":"use","taskReferenceName":"use","inputParameters":{"key":"${issue.output._secrets.key}","who":"${approve.output.by}"}}],
 "outputParameters":{"who":"${use.output.who}","sawKey":"${use.output.sawKey}"}}`

// A run interrupted while waiting (the process "dies") is resumed by another
// Engine over the same store: completed tasks are not run again, sealed
// `_secrets` come back in clear for the next task, nothing is stored in clear.
func TestInterruptAndResumeOnStores(t *testing.T) {
	stores := visibleStores(t)
	delete(stores, "memory") // a memory store is not another process's
	for name, mk := range stores {
		t.Run(name, func(t *testing.T) {
			rs := mk()
			var issued, used atomic.Int64
			var sawKey atomic.Value
			newEngine := func(k *seal.Keyring, events func(engine.Event)) *engine.Engine {
				e, err := engine.New(engine.WithRunStore(rs), engine.WithKeyring(k), engine.WithPollInterval(10*time.Millisecond),
					engine.WithEvents(events),
					engine.WithSecrets(func(engine.Principal, string, string) interpolate.SecretSource {
						return interpolate.MapSecrets{"api_token": json.RawMessage(`"` + token + `"`)}
					}),
					engine.WithWorker("issue", func(_ context.Context, in json.RawMessage) (json.RawMessage, error) {
						issued.Add(1)
						return json.RawMessage(`{"_secrets":{"key":"issued-key-7731"},"echo":` + string(in) + `}`), nil
					}),
					engine.WithWorker("use", func(_ context.Context, in json.RawMessage) (json.RawMessage, error) {
						used.Add(1)
						var v struct{ Key, Who string }
						_ = json.Unmarshal(in, &v)
						sawKey.Store(v.Key)
						return json.RawMessage(`{"who":"` + v.Who + `","sawKey":"` + v.Key + `"}`), nil
					}))
				if err != nil {
					t.Fatal(err)
				}
				return e
			}
			ctx, cancel := context.WithCancel(context.Background())
			a := newEngine(keyring(t, 1), func(ev engine.Event) {
				if ev.Kind == engine.EventWaiting {
					cancel() // the process dies while the run waits
				}
			})
			def, err := a.Parse([]byte(persistDef))
			if err != nil {
				t.Fatal(err)
			}
			res, err := a.Start(ctx, def, nil, engine.WithRunID("r-"+name))
			if !errors.Is(err, engine.ErrInterrupted) || res.Status != engine.StatusRunning {
				t.Fatalf("want interrupted, got %v %+v", err, res)
			}
			raw, archived, err := rs.Load(context.Background(), "r-"+name)
			if err != nil || archived {
				t.Fatal(err)
			}
			for _, leak := range []string{token, "issued-key-7731"} {
				if bytes.Contains(raw, []byte(leak)) {
					t.Fatalf("stored run holds %q: %s", leak, raw)
				}
			}
			if !bytes.Contains(raw, []byte("wfrun-sealed:v1:")) {
				t.Fatalf("_secrets not sealed: %s", raw)
			}
			// Another engine with the wrong key cannot resume (clear error).
			if _, err := newEngine(keyring(t, 2), nil).Resume(context.Background(), "r-"+name); err == nil || !strings.Contains(err.Error(), "unseal") {
				t.Fatalf("wrong key: %v", err)
			}
			b := newEngine(keyring(t, 1), nil)
			if _, err := b.CompleteTask(context.Background(), "r-"+name, "approve", "", json.RawMessage(`{"by":"dana"}`)); err != nil {
				t.Fatal(err)
			}
			res, err = b.Resume(context.Background(), "r-"+name)
			if err != nil || res.Status != engine.StatusCompleted {
				t.Fatalf("resume: %v %+v", err, res)
			}
			if issued.Load() != 1 || used.Load() != 1 {
				t.Fatalf("issue ran %d times, use %d times", issued.Load(), used.Load())
			}
			if sawKey.Load() != "issued-key-7731" {
				t.Fatalf("the next task got %v instead of the unsealed value", sawKey.Load())
			}
			jsonEq(t, res.Output, `{"who":"dana","sawKey":"***"}`)
			raw, archived, _ = rs.Load(context.Background(), "r-"+name)
			if !archived || bytes.Contains(raw, []byte("issued-key-7731")) || bytes.Contains(raw, []byte(token)) || bytes.Contains(raw, []byte("wfrun-sealed")) {
				t.Fatalf("archived form: archived=%v %s", archived, raw)
			}
			list, _ := b.List(context.Background(), runstore.ListOptions{})
			if len(list) != 1 || !list[0].Archived || list[0].Status != engine.StatusCompleted {
				t.Fatalf("list %+v", list)
			}
		})
	}
}

func TestSubWorkflowAndFailureWorkflow(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		if err := writeFile(filepath.Join(dir, name), body); err != nil {
			t.Fatal(err)
		}
	}
	write("child.json", `{"name":"child","version":2,"tasks":[{"name":"echo","taskReferenceName":"c1","inputParameters":{"v":"${workflow.input.v}","parent":"${workflow.parentWorkflowId}"}}],
	  "outputParameters":{"doubled":"${c1.output.echo.v}${c1.output.echo.v}"}}`)
	write("on_fail.json", `{"name":"on_fail","tasks":[{"name":"echo","taskReferenceName":"f1","inputParameters":{"why":"${workflow.input.reason}","id":"${workflow.input.workflowId}"}}]}`)
	h := newHarness(t, nil, engine.WithDefinitionsDir(dir))
	res := h.run(`{"name":"parent","tasks":[
	  {"name":"sub","taskReferenceName":"sub","type":"SUB_WORKFLOW","subWorkflowParam":{"name":"child"},"inputParameters":{"v":"ab"}},
	  {"name":"inl","taskReferenceName":"inl","type":"SUB_WORKFLOW","subWorkflowParam":{"workflowDefinition":{"name":"inline_child","tasks":[
	     {"name":"echo","taskReferenceName":"x","inputParameters":{"y":"${workflow.input.y}"}}]}},"inputParameters":{"y":"${sub.output.doubled}"}}],
	 "outputParameters":{"d":"${sub.output.doubled}","i":"${inl.output.echo.y}"}}`, `{}`)
	if res.Status != engine.StatusCompleted {
		t.Fatalf("%s %s", res.Status, res.Reason)
	}
	jsonEq(t, res.Output, `{"d":"abab","i":"abab"}`)

	res = h.run(`{"name":"failing","failureWorkflow":"on_fail","tasks":[{"name":"fail","taskReferenceName":"boom","retryCount":0}]}`, `{"k":1}`)
	if res.Status != engine.StatusFailed {
		t.Fatalf("%s", res.Status)
	}
	var out map[string]string
	_ = json.Unmarshal(res.Output, &out)
	fid := out["conductor.failure_workflow"]
	if fid == "" {
		t.Fatalf("no failure workflow id in %s", res.Output)
	}
	if err := h.e.WaitStarted(context.Background()); err != nil {
		t.Fatal(err)
	}
	view, err := h.e.Show(context.Background(), fid)
	if err != nil || !bytes.Contains(view, []byte(`"status":"COMPLETED"`)) || !bytes.Contains(view, []byte(res.RunID)) || !bytes.Contains(view, []byte("worker says no")) {
		t.Fatalf("failure workflow run: %v %s", err, view)
	}
}

func TestMaskedFieldsAndMaskedKeys(t *testing.T) {
	h := newHarness(t, nil)
	res := h.run(`{"name":"w","maskedFields":["password","out"],"tasks":[
	  {"name":"echo","taskReferenceName":"e1","inputParameters":{"_masked":{"note":"${workflow.input.note}"},"pw":"${workflow.input.password}"}}],
	  "outputParameters":{"out":"${e1.output.echo.pw}","visible":"${workflow.input.user}","note":"${e1.output.echo._masked.note}"}}`,
		`{"user":"ann","password":"hunter2-long","note":"keep-me"}`)
	if res.Status != engine.StatusCompleted {
		t.Fatalf("%s %s", res.Status, res.Reason)
	}
	// A copy of a _masked value is masked where it is shown (the printed
	// output), as Orkes shows it; the stored run keeps it for a restart.
	jsonEq(t, res.Output, `{"out":"***","visible":"ann","note":"***"}`)
	view, err := h.e.Show(context.Background(), res.RunID)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Input  map[string]any `json:"input"`
		Output map[string]any `json:"output"`
		Tasks  []struct {
			InputData map[string]any `json:"inputData"`
		} `json:"tasks"`
	}
	if err := json.Unmarshal(view, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Input["password"] != "***" || doc.Input["user"] != "ann" || doc.Output["out"] != "***" || doc.Tasks[0].InputData["_masked"] != "***" {
		t.Fatalf("view: %s", view)
	}
	// Archive: maskedFields are gone for good, _masked is kept.
	raw, archived, _ := h.runs.Load(context.Background(), res.RunID)
	if !archived || bytes.Contains(raw, []byte("hunter2-long")) || !bytes.Contains(raw, []byte("keep-me")) {
		t.Fatalf("archived=%v %s", archived, raw)
	}
}
