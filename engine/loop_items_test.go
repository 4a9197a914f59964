package engine_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/wfrun/wfrun/engine"
)

// Which list a DO_WHILE iterates over, as conductor-oss's DoWhile reads it
// (core/.../execution/tasks/DoWhile.java, isListIteration and
// evaluateItemsList; DoWhileTest's testIsListIteration_*,
// testEvaluateItemsList_*, testItemsPriority_OSSFieldOverOrkesParameter):
//   - the top-level items template unless blank, then inputParameters._items
//     when the definition gives it as a non-blank string or a list;
//   - a resolved value that is not a list is a list of that one value;
//     null is an empty list (iteration 0, nothing scheduled); items
//     resolving to null falls back to _items;
//   - the output holds iteration, loopItem and loopIndex, no "item";
//   - inputParameters.items is an ordinary input: with a loopCondition the
//     loop runs on its condition alone (at least once). Only a loop with no
//     loopCondition, or a blank one, iterates over it (Orkes' list form,
//     its current item also named "item"): Conductor OSS refuses to
//     register a DO_WHILE without a loopCondition and runs one whose
//     condition is blank once, which is no loop over a list to keep.
func TestDoWhileItemsAsConductorReadsThem(t *testing.T) {
	body := `"loopOver":[{"name":"echo","taskReferenceName":"e","inputParameters":{"item":"${l.output.loopItem}","idx":"${l.output.loopIndex}"}}]`
	cases := []struct {
		name, loop, input string
		// the loop's output without its iteration entries
		want string
	}{
		{"items resolving to one value", `"items":"${workflow.input.one}",`, `{"one":{"k":1}}`,
			`{"iteration":1,"loopItem":{"k":1},"loopIndex":0}`},
		{"items of a constant text", `"items":"abc",`, `{}`,
			`{"iteration":1,"loopItem":"abc","loopIndex":0}`},
		{"items resolving to null", `"items":"${workflow.input.none}",`, `{}`,
			`{"iteration":0}`},
		{"items resolving to null falls back to _items", `"items":"${workflow.input.none}","inputParameters":{"_items":["x","y"]},`, `{}`,
			`{"iteration":2,"loopItem":"y","loopIndex":1}`},
		{"items before _items", `"items":"${workflow.input.a}","inputParameters":{"_items":"${workflow.input.b}"},`, `{"a":["a"],"b":["b","c"]}`,
			`{"iteration":1,"loopItem":"a","loopIndex":0}`},
		{"blank items is a loop over its condition", `"items":"  ","loopCondition":"$.l['iteration'] < 2",`, `{}`,
			`{"iteration":2}`},
		{"_items: no item member", `"inputParameters":{"_items":"${workflow.input.list}"},`, `{"list":["p","q"]}`,
			`{"iteration":2,"loopItem":"q","loopIndex":1}`},
		{"_items resolving to one value", `"inputParameters":{"_items":"${workflow.input.one}"},`, `{"one":7}`,
			`{"iteration":1,"loopItem":7,"loopIndex":0}`},
		{"_items given as an object is an input", `"inputParameters":{"_items":{"a":1}},"loopCondition":"$.l['iteration'] < 3",`, `{}`,
			`{"iteration":3}`},
		{"inputParameters.items with a loopCondition is an input", `"inputParameters":{"items":"${workflow.input.list}"},"loopCondition":"$.l['iteration'] < $.items.length + 1",`, `{"list":["p","q"]}`,
			`{"iteration":3}`},
		{"inputParameters.items, empty, with a loopCondition: one pass", `"inputParameters":{"items":[]},"loopCondition":"$.items.length > 0",`, `{}`,
			`{"iteration":1}`},
		{"inputParameters.items without a loopCondition (Orkes)", `"inputParameters":{"items":"${workflow.input.list}"},`, `{"list":["p","q"]}`,
			`{"iteration":2,"loopItem":"q","loopIndex":1,"item":"q"}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, nil)
			loop := c.loop
			if !strings.Contains(loop, "loopCondition") {
				// Registration requires one (isDoWhileTaskValid): a
				// blank one leaves the list alone to decide.
				loop = `"loopCondition":"",` + loop
			}
			res := h.run(`{"name":"w","tasks":[{"name":"l","taskReferenceName":"l","type":"DO_WHILE",`+loop+body+`}]}`, c.input)
			v := viewRun(t, h.e, res.RunID)
			if res.Status != engine.StatusCompleted {
				t.Fatalf("run %s %q", res.Status, res.Reason)
			}
			out := map[string]any{}
			for k, val := range v.Tasks[0].Output {
				if k == "iteration" || k == "loopItem" || k == "loopIndex" || k == "item" {
					out[k] = val
				}
			}
			b, _ := json.Marshal(out)
			jsonEq(t, b, c.want)
			if n := int(h.calls["echo"].Load()); n != len(v.Tasks)-1 || n != int(v.Tasks[0].Output["iteration"].(float64)) {
				t.Fatalf("echo ran %d times, %d tasks, output %v", n, len(v.Tasks), v.Tasks[0].Output)
			}
		})
	}
}

// Conductor's WorkflowTask.items is text: Jackson refuses a definition
// that gives it a list or an object, wherever the DO_WHILE is (a one-line
// error naming where here), and reads a number as its text.
func TestDoWhileTaskLevelItemsIsText(t *testing.T) {
	h := newHarness(t, nil)
	for _, c := range []struct{ items, loc string }{
		{`["a","b"]`, "/tasks/0/items"},
		{`{"a":1}`, "/tasks/0/items"},
	} {
		for _, def := range []string{
			`{"name":"w","tasks":[{"name":"l","taskReferenceName":"l","type":"DO_WHILE","loopCondition":"","items":` + c.items + `,"loopOver":[{"name":"echo","taskReferenceName":"e"}]}]}`,
			`{"name":"w","tasks":[{"name":"o","taskReferenceName":"o","type":"DO_WHILE","loopCondition":"","loopOver":[{"name":"l","taskReferenceName":"l","type":"DO_WHILE","items":` + c.items + `,"loopOver":[{"name":"echo","taskReferenceName":"e"}]}]}]}`,
		} {
			_, err := h.e.Parse([]byte(def))
			if err == nil || !strings.Contains(err.Error(), "/items") || !strings.Contains(err.Error(), "items is a") {
				t.Fatalf("items %s: %v", c.items, err)
			}
		}
	}
	res := h.run(`{"name":"w","tasks":[{"name":"l","taskReferenceName":"l","type":"DO_WHILE","loopCondition":"","items":5,
	  "loopOver":[{"name":"echo","taskReferenceName":"e","inputParameters":{"x":"${l.output.loopItem}"}}]}]}`, `{}`)
	v := viewRun(t, h.e, res.RunID)
	b, _ := json.Marshal(v.Tasks[0].Output)
	if res.Status != engine.StatusCompleted {
		t.Fatalf("run %s %q", res.Status, res.Reason)
	}
	jsonEq(t, b, `{"1":{"e":{"echo":{"x":"5"}}},"iteration":1,"loopIndex":0,"loopItem":"5"}`)
}

// A blank loopCondition is given (registration takes it) and evaluates to
// nothing true (ScriptEvaluator.evalBool of an empty script): with no
// items the loop runs once.
func TestDoWhileBlankConditionRunsOnce(t *testing.T) {
	for _, cond := range []string{``, `  `} {
		h := newHarness(t, nil)
		res := h.run(`{"name":"w","tasks":[{"name":"l","taskReferenceName":"l","type":"DO_WHILE","loopCondition":"`+cond+`",
		  "loopOver":[{"name":"echo","taskReferenceName":"e","inputParameters":{}}]}]}`, `{}`)
		v := viewRun(t, h.e, res.RunID)
		if res.Status != engine.StatusCompleted || h.calls["echo"].Load() != 1 || v.Tasks[0].Output["iteration"] != float64(1) {
			t.Fatalf("condition %q: run %s %q, echo ran %d times, output %v", cond, res.Status, res.Reason, h.calls["echo"].Load(), v.Tasks[0].Output)
		}
	}
}
