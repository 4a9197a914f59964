package worker_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wfrun/wfrun/internal/testkit"
	"github.com/wfrun/wfrun/tasks/worker"
)

// A worker with a Domain polls that domain only: wfrun serve queues a run's
// wfrun_http task in domain blue (taskToDomain), a worker of no domain
// leaves it, and the blue worker runs it. A domain with ':' is refused.
func TestWorkerPollsItsDomain(t *testing.T) {
	var calls atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		calls.Add(1)
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	defer target.Close()
	hs := serveForWorkers(t)
	def := `{"name":"domain_http","version":1,"schemaVersion":2,"tasks":[
	  {"name":"wfrun_http","taskReferenceName":"call","type":"SIMPLE","inputParameters":{
	    "http_request":{"uri":"` + target.URL + `","method":"GET"}}}]}`
	if st, body := testkit.HTTPCall(t, "POST", hs.URL+"/api/metadata/workflow", def); st != 200 {
		t.Fatalf("register: %d %s", st, body)
	}
	run := func(domain string) (stop func()) {
		w, err := worker.New(worker.Config{Server: hs.URL, Tasks: map[string]string{"wfrun_http": "HTTP"},
			Domain: domain, PollTimeout: 100 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { _ = w.Run(ctx); close(done) }()
		return func() { cancel(); <-done }
	}
	stopPlain := run("")
	defer stopPlain()
	st, id := testkit.HTTPCall(t, "POST", hs.URL+"/api/workflow", `{"name":"domain_http","taskToDomain":{"wfrun_http":"blue"}}`)
	if st != 200 {
		t.Fatalf("start: %d %s", st, id)
	}
	time.Sleep(500 * time.Millisecond) // the worker without a domain polls several times
	if calls.Load() != 0 {
		t.Fatal("a worker of no domain ran a task of domain blue")
	}
	stopBlue := run("blue")
	defer stopBlue()
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, exec := testkit.HTTPCall(t, "GET", hs.URL+"/api/workflow/"+id, "")
		if strings.Contains(exec, `"status":"COMPLETED"`) {
			if !strings.Contains(exec, `"domain":"blue"`) {
				t.Errorf("the task record shows no domain: %s", exec)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the blue worker did not run the task: %s", exec)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if calls.Load() != 1 {
		t.Fatalf("target called %d times", calls.Load())
	}
	if _, err := worker.New(worker.Config{Server: hs.URL, Tasks: map[string]string{"wfrun_http": "HTTP"}, Domain: "a:b"}); !errors.Is(err, worker.ErrConfig) {
		t.Fatalf("domain a:b: %v", err)
	}
}
