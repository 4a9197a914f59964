package server

import (
	"errors"
	"testing"
)

// TestCallFailureTransientOnlyWhenRetryable: an event handler's action
// is tried again for a 5xx answer its ErrorResponse marks retryable (the
// run store away: a TransientException), not for one it does not (a
// start refused with a TerminateWorkflowException, which Conductor's
// event processor does not retry either); a 5xx without an
// ErrorResponse may pass, and a 4xx never does.
func TestCallFailureTransientOnlyWhenRetryable(t *testing.T) {
	for _, tc := range []struct {
		status    int
		body      string
		transient bool
	}{
		{500, `{"status":500,"message":"run store unavailable","retryable":true}`, true},
		{500, `{"status":500,"message":"The Task x defined as a sub-workflow has no workflow definition available ","retryable":false}`, false},
		{502, `bad gateway`, true},
		{400, `{"status":400,"message":"bad","retryable":false}`, false},
	} {
		if got := errors.Is(callFailure(tc.status, []byte(tc.body)), errTransient); got != tc.transient {
			t.Errorf("%d %s: transient %v, want %v", tc.status, tc.body, got, tc.transient)
		}
	}
}
