package runsecrets_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"

	"github.com/wfrun/wfrun/interpolate"
	"github.com/wfrun/wfrun/runsecrets"
	"github.com/wfrun/wfrun/store/seal"
)

// A workflow executor that is not wfrun's engine plugs wfrun's secret
// handling in: it runs two tasks — an HTTP call authenticated with a bearer
// secret, then a step that echoes the secret back — and keeps only what
// runsecrets hands it for storage.
func Example() {
	const token = "tok-3f9a7c21e5b8"
	// The remote API echoes the credential it received: the worst case.
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"seen":%q}`, r.Header.Get("Authorization"))
	}))
	defer api.Close()

	ctx := context.Background()
	ring, _ := seal.NewKeyring([]byte("0123456789abcdef0123456789abcdef")) // keep it across processes
	secrets := interpolate.MapSecrets{"api_token": json.RawMessage(`"` + token + `"`)}
	run, err := runsecrets.New("run-1", secrets, ring, runsecrets.Requiring(runsecrets.Needs{Read: true}))
	if err != nil {
		panic(err)
	}
	stored := map[string][]byte{} // this executor's run store

	// Task 1: an HTTP call. Resolve gives the stored input (reference kept)
	// and the transient one (value), and registers the value.
	call := interpolate.MustCompile([]byte(`{"uri":"` + api.URL + `","headers":{"Authorization":"Bearer ${workflow.secrets.api_token}"}}`))
	env, _ := interpolate.NewDocEnv([]byte(`{"workflow":{"input":{}}}`))
	in, transient, err := run.Resolve(ctx, call, env)
	if err != nil {
		panic(err)
	}
	var req struct {
		URI     string            `json:"uri"`
		Headers map[string]string `json:"headers"`
	}
	_ = json.Unmarshal(transient, &req)
	hr, _ := http.NewRequestWithContext(ctx, http.MethodGet, req.URI, nil)
	hr.Header.Set("Authorization", req.Headers["Authorization"])
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		panic(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	_, out, err := run.Protect(body, "/tasks/call/outputData")
	if err != nil {
		panic(err)
	}
	stored["call.input"], stored["call.output"] = in, out

	// Task 2: a step that echoes the secret, once in the open and once
	// under _secrets (kept readable for later tasks, sealed in storage).
	echo := interpolate.MustCompile([]byte(`{"said":"${workflow.secrets.api_token}","_secrets":{"token":"${workflow.secrets.api_token}"}}`))
	in, transient, err = run.Resolve(ctx, echo, env)
	if err != nil {
		panic(err)
	}
	mem, out, err := run.Protect(transient, "/tasks/echo/outputData") // the step's output is its input
	if err != nil {
		panic(err)
	}
	stored["echo.input"], stored["echo.output"] = in, out

	sealed := regexp.MustCompile(`wfrun-sealed:v1:[A-Za-z0-9+/=]+`)
	for _, k := range []string{"call.input", "call.output", "echo.input", "echo.output"} {
		shown := sealed.ReplaceAllString(string(stored[k]), "<sealed>")
		fmt.Printf("%s: %s\n", k, strings.ReplaceAll(shown, api.URL, "URL"))
	}
	leaked := false
	for _, v := range stored {
		leaked = leaked || strings.Contains(string(v), token)
	}
	fmt.Println("token stored in clear:", leaked)
	fmt.Println("later tasks read _secrets:", strings.Contains(string(mem), token))
	// Output:
	// call.input: {"uri":"URL","headers":{"Authorization":"Bearer ${workflow.secrets.api_token}"}}
	// call.output: {"seen":"Bearer ***"}
	// echo.input: {"said":"${workflow.secrets.api_token}","_secrets":{"token":"${workflow.secrets.api_token}"}}
	// echo.output: {"said":"***","_secrets":"<sealed>"}
	// token stored in clear: false
	// later tasks read _secrets: true
}

// A task's input is kept in the form Resolve stores (secret references as
// written) and protected without being validated again: a compiled
// template's output is valid JSON.
func ExampleRun_ProtectResolved() {
	ring, _ := seal.NewKeyring([]byte("0123456789abcdef0123456789abcdef"))
	run, err := runsecrets.New("run-1", interpolate.MapSecrets{"api_token": json.RawMessage(`"tok-3f9a7c21e5b8"`)}, ring)
	if err != nil {
		panic(err)
	}
	tpl := interpolate.MustCompile([]byte(`{"auth":"Bearer ${workflow.secrets.api_token}","n":"${workflow.input.n}"}`))
	env, _ := interpolate.NewDocEnv([]byte(`{"workflow":{"input":{"n":2}}}`))
	stored, transient, err := run.Resolve(context.Background(), tpl, env)
	if err != nil {
		panic(err)
	}
	mem, kept, err := run.ProtectResolved(stored, "/tasks/t1/inputData")
	fmt.Println(string(mem), string(kept) == string(mem), err)
	fmt.Println(strings.Contains(string(transient), "tok-3f9a7c21e5b8"))
	// Output:
	// {"auth":"Bearer ${workflow.secrets.api_token}","n":2} true <nil>
	// true
}

// An executor that stores many forms re-masks, after a value is registered
// mid-run, only those the value may be in.
func ExampleNewRemaskIndex() {
	ring, _ := seal.NewKeyring([]byte("0123456789abcdef0123456789abcdef"))
	run, err := runsecrets.New("run-2", interpolate.MapSecrets{}, ring)
	if err != nil {
		panic(err)
	}
	stored := map[string][]byte{}
	index := runsecrets.NewRemaskIndex[string](run)
	for i, out := range []string{`{"echo":"tok-51ab9e77c0"}`, `{"status":200}`} {
		key := fmt.Sprintf("/tasks/t%d/outputData", i)
		_, st, err := run.Protect([]byte(out), key)
		if err != nil {
			panic(err)
		}
		stored[key] = st
		index.SetJSON(key, st)
	}
	// A task's output carries a new value in `_secrets`: Protect registers it.
	since := run.Generation()
	if _, _, err := run.Protect([]byte(`{"_secrets":{"token":"tok-51ab9e77c0"}}`), "/tasks/t2/outputData"); err != nil {
		panic(err)
	}
	for _, key := range index.Candidates(since, nil) {
		stored[key] = run.Remask(stored[key], key)
		index.SetJSON(key, stored[key])
		fmt.Println(key, string(stored[key]))
	}
	// Output: /tasks/t0/outputData {"echo":"***"}
}
