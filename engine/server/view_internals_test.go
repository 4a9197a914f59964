package server_test

import (
	"strings"
	"testing"
)

// GET /api/workflow/{id} (and so the signal answers, which render the same
// view) shows a run without the sealed bookkeeping the store keeps for
// resume: the journal of the secret values the run registered
// (the run's log, runLog), a sealed input, a rerun's sealed task. Ciphertext
// of secret values is no one's business outside the store.
func TestWorkflowViewHasNoSealedBookkeeping(t *testing.T) {
	ts := newConductorServer(t, nil)
	putSecret(t, ts.store, "api_key", "view-VALUE-5e7d21")
	def := `{"name":"view_internals","version":1,"schemaVersion":2,"tasks":[{"name":"w","taskReferenceName":"w","type":"WAIT","inputParameters":{"k":"${workflow.secrets.api_key}"}}]}`
	if st, _, b := ts.do(t, "POST", "/api/metadata/workflow", def); st != 200 {
		t.Fatalf("register: %d %s", st, b)
	}
	id := startByName(t, ts, "view_internals")
	ts.waitRun(t, id, "WAIT in progress", func(d runDoc) bool { return len(d.Tasks) == 1 && d.Tasks[0].Status == "IN_PROGRESS" })
	stored, _, err := ts.runs.Load(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(stored), `"runLog":[{"values":"wfrun-sealed:`) {
		t.Fatalf("the stored run has no sealed journal to hide (the test proves nothing): %s", stored)
	}
	_, _, body := ts.do(t, "GET", "/api/workflow/"+id, "")
	st, _, sync := ts.do(t, "POST", "/api/tasks/"+id+"/COMPLETED/signal/sync", `{}`)
	if st != 200 {
		t.Fatalf("signal: %d %s", st, sync)
	}
	for what, text := range map[string]string{"GET /api/workflow/{id}": body, "signal/sync answer": sync} {
		for _, k := range []string{"registeredValues", "runLog", "sealedInput", "rerunTask", "wfrun-sealed:"} {
			if strings.Contains(text, k) {
				t.Errorf("%s shows %s: %s", what, k, text)
			}
		}
	}
}
