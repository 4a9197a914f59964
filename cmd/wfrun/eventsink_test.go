package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wfrun/wfrun/internal/testkit"
)

// --event-sink TYPE=SINK gives the queues of TYPE a sink (Conductor's
// EventQueues providers); a type without one fails its EVENT task with
// Conductor's reason; two sinks for one type are a usage error.
func TestRunEventSinkPerQueueType(t *testing.T) {
	cliEnv(t)
	dir := t.TempDir()
	wf := filepath.Join(dir, "wf.json")
	if err := os.WriteFile(wf, []byte(`{"name":"orders","tasks":[
	  {"name":"e","taskReferenceName":"notify","type":"EVENT","sink":"conductor"},
	  {"name":"e","taskReferenceName":"queue","type":"EVENT","sink":"${workflow.input.sink}","inputParameters":{"order":7}}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	own, sqs := filepath.Join(dir, "conductor.jsonl"), filepath.Join(dir, "sqs.jsonl")
	_, errOut, code := wfrun(t, "", "run", wf, "--input", `{"sink":"sqs:orders"}`, "--event-sink", "file:"+own, "--event-sink", "sqs=file:"+sqs)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	a, _ := os.ReadFile(own)
	b, _ := os.ReadFile(sqs)
	if !strings.Contains(string(a), `"queue":"conductor:orders:notify"`) || strings.Contains(string(a), "sqs:") ||
		!strings.Contains(string(b), `"queue":"sqs:orders"`) || !strings.Contains(string(b), `"order":7`) {
		t.Fatalf("conductor sink %s\nsqs sink %s", a, b)
	}
	_, errOut, code = wfrun(t, "", "run", wf, "--input", `{"sink":"rabbitmq:abc_123"}`, "--event-sink", "file:"+own)
	if code == 0 || !strings.Contains(errOut, "Error loading queue:rabbitmq:abc_123, for task:") || !strings.Contains(errOut, "error: Unknown queue type rabbitmq") {
		t.Fatalf("unconfigured type: %d %s", code, errOut)
	}
	_, errOut, code = wfrun(t, "", "run", wf, "--event-sink", "sqs=stdout", "--event-sink", "sqs=stderr")
	if code != 2 || !strings.Contains(errOut, "two sinks for sqs queues") {
		t.Fatalf("two sinks: %d %s", code, errOut)
	}
}

// wfrun serve publishes EVENT tasks where its --event-sink says.
func TestServeEventSink(t *testing.T) {
	home := cliEnv(t)
	sink := filepath.Join(t.TempDir(), "events.jsonl")
	cmd, sc, _ := cliProcess(t, "serve", "--addr", "127.0.0.1:0", "--home", home, "--event-sink", "file:"+sink)
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		go func() {
			for sc.Scan() {
			}
		}()
		_ = cmd.Wait()
	}()
	var log strings.Builder
	m := waitLine(t, sc, regexp.MustCompile(`"addr":"(127\.0\.0\.1:\d+)"`), &log)
	if m == nil {
		t.Fatalf("serve did not start:\n%s", log.String())
	}
	base := "http://" + m[1]
	def := `{"name":"orders","version":1,"schemaVersion":2,"tasks":[{"name":"e","taskReferenceName":"notify","type":"EVENT","sink":"conductor",
	  "inputParameters":{"order":"${workflow.input.order}"}}]}`
	if st, body := testkit.HTTPCall(t, "POST", base+"/api/metadata/workflow", def); st != 200 {
		t.Fatalf("register: %d %s", st, body)
	}
	_, id := testkit.HTTPCall(t, "POST", base+"/api/workflow/orders", `{"order":7}`)
	var body string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if _, body = testkit.HTTPCall(t, "GET", base+"/api/workflow/"+id+"/status", ""); !strings.Contains(body, "RUNNING") {
			break
		}
	}
	b, _ := os.ReadFile(sink)
	if !strings.Contains(body, `"COMPLETED"`) || !strings.Contains(string(b), `"queue":"conductor:orders:notify"`) || !strings.Contains(string(b), `"order":7`) {
		t.Fatalf("run %s, sink %s", body, b)
	}
}

// wfrun serve without --event-sink has Conductor's own queues: an EVENT
// task publishes to conductor:orders:notify and an event handler
// registered through /api/event starts a workflow from its message.
func TestServeConductorQueueAndHandler(t *testing.T) {
	home := cliEnv(t)
	cmd, sc, _ := cliProcess(t, "serve", "--addr", "127.0.0.1:0", "--home", home)
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		go func() {
			for sc.Scan() {
			}
		}()
		_ = cmd.Wait()
	}()
	var log strings.Builder
	m := waitLine(t, sc, regexp.MustCompile(`"addr":"(127\.0\.0\.1:\d+)"`), &log)
	if m == nil {
		t.Fatalf("serve did not start:\n%s", log.String())
	}
	base := "http://" + m[1]
	for _, def := range []string{
		`{"name":"orders","version":1,"schemaVersion":2,"tasks":[{"name":"e","taskReferenceName":"notify","type":"EVENT","sink":"conductor",
		  "inputParameters":{"order":"${workflow.input.order}"}}]}`,
		`{"name":"ship","version":1,"schemaVersion":2,"tasks":[{"name":"s","taskReferenceName":"s","type":"SET_VARIABLE","inputParameters":{"order":"${workflow.input.order}"}}],
		  "outputParameters":{"order":"${workflow.input.order}"}}`,
	} {
		if st, body := testkit.HTTPCall(t, "POST", base+"/api/metadata/workflow", def); st != 200 {
			t.Fatalf("register: %d %s", st, body)
		}
	}
	handler := `{"name":"ship_orders","event":"conductor:orders:notify","active":true,
	  "actions":[{"action":"start_workflow","start_workflow":{"name":"ship","correlationId":"order-${order}","input":{"order":"${order}"}}}]}`
	if st, body := testkit.HTTPCall(t, "POST", base+"/api/event", handler); st != 200 {
		t.Fatalf("handler: %d %s", st, body)
	}
	if st, body := testkit.HTTPCall(t, "POST", base+"/api/workflow/orders", `{"order":7}`); st != 200 {
		t.Fatalf("start: %d %s", st, body)
	}
	var body string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if _, body = testkit.HTTPCall(t, "GET", base+"/api/workflow/ship/correlated/order-7?includeClosed=true", ""); strings.Contains(body, `"COMPLETED"`) {
			break
		}
	}
	if !strings.Contains(body, `"COMPLETED"`) || !strings.Contains(body, `"order":7`) {
		t.Fatalf("ship runs: %s", body)
	}
}
