package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/tasks"
)

// The start request's correlationId, idempotencyKey and taskToDomain are
// stored as given (searches, children and idempotency read them), but a
// value the run registers after they were written is masked in every view
// of the run: Show while it waits — in the process that ran it and in
// another over the same store — and once it ended, and for good in its
// archive.
func TestHeadMembersMaskedWithValuesRegisteredLater(t *testing.T) {
	const v = "tok-head-5e11ab1e-77"
	ctx := context.Background()
	rs := runstore.NewMemory()
	ring := keyring(t, 9)
	newEngine := func(opts ...engine.Option) *engine.Engine {
		e, err := engine.New(append([]engine.Option{engine.WithRunStore(rs), engine.WithKeyring(ring), engine.WithRegistry(tasks.NewDefaultRegistry())}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	// The run stops at its HUMAN task; Show is asked while it waits in
	// the engine running it, then the engine lets it go.
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	live := make(chan []byte, 1)
	var e *engine.Engine
	e = newEngine(engine.WithEvents(func(ev engine.Event) {
		if ev.Kind == engine.EventWaiting {
			go func() {
				sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				defer cancel()
				view, _ := e.Show(sctx, ev.RunID)
				live <- view
				stop()
			}()
		}
	}))
	d, err := e.Parse([]byte(`{"name":"head","tasks":[
	  {"name":"a","taskReferenceName":"a","type":"INLINE","inputParameters":{"evaluatorType":"javascript","v":"${workflow.input.v}","expression":"({_secrets: {t: $.v}})"}},
	  {"name":"approve","taskReferenceName":"approve","type":"HUMAN"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.Start(runCtx, d, json.RawMessage(`{"v":"`+v+`"}`),
		engine.WithCorrelationID("corr-"+v), engine.WithIdempotencyKey("key-"+v), engine.WithTaskToDomain(map[string]string{"*": "dom-" + v}))
	if !errors.Is(err, engine.ErrInterrupted) {
		t.Fatalf("want an interrupted run, got %v %+v", err, res)
	}
	check := func(what string, doc []byte) {
		t.Helper()
		if strings.Contains(string(doc), v) {
			t.Fatalf("%s holds the value: %s", what, strings.ReplaceAll(string(doc), v, "<value>"))
		}
		var h struct {
			CorrelationID  string            `json:"correlationId"`
			IdempotencyKey string            `json:"idempotencyKey"`
			TaskToDomain   map[string]string `json:"taskToDomain"`
		}
		if err := json.Unmarshal(doc, &h); err != nil {
			t.Fatal(err)
		}
		if h.CorrelationID != "corr-***" || h.IdempotencyKey != "key-***" || h.TaskToDomain["*"] != "dom-***" {
			t.Fatalf("%s: head %+v", what, h)
		}
	}
	show := func(e *engine.Engine) []byte {
		t.Helper()
		view, err := e.Show(ctx, res.RunID)
		if err != nil {
			t.Fatal(err)
		}
		return view
	}
	// Stored as given while the run is stored.
	if doc, _, err := rs.Load(ctx, res.RunID); err != nil || !strings.Contains(string(doc), `"correlationId":"corr-`+v+`"`) {
		t.Fatalf("stored head: %v", err)
	}
	check("Show of the waiting run in the engine running it", <-live)
	check("Show of the waiting run", show(e))
	check("Show from another engine", show(newEngine()))
	if _, err := newEngine().CompleteTask(ctx, res.RunID, "approve", engine.TaskCompleted, json.RawMessage(`{}`)); err != nil {
		t.Fatal(err)
	}
	if r, err := newEngine().Resume(ctx, res.RunID); err != nil || r.Status != engine.StatusCompleted {
		t.Fatalf("resume: %v %+v", err, r)
	}
	doc, archived, err := rs.Load(ctx, res.RunID)
	if err != nil || !archived {
		t.Fatalf("archived %v: %v", archived, err)
	}
	check("the archive", doc)
	check("Show of the ended run", show(e))
}

// A worker's task (its poll answer) carries the run's correlationId as
// views show it: masked with a value the run registered before.
func TestRemoteTaskCorrelationIDMasked(t *testing.T) {
	const v = "tok-corr-9a8b7c6d5e"
	var got string
	e, err := engine.New(engine.WithRunStore(runstore.NewMemory()), engine.WithRegistry(tasks.NewDefaultRegistry()),
		engine.WithRemoteWorker(func(_ context.Context, rt engine.RemoteTask) tasks.Result {
			got = rt.CorrelationID
			return tasks.Result{Status: tasks.Completed, Output: []byte(`{}`)}
		}))
	if err != nil {
		t.Fatal(err)
	}
	d, err := e.Parse([]byte(`{"name":"corr","tasks":[
	  {"name":"a","taskReferenceName":"a","type":"INLINE","inputParameters":{"evaluatorType":"javascript","v":"${workflow.input.v}","expression":"({_secrets: {t: $.v}})"}},
	  {"name":"w","taskReferenceName":"w"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.Start(context.Background(), d, json.RawMessage(`{"v":"`+v+`"}`), engine.WithCorrelationID("corr-"+v))
	if err != nil || res.Status != engine.StatusCompleted {
		t.Fatalf("%v %+v", err, res)
	}
	if got != "corr-***" {
		t.Fatalf("the worker's task has correlationId %q", strings.ReplaceAll(got, v, "<value>"))
	}
}
