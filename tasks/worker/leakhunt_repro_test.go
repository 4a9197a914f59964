package worker_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/wfrun/wfrun/internal/leakscan"
	"github.com/wfrun/wfrun/store"
	"github.com/wfrun/wfrun/store/bolt"
	"github.com/wfrun/wfrun/store/seal"
	"github.com/wfrun/wfrun/tasks"
	"github.com/wfrun/wfrun/tasks/worker"
)

// Reproducers of the leaks TestWorkerLeakHuntGenerated found, each fixed:
// they keep the leaks fixed. A new one fails until its leak is fixed, and
// its shape is listed in lhwExclusions (leakhunt_test.go) meanwhile.

// TestWorkerLeakValueCutAtHashInURI: a worker-only secret holding '#'
// written into an HTTP task's URI (`?q=$<workflow.secrets.x>`, or a path
// segment) is cut there by URL parsing: what precedes the '#' is the
// query, the rest a fragment that is never sent. The destination answers
// with the request URI it got (an echo, a 4xx quoting the request), so
// the task's output holds the value's first part, which is no registered
// form of the value: the worker posts it to the Conductor server
// unmasked — its first 12 bytes here.
func TestWorkerLeakValueCutAtHashInURI(t *testing.T) {
	const value = "Frag0Prefix9#rest-of-the-value"
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"uri": r.RequestURI})
	}))
	defer target.Close()
	in := `{"http_request":{"uri":"` + target.URL + `/echo?q=$<workflow.secrets.x>","method":"GET"}}`
	results, logs := pollOnceWith(t, nil, map[string]string{"h": tasks.TypeHTTP}, value,
		`{"taskId":"t1","workflowInstanceId":"w1","taskDefName":"h","inputData":`+in+`,"workflowTask":{"inputParameters":`+in+`}}`)
	b, _ := json.Marshal(results["t1"])
	if strings.Contains(string(b), "Frag0Prefix9") || strings.Contains(logs, "Frag0Prefix9") {
		t.Errorf("the part of the value before '#' reached the server: %s", b)
	}
}

// TestWorkerLeakNumberSecretAsTimeout: a secret that is a long number (a
// 19-digit account number; here as digits in a string, a JSON number does
// the same) used as an HTTP task's readTimeOut goes through a float64: the
// task's failure reason prints the double's exact integer expansion
// ("…for 9123456789012345856ms"), which is none of the forms a number is
// registered in (as written, the shortest double "9123456789012346000",
// exponent forms), so its first 16 digits reach the Conductor server. The
// reason is written at all because the milliseconds overflow a
// time.Duration here (the call times out at once).
func TestWorkerLeakNumberSecretAsTimeout(t *testing.T) {
	const value = "9123456789012345678"
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{}`))
	}))
	defer target.Close()
	in := `{"http_request":{"uri":"` + target.URL + `","method":"GET","readTimeOut":"$<workflow.secrets.x>"}}`
	results, logs := pollOnceWith(t, nil, map[string]string{"h": tasks.TypeHTTP}, value,
		`{"taskId":"t1","workflowInstanceId":"w1","taskDefName":"h","inputData":`+in+`,"workflowTask":{"inputParameters":`+in+`}}`)
	b, _ := json.Marshal(results["t1"])
	if strings.Contains(string(b), "91234567890123") || strings.Contains(logs, "91234567890123") {
		t.Errorf("digits of the value reached the server: %s", b)
	}
}

// TestWorkerLeakSecretNameFromValue: a literal `$<workflow.secrets.x>`
// where a task names a secret — UPDATE_SECRET's secretKey (here after the
// prefix the worker's scope lets it write), HTTP auth.secret, EXEC bundles
// — passes the worker's "names are literal in the definition" check (the
// text IS literal) and is then resolved: x's value becomes a secret's name.
// Names are not sealed: the store's audit log (a read "not-found" or
// "denied" by that name, and the secret UPDATE_SECRET writes under it)
// keeps the value in clear in the worker's store file.
func TestWorkerLeakSecretNameFromValue(t *testing.T) {
	const value = "NameFromValue0a1b2c3d4e"
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{}`))
	}))
	defer target.Close()
	for _, tc := range []struct{ name, kind, in string }{
		{"UPDATE_SECRET secretKey", tasks.TypeUpdateSecret, `{"_secrets":{"secretKey":"rot_$<workflow.secrets.x>","secretValue":"new-value-for-rotation"}}`},
		{"HTTP auth.secret", tasks.TypeHTTP, `{"http_request":{"uri":"` + target.URL + `","method":"GET","auth":{"type":"bearer","secret":"rot_$<workflow.secrets.x>"}}}`},
		{"EXEC bundles", tasks.TypeExec, `{"command":["true"],"bundles":["rot_$<workflow.secrets.x>"]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ring, err := seal.NewKeyring(bytes.Repeat([]byte{7}, 32))
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), bolt.FileName)
			st, err := bolt.Open(path, ring)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			v, _ := json.Marshal(value)
			if _, err := st.Put(context.Background(), &store.Secret{Name: "x", Value: v}); err != nil {
				t.Fatal(err)
			}
			reg := tasks.NewDefaultRegistry()
			tasks.RegisterExec(reg)
			results, _ := pollWith(t, worker.Config{Tasks: map[string]string{"k": tc.kind}, Registry: reg,
				Secrets: store.NewRunView(st, store.Principal{Name: "worker", Scopes: []string{"secrets:get:x", "secrets:get:rot_*", "secrets:set:rot_*"}}, "", "")},
				`{"taskId":"t1","workflowInstanceId":"w1","taskDefName":"k","inputData":`+tc.in+`,"workflowTask":{"inputParameters":`+tc.in+`}}`)
			raw, _ := os.ReadFile(path)
			if bytes.Contains(raw, []byte(value)) {
				t.Errorf("the worker's store file holds the value in clear (task answered %v)", results["t1"])
			}
		})
	}
}

// TestWorkerLeakBase64OfDoublyEscapedValue: the destination answers with
// base64 of a JSON document that quotes the request's JSON body as a
// string (an echo service; a JWT-like token whose payload carries the
// request): a value with JSON specials ('"', '\', '<') is escaped twice
// there before the base64. That form is not masked, so the value reaches
// the Conductor server in the task's output (leakscan's "base64 of json
// twice").
func TestWorkerLeakBase64OfDoublyEscapedValue(t *testing.T) {
	const value = `Dbl"Esc\aped<val>ue-9f8e7d6c5b4a`
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		doc, _ := json.Marshal(map[string]string{"body": string(body)})
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, base64.StdEncoding.EncodeToString(doc))
	}))
	defer target.Close()
	in := `{"http_request":{"uri":"` + target.URL + `","method":"POST","body":{"k":"$<workflow.secrets.x>"}}}`
	results, _ := pollOnceWith(t, nil, map[string]string{"h": tasks.TypeHTTP}, value,
		`{"taskId":"t1","workflowInstanceId":"w1","taskDefName":"h","inputData":`+in+`,"workflowTask":{"inputParameters":`+in+`}}`)
	b, _ := json.Marshal(results["t1"])
	m := leakscan.NewMatcher([]leakscan.Secret{{Name: "x", Needles: []string{value}}})
	if _, p := m.Find(b); p != nil {
		t.Errorf("the server got the value as %s: %s", p.Form, m.Scrub(b))
	}
}

// TestWorkerLeakAcceptHeaderToAnotherHost: an HTTP task whose `accept`
// input carries a secret, with followRedirects allowing another host: the
// destination redirects there (302 here; a 307 of a request without a
// body does the same) and the Accept header goes along with the value.
// SPEC §4 and SECURITY.md: no header of the task goes to another host —
// the redirect policy strips the `headers` map and the credentials, not
// the header made from `accept`. (A `contentType` holding a value is safe
// here: a 302 drops the body and its Content-Type, a 307 with a body
// fails the task.)
func TestWorkerLeakAcceptHeaderToAnotherHost(t *testing.T) {
	const value = "AcceptCarried-5e4d3c2b1a"
	var mu sync.Mutex
	var got []string
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b bytes.Buffer
		_ = r.Header.Write(&b)
		mu.Lock()
		got = append(got, b.String())
		mu.Unlock()
		_, _ = w.Write([]byte(`{}`))
	}))
	defer other.Close()
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/landed", http.StatusFound)
	}))
	defer target.Close()
	host := strings.TrimPrefix(other.URL, "http://")
	in := `{"http_request":{"uri":"` + target.URL + `","method":"GET","accept":"$<workflow.secrets.x>","followRedirects":["` + host + `"]}}`
	_, _ = pollOnceWith(t, nil, map[string]string{"h": tasks.TypeHTTP}, value,
		`{"taskId":"t1","workflowInstanceId":"w1","taskDefName":"h","inputData":`+in+`,"workflowTask":{"inputParameters":`+in+`}}`)
	mu.Lock()
	defer mu.Unlock()
	for _, h := range got {
		if strings.Contains(h, value) {
			t.Errorf("another host received the value:\n%s", h)
		}
	}
}
