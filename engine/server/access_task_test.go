package server_test

import (
	"encoding/json"
	"strings"
	"testing"
)

// mixedDef forks a worker task ("work", SIMPLE) and an operator waiting
// ("hold", a WAIT) after a SWITCH; its JOIN waits for both.
const mixedDef = `{"name":"mixed","version":1,"schemaVersion":2,"tasks":[
  {"name":"pick","taskReferenceName":"pick","type":"SWITCH","evaluatorType":"value-param","expression":"k","inputParameters":{"k":"a"},"decisionCases":{"b":[]},"defaultCase":[]},
  {"name":"split","taskReferenceName":"split","type":"FORK_JOIN","forkTasks":[
    [{"name":"work","taskReferenceName":"work","type":"SIMPLE"}],
    [{"name":"hold","taskReferenceName":"hold","type":"WAIT"}]]},
  {"name":"join","taskReferenceName":"join","type":"JOIN","joinOn":["work","hold"]}]}`

// TestTaskScopesGrantWorkerTasksOnly: tasks:read and tasks:poll of a name
// let a caller that may not read a run read (and log to) that run's
// worker tasks of the name only; its SWITCH, FORK, JOIN and WAIT tasks,
// whatever they are named, answer as missing ones (GET /api/tasks/{id},
// POST …/log).
func TestTaskScopesGrantWorkerTasksOnly(t *testing.T) {
	yaml := strings.Replace(scopesYAML, "anonymousScopes:", `  - keyId: walt
    keySecret: walt-secret-0123456789
    scopes: ["tasks:read:*", "tasks:poll:*"]
anonymousScopes:`, 1)
	ts := newScopedServerYAML(t, yaml, nil)
	_, _, body := ts.do(t, "POST", "/api/token", `{"keyId":"walt","keySecret":"walt-secret-0123456789"}`)
	var tok struct{ Token string }
	if err := json.Unmarshal([]byte(body), &tok); err != nil || tok.Token == "" {
		t.Fatalf("token of walt: %s", body)
	}
	ts.tokens["walt"] = tok.Token
	if st, _, body := ts.as(t, "admin", "POST", "/api/metadata/workflow", mixedDef); st != 200 {
		t.Fatalf("register: %d %s", st, body)
	}
	st, _, id := ts.as(t, "admin", "POST", "/api/workflow/mixed", `{}`)
	if st != 200 {
		t.Fatalf("start: %d %s", st, id)
	}
	ts.waitFor(t, id, "forked", func(s string) bool {
		return strings.Contains(s, " work:") && strings.Contains(s, " hold:") && strings.Contains(s, " join:")
	})
	_, _, body = ts.as(t, "admin", "GET", "/api/workflow/"+id, "")
	var wf struct {
		Tasks []struct {
			TaskID   string `json:"taskId"`
			Ref      string `json:"referenceTaskName"`
			TaskType string `json:"taskType"`
		} `json:"tasks"`
	}
	if err := json.Unmarshal([]byte(body), &wf); err != nil {
		t.Fatal(err)
	}
	const missingID = "00000000-0000-0000-0000-000000000000"
	seen := map[string]bool{}
	for _, tk := range wf.Tasks {
		seen[tk.Ref] = true
		for _, method := range []string{"GET", "POST"} {
			path := "/api/tasks/" + tk.TaskID
			if method == "POST" {
				path += "/log"
			}
			st, _, got := ts.as(t, "walt", method, path, "a line")
			if tk.Ref == "work" {
				if st != 200 {
					t.Errorf("walt %s %s (%s, a worker task): %d %s", method, path, tk.Ref, st, got)
				}
				continue
			}
			st2, _, got2 := ts.as(t, "walt", method, strings.ReplaceAll(path, tk.TaskID, missingID), "a line")
			got2 = strings.ReplaceAll(got2, missingID, tk.TaskID)
			if st != 404 || st2 != 404 || got != got2 {
				t.Errorf("walt %s %s (%s, a %s task): %d %s; a missing task: %d %s", method, path, tk.Ref, tk.TaskType, st, got, st2, got2)
			}
		}
	}
	for _, ref := range []string{"pick", "split", "work", "hold", "join"} {
		if !seen[ref] {
			t.Errorf("no task %s in the run: %s", ref, body)
		}
	}
}
