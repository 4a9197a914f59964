package engine

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/wfrun/wfrun/interpolate"
	"github.com/wfrun/wfrun/masking"
	"github.com/wfrun/wfrun/tasks"
)

// BenchmarkHTTPTask compares the engine's HTTP task path with a bare
// net/http client loop making the same request to the same loopback server
// (SPEC §8: impl=wfrun within 1.2× impl=net-http).
//
// Like with like: both send the same GET with the same Authorization and
// Accept headers and get the same JSON response, over the same *http.Client
// (wfrun is given it with WithHTTPClient, as an embedder would), so the
// ratio is wfrun's own overhead, not a difference of transport settings.
// The bare loop does what a plain client user does with the job: build the
// request, send it, read and parse the JSON body. It sets no timeout;
// wfrun's call always applies connectionTimeOut and readTimeOut (through a
// clone of the client's transport whose connections keep the read
// deadline), and that is part of what impl=wfrun pays.
//
//   - impl=net-http: the bare loop;
//   - impl=wfrun: one HTTP task through the engine's own task path
//     (execLeaf, as a run executes it): begin (the input template executed
//     for the stored form and, with the token from the secret source, for
//     the transient one; the used value registered with the run's masker),
//     the tasks package's HTTP executor, the output filter, the output
//     masked and sealed, and the task's one write (its record, to the
//     memory run store). The run's masker is reused, as for a run with many
//     tasks; the run's task list is emptied between iterations so that
//     each one schedules the task afresh;
//   - impl=tasks-http: the tasks package's HTTP executor alone, on the
//     already resolved input (attributes the gap);
//   - impl=interleaved: net-http and wfrun in turn, reporting each one's
//     time per request and their ratio (the figure to read on a loaded
//     machine), and the ratio of their median request times (steadier
//     still when other processes take a core now and then);
//   - impl=wfrun-no-network: impl=wfrun with an executor that returns the
//     recorded response at once: the engine's own cost per task;
//   - impl=tasks-http+engine-work: impl=tasks-http's request, each followed
//     by impl=wfrun-no-network's task: the engine's own work between
//     requests, done apart from the request path;
//   - impl=net-http+engine-time: the bare loop, each request followed by a
//     busy loop (arithmetic only: no memory touched, nothing allocated) as
//     long as the engine's own part of a task (impl=wfrun-no-network's
//     time, measured first in this sub-benchmark): what the machine
//     charges for that much CPU between requests, apart from anything the
//     engine does to the requests (on a VM where parking and waking a
//     thread is dear, time between requests costs more than itself: the
//     idle threads stop spinning and each request wakes them again);
//   - impl=wfrun-default-client: impl=wfrun with the tasks package's
//     default client (http.DefaultTransport's settings: proxy from the
//     environment, idle connection timer), shown for scale;
//   - impl=wfrun-run: a whole one-task run, every transition persisted in
//     the memory run store and the run archived (shown for scale; the
//     per-transition persistence is what BenchmarkRun measures).
func BenchmarkHTTPTask(b *testing.B) {
	const token = "tok-9f8e7d6c5b4a"
	body := `{"id":42,"name":"widget","tags":["a","b","c"],"price":9.99}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+token {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, body)
	}))
	defer srv.Close()
	url := srv.URL + "/items/42"
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	netHTTP := func(b *testing.B) {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Accept", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		var v map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&v); err != nil || resp.StatusCode != 200 {
			b.Fatal(err, resp.StatusCode)
		}
		resp.Body.Close()
	}
	b.Run("impl=net-http", func(b *testing.B) {
		b.ReportAllocs()
		cpu := cpuNanos()
		for i := 0; i < b.N; i++ {
			netHTTP(b)
		}
		reportCPU(b, cpu)
	})
	secrets := WithSecrets(func(Principal, string, string) interpolate.SecretSource {
		return interpolate.MapSecrets{"api_token": json.RawMessage(`"` + token + `"`)}
	})
	e, err := New(WithRegistry(tasks.NewDefaultRegistry()), WithHTTPClient(client), secrets)
	if err != nil {
		b.Fatal(err)
	}
	eDefault, err := New(WithRegistry(tasks.NewDefaultRegistry()), secrets)
	if err != nil {
		b.Fatal(err)
	}
	def, err := e.Parse([]byte(`{"name":"http","tasks":[{"name":"get","taskReferenceName":"get","type":"HTTP","inputParameters":{
	  "uri":"` + url + `","method":"GET","headers":{"Authorization":"Bearer ${workflow.secrets.api_token}"}}}],
	  "outputParameters":{"id":"${get.output.response.body.id}"}}`))
	if err != nil {
		b.Fatal(err)
	}
	// leafTask returns one execution of the HTTP task through execLeaf, on
	// a run whose task list is emptied each time so that the task is
	// scheduled afresh.
	leafTask := func(b *testing.B, e *Engine, def *Definition) func() {
		r := e.newState(def, "bench-run")
		r.doc.WorkflowID = "bench-run"
		if err := r.newSecrets(nil); err != nil {
			b.Fatal(err)
		}
		wt := def.Tasks[0]
		ctx := context.Background()
		return func() {
			r.mu.Lock()
			r.tasks, r.dirty, r.doc.NextSeq = r.tasks[:0], r.dirty[:0], 0
			clear(r.byRef)
			clear(r.latest)
			r.mu.Unlock()
			if err := r.execLeaf(ctx, wt, "", 0); err != nil {
				b.Fatal(err)
			}
			if rec := r.lookup(wt.TaskReferenceName); rec == nil || rec.Status != TaskCompleted {
				b.Fatalf("task: %+v", rec)
			}
		}
	}
	attempt := func(b *testing.B, e *Engine) {
		task := leafTask(b, e, def)
		b.ReportAllocs()
		b.ResetTimer()
		cpu := cpuNanos()
		for i := 0; i < b.N; i++ {
			task()
		}
		reportCPU(b, cpu)
	}
	b.Run("impl=wfrun", func(b *testing.B) { attempt(b, e) })
	// tasksHTTP returns one request of the tasks package's HTTP executor
	// on the already resolved input.
	tasksHTTP := func(b *testing.B) func() {
		impl, _ := tasks.NewDefaultRegistry().Lookup("HTTP")
		in := []byte(`{"uri":"` + url + `","method":"GET","headers":{"Authorization":"Bearer ` + token + `"}}`)
		svc := &tasks.Services{Masker: masking.New(), HTTPClient: client}
		return func() {
			res := impl.Execute(context.Background(), &tasks.Request{TaskType: "HTTP", Input: in, Def: def.Tasks[0].raw, Services: svc})
			if res.Status != tasks.Completed {
				b.Fatal(res.Reason)
			}
		}
	}
	b.Run("impl=tasks-http", func(b *testing.B) {
		request := tasksHTTP(b)
		b.ReportAllocs()
		cpu := cpuNanos()
		defer reportCPU(b, cpu)
		for i := 0; i < b.N; i++ {
			request()
		}
	})
	b.Run("impl=interleaved", func(b *testing.B) {
		// One net-http request and one wfrun task per iteration, in turn
		// first: on a loaded machine the load falls on both alike, so the
		// ratio holds where the separate figures drift.
		task := leafTask(b, e, def)
		var tNet, tWf time.Duration
		// Each request's time too, for the medians: a core taken by another
		// process for a while inflates a few requests of either side, which
		// moves the means (and their ratio) but hardly the medians.
		each := make([]time.Duration, 2*b.N)
		nets, wfs := each[:b.N], each[b.N:]
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			t0 := time.Now()
			if i%2 == 0 {
				netHTTP(b)
				t1 := time.Now()
				task()
				nets[i], wfs[i] = t1.Sub(t0), time.Since(t1)
			} else {
				task()
				t1 := time.Now()
				netHTTP(b)
				wfs[i], nets[i] = t1.Sub(t0), time.Since(t1)
			}
			tNet, tWf = tNet+nets[i], tWf+wfs[i]
		}
		b.StopTimer()
		b.ReportMetric(float64(tNet.Nanoseconds())/float64(b.N), "net-http-ns/req")
		b.ReportMetric(float64(tWf.Nanoseconds())/float64(b.N), "wfrun-ns/req")
		b.ReportMetric(float64(tWf)/float64(tNet), "wfrun/net-http")
		slices.Sort(nets)
		slices.Sort(wfs)
		b.ReportMetric(float64(wfs[b.N/2])/float64(nets[b.N/2]), "p50-wfrun/net-http")
	})
	// eNoNet runs the task with an executor that returns the response
	// impl=wfrun receives, at once: the engine's own part of impl=wfrun.
	reg := tasks.NewDefaultRegistry()
	reg.Register("HTTP", recordedTask(`{"response":{"statusCode":200,"reasonPhrase":"200 OK","headers":{"Content-Length":["61"],"Content-Type":["application/json"],"Date":["Tue, 01 Dec 2026 01:14:30 GMT"]},"body":`+body+`}}`))
	eNoNet, err := New(WithRegistry(reg), secrets)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("impl=wfrun-no-network", func(b *testing.B) { attempt(b, eNoNet) })
	b.Run("impl=tasks-http+engine-work", func(b *testing.B) {
		// impl=tasks-http's request followed by impl=wfrun-no-network's
		// task: the engine's own work done between two requests, apart
		// from the request path (compare with impl=wfrun, and with
		// impl=net-http+engine-time, where the time between requests is
		// spent in registers only).
		request, task := tasksHTTP(b), leafTask(b, eNoNet, def)
		b.ReportAllocs()
		cpu := cpuNanos()
		defer reportCPU(b, cpu)
		for i := 0; i < b.N; i++ {
			request()
			task()
		}
	})
	b.Run("impl=net-http+engine-time", func(b *testing.B) {
		task := leafTask(b, eNoNet, def)
		const warm, measured = 2000, 20000
		var t0 time.Time
		for i := 0; i < warm+measured; i++ {
			if i == warm {
				t0 = time.Now()
			}
			task()
		}
		engineTime := time.Since(t0) / measured
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			netHTTP(b)
			busyFor(engineTime)
		}
		b.StopTimer()
		b.ReportMetric(float64(engineTime.Nanoseconds()), "busy-ns/op")
	})
	b.Run("impl=wfrun-default-client", func(b *testing.B) { attempt(b, eDefault) })
	b.Run("impl=wfrun-run", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			res, err := e.Start(context.Background(), def, nil)
			if err != nil || res.Status != StatusCompleted || string(res.Output) != `{"id":42}` {
				b.Fatalf("%v %+v", err, res)
			}
		}
	})
}

// busySink keeps busyFor's arithmetic from being optimised away.
var busySink uint64

// busyFor keeps the goroutine busy for d with arithmetic in registers:
// CPU time that touches no memory and allocates nothing.
func busyFor(d time.Duration) {
	t0 := time.Now()
	x := uint64(1)
	for time.Since(t0) < d {
		for j := 0; j < 32; j++ {
			x = x*6364136223846793005 + 1442695040888963407
		}
	}
	busySink += x
}

// reportCPU reports the process's CPU time (every goroutine: client,
// server, collector) per operation since start: on a loaded machine it
// moves less than the wall time, which also counts waiting for a core.
func reportCPU(b *testing.B, start int64) {
	if start > 0 {
		b.ReportMetric(float64(cpuNanos()-start)/float64(b.N), "cpu-ns/op")
	}
}

// recordedTask is an executor that returns one recorded output, valid JSON
// built by the executor as the HTTP task's is (OutputValid).
type recordedTask string

func (t recordedTask) Execute(context.Context, *tasks.Request) tasks.Result {
	return tasks.Result{Status: tasks.Completed, Output: []byte(t), OutputValid: true}
}
