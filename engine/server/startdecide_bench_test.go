package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/engine/server"
	"github.com/wfrun/wfrun/store/memory"
	"github.com/wfrun/wfrun/tasks"
)

// BenchmarkStartPollUpdate is a worker task's whole way through `wfrun
// serve`: a start (answered once the run's first decision is done, which
// reads the run at each of its events), one poll that takes the task, and
// the worker's update that completes it.
func BenchmarkStartPollUpdate(b *testing.B) {
	srv, err := server.New(memory.New(), server.WithConductor(b.TempDir(),
		engine.WithRunStore(runstore.NewMemory()), engine.WithRegistry(tasks.NewDefaultRegistry())))
	if err != nil {
		b.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	b.Cleanup(func() {
		hs.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	do := func(method, path, body string) []byte {
		req, err := http.NewRequest(method, hs.URL+path, bytes.NewBufferString(body))
		if err != nil {
			b.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		if resp.StatusCode/100 != 2 {
			b.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, out)
		}
		return out
	}
	do("POST", "/api/metadata/workflow", `{"name":"bench_spu","version":1,"schemaVersion":2,"tasks":[
		{"name":"i","taskReferenceName":"i","type":"INLINE","inputParameters":{"evaluatorType":"javascript","expression":"1+1"}},
		{"name":"v","taskReferenceName":"v","type":"SET_VARIABLE","inputParameters":{"x":"${i.output.result}"}},
		{"name":"bench_spu_task","taskReferenceName":"w","type":"SIMPLE","inputParameters":{"x":"${workflow.input.x}"}}]}`)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		id := string(do("POST", "/api/workflow/bench_spu", `{"x":"y"}`))
		var got []struct {
			TaskID string `json:"taskId"`
		}
		if err := json.Unmarshal(do("GET", "/api/tasks/poll/batch/bench_spu_task?workerid=w&count=1&timeout=2000", ""), &got); err != nil || len(got) != 1 {
			b.Fatalf("poll: %v %v", got, err)
		}
		res, _ := json.Marshal(map[string]any{"workflowInstanceId": id, "taskId": got[0].TaskID, "status": "COMPLETED", "outputData": map[string]any{"r": 1}})
		do("POST", "/api/tasks", string(res))
	}
}
