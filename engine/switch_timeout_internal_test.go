package engine

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/tasks/eval"
)

// A SWITCH whose javascript or graaljs expression its time limit stops is
// FAILED as SwitchTaskMapper records it, with the message of
// ScriptEvaluator's NonTransientException: "Script not evaluated within N
// seconds, interrupted." (N the limit in seconds; 1 here, set on the
// task's program), and the run fails with it.
func TestSwitchScriptTimeoutReadsAsScriptEvaluator(t *testing.T) {
	for _, typ := range []string{eval.TypeJavaScript, eval.TypeGraalJS} {
		t.Run(typ, func(t *testing.T) {
			ctx := context.Background()
			rs := runstore.NewMemory()
			e, err := New(WithRunStore(rs))
			if err != nil {
				t.Fatal(err)
			}
			def, err := e.Parse([]byte(`{"name":"slow","tasks":[{"name":"sw","taskReferenceName":"sw","type":"SWITCH",
			  "evaluatorType":"` + typ + `","expression":"while(true){}","inputParameters":{},
			  "decisionCases":{"a":[{"name":"x","taskReferenceName":"x","type":"SET_VARIABLE","inputParameters":{"v":1}}]}}]}`))
			if err != nil {
				t.Fatal(err)
			}
			ev, err := eval.New(typ, eval.WithTimeout(time.Second))
			if err != nil {
				t.Fatal(err)
			}
			if def.Tasks[0].program, err = ev.Compile("while(true){}"); err != nil {
				t.Fatal(err)
			}
			res, err := e.Start(ctx, def, nil)
			if err != nil {
				t.Fatal(err)
			}
			const want = "Script not evaluated within 1 seconds, interrupted."
			if res.Status != StatusFailed || !strings.Contains(res.Reason, want) {
				t.Fatalf("run %s %q", res.Status, res.Reason)
			}
			doc, _, err := rs.Load(ctx, res.RunID)
			if err != nil {
				t.Fatal(err)
			}
			task := gjson.GetBytes(doc, "tasks.0")
			if task.Get("referenceTaskName").String() != "sw" || task.Get("status").String() != TaskFailed ||
				task.Get("reasonForIncompletion").String() != want || gjson.GetBytes(doc, "tasks.#").Int() != 1 {
				t.Fatalf("tasks %s", gjson.GetBytes(doc, "tasks").Raw)
			}
		})
	}
}
