package engine_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
)

// TestHTTPAsyncCompleteWaitsAcrossResume: an HTTP task with asyncComplete
// makes its call, then waits IN_PROGRESS, its response in its output, for
// a completion from outside (Conductor's HttpTask.start). A run resumed
// while it waits goes on waiting without calling again (the call was
// made); the completion's output joins the response.
func TestHTTPAsyncCompleteWaitsAcrossResume(t *testing.T) {
	var calls atomic.Int32
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"hello":"async"}`))
	}))
	t.Cleanup(hs.Close)
	store := runstore.NewMemory()
	def := `{"name":"http_async","tasks":[{"name":"http","taskReferenceName":"http_ref","type":"HTTP","asyncComplete":true,
	  "inputParameters":{"http_request":{"uri":"` + hs.URL + `","method":"GET"}}}]}`
	k := keyring(t, 7)
	e1 := harnessEngine(t, store, engine.WithKeyring(k))
	d, err := e1.Parse([]byte(def))
	if err != nil {
		t.Fatal(err)
	}
	ctx1, cancel1 := context.WithCancel(context.Background())
	started := make(chan struct{})
	go func() {
		defer close(started)
		_, _ = e1.Start(ctx1, d, json.RawMessage(`{}`), engine.WithRunID("http-async"))
	}()
	show := func(e *engine.Engine) runView {
		b, err := e.Show(context.Background(), "http-async")
		if err != nil {
			return runView{}
		}
		var v runView
		_ = json.Unmarshal(b, &v)
		return v
	}
	waiting := func(e *engine.Engine) runView {
		t.Helper()
		var v runView
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			if v = show(e); len(v.Tasks) == 1 && v.Tasks[0].Status == engine.TaskInProgress && v.Tasks[0].Output["response"] != nil {
				return v
			}
		}
		t.Fatalf("the HTTP task is not waiting with its response: %+v", v)
		return v
	}
	if v := waiting(e1); v.Status != engine.StatusRunning {
		t.Fatalf("run %s", v.Status)
	}
	cancel1() // the process goes away while the task waits
	<-started

	e2 := harnessEngine(t, store, engine.WithKeyring(k))
	type outcome struct {
		res *engine.Result
		err error
	}
	resumed := make(chan outcome, 1)
	go func() {
		res, err := e2.Resume(context.Background(), "http-async")
		resumed <- outcome{res, err}
	}()
	time.Sleep(50 * time.Millisecond) // the resumed run reaches its wait
	waiting(e2)
	if _, err := e2.CompleteTask(context.Background(), "http-async", "http_ref", engine.TaskCompleted, json.RawMessage(`{"approved":true}`)); err != nil {
		t.Fatal(err)
	}
	select {
	case o := <-resumed:
		if o.err != nil || o.res.Status != engine.StatusCompleted {
			t.Fatalf("resume: %+v %v", o.res, o.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the resumed run did not end")
	}
	v := show(e2)
	resp, _ := v.Tasks[0].Output["response"].(map[string]any)
	if code, _ := resp["statusCode"].(float64); code != 200 || v.Tasks[0].Output["approved"] != true {
		t.Fatalf("output %v", v.Tasks[0].Output)
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("the endpoint was called %d times, want once", n)
	}
}
