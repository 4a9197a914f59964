package engine_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/interpolate"
)

// WaitTaskMapper.setCallbackAfter reads a WAIT's duration and until as text
// (toString): a number, an object or a bool is a format it cannot read, and
// the WAIT fails FAILED_WITH_TERMINAL_ERROR rather than waiting for ever
// (an until in the mapper's words); written so in the definition, it is
// refused when the definition is loaded (TestWaitInputsCheckedAtLoad). A
// secret resolved into until shows
// only as *** in the reason, the stored run and the events.
func TestWaitUntilNotText(t *testing.T) {
	const secretValue = "sekrit-until-4711"
	cases := []struct {
		name, params, input string
		reason              string // the WAIT's reasonForIncompletion
	}{
		{"number until", `{"until":"${workflow.input.v}"}`, `{"v":1796000000000}`,
			"Invalid/Unsupported Wait Until format.  Provided: 1796000000000"},
		{"object until", `{"until":"${workflow.input.v}"}`, `{"v":{"at":"2030-01-01 10:00"}}`,
			`Invalid/Unsupported Wait Until format.  Provided: {"at":"2030-01-01 10:00"}`},
		{"bool until", `{"until":"${workflow.input.v}"}`, `{"v":true}`,
			"Invalid/Unsupported Wait Until format.  Provided: true"},
		{"secret object until", `{"until":"${workflow.secrets.when}"}`, `{}`,
			`Invalid/Unsupported Wait Until format.  Provided: ***`},
		{"number duration", `{"duration":"${workflow.input.v}"}`, `{"v":30}`,
			`invalid duration "30": invalid wait time: "30": number "30" has no unit (d, h, m, s)`},
		{"object duration", `{"duration":"${workflow.input.v}"}`, `{"v":{"s":30}}`,
			`invalid duration "{\"s\":30}": invalid wait time: "{\"s\":30}": expected a number at offset 0`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			store := runstore.NewMemory()
			var mu sync.Mutex
			var events []string
			e := harnessEngine(t, store,
				engine.WithSecrets(func(engine.Principal, string, string) interpolate.SecretSource {
					return interpolate.MapSecrets{"when": json.RawMessage(`{"at":"` + secretValue + `"}`)}
				}),
				engine.WithEvents(func(ev engine.Event) {
					b, _ := json.Marshal(ev)
					mu.Lock()
					events = append(events, string(b))
					mu.Unlock()
				}))
			d, err := e.Parse([]byte(`{"name":"w","schemaVersion":2,"tasks":[{"name":"wait","taskReferenceName":"wait0","type":"WAIT","inputParameters":` + c.params + `}]}`))
			if err != nil {
				t.Fatal(err)
			}
			// Bounded: a WAIT that took the value for no time at all would
			// wait for ever.
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			res, err := e.Start(ctx, d, json.RawMessage(c.input))
			if err != nil {
				t.Fatalf("%v (%+v)", err, viewRun(t, e, res.RunID))
			}
			wf := viewRun(t, e, res.RunID)
			if res.Status != engine.StatusFailed || len(wf.Tasks) != 1 ||
				wf.Tasks[0].Status != engine.TaskFailedTerminal || wf.Tasks[0].Reason != c.reason {
				t.Fatalf("run %s %q, tasks %+v; want FAILED, the WAIT FAILED_WITH_TERMINAL_ERROR %q", res.Status, res.Reason, wf.Tasks, c.reason)
			}
			shown, err := e.Show(ctx, res.RunID)
			if err != nil {
				t.Fatal(err)
			}
			stored, _, err := store.Load(ctx, res.RunID)
			if err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			all := strings.Join(events, "\n")
			mu.Unlock()
			for what, text := range map[string]string{"shown run": string(shown), "stored run": string(stored), "events": all} {
				if strings.Contains(text, secretValue) || strings.Contains(text, "sekrit") {
					t.Errorf("the %s holds the secret: %s", what, text)
				}
			}
			if strings.HasPrefix(c.name, "secret") && !strings.Contains(all, c.reason) {
				t.Errorf("no event gives the masked reason %q: %s", c.reason, all)
			}
		})
	}
}
