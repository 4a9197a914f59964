package server_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/conductor-sdk/conductor-go/sdk/model"
)

// Ports of conductor-oss e2e task/RetryPolicyTests
// (e2e/src/test/java/io/conductor/e2e/task/RetryPolicyTests.java at
// b54f0d4): task definitions registered as raw JSON (POST
// /api/metadata/taskdefs, as the Java test does, since the SDK's TaskDef
// predates maxRetryDelaySeconds, backoffJitterMs and totalTimeoutSeconds),
// a one-SIMPLE-task workflow registered with updateWorkflowDefs, tasks
// polled and answered with the Go SDK. Time is the engine's manual clock:
// where the Java test measures a retry's queue delay with the wall clock
// (System.currentTimeMillis() - scheduledTime), the port asserts the window
// exactly — the retry is not handed out one millisecond before its delay,
// and is handed out once the delay plus the largest jitter has passed.

// rpTaskDefBase is RetryPolicyTests.taskDefBase.
func rpTaskDefBase(name string) map[string]any {
	return map[string]any{"name": name, "ownerEmail": "test@conductor.io", "timeoutSeconds": 600,
		"responseTimeoutSeconds": 600, "retryCount": 5}
}

// rpTotalDef is the task definition of the totalTimeoutSeconds tests
// (built from an empty map, not taskDefBase).
func rpTotalDef(name string, retries, delay, total int, logic string) map[string]any {
	return map[string]any{"name": name, "ownerEmail": "test@conductor.io", "retryCount": retries, "retryDelaySeconds": delay,
		"retryLogic": logic, "totalTimeoutSeconds": total, "timeoutSeconds": 0, "responseTimeoutSeconds": 1}
}

// rpWorkflow is RetryPolicyTests.registerWorkflow: one SIMPLE task
// taskType (ref taskType_ref), workflow timeout 600 s ALERT_ONLY.
func rpWorkflow(t *testing.T, s *e2tServer, wf, taskType string) {
	t.Helper()
	s.updateDefs(t, model.WorkflowDef{Name: wf, Version: 1, OwnerEmail: "test@conductor.io", SchemaVersion: 2,
		TimeoutSeconds: 600, TimeoutPolicy: "ALERT_ONLY",
		Tasks: []model.WorkflowTask{{Name: taskType, TaskReferenceName: taskType + "_ref", Type_: "SIMPLE"}}})
}

func rpStart(t *testing.T, s *e2tServer, wf string) string {
	t.Helper()
	return s.start(t, model.StartWorkflowRequest{Name: wf, Version: 1, Input: map[string]any{}})
}

// awaitScheduledRetry is the Java helper: the first SCHEDULED task of the
// run once it has at least minCount tasks.
func (s *e2tServer) awaitScheduledRetry(t *testing.T, wfID string, minCount int) model.Task {
	t.Helper()
	var found model.Task
	s.await(t, wfID, fmt.Sprintf("had %d tasks and a SCHEDULED one", minCount), func(w model.Workflow) bool {
		if len(w.Tasks) < minCount {
			return false
		}
		for _, tk := range w.Tasks {
			if tk.Status == "SCHEDULED" {
				found = tk
				return true
			}
		}
		return false
	})
	return found
}

// pollRetry polls retry, which must be handed out no earlier than min
// after its scheduledTime and by max: the clock stops 1 ms short of min
// (nothing is handed out), then moves to max.
func (s *e2tServer) pollRetry(t *testing.T, taskType string, retry model.Task, min, max time.Duration) model.Task {
	t.Helper()
	s.settle()
	if min > 0 {
		s.advanceTo(t, retry.ScheduledTime+min.Milliseconds()-1)
		s.pollNone(t, taskType, fmt.Sprintf("%s after the retry was scheduled", min-time.Millisecond))
	}
	s.advanceTo(t, retry.ScheduledTime+max.Milliseconds())
	got := s.pollOne(t, taskType)
	if got.TaskId != retry.TaskId {
		t.Fatalf("polled %s, want the retry %s", got.TaskId, retry.TaskId)
	}
	return got
}

// rpRetry is one expected retry: its callbackAfterSeconds and the jitter
// its queue delay may add.
type rpRetry struct {
	callback int64
	jitter   time.Duration
}

func TestConductorE2ERetryPolicyDelays(t *testing.T) {
	base := func(tt string, more map[string]any) map[string]any {
		d := rpTaskDefBase(tt)
		for k, v := range more {
			d[k] = v
		}
		return d
	}
	ms := time.Millisecond
	for _, tc := range []struct {
		name    string
		def     map[string]any
		retries []rpRetry // after each failure in turn; then the last attempt completes
	}{
		// base=1s, cap=3s: retry1=1s, retry2=2s, retry3=4s→3s
		{"testMaxRetryDelaySeconds_exponential", base("e2e-exp-cap-task", map[string]any{"retryDelaySeconds": 1, "retryLogic": "EXPONENTIAL_BACKOFF", "maxRetryDelaySeconds": 3}),
			[]rpRetry{{1, 0}, {2, 0}, {3, 0}}},
		// base=1s, scale=2, cap=3s: retry1=2s, retry2=4s→3s
		{"testMaxRetryDelaySeconds_linear", base("e2e-lin-cap-task", map[string]any{"retryDelaySeconds": 1, "retryLogic": "LINEAR_BACKOFF", "backoffScaleFactor": 2, "maxRetryDelaySeconds": 3}),
			[]rpRetry{{2, 0}, {3, 0}}},
		{"testMaxRetryDelaySeconds_zeroMeansNoCapApplied", base("e2e-no-cap-task", map[string]any{"retryDelaySeconds": 1, "retryLogic": "EXPONENTIAL_BACKOFF", "maxRetryDelaySeconds": 0}),
			[]rpRetry{{1, 0}, {2, 0}, {4, 0}}},
		{"testMaxRetryDelaySeconds_capLessThanBaseDelay", base("e2e-cap-lt-base-task", map[string]any{"retryDelaySeconds": 5, "retryLogic": "FIXED", "maxRetryDelaySeconds": 2}),
			[]rpRetry{{2, 0}, {2, 0}}},
		{"testMaxRetryDelaySeconds_capEqualsBase", base("e2e-cap-eq-base-task", map[string]any{"retryDelaySeconds": 2, "retryLogic": "LINEAR_BACKOFF", "backoffScaleFactor": 2, "maxRetryDelaySeconds": 2}),
			[]rpRetry{{2, 0}, {2, 0}}},
		{"testBackoffJitterMs_fixed", base("e2e-jitter-fixed-task", map[string]any{"retryDelaySeconds": 2, "retryLogic": "FIXED", "backoffJitterMs": 1000}),
			[]rpRetry{{2, 1000 * ms}}},
		{"testBackoffJitterMs_exponential", base("e2e-jitter-exp-task", map[string]any{"retryDelaySeconds": 1, "retryLogic": "EXPONENTIAL_BACKOFF", "backoffJitterMs": 500}),
			[]rpRetry{{1, 500 * ms}, {2, 500 * ms}}},
		{"testBackoffJitterMs_linear", base("e2e-jitter-lin-task", map[string]any{"retryDelaySeconds": 1, "retryLogic": "LINEAR_BACKOFF", "backoffScaleFactor": 2, "backoffJitterMs": 500}),
			[]rpRetry{{2, 500 * ms}}},
		{"testBackoffJitterMs_zero", base("e2e-no-jitter-task", map[string]any{"retryDelaySeconds": 2, "retryLogic": "FIXED", "backoffJitterMs": 0}),
			[]rpRetry{{2, 0}}},
		{"testBackoffJitterMs_minimumOnems", base("e2e-jitter-1ms-task", map[string]any{"retryDelaySeconds": 2, "retryLogic": "FIXED", "backoffJitterMs": 1}),
			[]rpRetry{{2, ms}}},
		// base=1s, cap=3s, jitter=500ms; at retry3: 4s→3s, queue delay in [3s, 3.5s]
		{"testMaxRetryDelaySeconds_withJitter", base("e2e-cap-jitter-task", map[string]any{"retryDelaySeconds": 1, "retryLogic": "EXPONENTIAL_BACKOFF", "maxRetryDelaySeconds": 3, "backoffJitterMs": 500}),
			[]rpRetry{{1, 500 * ms}, {2, 500 * ms}, {3, 500 * ms}}},
		{"testTotalTimeoutSeconds_zero_disabled", rpTotalDef("e2e-total-timeout-disabled-task", 5, 0, 0, "FIXED"),
			[]rpRetry{{0, 0}, {0, 0}}},
		{"testTotalTimeoutSeconds_notExceeded_workflowCompletes", rpTotalDef("e2e-total-timeout-ok-task", 5, 0, 60, "FIXED"),
			[]rpRetry{{0, 0}, {0, 0}}},
		// base=1s, cap=2s, totalBudget=60s
		{"testTotalTimeoutSeconds_withMaxRetryDelayCap", base("e2e-total-cap-combo-task", map[string]any{"retryDelaySeconds": 1, "retryLogic": "EXPONENTIAL_BACKOFF",
			"maxRetryDelaySeconds": 2, "totalTimeoutSeconds": 60, "timeoutSeconds": 0, "responseTimeoutSeconds": 1}),
			[]rpRetry{{1, 0}, {2, 0}}},
		{"testTotalTimeoutSeconds_withJitter", base("e2e-total-jitter-combo-task", map[string]any{"retryDelaySeconds": 1, "retryLogic": "FIXED",
			"backoffJitterMs": 500, "totalTimeoutSeconds": 60, "timeoutSeconds": 0, "responseTimeoutSeconds": 1}),
			[]rpRetry{{1, 500 * ms}}},
		// Generous 60s budget, three quick failures: each retry is scheduled
		// (the budget is measured from the first schedule, not reset).
		{"testTotalTimeoutSeconds_firstScheduledTimePreservedAcrossRetries", rpTotalDef("e2e-total-preserve-task", 10, 0, 60, "FIXED"),
			[]rpRetry{{0, 0}, {0, 0}, {0, 0}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newE2TServer(t)
			tt := tc.def["name"].(string)
			wf := tt[:len(tt)-len("task")] + "wf"
			s.rawTaskDef(t, tc.def)
			rpWorkflow(t, s, wf, tt)
			wfID := rpStart(t, s, wf)

			task := s.pollOne(t, tt)
			for i, r := range tc.retries {
				s.result(t, wfID, task.TaskId, "FAILED", "e2e retry policy test")
				retry := s.awaitScheduledRetry(t, wfID, i+2)
				if retry.CallbackAfterSeconds != r.callback {
					t.Fatalf("retry%d: callbackAfterSeconds %d, want %d", i+1, retry.CallbackAfterSeconds, r.callback)
				}
				if retry.RetryCount != int32(i+1) || retry.RetriedTaskId != task.TaskId {
					t.Fatalf("retry%d: retryCount %d retriedTaskId %q, want %d %q", i+1, retry.RetryCount, retry.RetriedTaskId, i+1, task.TaskId)
				}
				delay := time.Duration(r.callback) * time.Second
				task = s.pollRetry(t, tt, retry, delay, delay+r.jitter)
			}
			if n := len(s.run(t, wfID).Tasks); n != len(tc.retries)+1 {
				t.Fatalf("%d tasks after %d failures, want %d (the original and a retry each)", n, len(tc.retries), len(tc.retries)+1)
			}
			s.result(t, wfID, task.TaskId, "COMPLETED", "")
			s.awaitStatus(t, wfID, "COMPLETED")
		})
	}
}

// TestConductorE2ERetryPolicyConcurrentJitter is
// testConcurrentRetries_jitterSpreadsRetryTimes: five runs fail their task
// at the same instant; with backoffJitterMs 3000 over a 1 s base, each
// retry becomes available at its own time within [1 s, 4 s], so they are
// not all handed out at one moment. The clock moves in 100 ms steps (the
// Java test buckets wall-clock seconds, which all five share with a
// probability of 1.2 %; 100 ms buckets bring that to about 1e-6).
func TestConductorE2ERetryPolicyConcurrentJitter(t *testing.T) {
	const n = 5
	s := newE2TServer(t)
	tt, wf := "e2e-concurrent-jitter-task", "e2e-concurrent-jitter-wf"
	def := rpTaskDefBase(tt)
	def["retryDelaySeconds"], def["retryLogic"], def["backoffJitterMs"] = 1, "FIXED", 3000
	s.rawTaskDef(t, def)
	rpWorkflow(t, s, wf, tt)
	ids := map[string]bool{}
	for range n {
		ids[rpStart(t, s, wf)] = true
	}
	failed := map[string]bool{}
	for len(failed) < n {
		for _, tk := range s.pollFor(t, tt, "e2e-worker", n, 500*time.Millisecond) {
			failed[tk.WorkflowInstanceId] = true
			s.result(t, tk.WorkflowInstanceId, tk.TaskId, "FAILED", "e2e retry policy test")
		}
	}
	failedAt := s.clock.Now()
	for id := range ids {
		if !failed[id] {
			t.Fatalf("run %s: its task was not polled", id)
		}
		if r := s.awaitScheduledRetry(t, id, 2); r.CallbackAfterSeconds != 1 {
			t.Fatalf("run %s: retry callbackAfterSeconds %d, want 1", id, r.CallbackAfterSeconds)
		}
	}
	s.settle()
	s.advanceTo(t, failedAt.Add(time.Second-time.Millisecond).UnixMilli())
	s.pollNone(t, tt, "before the base delay")
	at := map[int64]int{} // ms after the failure → retries handed out then
	polled := 0
	for step := time.Second; step <= 4*time.Second && polled < n; step += 100 * time.Millisecond {
		s.advanceTo(t, failedAt.Add(step).UnixMilli())
		for _, tk := range s.pollFor(t, tt, "e2e-concurrency-worker", n, 60*time.Millisecond) {
			at[step.Milliseconds()]++
			polled++
			s.result(t, tk.WorkflowInstanceId, tk.TaskId, "COMPLETED", "")
		}
	}
	if polled != n {
		t.Fatalf("All %d retry tasks must eventually be polled: %d were (at %v)", n, polled, at)
	}
	if len(at) < 2 {
		t.Fatalf("with %d tasks and 3s jitter, retries must spread: all were handed out at once (%v ms)", n, at)
	}
	for id := range ids {
		s.awaitStatus(t, id, "COMPLETED")
	}
}

// TestConductorE2ERetryPolicyConcurrentCapJitter is
// testConcurrentRetries_capAndJitter_allWorkflowsComplete: four runs fail
// and complete their retries concurrently (exponential, base 1 s, cap 2 s,
// jitter 500 ms); each retry's callbackAfterSeconds is at most the cap; all
// complete.
func TestConductorE2ERetryPolicyConcurrentCapJitter(t *testing.T) {
	const n = 4
	s := newE2TServer(t)
	tt, wf := "e2e-concurrent-cap-jitter-task", "e2e-concurrent-cap-jitter-wf"
	def := rpTaskDefBase(tt)
	def["retryDelaySeconds"], def["retryLogic"], def["maxRetryDelaySeconds"], def["backoffJitterMs"] = 1, "EXPONENTIAL_BACKOFF", 2, 500
	s.rawTaskDef(t, def)
	rpWorkflow(t, s, wf, tt)
	var ids []string
	for range n {
		ids = append(ids, rpStart(t, s, wf))
	}
	answerAll := func(st string) {
		t.Helper()
		var got []model.Task
		for deadline := time.Now().Add(10 * time.Second); len(got) < n && time.Now().Before(deadline); {
			got = append(got, s.pollFor(t, tt, "e2e-worker", n, 500*time.Millisecond)...)
		}
		if len(got) != n {
			t.Fatalf("polled %d tasks, want %d", len(got), n)
		}
		var wg sync.WaitGroup
		for _, tk := range got {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := &model.TaskResult{WorkflowInstanceId: tk.WorkflowInstanceId, TaskId: tk.TaskId, Status: model.TaskResultStatus(st)}
				if _, resp, err := s.tasks.UpdateTask(context.Background(), r); err != nil {
					t.Errorf("updateTask %s: %v (status %d)", tk.TaskId, err, status(resp))
				}
			}()
		}
		wg.Wait()
	}
	answerAll("FAILED")
	for _, id := range ids {
		if r := s.awaitScheduledRetry(t, id, 2); r.CallbackAfterSeconds > 2 {
			t.Fatalf("run %s: callbackAfterSeconds must be ≤ cap (2s); was %d", id, r.CallbackAfterSeconds)
		}
	}
	s.settle()
	s.clock.Advance(1500 * time.Millisecond) // retry1: 1 s + at most 500 ms of jitter
	answerAll("COMPLETED")
	for _, id := range ids {
		s.awaitStatus(t, id, "COMPLETED")
	}
}

// TestConductorE2ERetryPolicyPollGap is
// testPollGapFix_responseTimeoutDetectedBeforePollTimeout: a polled task
// nobody answers (responseTimeoutSeconds 3, pollTimeoutSeconds 30,
// retryCount 0) is TIMED_OUT once its response timeout has passed — at 3 s
// after the poll, not at the poll timeout.
func TestConductorE2ERetryPolicyPollGap(t *testing.T) {
	s := newE2TServer(t)
	tt, wf := "e2e-poll-gap-task", "e2e-poll-gap-wf"
	def := rpTaskDefBase(tt)
	def["retryCount"], def["retryLogic"], def["pollTimeoutSeconds"], def["responseTimeoutSeconds"] = 0, "FIXED", 30, 3
	def["timeoutSeconds"], def["timeoutPolicy"] = 600, "TIME_OUT_WF"
	s.rawTaskDef(t, def)
	rpWorkflow(t, s, wf, tt)
	wfID := rpStart(t, s, wf)
	task := s.pollOne(t, tt)
	polledAt := s.clock.Now()
	s.await(t, wfID, "showed the task IN_PROGRESS", func(w model.Workflow) bool {
		return len(w.Tasks) == 1 && w.Tasks[0].Status == "IN_PROGRESS"
	})
	s.settle()
	s.advanceTo(t, polledAt.Add(3*time.Second-time.Millisecond).UnixMilli())
	time.Sleep(50 * time.Millisecond)
	if w := s.run(t, wfID); w.Tasks[0].Status != "IN_PROGRESS" {
		t.Fatalf("before the response timeout: task %s", w.Tasks[0].Status)
	}
	s.advanceTo(t, polledAt.Add(3*time.Second).UnixMilli())
	w := s.await(t, wfID, "timed out the task", func(w model.Workflow) bool {
		return len(w.Tasks) > 0 && w.Tasks[0].TaskId == task.TaskId && w.Tasks[0].Status == "TIMED_OUT"
	})
	if elapsed := s.clock.Now().Sub(polledAt); elapsed >= 20*time.Second {
		t.Fatalf("Task timed out %s after polling", elapsed)
	}
	if len(w.Tasks) != 1 {
		t.Fatalf("retryCount 0: %d tasks %s", len(w.Tasks), e2tTaskLine(w))
	}
}

// TestConductorE2ERetryPolicyTotalTimeoutExceeded is
// testTotalTimeoutSeconds_exceeded_workflowTerminates and
// testTotalTimeoutSeconds_alertOnlyPolicy_terminatesOnWorkerFailure: a
// worker fails every attempt at once (retryCount 100, no delay,
// totalTimeoutSeconds 4); 300 ms pass between a poll and its failure. The
// run ends FAILED or TIMED_OUT, with either timeoutPolicy, long before 100
// attempts.
func TestConductorE2ERetryPolicyTotalTimeoutExceeded(t *testing.T) {
	for _, tc := range []struct{ name, tt, policy string }{
		{"testTotalTimeoutSeconds_exceeded_workflowTerminates", "e2e-total-timeout-exceeded-task", "TIME_OUT_WF"},
		{"testTotalTimeoutSeconds_alertOnlyPolicy_terminatesOnWorkerFailure", "e2e-total-alert-only-task", "ALERT_ONLY"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newE2TServer(t)
			wf := tc.tt[:len(tc.tt)-len("task")] + "wf"
			def := rpTotalDef(tc.tt, 100, 0, 4, "FIXED")
			def["timeoutPolicy"] = tc.policy
			s.rawTaskDef(t, def)
			rpWorkflow(t, s, wf, tc.tt)
			wfID := rpStart(t, s, wf)
			var w model.Workflow
			for attempt := 1; attempt < 100; attempt++ {
				task := s.pollOne(t, tc.tt)
				s.clock.Advance(300 * time.Millisecond)
				s.result(t, wfID, task.TaskId, "FAILED", "e2e totalTimeout stress test")
				w = s.await(t, wfID, "ended or retried", func(w model.Workflow) bool {
					return w.Status != "RUNNING" || (len(w.Tasks) > attempt && w.Tasks[len(w.Tasks)-1].Status == "SCHEDULED")
				})
				if w.Status != "RUNNING" {
					break
				}
			}
			if w.Status != "FAILED" && w.Status != "TIMED_OUT" {
				t.Fatalf("Workflow must terminate once total timeout is exceeded; status=%s", w.Status)
			}
			if len(w.Tasks) >= 100 {
				t.Fatalf("Workflow must terminate before exhausting all 100 retries; taskCount=%d", len(w.Tasks))
			}
			// 4 s at 300 ms an attempt: the attempt failed at 4.2 s ends it.
			if len(w.Tasks) != 14 {
				t.Fatalf("%d attempts, want 14 (the one failing at 4.2 s is the last): %s", len(w.Tasks), e2tTaskLine(w))
			}
		})
	}
}

// TestConductorE2ERetryPolicyTotalTimeoutConcurrent is
// testTotalTimeoutSeconds_concurrentWorkflows_eachInstanceIndependent: two
// runs (totalTimeoutSeconds 30) each fail once, get a retry and complete.
func TestConductorE2ERetryPolicyTotalTimeoutConcurrent(t *testing.T) {
	const n = 2
	s := newE2TServer(t)
	tt, wf := "e2e-total-timeout-concurrent-task", "e2e-total-timeout-concurrent-wf"
	s.rawTaskDef(t, rpTotalDef(tt, 5, 0, 30, "FIXED"))
	rpWorkflow(t, s, wf, tt)
	ids := map[string]bool{}
	for range n {
		ids[rpStart(t, s, wf)] = true
	}
	answer := func(st string) {
		done := map[string]bool{}
		for len(done) < n {
			tk := s.pollOne(t, tt)
			if ids[tk.WorkflowInstanceId] && !done[tk.WorkflowInstanceId] {
				done[tk.WorkflowInstanceId] = true
				s.result(t, tk.WorkflowInstanceId, tk.TaskId, st, "")
			}
		}
	}
	// Both first tasks queued before the first poll, as the Java test's
	// starts leave them: an immediate retry of the first run's task then
	// queues behind the second's (a poll that skips a task leaves it
	// IN_PROGRESS, unanswered).
	s.waitSize(t, tt, n)
	answer("FAILED")
	for id := range ids {
		s.awaitScheduledRetry(t, id, 2)
	}
	answer("COMPLETED")
	for id := range ids {
		s.awaitStatus(t, id, "COMPLETED")
	}
}
