package engine

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

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
// wfrun's call always has one (connectionTimeOut + readTimeOut), and that
// deadline context is part of what impl=wfrun pays.
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
	b.Run("impl=net-http", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
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
	attempt := func(b *testing.B, e *Engine) {
		r := e.newState(def, "bench-run")
		r.doc.WorkflowID = "bench-run"
		if err := r.newSecrets(nil); err != nil {
			b.Fatal(err)
		}
		wt := def.Tasks[0]
		ctx := context.Background()
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
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
	b.Run("impl=wfrun", func(b *testing.B) { attempt(b, e) })
	b.Run("impl=tasks-http", func(b *testing.B) {
		impl, _ := tasks.NewDefaultRegistry().Lookup("HTTP")
		in := []byte(`{"uri":"` + url + `","method":"GET","headers":{"Authorization":"Bearer ` + token + `"}}`)
		svc := &tasks.Services{Masker: masking.New(), HTTPClient: client}
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			res := impl.Execute(context.Background(), &tasks.Request{TaskType: "HTTP", Input: in, Def: def.Tasks[0].raw, Services: svc})
			if res.Status != tasks.Completed {
				b.Fatal(res.Reason)
			}
		}
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
