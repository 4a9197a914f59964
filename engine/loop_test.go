package engine_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/wfrun/wfrun/engine/runstore"
)

// keepLastN bounds what a long loop keeps: the loop's output and the
// stored run hold the last N iterations only, and expressions still read
// the latest iteration.
func TestDoWhileKeepLastN(t *testing.T) {
	rs := runstore.NewMemory()
	h := newHarness(t, rs)
	res := h.run(`{"name":"w","tasks":[{"name":"loop","taskReferenceName":"loop","type":"DO_WHILE",
	  "inputParameters":{"keepLastN":2},
	  "loopCondition":"$.loop['iteration'] < 10",
	  "loopOver":[{"name":"echo","taskReferenceName":"step","inputParameters":{"i":"${loop.output.iteration}"}}]}],
	  "outputParameters":{"last":"${step.output.echo.i}","loop":"${loop.output}"}}`, `{}`)
	if res.Status != "COMPLETED" {
		t.Fatalf("%s %s", res.Status, res.Reason)
	}
	jsonEq(t, res.Output, `{"last":10,"loop":{"iteration":10,"9":{"step":{"echo":{"i":9}}},"10":{"step":{"echo":{"i":10}}}}}`)
	if n := h.calls["echo"].Load(); n != 10 {
		t.Fatalf("step ran %d times", n)
	}
	doc, _, err := rs.Load(context.Background(), res.RunID)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Tasks []struct {
			Ref string `json:"referenceTaskName"`
		} `json:"tasks"`
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		t.Fatal(err)
	}
	var refs []string
	for _, tk := range d.Tasks {
		refs = append(refs, tk.Ref)
	}
	if len(refs) != 3 || refs[0] != "loop" || refs[1] != "step__9" || refs[2] != "step__10" {
		t.Fatalf("stored tasks %v, want the loop and the last 2 iterations", refs)
	}
}

// A loop's condition sees the iteration that ended, its own members and the
// loop's inputParameters resolved again.
func TestDoWhileConditionInput(t *testing.T) {
	h := newHarness(t, nil)
	res := h.run(`{"name":"w","tasks":[{"name":"loop","taskReferenceName":"loop","type":"DO_WHILE",
	  "inputParameters":{"limit":"${workflow.input.limit}","seen":"${loop.output.iteration}"},
	  "loopCondition":"$.loop['iteration'] < $.limit && $.step.echo.i == $.loop['iteration'] && $.loop[String($.seen)].step.echo.i == $.seen",
	  "loopOver":[{"name":"echo","taskReferenceName":"step","inputParameters":{"i":"${loop.output.iteration}"}}]}],
	  "outputParameters":{"n":"${loop.output.iteration}"}}`, `{"limit":4}`)
	if res.Status != "COMPLETED" {
		t.Fatalf("%s %s", res.Status, res.Reason)
	}
	jsonEq(t, res.Output, `{"n":4}`)
}
