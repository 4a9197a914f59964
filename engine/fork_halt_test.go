package engine_test

import (
	"strings"
	"testing"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/tasks"
)

// A fork's branch that fails the run stops every fork of the run, as
// Conductor's decider does (no definition in conductor-oss fails a
// synchronous task or a SWITCH's evaluation in a fork, so these are
// written here):
//
//   - WorkflowExecutor.decide executes every synchronous task a decision
//     scheduled before DeciderService.decide schedules the next ones; the
//     decision after the one in which a task failed throws (retry()) before
//     anything more is scheduled, in a nested fork or an enclosing one
//     alike, and the run's tasks that did not end are cancelled;
//   - ForkJoinTaskMapper maps the FORK, every branch's first task and the
//     JOIN in one decision, whatever one of them does: a SWITCH whose
//     expression throws is recorded FAILED by SwitchTaskMapper, and the
//     other branches' first tasks and the JOIN are recorded with it; the
//     synchronous ones are executed, the ones that wait never start.
func TestForkBranchFailureStopsEveryFork(t *testing.T) {
	inline := func(ref string) string {
		return `{"name":"i","taskReferenceName":"` + ref + `","type":"INLINE","inputParameters":{"evaluatorType":"javascript","expression":"1"}}`
	}
	bad := `{"name":"bad","taskReferenceName":"bad","type":"INLINE","inputParameters":{"evaluatorType":"javascript","expression":"nope.x"}}`
	echo := func(ref string) string {
		return `{"name":"echo","taskReferenceName":"` + ref + `","inputParameters":{}}`
	}
	nested := func(inner0, inner1, outer1, innerJoin, outerJoin string) string {
		return `{"name":"w","tasks":[{"name":"fo","taskReferenceName":"fo","type":"FORK_JOIN","forkTasks":[
		  [{"name":"fi","taskReferenceName":"fi","type":"FORK_JOIN","forkTasks":[[` + inner0 + `],[` + inner1 + `]]},
		   {"name":"ji","taskReferenceName":"ji","type":"JOIN","joinOn":[` + innerJoin + `]}],
		  [` + outer1 + `]]},
		  {"name":"jo","taskReferenceName":"jo","type":"JOIN","joinOn":[` + outerJoin + `]}]}`
	}
	badSwitch := `{"name":"s","taskReferenceName":"s","type":"SWITCH","evaluatorType":"javascript","expression":"nope.x","inputParameters":{},
	  "decisionCases":{"a":[` + echo("se") + `]}}`
	cases := []struct {
		name, def string
		want      string // ref:type:status, in order
	}{
		// Pass 1: fo fi i1 bad ji o1 jo; i1, bad and o1 are executed; the
		// next decision fails the run: neither i2 nor o2 is scheduled.
		{"in a nested fork", nested(inline("i1")+`,`+inline("i2"), bad, inline("o1")+`,`+inline("o2"), `"i2","bad"`, `"ji","o2"`),
			"fo:FORK:COMPLETED fi:FORK:COMPLETED i1:INLINE:COMPLETED bad:INLINE:FAILED_WITH_TERMINAL_ERROR ji:JOIN:CANCELED o1:INLINE:COMPLETED jo:JOIN:CANCELED"},
		// The failing branch is the enclosing fork's: the nested fork's i2
		// is not scheduled either.
		{"beside a nested fork", nested(inline("i1")+`,`+inline("i2"), inline("k1"), bad, `"i2","k1"`, `"ji","bad"`),
			"fo:FORK:COMPLETED fi:FORK:COMPLETED i1:INLINE:COMPLETED k1:INLINE:COMPLETED ji:JOIN:CANCELED bad:INLINE:FAILED_WITH_TERMINAL_ERROR jo:JOIN:CANCELED"},
		// The SWITCH fails as it is mapped: b1 and c1 are mapped with it,
		// c1 is executed, b1 never starts.
		{"a SWITCH that fails to evaluate", `{"name":"w","tasks":[{"name":"f","taskReferenceName":"f","type":"FORK_JOIN","forkTasks":[
		  [` + badSwitch + `],[` + echo("b1") + `],[` + inline("c1") + `]]},{"name":"j","taskReferenceName":"j","type":"JOIN","joinOn":["s","b1","c1"]}]}`,
			"f:FORK:COMPLETED s:SWITCH:FAILED b1:echo:CANCELED c1:INLINE:COMPLETED j:JOIN:CANCELED"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, nil, engine.WithRegistry(tasks.NewDefaultRegistry()))
			d, err := h.e.Parse([]byte(c.def))
			if err != nil {
				t.Fatal(err)
			}
			// Repeated: goroutine timing must not show.
			for i := range 30 {
				res := startRun(t, h.e, d, `{}`)
				v := viewRun(t, h.e, res.RunID)
				var got []string
				for _, tk := range v.Tasks {
					got = append(got, tk.Ref+":"+tk.TaskType+":"+tk.Status)
				}
				if g := strings.Join(got, " "); res.Status != engine.StatusFailed || g != c.want {
					t.Fatalf("run %d: %s %q, tasks\n %s\nwant\n %s", i, res.Status, res.Reason, g, c.want)
				}
				for j, tk := range v.Tasks {
					if tk.Seq != j+1 {
						t.Fatalf("run %d: %s has seq %d", i, tk.Ref, tk.Seq)
					}
				}
			}
			if n := h.calls["echo"].Load(); n != 0 {
				t.Fatalf("echo ran %d times", n)
			}
		})
	}
}
