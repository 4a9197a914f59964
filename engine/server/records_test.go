package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/conductor-sdk/conductor-go/sdk/client"
	"github.com/conductor-sdk/conductor-go/sdk/model"
	"github.com/conductor-sdk/conductor-go/sdk/settings"
)

// shapeRunSecret is a value the shape run's definition holds as a literal
// and the run registers once it runs (the loop's INLINE returns it under
// `_secrets`): every view of the definition shows it "***". (A definition
// holding the value of a secret it names is refused at registration:
// TestServeRefusesDefinitionsHoldingASecretsValue.)
const shapeRunSecret = "shape-literal-VALUE-9931"

// shapeKeyValue is the value of secret shape_key, which the worker task's
// input references.
const shapeKeyValue = "shape-key-VALUE-5582"

// shapeRun registers a task definition and a workflow whose worker task
// fails once (retried) and completes, after an INLINE task inside a
// DO_WHILE of two iterations; the definition references a secret and
// holds literally a value the run registers (shapeRunSecret). It returns
// the finished run's id.
func shapeRun(t *testing.T, ts *conductorServer) string {
	t.Helper()
	if st, _, body := ts.do(t, "PUT", "/api/secrets/shape_key", shapeKeyValue); st != 200 {
		t.Fatalf("put secret: %d %s", st, body)
	}
	taskDefs := `[{"name":"shape_worker","retryCount":1,"retryDelaySeconds":0,"timeoutSeconds":600,"responseTimeoutSeconds":300,"ownerEmail":"a@example.com","description":"shape worker"}]`
	if st, _, body := ts.do(t, "POST", "/api/metadata/taskdefs", taskDefs); st != 200 {
		t.Fatalf("taskdefs: %d %s", st, body)
	}
	def := `{"name":"record_shapes","version":1,"schemaVersion":2,"tasks":[
	  {"name":"loop","taskReferenceName":"loop","type":"DO_WHILE","loopCondition":"$.loop['iteration'] < 2",
	   "loopOver":[{"name":"calc","taskReferenceName":"calc","type":"INLINE","inputParameters":{"evaluatorType":"javascript","expression":"({_secrets:{k:'` + shapeRunSecret + `'}, n:1+1})"}}]},
	  {"name":"shape_worker","taskReferenceName":"work","startDelay":1,"inputParameters":{
	     "token":"${workflow.secrets.shape_key}","literal":"` + shapeRunSecret + `","who":"${workflow.input.who}"}}]}`
	if st, _, body := ts.do(t, "POST", "/api/metadata/workflow", def); st != 200 {
		t.Fatalf("register: %d %s", st, body)
	}
	st, _, id := ts.do(t, "POST", "/api/workflow/record_shapes", `{"who":"ada"}`)
	if st != 200 {
		t.Fatalf("start: %d %s", st, id)
	}
	for i, status := range []string{"FAILED", "COMPLETED"} {
		var got []map[string]any
		for deadline := time.Now().Add(10 * time.Second); len(got) == 0 && time.Now().Before(deadline); {
			got = ts.pollRaw(t, "shape_worker", 500)
		}
		if len(got) != 1 {
			t.Fatalf("attempt %d: nothing polled", i)
		}
		res := fmt.Sprintf(`{"workflowInstanceId":%q,"taskId":%q,"status":%q,"outputData":{"n":%d},"reasonForIncompletion":"attempt %d"}`,
			id, got[0]["taskId"], status, i, i)
		if st, _, body := ts.do(t, "POST", "/api/tasks", res); st != 200 {
			t.Fatalf("update %d: %d %s", i, st, body)
		}
	}
	waitRun(t, ts, id, "COMPLETED")
	return id
}

// waitRun waits until the run's status is want.
func waitRun(t *testing.T, ts *conductorServer, id, want string) map[string]any {
	t.Helper()
	var doc map[string]any
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		_, _, body := ts.do(t, "GET", "/api/workflow/"+id, "")
		doc = nil
		_ = json.Unmarshal([]byte(body), &doc)
		if doc["status"] == want {
			return doc
		}
	}
	t.Fatalf("run %s never %s: %v", id, want, doc)
	return nil
}

// TestRecordsDecodeWithGoSDK: the Conductor Go SDK's model decodes a
// finished run's Workflow with every member Conductor fills: the task
// records' updateTime, startDelayInSeconds (the worker task's startDelay;
// its retry's, the retry's delay, 0),
// retried (the failed attempt a retry replaced) and executed, the
// callbackFromWorker default, the WorkflowTask as the definition holds it
// (a loop iteration's record, ref calc__2, has calc's) with the registered
// taskDefinition, which is also the record's taskDefinition; the run's
// workflowDefinition, taskToDomain, failedTaskNames and
// failedReferenceTaskNames. The WorkflowTask keeps the secret reference
// as written and shows a literal secret value "***"; the value appears
// in no response.
func TestRecordsDecodeWithGoSDK(t *testing.T) {
	ts := newConductorServer(t, nil)
	id := shapeRun(t, ts)
	wc := client.NewWorkflowClient(client.NewAPIClient(nil, settings.NewHttpSettings(ts.URL+"/api")))
	wf, _, err := wc.GetExecutionStatus(context.Background(), id, &client.WorkflowResourceApiGetExecutionStatusOpts{})
	if err != nil {
		t.Fatal(err)
	}
	if wf.WorkflowDefinition == nil || wf.WorkflowDefinition.Name != "record_shapes" || len(wf.WorkflowDefinition.Tasks) != 2 {
		t.Errorf("workflowDefinition = %+v", wf.WorkflowDefinition)
	}
	if wf.TaskToDomain == nil || wf.UpdateTime == 0 || wf.StartTime == 0 || wf.EndTime == 0 || wf.WorkflowName != "record_shapes" || wf.WorkflowVersion != 1 {
		t.Errorf("workflow members: taskToDomain %v updateTime %d startTime %d endTime %d name %q version %d",
			wf.TaskToDomain, wf.UpdateTime, wf.StartTime, wf.EndTime, wf.WorkflowName, wf.WorkflowVersion)
	}
	if fmt.Sprint(wf.FailedReferenceTaskNames) != "[work]" {
		t.Errorf("failedReferenceTaskNames: %v, want [work]", wf.FailedReferenceTaskNames)
	}
	var works []model.Task
	var calc2 *model.Task
	for i, task := range wf.Tasks {
		if task.UpdateTime == 0 || task.UpdateTime < task.ScheduledTime || !task.CallbackFromWorker {
			t.Errorf("%s: updateTime %d (scheduled %d), callbackFromWorker %v", task.ReferenceTaskName, task.UpdateTime, task.ScheduledTime, task.CallbackFromWorker)
		}
		switch task.ReferenceTaskName {
		case "work":
			works = append(works, task)
		case "calc__2":
			calc2 = &wf.Tasks[i]
		}
	}
	if len(works) != 2 {
		t.Fatalf("work attempts: %d", len(works))
	}
	first, retry := works[0], works[1]
	if !first.Retried || first.Executed || retry.Retried || !retry.Executed || retry.RetriedTaskId != first.TaskId {
		t.Errorf("retried/executed: first %v/%v, retry %v/%v", first.Retried, first.Executed, retry.Retried, retry.Executed)
	}
	for i, w := range works {
		// The retry's is its delay, 0 (DeciderService.retry).
		if w.StartDelayInSeconds != int32(1-i) || w.WorkflowTask == nil || w.WorkflowTask.Name != "shape_worker" || w.WorkflowTask.StartDelay != 1 || w.WorkflowTask.Type_ != "SIMPLE" {
			t.Fatalf("work record: startDelayInSeconds %d workflowTask %+v", w.StartDelayInSeconds, w.WorkflowTask)
		}
		in := w.WorkflowTask.InputParameters
		if in["token"] != "${workflow.secrets.shape_key}" || in["literal"] != "***" || in["who"] != "${workflow.input.who}" {
			t.Errorf("workflowTask.inputParameters = %v", in)
		}
		for what, d := range map[string]*model.TaskDef{"taskDefinition": w.TaskDefinition, "workflowTask.taskDefinition": w.WorkflowTask.TaskDefinition} {
			if d == nil || d.Name != "shape_worker" || d.RetryCount != 1 || d.ResponseTimeoutSeconds != 300 || d.Description != "shape worker" {
				t.Errorf("%s = %+v, want the registered definition", what, d)
			}
		}
	}
	if calc2 == nil || calc2.WorkflowTask == nil || calc2.WorkflowTask.TaskReferenceName != "calc" || calc2.WorkflowTask.Type_ != "INLINE" ||
		calc2.TaskDefinition == nil || calc2.TaskDefinition.Name != "calc" || calc2.TaskDefinition.RetryCount != 0 || !calc2.Executed || !calc2.LoopOverTask || calc2.StartDelayInSeconds != 0 {
		t.Errorf("calc__2 = %+v", calc2)
	}
	if in := wf.WorkflowDefinition.Tasks[1].InputParameters; in["literal"] != "***" || in["token"] != "${workflow.secrets.shape_key}" {
		t.Errorf("workflowDefinition's work input = %v", in)
	}
	_, _, raw := ts.do(t, "GET", "/api/workflow/"+id, "")
	_, _, byTask := ts.do(t, "GET", "/api/tasks/"+first.TaskId, "")
	for what, text := range map[string]string{"execution": raw, "task": byTask, "log": ts.logs.String()} {
		if strings.Contains(text, shapeRunSecret) {
			t.Errorf("%s shows the secret value", what)
		}
	}
	if !strings.Contains(byTask, `"workflowTask":{`) || !strings.Contains(byTask, `"retried":true`) {
		t.Errorf("GET /api/tasks/{id} lacks the workflowTask or retried: %s", byTask)
	}
}

// recordShape is the expected shape of one record kind: member → kind,
// and which members may be absent.
type recordShape struct {
	kind     map[string]string
	optional map[string]bool
}

func readRecordShapes(t *testing.T) map[string]*recordShape {
	t.Helper()
	f, err := os.Open("testdata/conductor_record_shapes.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	shapes := map[string]*recordShape{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		parts := strings.Fields(line)
		if len(parts) != 3 {
			t.Fatalf("conductor_record_shapes.txt:%d: want <record> <member> <kind>", n)
		}
		rec := strings.TrimPrefix(parts[0], "wfrun-")
		if shapes[rec] == nil {
			shapes[rec] = &recordShape{kind: map[string]string{}, optional: map[string]bool{}}
		}
		kind, opt := strings.CutSuffix(parts[2], "?")
		shapes[rec].kind[parts[1]] = kind
		shapes[rec].optional[parts[1]] = opt
	}
	return shapes
}

func jsonKind(v any) string {
	switch v.(type) {
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "boolean"
	}
	return "null"
}

// checkShape reports the members of rec that Conductor's record of its
// kind would not have (or not of that JSON type) and the members it lacks.
func checkShape(shape *recordShape, rec map[string]any) []string {
	var diffs []string
	for k, v := range rec {
		want, ok := shape.kind[k]
		switch {
		case !ok:
			diffs = append(diffs, "unexpected member "+k)
		case jsonKind(v) != want:
			diffs = append(diffs, fmt.Sprintf("%s is %s, want %s", k, jsonKind(v), want))
		}
	}
	for k := range shape.kind {
		if _, ok := rec[k]; !ok && !shape.optional[k] {
			diffs = append(diffs, "missing member "+k)
		}
	}
	sort.Strings(diffs)
	return diffs
}

// TestRecordShapesAreConductors: every member of a run's Workflow (GET
// /api/workflow/{id}), of each of its task records (there and GET
// /api/tasks/{taskId}) and of a worker's polled Task is one of Conductor's Workflow or Task members of
// the same JSON type, or one of wfrun's listed in
// testdata/conductor_record_shapes.txt (the members read from Conductor's
// classes), and no member Conductor always serializes is missing.
func TestRecordShapesAreConductors(t *testing.T) {
	shapes := readRecordShapes(t)
	ts := newConductorServer(t, nil)
	id := shapeRun(t, ts)
	running := startByName(t, ts, "record_shapes") // a run still RUNNING: its scheduled records too
	// The worker's poll answer is a Task too.
	var polled []map[string]any
	for deadline := time.Now().Add(10 * time.Second); len(polled) == 0 && time.Now().Before(deadline); {
		polled = ts.pollRaw(t, "shape_worker", 500)
	}
	if len(polled) != 1 {
		t.Fatal("nothing polled")
	}
	if d := checkShape(shapes["task"], polled[0]); len(d) > 0 {
		t.Errorf("polled Task differs from Conductor's: %s", strings.Join(d, "; "))
	}
	if polled[0]["seq"] != float64(4) || polled[0]["startDelayInSeconds"] != float64(1) || polled[0]["callbackFromWorker"] != true {
		t.Errorf("polled task: seq %v startDelayInSeconds %v callbackFromWorker %v, want 4 (after loop, calc__1, calc__2), 1, true",
			polled[0]["seq"], polled[0]["startDelayInSeconds"], polled[0]["callbackFromWorker"])
	}
	for _, runID := range []string{id, running} {
		_, _, body := ts.do(t, "GET", "/api/workflow/"+runID, "")
		var doc map[string]any
		if err := json.Unmarshal([]byte(body), &doc); err != nil {
			t.Fatal(err)
		}
		if d := checkShape(shapes["workflow"], doc); len(d) > 0 {
			t.Errorf("run %s: Workflow differs from Conductor's: %s", doc["status"], strings.Join(d, "; "))
		}
		tasks, _ := doc["tasks"].([]any)
		if len(tasks) == 0 {
			t.Fatalf("run %s: no tasks", doc["status"])
		}
		for _, it := range tasks {
			rec := it.(map[string]any)
			if d := checkShape(shapes["task"], rec); len(d) > 0 {
				t.Errorf("run %s, task %s (%s): Task differs from Conductor's: %s", doc["status"], rec["referenceTaskName"], rec["status"], strings.Join(d, "; "))
			}
			_, _, one := ts.do(t, "GET", fmt.Sprintf("/api/tasks/%s", rec["taskId"]), "")
			var byID map[string]any
			if err := json.Unmarshal([]byte(one), &byID); err != nil {
				t.Fatalf("GET task: %v %s", err, one)
			}
			if d := checkShape(shapes["task"], byID); len(d) > 0 {
				t.Errorf("GET /api/tasks/%s: Task differs from Conductor's: %s", rec["taskId"], strings.Join(d, "; "))
			}
		}
	}
}
