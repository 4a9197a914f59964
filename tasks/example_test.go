package tasks_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/wfrun/wfrun/tasks"
)

func ExampleNewDefaultRegistry() {
	r := tasks.NewDefaultRegistry()
	inline, _ := r.Lookup("INLINE")
	res := inline.Execute(context.Background(), &tasks.Request{
		TaskType: "INLINE",
		Input:    json.RawMessage(`{"a":1,"b":2,"expression":"(function(){ return $.a + $.b; })()"}`),
		Services: &tasks.Services{},
	})
	fmt.Println(res.Status, string(res.Output))
	// Output: COMPLETED {"result":3}
}

func ExampleHTTPTask() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"hello":"world"}`)
	}))
	defer srv.Close()

	httpTask, _ := tasks.NewDefaultRegistry().Lookup("HTTP")
	res := httpTask.Execute(context.Background(), &tasks.Request{
		TaskType: "HTTP",
		Input:    json.RawMessage(`{"http_request":{"uri":"` + srv.URL + `","method":"GET"}}`),
		Services: &tasks.Services{},
	})
	var out struct {
		Response struct {
			StatusCode int            `json:"statusCode"`
			Body       map[string]any `json:"body"`
		} `json:"response"`
	}
	_ = json.Unmarshal(res.Output, &out)
	fmt.Println(res.Status, out.Response.StatusCode, out.Response.Body["hello"])
	// Output: COMPLETED 200 world
}

func ExampleInlineTask_Validate() {
	inline, _ := tasks.NewDefaultRegistry().Lookup("INLINE")
	errs := inline.(tasks.Validator).Validate(json.RawMessage(
		`{"type":"INLINE","inputParameters":{"evaluatorType":"python","expression":"1"}}`))
	for _, err := range errs {
		fmt.Println(err)
	}
	// Output: inputParameters.evaluatorType: unknown evaluator "python" (want value-param, expr, javascript or graaljs)
}

func ExampleParseDuration() {
	d, _ := tasks.ParseDuration("2 hours 30 minutes")
	fmt.Println(d)
	// Output: 2h30m0s
}

func ExampleParseUntil() {
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	t, _ := tasks.ParseUntil("2026-12-25 09:00 PST", now)
	fmt.Println(t.UTC())
	// Output: 2026-12-25 17:00:00 +0000 UTC
}
