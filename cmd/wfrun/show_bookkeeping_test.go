package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/wfrun/wfrun/engine"
)

// `wfrun show -o json|yaml` prints the run as a client knows it: its
// status, input, output and tasks, and none of the engine's bookkeeping
// (its seals, the flags saying what they cover, its journal's counts, its
// principal, its definition's hash).
func TestShowOmitsBookkeeping(t *testing.T) {
	cliEnv(t)
	out, errOut, code := cli(t, "", "run", workflows+"hello.json", "--input", `{"name":"ann","times":1}`, "-q", "--field", "workflowId")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	id := strings.TrimSpace(out)
	js, errOut, code := cli(t, "", "show", id, "-o", "json")
	if code != 0 {
		t.Fatalf("show: exit %d: %s", code, errOut)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(js), &doc); err != nil {
		t.Fatalf("show -o json: %v: %.500s", err, js)
	}
	for _, k := range engine.HeadBookkeeping() {
		if _, ok := doc[k]; ok {
			t.Errorf("show -o json prints %q", k)
		}
	}
	if tasks, _ := doc["tasks"].([]any); doc["status"] != "COMPLETED" || doc["workflowId"] != id || len(tasks) == 0 {
		t.Fatalf("show -o json lost the run: %.1000s", js)
	}
	yml, errOut, code := cli(t, "", "show", id, "-o", "yaml")
	if code != 0 {
		t.Fatalf("show -o yaml: exit %d: %s", code, errOut)
	}
	for _, k := range engine.HeadBookkeeping() {
		if strings.Contains(yml, "\n"+k+":") {
			t.Errorf("show -o yaml prints %q", k)
		}
	}
	if !strings.Contains(yml, "status: COMPLETED") || !strings.Contains(yml, "tasks:") {
		t.Fatalf("show -o yaml lost the run: %.1000s", yml)
	}
}
