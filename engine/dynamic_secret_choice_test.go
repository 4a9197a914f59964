package engine_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// Run data never chooses which secret a task reads or writes (SPEC §4),
// for tasks built at run time too: a DYNAMIC task's resolved type, each
// task of a dynamic fork's list, and inline child definitions inside it.
// Each case's capture server must never receive db-pass's value, and
// prod-token must keep its value.
func TestRunDataCannotChooseSecretOfTasksBuiltAtRunTime(t *testing.T) {
	const dbPass, prodToken = "OtherTeam-db-pass-31415926", "Prod-api-token-1618033"
	var mu sync.Mutex
	var got strings.Builder
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		got.WriteString(r.URL.Path + " " + r.Header.Get("Authorization") + " " + string(body) + "\n")
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ok":true}`)
	}))
	defer srv.Close()
	const fork = `{"name":"f","version":1,"schemaVersion":2,"tasks":[
 {"name":"f","taskReferenceName":"f","type":"FORK_JOIN_DYNAMIC","dynamicForkTasksParam":"dynamicTasks","dynamicForkTasksInputParamName":"dynamicTasksInput",
  "inputParameters":{"dynamicTasks":"${workflow.input.tasks}","dynamicTasksInput":"${workflow.input.inputs}"}},
 {"name":"j","taskReferenceName":"j","type":"JOIN"}]}`
	httpTask := `{"name":"h","taskReferenceName":"h1","type":"HTTP","inputParameters":{"http_request":{"uri":"` + srv.URL + `/b","method":"GET","auth":{"type":"bearer","secret":"db-pass"}}}}`
	cases := []struct{ name, def, input string }{
		{"dynamic-http-auth-from-input", `{"name":"a","version":1,"schemaVersion":2,"tasks":[{"name":"dyn","taskReferenceName":"d","type":"DYNAMIC","dynamicTaskNameParam":"tn",
 "inputParameters":{"tn":"${workflow.input.tn}","http_request":{"uri":"` + srv.URL + `/a","method":"GET","auth":{"type":"bearer","secret":"${workflow.input.which}"}}}}]}`,
			`{"tn":"HTTP","which":"db-pass"}`},
		{"dynamic-http-request-from-input", `{"name":"a3","version":1,"schemaVersion":2,"tasks":[{"name":"dyn","taskReferenceName":"d","type":"DYNAMIC","dynamicTaskNameParam":"tn",
 "inputParameters":{"tn":"${workflow.input.tn}","http_request":"${workflow.input.req}"}}]}`,
			`{"tn":"HTTP","req":{"uri":"` + srv.URL + `/a3","method":"GET","auth":{"type":"bearer","secret":"db-pass"}}}`},
		{"dynamic-update-secret-key-from-input", `{"name":"a2","version":1,"schemaVersion":2,"tasks":[{"name":"dyn","taskReferenceName":"d","type":"DYNAMIC","dynamicTaskNameParam":"tn",
 "inputParameters":{"tn":"${workflow.input.tn}","_secrets":{"secretKey":"${workflow.input.k}","secretValue":"attacker-chosen-value-1234"}}}]}`,
			`{"tn":"UPDATE_SECRET","k":"prod-token"}`},
		{"fork-literal-auth-secret", fork, `{"tasks":[` + httpTask + `],"inputs":{"h1":{}}}`},
		{"fork-literal-secret-key", fork, `{"tasks":[{"name":"u","taskReferenceName":"u1","type":"UPDATE_SECRET","inputParameters":{"_secrets":{"secretKey":"prod-token","secretValue":"attacker-chosen-value-1234"}}}],"inputs":{"u1":{}}}`},
		{"fork-inline-child", fork, `{"tasks":[{"name":"s","taskReferenceName":"s1","type":"SUB_WORKFLOW","subWorkflowParam":{"name":"child","version":1,"workflowDefinition":{"name":"child","version":1,"schemaVersion":2,"tasks":[` + httpTask + `]}}}],"inputs":{"s1":{}}}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			mu.Lock()
			got.Reset()
			mu.Unlock()
			g := newRig(t, "bolt", 2)
			g.put(t, "db-pass", dbPass)
			g.put(t, "prod-token", prodToken)
			e := g.engine(t, rotationRegistry(false))
			d, err := e.Parse([]byte(c.def))
			if err != nil {
				// A name from an expression in a definition's DYNAMIC
				// task is refused at load.
				if !strings.Contains(c.name, "from-input") || !strings.Contains(err.Error(), "literal secret name") {
					t.Fatal(err)
				}
				return
			}
			res, err := e.Start(context.Background(), d, json.RawMessage(c.input))
			if err == nil && res.Status == "COMPLETED" {
				t.Errorf("run completed: want it refused")
			}
			if err == nil && strings.Contains(res.Reason, dbPass) {
				t.Errorf("reason holds the secret")
			}
			mu.Lock()
			seen := got.String()
			mu.Unlock()
			if strings.Contains(seen, dbPass) {
				t.Errorf("the capture server received db-pass's value: %q", seen)
			}
			s, err := g.secrets.Get(context.Background(), "prod-token")
			if err != nil {
				t.Fatal(err)
			}
			var v string
			_ = json.Unmarshal(s.Value, &v)
			if v != prodToken {
				t.Errorf("prod-token was overwritten")
			}
		})
	}
}
