package engine_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/tasks"
)

// TestOutputFilterKeepsTheBodyBytes: removing outputFilter from the HTTP
// input edits it in place, so the body reaches the server byte for byte as
// the definition wrote it (a decode/re-encode compacted and reordered it,
// changing what a signer hashes).
func TestOutputFilterKeepsTheBodyBytes(t *testing.T) {
	var mu sync.Mutex
	var got string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = string(b)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id":1}`)
	}))
	defer srv.Close()
	h := newHarness(t, nil, engine.WithRegistry(tasks.NewDefaultRegistry()))
	res := h.run(`{"name":"w","tasks":[{"name":"post","taskReferenceName":"post","type":"HTTP","inputParameters":{
	  "uri":"`+srv.URL+`","method":"POST","body":{"z": 1,  "a": "<&>"},
	  "outputFilter":{"id":"$${post.output.response.body.id}"}}}]}`, `{}`)
	if res.Status != engine.StatusCompleted {
		t.Fatalf("%s %s", res.Status, res.Reason)
	}
	mu.Lock()
	defer mu.Unlock()
	if want := `{"z": 1,  "a": "<&>"}`; got != want {
		t.Fatalf("server received %s, want %s", got, want)
	}
}
