package engine_test

import (
	"strings"
	"testing"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/tasks"
)

// A secret reference in an EXEC command would put the value in the
// command line, which every user of the host reads (ps, /proc): the
// definition is refused at load, naming the place; env is where it goes.
func TestExecSecretInCommandRefusedAtLoad(t *testing.T) {
	reg := tasks.NewDefaultRegistry()
	tasks.RegisterExec(reg)
	e, err := engine.New(engine.WithRunStore(runstore.NewMemory()), engine.WithRegistry(reg))
	if err != nil {
		t.Fatal(err)
	}
	for _, command := range []string{
		`["curl","-H","Authorization: Bearer ${workflow.secrets.api_token}","https://api.example"]`,
		`["sh","-c","deploy --token=$<workflow.secrets.api_token>"]`,
	} {
		_, err := e.Parse([]byte(`{"name":"x","tasks":[{"name":"x","taskReferenceName":"x","type":"EXEC","inputParameters":{"command":` + command + `}}]}`))
		if err == nil || !strings.Contains(err.Error(), "/tasks/0") || !strings.Contains(err.Error(), "command") {
			t.Fatalf("%s: %v, want the command refused", command, err)
		}
	}
	if _, err := e.Parse([]byte(`{"name":"x","tasks":[{"name":"x","taskReferenceName":"x","type":"EXEC","inputParameters":{"command":["sh","-c","deploy --token=\"$TOKEN\""],"env":{"TOKEN":"${workflow.secrets.api_token}"}}}]}`)); err != nil {
		t.Fatalf("the secret in env: %v", err)
	}
}
