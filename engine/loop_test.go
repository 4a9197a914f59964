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

// loopCondition gets what Conductor's DoWhile.evaluateCondition gives it:
// under the loop's ref its whole output — every kept iteration by number —
// under each loop-over task's ref its latest output (also from an earlier
// iteration), and over items the current loopIndex and loopItem. Each
// condition holds only if the input is as Conductor's; a condition that
// does not hold (or throws) ends the loop early, and the iteration count
// shows it.
func TestDoWhileConditionSeesConductorInput(t *testing.T) {
	echo := func(in string) string {
		return `{"name":"echo","taskReferenceName":"step","inputParameters":` + in + `}`
	}
	cases := []struct {
		name, loop, want string
	}{
		{"earlier iteration by number", `"loopCondition":"$.loop['iteration'] < 4 && $.loop['1'].step.echo.i == 1 && ($.loop['iteration'] == 1 || $.loop[String($.loop['iteration'] - 1)].step.echo.i == $.loop['iteration'] - 1)",
		  "loopOver":[` + echo(`{"i":"${loop.output.iteration}"}`) + `]`, `{"n":4}`},
		{"every kept iteration, in order", `"loopCondition":"$.loop['iteration'] < 3 || Object.keys($.loop).join() != '1,2,3,iteration'",
		  "loopOver":[` + echo(`{"i":"${loop.output.iteration}"}`) + `]`, `{"n":3}`},
		{"keepLastN hides dropped iterations", `"inputParameters":{"keepLastN":2},
		  "loopCondition":"$.loop['iteration'] < 6 && $.loop[String($.loop['iteration'] - 2)] === undefined && ($.loop['iteration'] == 1 || $.loop[String($.loop['iteration'] - 1)] !== undefined) && Object.keys($.loop).length == Math.min($.loop['iteration'], 2) + 1",
		  "loopOver":[` + echo(`{"i":"${loop.output.iteration}"}`) + `]`, `{"n":6}`},
		{"graaljs map methods", `"evaluatorType":"graaljs","loopCondition":"$.loop.get('iteration') < 3 && $.loop.containsKey('1') && $.loop.get('1').get('step').get('echo').get('i') == 1",
		  "loopOver":[` + echo(`{"i":"${loop.output.iteration}"}`) + `]`, `{"n":3}`},
		{"expr reads an earlier iteration", `"evaluatorType":"expr","loopCondition":"$.loop['iteration'] < 3 && $.loop['1'].step.echo.i == 1",
		  "loopOver":[` + echo(`{"i":"${loop.output.iteration}"}`) + `]`, `{"n":3}`},
		{"latest output of a task from an earlier iteration", `"loopCondition":"$.loop['iteration'] < 3 && $.first.echo.once == 1 && $.step.echo.i == $.loop['iteration']",
		  "loopOver":[{"name":"pick","taskReferenceName":"pick","type":"SWITCH","evaluatorType":"javascript","expression":"$.i == 1 ? 'first' : 'other'",
		    "inputParameters":{"i":"${loop.output.iteration}"},
		    "decisionCases":{"first":[{"name":"echo","taskReferenceName":"first","inputParameters":{"once":1}}]}},
		    ` + echo(`{"i":"${loop.output.iteration}"}`) + `]`, `{"n":3}`},
		{"items: loopIndex and loopItem at the top", `"items":"${workflow.input.list}",
		  "loopCondition":"$.loopItem != 'stop' && $.loopIndex == $.loop['iteration'] - 1 && $.loop['loopItem'] == $.loopItem",
		  "loopOver":[` + echo(`{"i":"${loop.output.iteration}"}`) + `]`, `{"n":3}`},
		{"expressions read members of the running loop", `"loopCondition":"$.loop['iteration'] < 3",
		  "loopOver":[` + echo(`{"i":"${loop.output.iteration}","first":"${loop.output.1.step.echo.i}","it":"${loop.iteration}","status":"${loop.status}","n":"${loop.output}"}`) + `]`,
			`{"n":3}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, nil)
			res := h.run(`{"name":"w","tasks":[{"name":"loop","taskReferenceName":"loop","type":"DO_WHILE",`+c.loop+`}],
			  "outputParameters":{"n":"${loop.output.iteration}"}}`, `{"list":["go","go","stop","go"]}`)
			if res.Status != "COMPLETED" {
				t.Fatalf("%s %s", res.Status, res.Reason)
			}
			jsonEq(t, res.Output, c.want)
		})
	}
}

// While a loop runs, a task in it reads the loop's members from the loop's
// state: its own iteration, an earlier iteration's entry, the record's
// fields and the whole output as it stands.
func TestDoWhileRunningLoopReferences(t *testing.T) {
	h := newHarness(t, nil)
	res := h.run(`{"name":"w","tasks":[{"name":"loop","taskReferenceName":"loop","type":"DO_WHILE",
	  "loopCondition":"$.loop['iteration'] < 3",
	  "loopOver":[{"name":"echo","taskReferenceName":"step","inputParameters":{"i":"${loop.output.iteration}",
	    "first":"${loop.output.1.step.echo.i}","prev":"${loop.output.2}","it":"${loop.iteration}","status":"${loop.status}",
	    "whole":"${loop.output}","missing":"${loop.output.9.step}","text":"at ${loop.output.iteration} of ${loop.taskType}"}}]}],
	  "outputParameters":{"last":"${step.output.echo}"}}`, `{}`)
	if res.Status != "COMPLETED" {
		t.Fatalf("%s %s", res.Status, res.Reason)
	}
	jsonEq(t, res.Output, `{"last":{"i":3,"first":1,"prev":{"step":{"echo":{"i":2,"first":1,"prev":null,"it":2,"status":"IN_PROGRESS",
	  "whole":{"iteration":2,"1":{"step":{"echo":{"i":1,"first":null,"prev":null,"it":1,"status":"IN_PROGRESS","whole":{"iteration":1},"missing":null,"text":"at 1 of DO_WHILE"}}}},
	  "missing":null,"text":"at 2 of DO_WHILE"}}},"it":3,"status":"IN_PROGRESS",
	  "whole":{"iteration":3,"1":{"step":{"echo":{"i":1,"first":null,"prev":null,"it":1,"status":"IN_PROGRESS","whole":{"iteration":1},"missing":null,"text":"at 1 of DO_WHILE"}}},
	    "2":{"step":{"echo":{"i":2,"first":1,"prev":null,"it":2,"status":"IN_PROGRESS",
	      "whole":{"iteration":2,"1":{"step":{"echo":{"i":1,"first":null,"prev":null,"it":1,"status":"IN_PROGRESS","whole":{"iteration":1},"missing":null,"text":"at 1 of DO_WHILE"}}}},
	      "missing":null,"text":"at 2 of DO_WHILE"}}}},
	  "missing":null,"text":"at 3 of DO_WHILE"}}`)
}
