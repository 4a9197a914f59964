package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/runsecrets"
	"github.com/wfrun/wfrun/tasks"
)

// logDef registers a new value in each of three iterations (a `_secrets`
// leaf of the step's output), then waits for a HUMAN approval, then
// echoes the second value in clear: the echo is masked only when the
// masker holds the value.
const logDef = `{"name":"runlog","tasks":[{"name":"loop","taskReferenceName":"loop","type":"DO_WHILE",
  "loopCondition":"if ($.loop['iteration'] < 3) { true; } else { false; }",
  "loopOver":[{"name":"step","taskReferenceName":"step","type":"INLINE",
    "inputParameters":{"evaluatorType":"javascript","i":"${loop.output.iteration}","expression":"({_secrets: {tok: 'log-token-value-' + $.i}})"}}]},
  {"name":"approve","taskReferenceName":"approve","type":"HUMAN"},
  {"name":"echo","taskReferenceName":"echo","type":"INLINE","inputParameters":{"evaluatorType":"javascript","expression":"'echo log-token-' + 'value-2 legacy-only-' + 'value-42'"}}],
 "outputParameters":{"echo":"${echo.output.result}"}}`

func logEngine(t *testing.T, rs runstore.Store, events func(engine.Event), opts ...engine.Option) *engine.Engine {
	t.Helper()
	e, err := engine.New(append([]engine.Option{engine.WithRunStore(rs), engine.WithKeyring(keyring(t, 1)), engine.WithPollInterval(5 * time.Millisecond),
		engine.WithRegistry(tasks.NewDefaultRegistry()), engine.WithEvents(events)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// startLogRun starts logDef as run id and interrupts it (the process goes
// away) once it waits for the approval.
func startLogRun(t *testing.T, rs runstore.Store, id string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e := logEngine(t, rs, func(ev engine.Event) {
		if ev.Kind == engine.EventWaiting {
			cancel()
		}
	})
	d, err := e.Parse([]byte(logDef))
	if err != nil {
		t.Fatal(err)
	}
	if res, err := e.Start(ctx, d, nil, engine.WithRunID(id)); !errors.Is(err, engine.ErrInterrupted) || res.Status != engine.StatusRunning {
		t.Fatalf("want interrupted, got %v %+v", err, res)
	}
}

// storedRun is a run's primary record as Load gives it, split so that it
// can be written back (Restore) with its log changed.
type storedRun struct {
	doc map[string]json.RawMessage
	log []json.RawMessage
}

func loadStoredRun(t *testing.T, rs runstore.Store, id string) *storedRun {
	t.Helper()
	raw, archived, err := rs.Load(context.Background(), id)
	if err != nil || archived {
		t.Fatalf("load %s: archived %v, %v", id, archived, err)
	}
	s := &storedRun{}
	if err := json.Unmarshal(raw, &s.doc); err != nil {
		t.Fatal(err)
	}
	if l, ok := s.doc["runLog"]; ok { // a run that registered no value has none
		if err := json.Unmarshal(l, &s.log); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// restoreWith writes s back as run id's record, with log as its log.
func (s *storedRun) restoreWith(t *testing.T, rs runstore.Store, id string, log []json.RawMessage) {
	t.Helper()
	head := map[string]json.RawMessage{}
	for k, v := range s.doc {
		head[k] = v
	}
	var taskDocs []json.RawMessage
	if err := json.Unmarshal(s.doc["tasks"], &taskDocs); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"input", "output", "variables", "tasks", "workflowDefinition", "runLog"} {
		delete(head, k)
	}
	hb, err := json.Marshal(head)
	if err != nil {
		t.Fatal(err)
	}
	var hash string
	if err := json.Unmarshal(s.doc["definitionHash"], &hash); err != nil {
		t.Fatal(err)
	}
	ch := &runstore.Change{Summary: runstore.Summary{WorkflowType: "runlog", Status: engine.StatusRunning}, Head: hb,
		Input: s.doc["input"], Output: s.doc["output"], Variables: s.doc["variables"], DefinitionHash: hash, Definition: s.doc["workflowDefinition"]}
	for _, td := range taskDocs {
		var seq struct {
			Seq int `json:"seq"`
		}
		if err := json.Unmarshal(td, &seq); err != nil {
			t.Fatal(err)
		}
		ch.Tasks = append(ch.Tasks, runstore.Task{Seq: seq.Seq, Doc: td})
	}
	for i, e := range log {
		ch.Log = append(ch.Log, runstore.LogEntry{Pos: i, Doc: e})
	}
	if err := rs.Restore(context.Background(), id, ch); err != nil {
		t.Fatal(err)
	}
}

// resumeLogRun approves and resumes run id in another process.
func resumeLogRun(t *testing.T, rs runstore.Store, id string, opts ...engine.Option) (*engine.Result, error) {
	t.Helper()
	e := logEngine(t, rs, nil, opts...)
	if _, err := e.CompleteTask(context.Background(), id, "approve", "", json.RawMessage(`{}`)); err != nil {
		if errors.Is(err, engine.ErrHeadNotAuthentic) {
			return nil, err // a run that does not verify takes no completion
		}
		t.Fatal(err)
	}
	return e.Resume(context.Background(), id)
}

// The values a run registered are in its log, sealed, one entry per write
// that registered some, and the head holds neither them nor mock counts; a
// run resumed by another process masks them as the uninterrupted run did
// (TestResumeMasksEveryValueTheRunUsed covers values only the log holds).
func TestRunLogRestoresTheMaskerOnResume(t *testing.T) {
	rs := runstore.NewMemory()
	startLogRun(t, rs, "log-1")
	s := loadStoredRun(t, rs, "log-1")
	var n int
	if err := json.Unmarshal(s.doc["runLogLength"], &n); err != nil || n < 2 || n != len(s.log) {
		t.Fatalf("runLogLength %s, %d entries", s.doc["runLogLength"], len(s.log))
	}
	for _, k := range []string{"registeredValues", "mocksUsed"} {
		if s.doc[k] != nil {
			t.Fatalf("the head still holds %s", k)
		}
	}
	raw, _, _ := rs.Load(context.Background(), "log-1")
	for _, v := range []string{"log-token-value-1", "log-token-value-2", "log-token-value-3"} {
		if strings.Contains(string(raw), v) {
			t.Fatalf("the stored run holds %s in clear: %s", v, raw)
		}
	}
	res, err := resumeLogRun(t, rs, "log-1")
	if err != nil || res.Status != engine.StatusCompleted {
		t.Fatalf("resume: %v %+v", err, res)
	}
	if strings.Contains(string(res.Output), "log-token-value-2") {
		t.Fatalf("the resumed run did not mask a value registered before: %s", res.Output)
	}
}

// A run's log is authenticated, not believed: an entry copied from another
// run or from another position, edited, cut short, or missing fails the
// resume, naming the log; the same record written back as it was resumes.
func TestRunLogEntriesAreBoundToTheirRunAndPosition(t *testing.T) {
	rs := runstore.NewMemory()
	startLogRun(t, rs, "log-other")
	other := loadStoredRun(t, rs, "log-other")
	edit := func(e json.RawMessage, f func(sealed string) string) json.RawMessage {
		var m map[string]string
		if err := json.Unmarshal(e, &m); err != nil || m["values"] == "" {
			t.Fatalf("entry %s: %v", e, err)
		}
		m["values"] = f(m["values"])
		b, _ := json.Marshal(m)
		return b
	}
	cases := []struct {
		name string
		log  func(log []json.RawMessage) []json.RawMessage
		ok   bool
	}{
		{"as it was", func(log []json.RawMessage) []json.RawMessage { return log }, true},
		{"copied from another run", func(log []json.RawMessage) []json.RawMessage {
			log[0] = other.log[0]
			return log
		}, false},
		{"reordered", func(log []json.RawMessage) []json.RawMessage {
			log[0], log[1] = log[1], log[0]
			return log
		}, false},
		{"edited", func(log []json.RawMessage) []json.RawMessage {
			log[1] = edit(log[1], func(s string) string { return s[:len(s)-6] + strings.Repeat("A", 4) + s[len(s)-2:] })
			return log
		}, false},
		{"cut short", func(log []json.RawMessage) []json.RawMessage {
			log[1] = edit(log[1], func(s string) string { return s[:len(s)-8] })
			return log
		}, false},
		{"missing its newest entry", func(log []json.RawMessage) []json.RawMessage { return log[:len(log)-1] }, false},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			id := "log-" + string(rune('a'+i))
			startLogRun(t, rs, id)
			s := loadStoredRun(t, rs, id)
			s.restoreWith(t, rs, id, c.log(append([]json.RawMessage(nil), s.log...)))
			res, err := resumeLogRun(t, rs, id)
			if c.ok {
				if err != nil || res.Status != engine.StatusCompleted || strings.Contains(string(res.Output), "log-token-value-2") {
					t.Fatalf("resume: %v %+v", err, res)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), "runLog") {
				t.Fatalf("resumed with a log %s: %v", c.name, err)
			}
		})
	}
}

// A run stored by an earlier wfrun keeps the values it registered in its
// head ("registeredValues"): it resumes with them, and its first write
// moves them to the log.
func TestRunLogReadsAnEarlierHead(t *testing.T) {
	rs := &headStore{Store: runstore.NewMemory()}
	startLogRun(t, rs, "log-legacy")
	s := loadStoredRun(t, rs, "log-legacy")
	sec, err := runsecrets.New("log-legacy", nil, keyring(t, 1))
	if err != nil {
		t.Fatal(err)
	}
	sec.RegisterValues("legacy-only-value-42")
	journal, err := sec.Journal()
	if err != nil {
		t.Fatal(err)
	}
	s.doc["registeredValues"], _ = json.Marshal(journal)
	delete(s.doc, "runLogLength")
	delete(s.doc, "runLogSeal")
	delete(s.doc, "headSeal") // an earlier wfrun sealed no head
	s.restoreWith(t, rs.Store, "log-legacy", nil)
	rs.mu.Lock()
	rs.changes = nil
	rs.mu.Unlock()
	if _, err := resumeLogRun(t, rs, "log-legacy"); !errors.Is(err, engine.ErrHeadNotAuthentic) {
		t.Fatalf("an unsealed head resumed without WithUnsealedHeads: %v", err)
	}
	res, err := resumeLogRun(t, rs, "log-legacy", engine.WithUnsealedHeads())
	if err != nil || res.Status != engine.StatusCompleted {
		t.Fatalf("resume: %v %+v", err, res)
	}
	if strings.Contains(string(res.Output), "legacy-only-value-42") {
		t.Fatalf("the value of the earlier head's journal is not masked: %s", res.Output)
	}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if len(rs.changes) == 0 || len(rs.changes[0].Log) == 0 {
		t.Fatal("the resumed run's first write carries no log")
	}
	for i, c := range rs.changes {
		if strings.Contains(string(c.Head), "registeredValues") {
			t.Fatalf("write %d still carries registeredValues in the head", i)
		}
		if !strings.Contains(string(c.Head), `"headSeal"`) {
			t.Fatalf("write %d does not seal the head", i)
		}
	}
}

// stripHeadSeal makes s's head one a wfrun wrote before heads were sealed:
// no headSeal, and the count of its log entries sealed on its own
// (runLogSeal), as that wfrun sealed it (under keyring(t, 1)).
func stripHeadSeal(t *testing.T, s *storedRun) {
	t.Helper()
	delete(s.doc, "headSeal")
	if n := string(s.doc["runLogLength"]); n == "" || n == "0" {
		return
	}
	var id string
	if err := json.Unmarshal(s.doc["workflowId"], &id); err != nil {
		t.Fatal(err)
	}
	sealCount(t, s, id)
}

// sealCount gives s's head its count of log entries sealed on its own
// (runLogSeal) to run id, as a wfrun before heads were sealed wrote it
// (under keyring(t, 1)).
func sealCount(t *testing.T, s *storedRun, id string) {
	t.Helper()
	sec, err := runsecrets.New(id, nil, keyring(t, 1))
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := sec.Seal(s.doc["runLogLength"], "/runLogLength")
	if err != nil {
		t.Fatal(err)
	}
	s.doc["runLogSeal"], _ = json.Marshal(sealed)
}

// The head's count of log entries is attested by the head's seal: a count
// edited (to 0: every value dropped; or cut with the log), a head whose
// seal was stripped, or one carrying another run's seal fails the resume,
// and the view of the run (whose masker is built from its log) too; the
// run masks what it registered or does not resume at all. The head
// carries no seal of the count of its own (runLogSeal, an earlier wfrun's:
// TestRunLogReadsAnEarlierCountSeal).
func TestRunLogLengthIsSealed(t *testing.T) {
	rs := runstore.NewMemory()
	startLogRun(t, rs, "len-other")
	other := loadStoredRun(t, rs, "len-other")
	cases := []struct {
		name string
		edit func(s *storedRun) []json.RawMessage
	}{
		{"count set to 0", func(s *storedRun) []json.RawMessage {
			s.doc["runLogLength"] = json.RawMessage("0")
			return s.log
		}},
		{"count and log dropped", func(s *storedRun) []json.RawMessage {
			delete(s.doc, "runLogLength")
			return nil
		}},
		{"count cut with the log", func(s *storedRun) []json.RawMessage {
			s.doc["runLogLength"] = json.RawMessage("1")
			return s.log[:1]
		}},
		{"head seal stripped", func(s *storedRun) []json.RawMessage {
			delete(s.doc, "headSeal")
			return s.log
		}},
		{"seal of another run", func(s *storedRun) []json.RawMessage {
			s.doc["headSeal"] = other.doc["headSeal"]
			return s.log
		}},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			id := "len-" + string(rune('a'+i))
			startLogRun(t, rs, id)
			s := loadStoredRun(t, rs, id)
			if s.doc["runLogSeal"] != nil || s.doc["headSeal"] == nil || string(s.doc["runLogLength"]) == "0" {
				t.Fatalf("head: runLogSeal %s, headSeal %s, runLogLength %s", s.doc["runLogSeal"], s.doc["headSeal"], s.doc["runLogLength"])
			}
			log := c.edit(s)
			s.restoreWith(t, rs, id, log)
			// A view builds its masker from the log it finds (none:
			// nothing to mask with, headview.go).
			if view, err := logEngine(t, rs, nil).Show(context.Background(), id); err == nil && log != nil {
				t.Fatalf("shown: %s", view)
			}
			res, err := resumeLogRun(t, rs, id)
			if err == nil || !strings.Contains(err.Error(), "runLog") && !errors.Is(err, engine.ErrHeadNotAuthentic) {
				out := ""
				if res != nil {
					out = string(res.Output)
				}
				t.Fatalf("resumed: %v (output %s)", err, out)
			}
		})
	}
}

// A head an earlier wfrun wrote carries the count of log entries sealed on
// its own too (runLogSeal): it is checked as before — one of another run
// fails the resume, naming the log — and, when it holds, the run resumes
// and its writes here carry no runLogSeal (the head's seal attests the
// count).
func TestRunLogReadsAnEarlierCountSeal(t *testing.T) {
	rs := &headStore{Store: runstore.NewMemory()}
	for _, own := range []bool{true, false} {
		id := fmt.Sprintf("count-seal-%v", own)
		startLogRun(t, rs, id)
		s := loadStoredRun(t, rs, id)
		sealFor := id
		if !own {
			sealFor = "another-run"
		}
		sealCount(t, s, sealFor)
		s.restoreWith(t, rs.Store, id, s.log)
		rs.mu.Lock()
		rs.changes = nil
		rs.mu.Unlock()
		res, err := resumeLogRun(t, rs, id)
		if !own {
			if err == nil || !strings.Contains(err.Error(), "runLogSeal") {
				t.Fatalf("a count sealed for another run resumed: %v %+v", err, res)
			}
			continue
		}
		if err != nil || res.Status != engine.StatusCompleted {
			t.Fatalf("resume: %v %+v", err, res)
		}
		rs.mu.Lock()
		if len(rs.changes) == 0 {
			t.Fatal("the resumed run wrote nothing")
		}
		for i, c := range rs.changes {
			if strings.Contains(string(c.Head), "runLogSeal") {
				t.Fatalf("write %d still carries runLogSeal", i)
			}
		}
		rs.mu.Unlock()
	}
}
