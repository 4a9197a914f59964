package tasks

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// BenchmarkHTTPTask compares the HTTP task with a bare net/http client loop
// making the same request (POST with a small JSON body, JSON response) to
// the same loopback server. The bare loop reads the body and decodes it, the
// minimum any caller does with a JSON response. Both send the same headers
// (Content-Type, Accept, X-Trace) through the same client configuration
// (the package's default client); the bare loop sets no timeout, while the
// task always applies its connect and read timeouts. SPEC §8: wfrun within
// 1.2×.
func BenchmarkHTTPTask(b *testing.B) {
	const respBody = `{"id":42,"status":"ok","items":[1,2,3],"name":"benchmark"}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, respBody)
	}))
	defer srv.Close()
	reqBody := `{"a":1,"b":"two"}`
	input := json.RawMessage(`{"uri":"` + srv.URL + `/api","method":"POST","headers":{"X-Trace":"t1"},"body":` + reqBody + `}`)

	b.Run("impl=wfrun", func(b *testing.B) {
		task, _ := NewDefaultRegistry().Lookup(TypeHTTP)
		req := &Request{TaskType: TypeHTTP, Input: input, Services: &Services{}}
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			if res := task.Execute(ctx, req); res.Status != Completed {
				b.Fatal(res.Reason)
			}
		}
	})
	b.Run("impl=net-http", func(b *testing.B) {
		client := newDefaultClient()
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/api", strings.NewReader(reqBody))
			if err != nil {
				b.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept", "application/json")
			req.Header.Set("X-Trace", "t1")
			resp, err := client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != 200 {
				b.Fatal(err, resp.StatusCode)
			}
			var v map[string]any
			if err := json.Unmarshal(body, &v); err != nil {
				b.Fatal(err)
			}
		}
	})
}
