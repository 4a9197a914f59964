package engine_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/interpolate"
	"github.com/wfrun/wfrun/tasks"
)

// The members an HTTP task reads a secret's name from are matched exactly:
// an "auth" written "Auth", or its "secret" written "Secret", would be
// decoded all the same (encoding/json matches names in any case) but no
// load-time rule reads them, so run input chose the secret. Such a task
// now fails naming the member; the server gets no credential.
func TestSecretNameMembersAreMatchedExactly(t *testing.T) {
	var mu sync.Mutex
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Header.Get("Authorization"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{}`))
	}))
	defer srv.Close()
	e, err := engine.New(engine.WithRegistry(tasks.NewDefaultRegistry()), engine.WithSecrets(func(engine.Principal, string, string) interpolate.SecretSource {
		return interpolate.MapSecrets{"other": json.RawMessage(`"OTHER-SECRET-9999"`)}
	}))
	if err != nil {
		t.Fatal(err)
	}
	for name, req := range map[string]string{
		"secret spelled Secret": `{"uri":"` + srv.URL + `","method":"GET","auth":{"type":"bearer","Secret":"${workflow.input.n}"}}`,
		"auth spelled Auth":     `{"uri":"` + srv.URL + `","method":"GET","Auth":"${workflow.input.a}"}`,
	} {
		t.Run(name, func(t *testing.T) {
			d, err := e.Parse([]byte(`{"name":"c","tasks":[{"name":"h","taskReferenceName":"h","type":"HTTP","inputParameters":{"http_request":` + req + `}}]}`))
			if err != nil {
				t.Fatal(err)
			}
			res, err := e.Start(context.Background(), d, json.RawMessage(`{"n":"other","a":{"type":"bearer","secret":"other"}}`))
			if err != nil || res.Status != engine.StatusFailed || !strings.Contains(res.Reason, "must be spelled") {
				t.Fatalf("%v %+v", err, res)
			}
		})
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 0 {
		t.Fatalf("the server was called: %v", got)
	}
}
