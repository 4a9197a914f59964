package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine"
)

// The helpers of the ports of conductor-oss's e2e/control tests: each Java
// test talks to a Conductor server through its clients (MetadataClient,
// WorkflowClient, TaskClient), so each port talks to wfrun serve through
// the same HTTP API.

// ctlDoc is what the e2e control tests read of GET /api/workflow/{id}.
type ctlDoc struct {
	WorkflowID       string            `json:"workflowId"`
	Status           string            `json:"status"`
	Reason           string            `json:"reasonForIncompletion"`
	Version          int               `json:"workflowVersion"`
	ParentWorkflowID string            `json:"parentWorkflowId"`
	Priority         int               `json:"priority"`
	Input            map[string]any    `json:"input"`
	Output           map[string]any    `json:"output"`
	Variables        map[string]any    `json:"variables"`
	TaskToDomain     map[string]string `json:"taskToDomain"`
	Tasks            []ctlTask         `json:"tasks"`
}

type ctlTask struct {
	TaskID        string         `json:"taskId"`
	TaskType      string         `json:"taskType"`
	TaskDefName   string         `json:"taskDefName"`
	Ref           string         `json:"referenceTaskName"`
	Status        string         `json:"status"`
	SubWorkflowID string         `json:"subWorkflowId"`
	Domain        string         `json:"domain"`
	StartTime     int64          `json:"startTime"`
	EndTime       int64          `json:"endTime"`
	InputData     map[string]any `json:"inputData"`
	OutputData    map[string]any `json:"outputData"`
	WorkflowTask  map[string]any `json:"workflowTask"`
	// CallbackAfterSeconds: a retry's delay, or a worker's callback.
	CallbackAfterSeconds int64 `json:"callbackAfterSeconds"`
}

// byRef is workflow.getTaskByRefName: the last record of ref.
func (d ctlDoc) byRef(ref string) *ctlTask {
	for i := len(d.Tasks) - 1; i >= 0; i-- {
		if d.Tasks[i].Ref == ref {
			return &d.Tasks[i]
		}
	}
	return nil
}

// shape is "STATUS type:STATUS ..." of the run.
func (d ctlDoc) shape() string {
	parts := []string{d.Status}
	for _, tk := range d.Tasks {
		parts = append(parts, tk.TaskType+":"+tk.Status)
	}
	return strings.Join(parts, " ")
}

// ctlServer is wfrun serve with the Conductor API (memory stores). Its
// runs look for external completions every 10 ms (not 200), so that a
// test answering many WAIT tasks stays fast.
func ctlServer(t *testing.T, more ...engine.Option) *conductorServer {
	t.Helper()
	return newConductorServerWith(t, nil, append([]engine.Option{engine.WithPollInterval(10 * time.Millisecond)}, more...))
}

// ctlFile reads a definition of testdata/conductor.
func ctlFile(t *testing.T, file string) string {
	t.Helper()
	b, err := os.ReadFile("../../testdata/conductor/" + file)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// ctlCall sends a request that must answer 200 and returns its body.
func ctlCall(t *testing.T, ts *conductorServer, method, path, body string) string {
	t.Helper()
	st, _, b := ts.do(t, method, path, body)
	if st != 200 && st != 204 {
		t.Fatalf("%s %s: %d %s", method, path, st, b)
	}
	return b
}

// ctlUpdateDefs is metadataClient.updateWorkflowDefs(list).
func ctlUpdateDefs(t *testing.T, ts *conductorServer, list string) {
	t.Helper()
	ctlCall(t, ts, "PUT", "/api/metadata/workflow", list)
}

// ctlTaskDefs is metadataClient.registerTaskDefs(list).
func ctlTaskDefs(t *testing.T, ts *conductorServer, list string) {
	t.Helper()
	ctlCall(t, ts, "POST", "/api/metadata/taskdefs", list)
}

// ctlStart is workflowClient.startWorkflow(request).
func ctlStart(t *testing.T, ts *conductorServer, request string) string {
	t.Helper()
	return ctlCall(t, ts, "POST", "/api/workflow", request)
}

// ctlGet is workflowClient.getWorkflow(id, true).
func ctlGet(t *testing.T, ts *conductorServer, id string) ctlDoc {
	t.Helper()
	b := ctlCall(t, ts, "GET", "/api/workflow/"+id+"?includeTasks=true", "")
	var d ctlDoc
	if err := json.Unmarshal([]byte(b), &d); err != nil {
		t.Fatalf("run %s: %v: %s", id, err, b)
	}
	return d
}

// ctlAwait is the Java tests' await().untilAsserted(…): it reads run id
// until check reports nothing, for up to 20 s.
func ctlAwait(t *testing.T, ts *conductorServer, id string, check func(d ctlDoc) string) ctlDoc {
	t.Helper()
	var d ctlDoc
	var why string
	// Reads start 2 ms apart and back off to 50 ms: a run with a large
	// document (do_while_wait_switch_iteration_test's doubles each turn)
	// is not read more often than it moves.
	pause := 2 * time.Millisecond
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(pause) {
		pause = min(pause*2, 50*time.Millisecond)
		d = ctlGet(t, ts, id)
		if why = check(d); why == "" {
			return d
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %s: %s (%s)", id, why, d.shape())
		}
	}
}

// ctlShape is a check that the run has exactly this shape.
func ctlShape(want string) func(ctlDoc) string {
	return func(d ctlDoc) string {
		if got := d.shape(); got != want {
			return "shape " + got + ", want " + want
		}
		return ""
	}
}

// ctlUpdate is taskClient.updateTask(TaskResult) by task id.
func ctlUpdate(t *testing.T, ts *conductorServer, workflowID, taskID, status, output string) {
	t.Helper()
	if output == "" {
		output = "{}"
	}
	ctlCall(t, ts, "POST", "/api/tasks", fmt.Sprintf(`{"workflowInstanceId":%q,"taskId":%q,"status":%q,"outputData":%s}`,
		workflowID, taskID, status, output))
}

// ctlUpdateSync is taskClient.updateTaskSync(workflowId, ref, status,
// output): the run it answers.
func ctlUpdateSync(t *testing.T, ts *conductorServer, workflowID, ref, status, output string) ctlDoc {
	t.Helper()
	if output == "" {
		output = "{}"
	}
	b := ctlCall(t, ts, "POST", "/api/tasks/"+workflowID+"/"+ref+"/"+status+"/sync", output)
	var d ctlDoc
	if err := json.Unmarshal([]byte(b), &d); err != nil {
		t.Fatalf("update %s/%s sync: %v: %s", workflowID, ref, err, b)
	}
	return d
}

// ctlTester is a local stand-in for https://orkes-api-tester.orkesconductor.com
// (the HTTP tasks of the e2e definitions call its /api); defs is the
// definition with the host pointed at it, nothing else changed.
func ctlTester(t *testing.T, def string) string {
	t.Helper()
	// A small answer: do_while_wait_switch_iteration_test copies the loop's
	// whole output into each iteration, so the run doubles each turn.
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Date"] = nil
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(hs.Close)
	return strings.ReplaceAll(def, "https://orkes-api-tester.orkesconductor.com", hs.URL)
}

// ctlNum reads a JSON number as an int (-1 when it is not one).
func ctlNum(v any) int {
	if f, ok := v.(float64); ok && f == float64(int(f)) {
		return int(f)
	}
	return -1
}

// ctlFastClock is an engine clock that runs scale times faster than real
// time: a WAIT of 2 s lasts 2/scale s, and times read from it still grow
// as the run goes on (a ManualClock would stamp every step of a run with
// the same time until the test moves it).
type ctlFastClock struct {
	start time.Time
	scale time.Duration
}

func newCtlFastClock(scale int) *ctlFastClock {
	return &ctlFastClock{start: time.Now(), scale: time.Duration(scale)}
}

func (c *ctlFastClock) Now() time.Time { return c.start.Add(time.Since(c.start) * c.scale) }

func (c *ctlFastClock) After(d time.Duration) (<-chan time.Time, func()) {
	tm := time.NewTimer(d / c.scale)
	return tm.C, func() { tm.Stop() }
}

// ctlPending waits until run id has a task of ref (or of ref with a
// DO_WHILE "__N" suffix) SCHEDULED or IN_PROGRESS, as the Java tests'
// sleeps before updateTaskSync wait for it, and returns it.
func ctlPending(t *testing.T, ts *conductorServer, id, ref string) ctlTask {
	t.Helper()
	var got ctlTask
	ctlAwait(t, ts, id, func(d ctlDoc) string {
		for _, tk := range d.Tasks {
			base, _, _ := strings.Cut(tk.Ref, "__")
			if (tk.Ref == ref || base == ref) && (tk.Status == "SCHEDULED" || tk.Status == "IN_PROGRESS") {
				got = tk
				return ""
			}
		}
		return "no pending " + ref
	})
	return got
}

// ctlStatus is a check that the run has this status.
func ctlStatus(want string) func(ctlDoc) string {
	return func(d ctlDoc) string {
		if d.Status != want {
			return "status " + d.Status + ", want " + want
		}
		return ""
	}
}

// ctlBundle is a transcribed e2e setup: the task definitions the Java test
// registers, its workflow definitions, and (for a test whose worker returns
// a definition) that output.
type ctlBundle struct {
	TaskDefs      json.RawMessage `json:"taskDefs"`
	WorkflowDefs  json.RawMessage `json:"workflowDefs"`
	BuilderOutput json.RawMessage `json:"builderOutput"`
}

// ctlRegister reads testdata/conductor/transcribed/file and registers its
// task definitions (registerTaskDefs) and workflow definitions
// (updateWorkflowDefs).
func ctlRegister(t *testing.T, ts *conductorServer, file string) ctlBundle {
	t.Helper()
	var b ctlBundle
	if err := json.Unmarshal([]byte(ctlFile(t, "transcribed/"+file)), &b); err != nil {
		t.Fatal(err)
	}
	if len(b.TaskDefs) > 0 {
		ctlTaskDefs(t, ts, string(b.TaskDefs))
	}
	ctlUpdateDefs(t, ts, string(b.WorkflowDefs))
	return b
}

// ctlSubWorkflowID is the Java tests' awaitSubWorkflowId: the child of
// the run's task i, once it has one.
func ctlSubWorkflowID(t *testing.T, ts *conductorServer, id string, i int) string {
	t.Helper()
	d := ctlAwait(t, ts, id, func(d ctlDoc) string {
		if len(d.Tasks) <= i || d.Tasks[i].SubWorkflowID == "" {
			return fmt.Sprintf("task %d has no subWorkflowId", i)
		}
		return ""
	})
	child := d.Tasks[i].SubWorkflowID
	ctlReadable(t, ts, child)
	return child
}

// ctlReadable waits until GET /api/workflow/{id} finds run id. wfrun
// records a SUB_WORKFLOW task's subWorkflowId before it stores the child
// run (so that a crash between the two writes never loses the child): for
// a few milliseconds the child's id is visible and the child is not.
func ctlReadable(t *testing.T, ts *conductorServer, id string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(2 * time.Millisecond) {
		st, _, body := ts.do(t, "GET", "/api/workflow/"+id, "")
		if st == 200 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %s: %d %s", id, st, body)
		}
	}
}

// ctlFirstTaskID is the Java tests' awaitFirstTaskId.
func ctlFirstTaskID(t *testing.T, ts *conductorServer, id string) string {
	t.Helper()
	d := ctlAwait(t, ts, id, func(d ctlDoc) string {
		if len(d.Tasks) == 0 || d.Tasks[0].TaskID == "" {
			return "no first task"
		}
		return ""
	})
	return d.Tasks[0].TaskID
}

// ctlWorkers polls the tasks of each name (in domain when it is not
// empty) until the test ends, as the Java tests' TaskRunnerConfigurer
// workers do, and completes each with what do returns.
func ctlWorkers(t *testing.T, ts *conductorServer, names []string, domain string, do func(name string, in map[string]any) map[string]any) {
	t.Helper()
	ctlWorkersStatus(t, ts, names, domain, "COMPLETED", do)
}

// ctlWorkersStatus is ctlWorkers answering with status.
func ctlWorkersStatus(t *testing.T, ts *conductorServer, names []string, domain, status string, do func(name string, in map[string]any) map[string]any) {
	t.Helper()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	t.Cleanup(func() { close(stop); wg.Wait() })
	q := ""
	if domain != "" {
		q = "&domain=" + url.QueryEscape(domain)
	}
	for _, name := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := http.Get(ts.URL + "/api/tasks/poll/batch/" + url.PathEscape(name) + "?workerid=e2e&count=5&timeout=50" + q)
				if err != nil {
					return
				}
				var got []struct {
					TaskID     string         `json:"taskId"`
					WorkflowID string         `json:"workflowInstanceId"`
					InputData  map[string]any `json:"inputData"`
				}
				_ = json.NewDecoder(resp.Body).Decode(&got)
				resp.Body.Close()
				for _, tk := range got {
					out, _ := json.Marshal(do(name, tk.InputData))
					body := fmt.Sprintf(`{"workflowInstanceId":%q,"taskId":%q,"workerId":"e2e","status":%q,"outputData":%s}`, tk.WorkflowID, tk.TaskID, status, out)
					if r, err := http.Post(ts.URL+"/api/tasks", "application/json", strings.NewReader(body)); err == nil {
						r.Body.Close()
					}
				}
			}
		}()
	}
}

// ctlDetachedChild checks what Conductor leaves of child, the run of the
// SUB_WORKFLOW task of run id that an update completed: the child is still
// RUNNING, executed on (its first task waits for a worker); completed, it
// ends COMPLETED, and its parent's outcome stays as it was.
func ctlDetachedChild(t *testing.T, ts *conductorServer, id, child string) {
	t.Helper()
	parent := ctlGet(t, ts, id)
	c := ctlAwait(t, ts, child, func(d ctlDoc) string {
		if d.Status != "RUNNING" || len(d.Tasks) == 0 || d.Tasks[0].Status != "SCHEDULED" {
			return "want the child RUNNING, its first task SCHEDULED"
		}
		return ""
	})
	ctlUpdate(t, ts, child, c.Tasks[0].TaskID, "COMPLETED", `{}`)
	ctlAwait(t, ts, child, ctlStatus("COMPLETED"))
	if after := ctlGet(t, ts, id); after.shape() != parent.shape() {
		t.Errorf("the parent changed when its detached child ended: %s, was %s", after.shape(), parent.shape())
	}
}
