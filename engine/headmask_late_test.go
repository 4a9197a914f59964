package engine_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tidwall/gjson"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/tasks"
)

// The run's correlationId and taskToDomain are stored as given, but what
// is built from them after the run registered a value is masked with it:
// an EVENT task's message and output, and the failure workflow's
// correlationId and taskToDomain.
func TestHeadCopiesMaskedWithValuesRegisteredAfterTheStart(t *testing.T) {
	const v = "tok-head-7c6b5a4d3e"
	register := `{"name":"a","taskReferenceName":"a","type":"INLINE","inputParameters":{"evaluatorType":"javascript","v":"${workflow.input.v}","expression":"({_secrets: {t: $.v}})"}}`
	t.Run("EVENT", func(t *testing.T) {
		ctx := context.Background()
		var sink bytes.Buffer
		rs := runstore.NewMemory()
		e, err := engine.New(engine.WithRunStore(rs), engine.WithRegistry(tasks.NewDefaultRegistry()),
			engine.WithEventSink(engine.NewWriterSink(&sink)))
		if err != nil {
			t.Fatal(err)
		}
		d, err := e.Parse([]byte(`{"name":"ev","tasks":[` + register + `,
		  {"name":"e","taskReferenceName":"e","type":"EVENT","sink":"conductor:q"}]}`))
		if err != nil {
			t.Fatal(err)
		}
		res, err := e.Start(ctx, d, json.RawMessage(`{"v":"`+v+`"}`), engine.WithCorrelationID("corr-"+v),
			engine.WithTaskToDomain(map[string]string{"e": "dom-" + v}))
		if err != nil || res.Status != engine.StatusCompleted {
			t.Fatalf("%v %+v", err, res)
		}
		if strings.Contains(sink.String(), v) || !strings.Contains(sink.String(), "corr-***") {
			t.Fatalf("published %s", strings.ReplaceAll(sink.String(), v, "<value>"))
		}
		doc, _, err := rs.Load(ctx, res.RunID)
		if err != nil {
			t.Fatal(err)
		}
		for _, task := range gjson.GetBytes(doc, "tasks").Array() {
			if task.Get("referenceTaskName").String() != "e" {
				continue
			}
			out := task.Get("outputData")
			if got := out.Get("correlationId").String(); got != "corr-***" {
				t.Fatalf("EVENT output correlationId %q", strings.ReplaceAll(got, v, "<value>"))
			}
			if got := out.Get("taskToDomain").Raw; strings.Contains(got, v) || !strings.Contains(got, "dom-***") {
				t.Fatalf("EVENT output taskToDomain %s", strings.ReplaceAll(got, v, "<value>"))
			}
		}
	})
	t.Run("failure workflow", func(t *testing.T) {
		ctx := context.Background()
		rs := runstore.NewMemory()
		dir := t.TempDir()
		onfail := `{"name":"onfail","version":1,"tasks":[{"name":"h","taskReferenceName":"h","type":"HUMAN"}]}`
		if err := os.WriteFile(filepath.Join(dir, "onfail.json"), []byte(onfail), 0o600); err != nil {
			t.Fatal(err)
		}
		e, err := engine.New(engine.WithRunStore(rs), engine.WithRegistry(tasks.NewDefaultRegistry()), engine.WithDefinitionsDir(dir))
		if err != nil {
			t.Fatal(err)
		}
		d, err := e.Parse([]byte(`{"name":"fails","failureWorkflow":"onfail","tasks":[` + register + `,
		  {"name":"t","taskReferenceName":"t","type":"TERMINATE","inputParameters":{"terminationStatus":"FAILED"}}]}`))
		if err != nil {
			t.Fatal(err)
		}
		res, err := e.Start(ctx, d, json.RawMessage(`{"v":"`+v+`"}`), engine.WithCorrelationID("corr-"+v),
			engine.WithTaskToDomain(map[string]string{"h": "dom-" + v}))
		if err != nil || res.Status != engine.StatusFailed {
			t.Fatalf("%v %+v", err, res)
		}
		doc, _, err := rs.Load(ctx, res.RunID)
		if err != nil {
			t.Fatal(err)
		}
		child := gjson.GetBytes(doc, `output.conductor\.failure_workflow`).String()
		if child == "" {
			t.Fatalf("no failure run: %s", strings.ReplaceAll(string(doc), v, "<value>"))
		}
		// The failure run waits (HUMAN): its stored head is not the
		// archive's, masked when the run ends.
		cdoc, _, err := rs.Load(ctx, child)
		if err != nil {
			t.Fatal(err)
		}
		if got := gjson.GetBytes(cdoc, "correlationId").String(); got != "corr-***" {
			t.Fatalf("failure run's correlationId %q", strings.ReplaceAll(got, v, "<value>"))
		}
		if got := gjson.GetBytes(cdoc, "taskToDomain.h").String(); got != "dom-***" {
			t.Fatalf("failure run's taskToDomain %q", strings.ReplaceAll(got, v, "<value>"))
		}
		if strings.Contains(string(cdoc), v) {
			t.Fatalf("failure run holds the value: %s", strings.ReplaceAll(string(cdoc), v, "<value>"))
		}
	})
}
