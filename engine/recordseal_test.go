package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/tidwall/gjson"

	"github.com/wfrun/wfrun/engine"
)

// storedRecords is run s's stored task records, as stored.
func storedRecords(t *testing.T, s *storedRun) []string {
	t.Helper()
	var raws []json.RawMessage
	if err := json.Unmarshal(s.doc["tasks"], &raws); err != nil {
		t.Fatal(err)
	}
	out := make([]string, len(raws))
	for i, r := range raws {
		out[i] = string(r)
	}
	return out
}

// partsSealed says that stored run s's head attests its input, variables
// and outcome together (partsSeal), and carries none of the seals an
// earlier wfrun made one per part.
func partsSealed(s *storedRun) bool {
	for _, k := range []string{"inputSealed", "inputSeal", "variablesSealed", "variablesSeal", "outcomeSealed", "outcomeSeal"} {
		if s.doc[k] != nil {
			return false
		}
	}
	return string(s.doc["partsSealed"]) == "true" && strings.HasPrefix(gjson.GetBytes(s.doc["partsSeal"], "@this").Str, "wfrun-attest:")
}

// setRecords puts records back into s, byte for byte.
func setRecords(s *storedRun, records []string) {
	s.doc["tasks"] = json.RawMessage("[" + strings.Join(records, ",") + "]")
}

// unsealed is record raw without its recordSeal member.
func unsealed(raw string) string {
	if i := strings.LastIndex(raw, `,"recordSeal":"`); i > 0 {
		return raw[:i] + "}"
	}
	return raw
}

// A stored task record says how far a run got. Someone who can write the
// run store marks the approval a run waits for as given: the process that
// resumes the run refuses it, naming the record, and the task after the
// approval never gets its secret. So for a record whose seal was
// stripped, one from another run, and a head that no longer says its
// records are sealed. An untouched run resumes; a run an earlier wfrun
// stored (no record sealed) resumes and its next write seals them. On
// memory, bolt and a real redis-server.
func TestStoredTaskRecordsAreAuthenticated(t *testing.T) {
	approved := func(raw string) string {
		return strings.Replace(raw, `"status":"IN_PROGRESS"`, `"status":"COMPLETED"`, 1)
	}
	cases := []struct {
		name string
		edit func(t *testing.T, s, other *storedRun)
		// approve: the approval is given through the API before the
		// resume; legacy: an earlier wfrun's run (WithUnsealedHeads).
		approve, legacy bool
		want            error
	}{
		{"untouched", func(*testing.T, *storedRun, *storedRun) {}, true, false, nil},
		{"approval forged", func(t *testing.T, s, _ *storedRun) {
			r := storedRecords(t, s)
			r[0] = approved(r[0])
			setRecords(s, r)
		}, false, false, engine.ErrRecordNotAuthentic},
		{"approval forged, seal stripped", func(t *testing.T, s, _ *storedRun) {
			r := storedRecords(t, s)
			r[0] = unsealed(approved(r[0]))
			setRecords(s, r)
		}, false, false, engine.ErrRecordNotAuthentic},
		{"record of another run", func(t *testing.T, s, other *storedRun) {
			r, o := storedRecords(t, s), storedRecords(t, other)
			r[0] = o[0]
			setRecords(s, r)
		}, true, false, engine.ErrRecordNotAuthentic},
		{"head says unsealed, approval forged", func(t *testing.T, s, _ *storedRun) {
			delete(s.doc, "recordSeals")
			r := storedRecords(t, s)
			r[0] = unsealed(approved(r[0]))
			setRecords(s, r)
		}, false, false, engine.ErrHeadNotAuthentic},
		{"an earlier wfrun's run", func(t *testing.T, s, _ *storedRun) {
			delete(s.doc, "recordSeals")
			stripHeadSeal(t, s)
			r := storedRecords(t, s)
			for i := range r {
				r[i] = unsealed(r[i])
			}
			setRecords(s, r)
		}, true, true, nil},
	}
	for name, mk := range visibleStores(t) {
		t.Run(name, func(t *testing.T) {
			rs := mk()
			kit := newSealKit(t, rs)
			ctx := context.Background()
			newEngine, start := kit.engine, func(id string) { t.Helper(); kit.startWaiting(headDef, id) }
			start("rec-other")
			other := loadStoredRun(t, rs, "rec-other")
			for i, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					id := "rec-" + string(rune('a'+i))
					start(id)
					s := loadStoredRun(t, rs, id)
					if r := storedRecords(t, s); len(r) != 1 || !strings.Contains(r[0], `"referenceTaskName":"approve"`) ||
						!strings.Contains(r[0], `,"recordSeal":"wfrun-attest:v1:`) || string(s.doc["recordSeals"]) != "true" {
						t.Fatalf("stored run: records %v, recordSeals %s", r, s.doc["recordSeals"])
					}
					c.edit(t, s, other)
					s.restoreWith(t, rs, id, s.log)
					kit.inputs()
					var opts []engine.Option
					if c.legacy {
						opts = append(opts, engine.WithUnsealedHeads())
					}
					e := newEngine(opts...)
					if c.approve {
						// A completion of a run that does not verify is
						// refused too.
						if _, err := e.CompleteTask(ctx, id, "approve", "", json.RawMessage(`{}`)); (err == nil) != (c.want == nil) ||
							(c.want != nil && !errors.Is(err, c.want)) {
							t.Fatalf("completion: %v", err)
						}
					}
					res, err := e.Resume(ctx, id)
					n := len(kit.inputs())
					if c.want == nil {
						if err != nil || res.Status != engine.StatusCompleted || n != 1 {
							t.Fatalf("resumed: %v %+v, the worker called %d times", err, res, n)
						}
						// Archived: its records were written sealed, and
						// sealed again as archived.
						raw, archived, err := rs.Load(ctx, id)
						if err != nil || !archived || strings.Count(string(raw), `,"recordSeal":"wfrun-attest:v1:`) != 2 ||
							!strings.Contains(string(raw), `"recordSeals":true`) {
							t.Fatalf("archived run: %v %v %s", archived, err, raw)
						}
						// A view shows Conductor's records, without the seals.
						view, err := e.Show(ctx, id)
						if err != nil || strings.Contains(string(view), "recordSeal\"") {
							t.Fatalf("view: %v %s", err, view)
						}
						// The archived run is rerun from its last task,
						// its approval kept: its records verify.
						use := gjson.GetBytes(raw, `tasks.#(referenceTaskName=="use").taskId`).Str
						if res, err := e.Rerun(ctx, id, use); err != nil || res.Status != engine.StatusCompleted {
							t.Fatalf("rerun of the archived run: %v %+v", err, res)
						}
						return
					}
					if !errors.Is(err, c.want) || !strings.Contains(err.Error(), id) || strings.Contains(err.Error(), "\n") {
						t.Fatalf("an edited run resumed, or a bad error: %v %+v", err, res)
					}
					if n != 0 {
						t.Fatalf("the edited run called the worker %d times", n)
					}
				})
			}
		})
	}
}

// varsDef sets approved=false, waits for a HUMAN task, and hands its worker
// the secret only when the variable says approved.
const varsDef = `{"name":"varseal","tasks":[
  {"name":"init","taskReferenceName":"init","type":"SET_VARIABLE","inputParameters":{"approved":false}},
  {"name":"approve","taskReferenceName":"approve","type":"HUMAN"},
  {"name":"gate","taskReferenceName":"gate","type":"SWITCH","evaluatorType":"value-param","expression":"a",
   "inputParameters":{"a":"${workflow.variables.approved}"},
   "decisionCases":{"true":[{"name":"capture","taskReferenceName":"use","inputParameters":{"k":"${workflow.secrets.public_token}"}}]}}]}`

// A run's variables are attested too: someone who can write the run store
// sets the variable a later SWITCH reads to let a task have its secret;
// the process that resumes the run refuses it. Untouched, the run
// resumes and the gate stays shut. On memory, bolt and a real
// redis-server.
func TestStoredVariablesAreAuthenticated(t *testing.T) {
	for name, mk := range visibleStores(t) {
		t.Run(name, func(t *testing.T) {
			kit := newSealKit(t, mk())
			ctx := context.Background()
			for _, forge := range []bool{false, true} {
				id := fmt.Sprintf("vars-%v", forge)
				kit.startWaiting(varsDef, id)
				s := loadStoredRun(t, kit.rs, id)
				if string(s.doc["variables"]) != `{"approved":false}` || !partsSealed(s) {
					t.Fatalf("stored variables %s, sealed %s", s.doc["variables"], s.doc["partsSealed"])
				}
				if forge {
					s.doc["variables"] = json.RawMessage(`{"approved":true}`)
				}
				s.restoreWith(t, kit.rs, id, s.log)
				e := kit.engine()
				kit.inputs()
				_, cerr := e.CompleteTask(ctx, id, "approve", "", json.RawMessage(`{}`))
				res, err := e.Resume(ctx, id)
				n := len(kit.inputs())
				if !forge {
					if cerr != nil || err != nil || res.Status != engine.StatusCompleted || n != 0 {
						t.Fatalf("untouched run: %v %v %+v, worker called %d times", cerr, err, res, n)
					}
					continue
				}
				if !errors.Is(cerr, engine.ErrRecordNotAuthentic) || !errors.Is(err, engine.ErrRecordNotAuthentic) ||
					!strings.Contains(err.Error(), "variables") || n != 0 {
					t.Fatalf("forged variables: completion %v, resume %v %+v, worker called %d times", cerr, err, res, n)
				}
			}
		})
	}
}

const outcomeDef = `{"name":"outseal","tasks":[
  {"name":"sub","taskReferenceName":"sub","type":"SUB_WORKFLOW",
   "subWorkflowParam":{"name":"outseal_child","workflowDefinition":{"name":"outseal_child","version":1,"schemaVersion":2,
    "tasks":[{"name":"approve","taskReferenceName":"approve","type":"HUMAN"}],
    "outputParameters":{"approved":"${approve.output.approved}"}}}},
  {"name":"gate","taskReferenceName":"gate","type":"SWITCH","evaluatorType":"value-param","expression":"a",
   "inputParameters":{"a":"${sub.output.approved}"},
   "decisionCases":{"true":[{"name":"capture","taskReferenceName":"use","inputParameters":{"k":"${workflow.secrets.public_token}"}}]}}]}`

// A run's status, reason and output are attested too: someone who can
// write the run store marks a child that waits for an approval COMPLETED
// with the output of an approval given; the parent, resumed, would take
// that end and hand the next task its secret. It fails the SUB_WORKFLOW
// task instead, naming the child, and the task never runs. A child that
// really ended that way is taken, and a run whose head no longer says its
// outcome is sealed does not load. On memory, bolt and a real
// redis-server.
func TestStoredOutcomeIsAuthenticated(t *testing.T) {
	for name, mk := range visibleStores(t) {
		t.Run(name, func(t *testing.T) {
			kit := newSealKit(t, mk())
			ctx := context.Background()
			for _, forge := range []string{"", "output", "status", "flag"} {
				id := "outcome-" + forge
				kit.startWaiting(outcomeDef, id)
				child := gjson.Get(storedRecords(t, loadStoredRun(t, kit.rs, id))[0], "subWorkflowId").Str
				s := loadStoredRun(t, kit.rs, child)
				if !partsSealed(s) {
					t.Fatalf("child %s: outcome sealed %s", child, s.doc["partsSealed"])
				}
				e := kit.engine()
				switch forge {
				case "":
					// The approval given, the child resumed to its end.
					if _, err := e.CompleteTask(ctx, child, "approve", "", json.RawMessage(`{"approved":true}`)); err != nil {
						t.Fatal(err)
					}
					if res, err := e.Resume(ctx, child); err != nil || res.Status != engine.StatusCompleted {
						t.Fatalf("child: %v %+v", err, res)
					}
				case "output":
					// The child's stored end: COMPLETED with the approval
					// given, its seal that of the waiting run.
					s.doc["status"] = json.RawMessage(`"COMPLETED"`)
					s.doc["output"] = json.RawMessage(`{"approved":true}`)
					s.restoreWith(t, kit.rs, child, s.log)
				case "status":
					// Its status alone: the output of an end copied from
					// a child that ended so keeps its own seal.
					s.doc["status"] = json.RawMessage(`"COMPLETED"`)
					s.restoreWith(t, kit.rs, child, s.log)
				case "flag":
					delete(s.doc, "partsSealed")
					delete(s.doc, "partsSeal")
					s.doc["status"] = json.RawMessage(`"COMPLETED"`)
					s.doc["output"] = json.RawMessage(`{"approved":true}`)
					s.restoreWith(t, kit.rs, child, s.log)
				}
				kit.inputs()
				res, err := e.Resume(ctx, id)
				n := len(kit.inputs())
				if forge == "" {
					if err != nil || res.Status != engine.StatusCompleted || n != 1 {
						t.Fatalf("untouched child: %v %+v, worker called %d times", err, res, n)
					}
					continue
				}
				if err != nil || res.Status != engine.StatusFailed || n != 0 {
					t.Fatalf("forged child (%s): %v %+v, worker called %d times; want the run FAILED, the worker not called", forge, err, res, n)
				}
				why := engine.ErrRecordNotAuthentic.Error()
				if forge == "flag" {
					why = engine.ErrHeadNotAuthentic.Error()
				}
				if !strings.Contains(res.Reason, child) || !strings.Contains(res.Reason, why) {
					t.Fatalf("forged child (%s): reason %q, want it to name %s and say %q", forge, res.Reason, child, why)
				}
				view, err := e.Show(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				rec := gjson.GetBytes(view, "tasks.0.reasonForIncompletion").Str
				if !strings.Contains(rec, child) || !strings.Contains(rec, why) {
					t.Fatalf("forged child (%s): the SUB_WORKFLOW task's reason %q, want it to name %s and say %q", forge, rec, child, why)
				}
			}
		})
	}
}

const inputDef = `{"name":"inseal","tasks":[
  {"name":"approve","taskReferenceName":"approve","type":"HUMAN"},
  {"name":"capture","taskReferenceName":"use","inputParameters":{"to":"${workflow.input.dest}","k":"${workflow.secrets.public_token}"}}]}`

// A run's input is attested too: someone who can write the run store
// points the input a task takes its destination from elsewhere, and the
// task would send its secret there once the run resumes. The resume is
// refused, naming the input, and the task never runs; an untouched run
// resumes and its task gets the input it started with. On memory, bolt
// and a real redis-server.
func TestStoredInputIsAuthenticated(t *testing.T) {
	for name, mk := range visibleStores(t) {
		t.Run(name, func(t *testing.T) {
			kit := newSealKit(t, mk())
			ctx := context.Background()
			for _, forge := range []bool{false, true} {
				id := fmt.Sprintf("input-%v", forge)
				kit.startWaitingWith(inputDef, id, json.RawMessage(`{"dest":"https://ledger.example/in"}`))
				s := loadStoredRun(t, kit.rs, id)
				if !partsSealed(s) {
					t.Fatalf("stored input %s, sealed %s", s.doc["input"], s.doc["partsSealed"])
				}
				if forge {
					s.doc["input"] = json.RawMessage(`{"dest":"https://collector.example/in"}`)
				}
				s.restoreWith(t, kit.rs, id, s.log)
				e := kit.engine()
				kit.inputs()
				_, cerr := e.CompleteTask(ctx, id, "approve", "", json.RawMessage(`{}`))
				res, err := e.Resume(ctx, id)
				got := kit.inputs()
				if !forge {
					if cerr != nil || err != nil || res.Status != engine.StatusCompleted || len(got) != 1 || !strings.Contains(got[0], "https://ledger.example/in") {
						t.Fatalf("untouched run: %v %v %+v, worker got %q", cerr, err, res, got)
					}
					continue
				}
				if !errors.Is(cerr, engine.ErrRecordNotAuthentic) || !errors.Is(err, engine.ErrRecordNotAuthentic) ||
					!strings.Contains(err.Error(), "input") || len(got) != 0 {
					t.Fatalf("forged input: completion %v, resume %v %+v, worker got %q", cerr, err, res, got)
				}
			}
		})
	}
}

// A run an earlier wfrun stored carries one seal per part (inputSeal,
// variablesSeal, outcomeSeal and their flags in the head). Such a run
// still resumes, and its first write here seals its parts together
// (partsSeal) in their place; edited, its input or variables are refused
// as before, and the task after the approval never gets its secret. On
// memory, bolt and a real redis-server.
func TestStoredRunSealedPerPartByAnEarlierWfrun(t *testing.T) {
	for name, mk := range visibleStores(t) {
		t.Run(name, func(t *testing.T) {
			kit := newSealKit(t, mk())
			ctx := context.Background()
			for _, forge := range []string{"", "input", "variables"} {
				id := "earlier-" + forge
				kit.startWaitingWith(varsDef, id, json.RawMessage(`{"dest":"https://ledger.example/in"}`))
				s := loadStoredRun(t, kit.rs, id)
				if !partsSealed(s) {
					t.Fatalf("stored head %s", s.doc["partsSealed"])
				}
				if err := engine.SealAsEarlierWfrun(s.doc, id, keyring(t, 1)); err != nil {
					t.Fatal(err)
				}
				switch forge {
				case "input":
					s.doc["input"] = json.RawMessage(`{"dest":"https://collector.example/in"}`)
				case "variables":
					s.doc["variables"] = json.RawMessage(`{"approved":true}`)
				}
				s.restoreWith(t, kit.rs, id, s.log)
				if forge == "" && partsSealed(loadStoredRun(t, kit.rs, id)) {
					t.Fatal("the run was not put back as an earlier wfrun stored it")
				}
				e := kit.engine()
				kit.inputs()
				_, cerr := e.CompleteTask(ctx, id, "approve", "", json.RawMessage(`{}`))
				if forge != "" {
					res, err := e.Resume(ctx, id)
					if n := len(kit.inputs()); !errors.Is(cerr, engine.ErrRecordNotAuthentic) || !errors.Is(err, engine.ErrRecordNotAuthentic) ||
						!strings.Contains(err.Error(), forge) || n != 0 {
						t.Fatalf("forged %s: completion %v, resume %v %+v, worker called %d times", forge, cerr, err, res, n)
					}
					continue
				}
				if cerr != nil {
					t.Fatal(cerr)
				}
				if res, err := e.Resume(ctx, id); err != nil || res.Status != engine.StatusCompleted || len(kit.inputs()) != 0 {
					t.Fatalf("untouched run: %v %+v", err, res)
				}
				// Its writes here sealed the run's parts the new way; the
				// archive keeps them so.
				raw, archived, err := kit.rs.Load(ctx, id)
				if err != nil || !archived {
					t.Fatalf("load %s: archived %v, %v", id, archived, err)
				}
				a := &storedRun{}
				if err := json.Unmarshal(raw, &a.doc); err != nil {
					t.Fatal(err)
				}
				if !partsSealed(a) || string(a.doc["input"]) != `{"dest":"https://ledger.example/in"}` {
					t.Fatalf("archived: sealed %s, input %s", a.doc["partsSealed"], a.doc["input"])
				}
			}
		})
	}
}
