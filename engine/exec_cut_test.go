package engine_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/tasks"
)

// An EXEC task's stdout, cut at the output limit, ends with the head of a
// value the run registers later: the archived run holds it masked there.
func TestExecOutputCutBeforeARegistrationIsMasked(t *testing.T) {
	const v = "tokEXEC-1a2b3c4d5e6f"
	reg := tasks.NewDefaultRegistry()
	tasks.RegisterExec(reg, tasks.WithExecOutputLimit(64))
	rs := runstore.NewMemory()
	e, err := engine.New(engine.WithRunStore(rs), engine.WithRegistry(reg))
	if err != nil {
		t.Fatal(err)
	}
	d, err := e.Parse([]byte(`{"name":"cut","tasks":[
	 {"name":"x","taskReferenceName":"x","type":"EXEC","inputParameters":{"command":["printf","%s","${workflow.input.out}"]}},
	 {"name":"b","taskReferenceName":"b","type":"INLINE","inputParameters":{"evaluatorType":"javascript","v":"${workflow.input.v}","expression":"(function(){ return {_secrets: {t: $.v}}; })()"}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	in, _ := json.Marshal(map[string]any{"v": v, "out": strings.Repeat("x", 56) + v})
	res, err := e.Start(context.Background(), d, in)
	if err != nil || res.Status != engine.StatusCompleted {
		t.Fatalf("run: %v %+v", err, res)
	}
	doc, _, err := rs.Load(context.Background(), res.RunID)
	if err != nil {
		t.Fatal(err)
	}
	if i := bytes.Index(doc, []byte(v[:4])); i >= 0 {
		t.Fatalf("archived run holds the head of the value: …%s", bytes.ReplaceAll(doc[max(i-20, 0):i+4], []byte(v[:4]), []byte("<head>")))
	}
	if !bytes.Contains(doc, []byte(`"stdout":"`+strings.Repeat("x", 56)+`***…"`)) {
		t.Fatalf("stdout not found cut and masked: %s", doc)
	}
}
