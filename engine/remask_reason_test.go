package engine_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/tasks"
)

// reasonRun runs an optional INLINE task that throws msg (a JavaScript
// expression), then a task that registers $.v (a `_secrets` leaf), and
// returns the archived run and the first task's stored reason.
func reasonRun(t *testing.T, msg, v string) (archived []byte, reason string) {
	t.Helper()
	def := fmt.Sprintf(`{"name":"reasons","tasks":[
	 {"name":"a","taskReferenceName":"a","type":"INLINE","optional":true,"inputParameters":{"evaluatorType":"javascript","v":"${workflow.input.v}","expression":"(function(){ throw new Error(%s); })()"}},
	 {"name":"b","taskReferenceName":"b","type":"INLINE","inputParameters":{"evaluatorType":"javascript","v":"${workflow.input.v}","expression":"(function(){ return {_secrets: {t: $.v}}; })()"}}]}`, msg)
	rs := runstore.NewMemory()
	e, err := engine.New(engine.WithRunStore(rs), engine.WithRegistry(tasks.NewDefaultRegistry()))
	if err != nil {
		t.Fatal(err)
	}
	d, err := e.Parse([]byte(def))
	if err != nil {
		t.Fatal(err)
	}
	in, _ := json.Marshal(map[string]any{"v": v})
	res, err := e.Start(context.Background(), d, in)
	if err != nil || res.Status != engine.StatusCompleted {
		t.Fatalf("run: %v %+v", err, res)
	}
	doc, _, err := rs.Load(context.Background(), res.RunID)
	if err != nil {
		t.Fatal(err)
	}
	var run struct {
		Tasks []struct {
			Reason string `json:"reasonForIncompletion"`
		} `json:"tasks"`
	}
	if err := json.Unmarshal(doc, &run); err != nil || len(run.Tasks) == 0 {
		t.Fatalf("archived run: %v", err)
	}
	return doc, run.Tasks[0].Reason
}

// A task's failure reason quoting a value the run registers later is
// masked with it in the archived run — whole, and where the reason was
// cut (an excerpt ending with the head of the value).
func TestReasonsAreMaskedWithValuesRegisteredLater(t *testing.T) {
	const v = "tokLATER-9f8e7d6c5b4a"
	t.Run("whole", func(t *testing.T) {
		doc, _ := reasonRun(t, `'bad ' + $.v`, v)
		if bytes.Contains(doc, []byte(v)) {
			t.Fatalf("archived run holds the value registered later")
		}
		if !bytes.Contains(doc, []byte(`Error: bad ***`)) {
			t.Fatalf("reason not found masked: the test tests nothing")
		}
	})
	t.Run("cut", func(t *testing.T) {
		// Where is the reason cut? A probe of x's, cut like any reason.
		_, probe := reasonRun(t, `'x'.repeat(6000)`, "unrelated-value-0000")
		if !strings.HasSuffix(probe, "x…") {
			t.Fatalf("probe reason not cut: %q", probe)
		}
		xs := len(regexp.MustCompile(`x+…$`).FindString(probe)) - len("…")
		// The cut falls 9 bytes into the value.
		doc, reason := reasonRun(t, fmt.Sprintf(`'x'.repeat(%d) + $.v + 'yyyy'.repeat(1000)`, xs-9), v)
		if !strings.HasSuffix(reason, "x***…") {
			t.Fatalf("reason ends %q", reason[max(len(reason)-30, 0):])
		}
		if bytes.Contains(doc, []byte(v[:4])) {
			i := bytes.Index(doc, []byte(v[:4]))
			t.Fatalf("archived run holds the head of the value: …%s", bytes.ReplaceAll(doc[max(i-20, 0):i+4], []byte(v[:4]), []byte("<head>")))
		}
	})
}
