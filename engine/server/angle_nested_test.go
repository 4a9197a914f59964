package server_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// A worker task's `$<…>` reaches its worker as written, wherever the task
// comes from (SPEC §1: the component that executes a task resolves `$<…>`;
// `wfrun serve` only interprets `${…}`): a SIMPLE task of an inline
// SUB_WORKFLOW definition, of a START_WORKFLOW's inline definition, a DYNAMIC
// task naming a worker task, and a task definition's inputTemplate. The
// server's own value of the secret is in no poll.
func TestWorkerTaskKeepsAngleWhereverItComesFrom(t *testing.T) {
	const serverValue = "server-side-value-Qm81Zr"
	worker := `{"name":"angle_task","taskReferenceName":"w","type":"SIMPLE","inputParameters":{"k":"$<workflow.secrets.S>","esc":"$$<kept>","who":"${workflow.input.who}"}}`
	cases := []struct {
		name, def string
		taskDef   string // registered before the definition
	}{
		{"inline sub-workflow", `{"name":"angle_sub","version":1,"schemaVersion":2,"tasks":[{"name":"child","taskReferenceName":"child","type":"SUB_WORKFLOW",
			"inputParameters":{"who":"${workflow.input.who}"},
			"subWorkflowParam":{"name":"angle_child","workflowDefinition":{"name":"angle_child","version":1,"schemaVersion":2,"tasks":[` + worker + `]}}}]}`, ""},
		{"nested inline sub-workflow", `{"name":"angle_sub2","version":1,"schemaVersion":2,"tasks":[{"name":"child","taskReferenceName":"child","type":"SUB_WORKFLOW",
			"inputParameters":{"who":"${workflow.input.who}"},
			"subWorkflowParam":{"name":"angle_mid","workflowDefinition":{"name":"angle_mid","version":1,"schemaVersion":2,"tasks":[{"name":"grand","taskReferenceName":"grand","type":"SUB_WORKFLOW",
				"inputParameters":{"who":"${workflow.input.who}"},
				"subWorkflowParam":{"name":"angle_grand","workflowDefinition":{"name":"angle_grand","version":1,"schemaVersion":2,"tasks":[` + worker + `]}}}]}}}]}`, ""},
		// START_WORKFLOW (a system task) resolves its input, the inline
		// workflowDef included, as Conductor does; the definition it builds
		// keeps the secret reference as written, and so its worker task.
		{"START_WORKFLOW inline definition", `{"name":"angle_start","version":1,"schemaVersion":2,"tasks":[{"name":"start","taskReferenceName":"start","type":"START_WORKFLOW",
			"inputParameters":{"startWorkflow":{"name":"angle_started","input":{"who":"${workflow.input.who}"},
			"workflowDef":{"name":"angle_started","version":1,"schemaVersion":2,"tasks":[` + strings.Replace(worker, `"$$<kept>"`, `"$$$<kept>"`, 1) + `]}}}}]}`, ""},
		{"DYNAMIC naming a worker task", `{"name":"angle_dyn","version":1,"schemaVersion":2,"tasks":[{"name":"dyn","taskReferenceName":"w","type":"DYNAMIC","dynamicTaskNameParam":"taskToExecute",
			"inputParameters":{"taskToExecute":"angle_task","k":"$<workflow.secrets.S>","esc":"$$<kept>","who":"${workflow.input.who}"}}]}`,
			`[{"name":"angle_task","retryCount":0,"timeoutSeconds":60,"responseTimeoutSeconds":30}]`},
		{"task definition inputTemplate", `{"name":"angle_tmpl","version":1,"schemaVersion":2,"tasks":[{"name":"angle_task","taskReferenceName":"w","type":"SIMPLE","inputParameters":{"who":"${workflow.input.who}"}}]}`,
			`[{"name":"angle_task","retryCount":0,"timeoutSeconds":60,"responseTimeoutSeconds":30,"inputTemplate":{"k":"$<workflow.secrets.S>","esc":"$$<kept>"}}]`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ts := newConductorServer(t, nil)
			putSecret(t, ts.store, "S", serverValue)
			if c.taskDef != "" {
				if st, _, body := ts.do(t, "POST", "/api/metadata/taskdefs", c.taskDef); st != http.StatusOK {
					t.Fatalf("register task definition: %d %s", st, body)
				}
			}
			var def struct{ Name string }
			_ = json.Unmarshal([]byte(c.def), &def)
			if st, _, body := ts.do(t, "POST", "/api/metadata/workflow", c.def); st != http.StatusOK {
				t.Fatalf("register: %d %s", st, body)
			}
			if st, _, body := ts.do(t, "POST", "/api/workflow/"+def.Name, `{"who":"ada"}`); st != http.StatusOK {
				t.Fatalf("start: %d %s", st, body)
			}
			var polled []map[string]any
			deadline := time.Now().Add(10 * time.Second)
			for len(polled) == 0 {
				st, _, body := ts.do(t, "GET", "/api/tasks/poll/batch/angle_task?workerid=w1&count=1&timeout=200", "")
				if strings.Contains(body, serverValue) {
					t.Fatalf("the poll holds the server's value of S: %s", body)
				}
				if st != http.StatusOK || json.Unmarshal([]byte(body), &polled) != nil {
					t.Fatalf("poll: %d %s", st, body)
				}
				if len(polled) == 0 && time.Now().After(deadline) {
					t.Fatal("no angle_task to poll")
				}
			}
			in, _ := polled[0]["inputData"].(map[string]any)
			if in["k"] != "$<workflow.secrets.S>" || in["esc"] != "$$<kept>" || in["who"] != "ada" {
				t.Fatalf("polled input %v: want $<…> and $$<…> as written, ${…} resolved", in)
			}
		})
	}
}
