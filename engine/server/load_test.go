package server_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/conductor-sdk/conductor-go/sdk/client"
	"github.com/conductor-sdk/conductor-go/sdk/model"
	"github.com/conductor-sdk/conductor-go/sdk/settings"
	"github.com/conductor-sdk/conductor-go/sdk/worker"
	"github.com/redis/go-redis/v9"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/engine/server"
	"github.com/wfrun/wfrun/internal/redistest"
	"github.com/wfrun/wfrun/internal/testkit"
	"github.com/wfrun/wfrun/interpolate"
	"github.com/wfrun/wfrun/store"
	"github.com/wfrun/wfrun/store/memory"
	"github.com/wfrun/wfrun/store/seal"
	"github.com/wfrun/wfrun/tasks"
)

// TestLoad200Workflows: 200 workflows started concurrently through the API,
// each a SIMPLE task done by 8 Conductor Go SDK workers and an INLINE task,
// on a bolt and on a Redis run store, and on two servers sharing a Redis
// behind a round-robin proxy. Every workflow completes, every task
// runs exactly once; throughput and p99 start-to-end latency are logged.
func TestLoad200Workflows(t *testing.T) {
	const n, workers = 200, 8
	for _, backend := range []string{"bolt", "redis", "redis-2-processes"} {
		t.Run(backend, func(t *testing.T) {
			var runs runstore.Store
			var err error
			var ts *conductorServer
			switch backend {
			case "bolt":
				runs, err = runstore.OpenBolt(filepath.Join(t.TempDir(), "runs.db"))
			case "redis":
				runs, err = runstore.OpenRedis("redis://" + redistest.Start(t) + "/0")
			case "redis-2-processes":
				// Two servers on one Redis behind a round-robin proxy: every
				// request, poll and update may reach either.
				ts = twoProcesses(t, redistest.Start(t))
			}
			if err != nil {
				t.Fatal(err)
			}
			if ts == nil {
				t.Cleanup(func() { _ = runs.Close() })
				ts = newConductorServer(t, runs)
			}
			putSecret(t, ts.store, "load_key", "load-secret-value-0000")

			api := client.NewAPIClient(nil, settings.NewHttpSettings(ts.URL+"/api"))
			def := model.WorkflowDef{Name: "load_flow", Version: 1, SchemaVersion: 2, Tasks: []model.WorkflowTask{
				{Name: "load_task", TaskReferenceName: "work", Type_: "SIMPLE", InputParameters: map[string]any{
					"n": "${workflow.input.n}", "key": "${workflow.secrets.load_key}"}},
				{Name: "sum", TaskReferenceName: "sum", Type_: "INLINE", InputParameters: map[string]any{
					"evaluatorType": "javascript", "expression": "$.v + 1", "v": "${work.output.n}"}},
			}, OutputParameters: map[string]any{"r": "${sum.output.result}"}}
			if _, err := client.NewMetadataClient(api).RegisterWorkflowDef(context.Background(), true, def); err != nil {
				t.Fatal(err)
			}

			var mu sync.Mutex
			executed := map[string]int{} // workflow id → times its SIMPLE task ran
			var active, peak atomic.Int32
			runner := worker.NewTaskRunnerWithApiClient(api)
			err = runner.StartWorker("load_task", func(task *model.Task) (any, error) {
				if c := active.Add(1); c > peak.Load() {
					peak.Store(c)
				}
				defer active.Add(-1)
				mu.Lock()
				executed[task.WorkflowInstanceId]++
				mu.Unlock()
				time.Sleep(2 * time.Millisecond) // a little work, so workers overlap
				return map[string]any{"n": task.InputData["n"]}, nil
			}, workers, 5*time.Millisecond)
			if err != nil {
				t.Fatal(err)
			}
			defer runner.Shutdown("load_task")

			wc := client.NewWorkflowClient(api)
			ids := make([]string, n)
			begin := time.Now()
			var wg sync.WaitGroup
			errs := make(chan error, n)
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					id, _, err := wc.StartWorkflowWithRequest(context.Background(), model.StartWorkflowRequest{Name: "load_flow", Version: 1, Input: map[string]any{"n": i}})
					if err != nil {
						errs <- err
						return
					}
					ids[i] = id
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatalf("start: %v", err)
			}
			deadline := time.Now().Add(120 * time.Second)
			for {
				_, _, body := ts.do(t, "GET", "/api/workflow/search?size=1&query=status%3DCOMPLETED", "")
				var res struct {
					TotalHits int `json:"totalHits"`
				}
				_ = json.Unmarshal([]byte(body), &res)
				if res.TotalHits == n {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%d of %d completed after 120s", res.TotalHits, n)
				}
				time.Sleep(20 * time.Millisecond)
			}
			wall := time.Since(begin)
			latencies := make([]time.Duration, 0, n)
			for i, id := range ids {
				_, _, body := ts.do(t, "GET", "/api/workflow/"+id, "")
				var wf struct {
					Status     string         `json:"status"`
					CreateTime int64          `json:"createTime"`
					EndTime    int64          `json:"endTime"`
					Output     map[string]any `json:"output"`
				}
				if err := json.Unmarshal([]byte(body), &wf); err != nil || wf.Status != "COMPLETED" || wf.Output["r"] != float64(i+1) {
					t.Fatalf("workflow %d: %s", i, body)
				}
				latencies = append(latencies, time.Duration(wf.EndTime-wf.CreateTime)*time.Millisecond)
			}
			mu.Lock()
			for _, id := range ids {
				if executed[id] != 1 {
					t.Errorf("workflow %s: its task ran %d times, want exactly once", id, executed[id])
				}
			}
			if len(executed) != n {
				t.Errorf("tasks ran for %d workflows, want %d", len(executed), n)
			}
			mu.Unlock()
			sort.Slice(latencies, func(i, j int) bool { return latencies[i] < latencies[j] })
			p50, p99 := latencies[n/2], latencies[n*99/100-1]
			t.Logf("%s: %d workflows, %d SDK workers (peak %d concurrent): %.0f workflows/s, start-to-end p50 %s p99 %s, wall %s",
				backend, n, workers, peak.Load(), float64(n)/wall.Seconds(), p50, p99, wall.Round(time.Millisecond))
		})
	}
}

// twoProcesses is two Conductor servers sharing a Redis (runs, task queue)
// and a secret store, behind a round-robin reverse proxy.
func twoProcesses(t *testing.T, addr string) *conductorServer {
	t.Helper()
	st := memory.New()
	defs := t.TempDir()
	ring, err := seal.NewKeyring([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	var backends []*url.URL
	for range 2 {
		runs, err := runstore.OpenRedis("redis://" + addr + "/0")
		if err != nil {
			t.Fatal(err)
		}
		rc := redis.NewClient(&redis.Options{Addr: addr})
		t.Cleanup(func() { _ = rc.Close(); _ = runs.Close() }) // after the server's shutdown
		srv, err := server.New(st, server.WithLogger(slog.New(slog.NewJSONHandler(io.Discard, nil))), server.WithSharedQueue(rc),
			server.WithConductor(defs, engine.WithRunStore(runs), engine.WithKeyring(ring), engine.WithRegistry(tasks.NewDefaultRegistry()),
				engine.WithSecrets(func(p engine.Principal, project, environment string) interpolate.SecretSource {
					return store.NewRunView(st, store.Principal{Name: p.Name, Scopes: p.Scopes}, project, environment)
				})))
		if err != nil {
			t.Fatal(err)
		}
		hs := serveTest(t, srv)
		u, _ := url.Parse(hs.URL)
		backends = append(backends, u)
	}
	var next atomic.Uint32
	proxy := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(backends[next.Add(1)%uint32(len(backends))])
	}}
	hs := httptest.NewServer(proxy)
	t.Cleanup(hs.Close)
	return &conductorServer{testServer: &testServer{Server: hs, store: st, logs: &testkit.SyncBuffer{}}}
}
