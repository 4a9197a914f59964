package engine

import (
	"bytes"
	"encoding/json"
	"reflect"
	"regexp"
	"testing"

	"github.com/wfrun/wfrun/runsecrets"
	"github.com/wfrun/wfrun/store/seal"
)

// The hand-written head encoders write what json.Marshal of the head
// structs writes: the same members, in the same order, decoding to the same
// values (and the same bytes where json.Marshal's HTML escaping does not
// apply).
func TestHeadEncodersMatchJSONMarshal(t *testing.T) {
	odd := "q\"b\\s/\n\t\x01é\u2028<&>\xff"
	recs := []*taskRecord{
		{TaskID: "t1", Ref: "a", TaskType: "HTTP", TaskDefName: "a", Status: TaskScheduled, Scheduled: 1},
		{TaskID: "t2", Ref: "b__3", TaskType: odd, TaskDefName: odd, Status: TaskFailed, RetryCount: 2, Iteration: 3,
			Seq: 9, Reason: odd, Scheduled: 1, Start: 2, End: 3, WaitUntil: -4, Awaiting: true, Callback: 3600, Postponed: 5, StartDelay: 60, SubWorkflowID: "c",
			RetriedTaskID: "t0", Domain: odd, IsolationGroupID: odd, ExecutionNameSpace: "ns",
			RateLimitPerFrequency: 5, RateLimitFrequencyInSeconds: 30, ResponseTimeoutSeconds: 120, WorkerID: odd, PollCount: 2, Updated: 4},
		// A retry without delay of a task with a startDelay: its 0 stored.
		{TaskID: "t3", Ref: "c", TaskType: "w", TaskDefName: "w", Status: TaskScheduled, RetryCount: 1, RetriedTaskID: "t2", ZeroDelay: true},
		// A reason given as "" (not none) is stored as "".
		{TaskID: "t4", Ref: "d", TaskType: "w", TaskDefName: "w", Status: TaskFailed, EmptyReasonAt: TaskFailed},
		// ... while the record keeps the status it was given at.
		{TaskID: "t5", Ref: "e", TaskType: "w", TaskDefName: "w", Status: TaskScheduled, EmptyReasonAt: TaskFailed},
	}
	for i, rec := range recs {
		var startDelay *int64
		if rec.StartDelay != 0 || rec.ZeroDelay {
			startDelay = &rec.StartDelay
		}
		var reason *string
		if rec.Reason != "" || rec.emptyReason() {
			reason = &rec.Reason
		}
		want, err := json.Marshal(taskHead{rec.TaskID, rec.Ref, rec.TaskType, rec.TaskDefName, rec.Status, rec.RetryCount,
			rec.Iteration, rec.Seq, reason, rec.Scheduled, rec.Start, rec.End, "run-1", rec.WaitUntil, rec.Awaiting,
			rec.Callback, rec.Postponed, startDelay, rec.SubWorkflowID, rec.RetriedTaskID, rec.Domain, rec.IsolationGroupID, rec.ExecutionNameSpace,
			rec.RateLimitPerFrequency, rec.RateLimitFrequencyInSeconds, rec.ResponseTimeoutSeconds, rec.WorkerID, rec.PollCount, rec.Updated})
		if err != nil {
			t.Fatal(err)
		}
		got := append(appendTaskHead(nil, rec, "run-1"), '}')
		sameJSON(t, i, got, want, rec.TaskType != odd)
	}
	heads := []runHead{
		{WorkflowID: "w", WorkflowType: "x", Status: StatusRunning, CreateTime: 1, UpdateTime: 2, SchemaVersion: 2,
			DefinitionHash: "h", Principal: Principal{Name: "local"}},
		{WorkflowID: "w", WorkflowType: odd, Version: 3, Status: StatusFailed, CorrelationID: odd, ReasonForIncompletion: odd,
			FailedTaskID: "f", CreateTime: 1, UpdateTime: 2, EndTime: 3, ParentWorkflowID: "p", ParentWorkflowTaskID: "pt",
			SchemaVersion: 2, MaskedFields: []string{"a", odd}, DefinitionHash: "h", DefinitionPath: odd,
			Principal: Principal{Name: odd, Scopes: []string{"*", "x"}}, Project: "pr", Environment: "env", NextSeq: 7,
			RunLogLength: 4, RunLogSeal: "wfrun-sealed:v1:len", SealedInput: "wfrun-sealed:v1:def", Priority: 7,
			TaskToDomain: map[string]string{"*": "d1,NO_DOMAIN", odd: odd, "a": "b"}, IdempotencyKey: odd, RequestSealed: true},
		{WorkflowID: "w", MaskedFields: []string{}, Principal: Principal{Scopes: []string{}}},
		{WorkflowID: "w", WorkflowType: "x", Status: StatusRunning, DefinitionHash: "h", Principal: Principal{Name: "local"},
			RecordSeals: true, PartsSealed: true, RequestSealed: true, NextSeq: 2, HeadSeal: "s", PartsSeal: "p",
			Priority: 3, TaskToDomain: map[string]string{"*": "d"}, IdempotencyKey: "k", Test: true},
		{WorkflowID: "w", WorkflowType: "x", Status: StatusRunning, DefinitionHash: "h", Principal: Principal{Name: "local"},
			RecordSeals: true, RequestSealed: true, FailuresSealed: true, NextSeq: 2, HeadSeal: "s",
			FailureOf: "f-1", RestartedFailures: "a b"},
	}
	for i, h := range heads {
		want, err := json.Marshal(h)
		if err != nil {
			t.Fatal(err)
		}
		sameJSON(t, i, encodeRunHead(&h), want, h.WorkflowType != odd)
	}
}

func sameJSON(t *testing.T, i int, got, want []byte, sameBytes bool) {
	t.Helper()
	if !json.Valid(got) {
		t.Fatalf("%d: invalid JSON %s", i, got)
	}
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("%d:\n got %s\nwant %s", i, got, want)
	}
	if sameBytes && !bytes.Equal(got, want) {
		t.Errorf("%d: bytes differ:\n got %s\nwant %s", i, got, want)
	}
}

// Ids are random version 4 UUIDs in their canonical text form.
func TestNewIDIsARandomUUID(t *testing.T) {
	shape := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	seen := map[string]bool{}
	for i := 0; i < 2000; i++ {
		id := newID()
		if !shape.MatchString(id) {
			t.Fatalf("id %q is not a version 4 UUID", id)
		}
		if seen[id] {
			t.Fatalf("id %q twice", id)
		}
		seen[id] = true
	}
}

// A run's head encoded through its cache is the head encoded afresh, after
// every kind of change: each cached member changed (slices in place too),
// the log's length grown and dropped, the changing members moved on; and
// the head's seal verifies after each, attested again only when a member
// it covers changed.
func TestHeadCacheMatchesFreshEncoding(t *testing.T) {
	ring, err := seal.NewKeyring(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	sec, err := runsecrets.New("w", nil, ring)
	if err != nil {
		t.Fatal(err)
	}
	e := &Engine{keyring: ring}
	r := &runState{sec: sec}
	h := &r.doc.runHead
	*h = runHead{WorkflowID: "w", WorkflowType: "t", Status: StatusRunning, CreateTime: 1, UpdateTime: 2, SchemaVersion: 2,
		MaskedFields: []string{"a", "b"}, DefinitionHash: "h", Principal: Principal{Name: "p", Scopes: []string{"x"}}}
	steps := []func(){
		func() {},
		func() { h.UpdateTime, h.NextSeq = 3, 1 },
		func() { h.RunLogLength = 1 },
		func() { h.UpdateTime = 4 },
		func() { h.RunLogLength = 12 },
		func() { h.MaskedFields[1] = "c" },
		func() { h.MaskedFields = append(h.MaskedFields, "d") },
		func() { h.Principal.Scopes[0] = "y" },
		func() { h.Principal.Name = "q\"\n" },
		func() { h.ParentWorkflowID, h.ParentWorkflowTaskID = "pw", "pt" },
		func() { h.SchemaVersion = 3 },
		func() { h.DefinitionHash, h.DefinitionPath = "h2", "/defs/x.json" },
		func() { h.Project, h.Environment = "pr", "env" },
		func() { h.Status, h.EndTime, h.ReasonForIncompletion = StatusFailed, 9, "why" },
		func() { h.SealedInput, h.RerunTask = "s", "rt" },
		func() { h.ReopenFailure = "rf" },
		func() { h.RunLogLength = 0 },
		func() { h.MaskedFields, h.Principal.Scopes = nil, nil },
		func() { h.TaskToDomain = map[string]string{"*": "d"} }, // not attested yet: an earlier wfrun's head
		func() { h.RequestSealed = true },
		func() { h.TaskToDomain["*"] = "e" },
		func() { h.Priority = 5 },
		func() { h.IdempotencyKey = "k" },
		func() { h.Test = true },
		func() { h.UpdateTime = 10 },
		func() { h.FailureOf, h.RestartedFailures = "f", "a" }, // not attested yet: an earlier wfrun's head
		func() { h.FailuresSealed = true },
		func() { h.FailureOf = "" },
		func() { h.RestartedFailures = "a b" },
		func() { h.UpdateTime = 11 },
	}
	uncovered := map[int]bool{1: true, 3: true, 13: true, 14: true, 15: true, 18: true, 24: true, 25: true, 29: true} // steps changing nothing the seal covers
	prev := ""
	for i, step := range steps {
		step()
		got, err := r.encodeHeadLocked()
		if err != nil {
			t.Fatal(err)
		}
		if want := encodeRunHead(h); !bytes.Equal(got, want) {
			t.Fatalf("step %d:\n got %s\nwant %s", i, got, want)
		}
		var d runDoc
		if err := json.Unmarshal(got, &d); err != nil {
			t.Fatal(err)
		}
		if err := e.verifyHeadSeal("w", &d); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if i > 0 && uncovered[i] != (d.HeadSeal == prev) {
			t.Fatalf("step %d: attested again: %v", i, d.HeadSeal != prev)
		}
		prev = d.HeadSeal
	}
}
