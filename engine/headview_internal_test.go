package engine

import "testing"

// Without the run's values (its log or an ancestor gone), a view masks
// the head members wholly: when in doubt, mask.
func TestRunHeadMaskedWhollyWithoutTheRunsValues(t *testing.T) {
	doc := []byte(`{"workflowId":"w","correlationId":"corr-x","taskToDomain":{"a":"d1","*":"d2"},"idempotencyKey":"k","status":"RUNNING"}`)
	got, err := maskRunHead(doc, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"workflowId":"w","correlationId":"***","taskToDomain":{"*":"***","a":"***"},"idempotencyKey":"***","status":"RUNNING"}`
	if string(got) != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	if !hasHeadMembers(doc) || hasHeadMembers([]byte(`{"workflowId":"w","correlationId":"","taskToDomain":{}}`)) {
		t.Fatal("hasHeadMembers")
	}
}
