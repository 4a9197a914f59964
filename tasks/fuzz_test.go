package tasks

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/wfrun/wfrun/tasks/eval"
)

// FuzzLeafTasks feeds arbitrary bytes as the input of every leaf task (no
// network: the URI points at a closed port) and as a definition node to
// every validator. Nothing may panic; every failure has a status and a
// reason; every output is a JSON object; validator errors are FieldErrors.
func FuzzLeafTasks(f *testing.F) {
	for _, s := range []string{
		`{"uri":"http://127.0.0.1:1/x","method":"GET"}`,
		`{"http_request":{"uri":"http://127.0.0.1:1","method":"POST","body":"x","contentType":"text/plain"}}`,
		`{"expression":"(function(){ return $.a + $.b; })()","a":1,"b":2}`,
		`{"evaluatorType":"expr","expression":"a +"}`,
		`{"queryExpression":".a[] | .b","a":[{"b":1}]}`,
		`{"inputParameters":{"http_request":{"uri":"x","method":"GET","terminationCondition":"true"}}}`,
		`{"inputParameters":{"expression":5}}`, `null`, `[]`, `"str"`, `{"headers":{"a":[1]}}`, `{`,
	} {
		f.Add([]byte(s))
	}
	r := NewDefaultRegistry(WithEvalOptions(eval.WithTimeout(50*time.Millisecond)), WithJQLimits(50*time.Millisecond, 100))
	types := []string{TypeHTTP, TypeHTTPPoll, TypeInline, TypeJSONJQTransform}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, typ := range types {
			task, _ := r.Lookup(typ)
			if typ != TypeHTTPPoll { // HTTP_POLL may legitimately wait between polls
				ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
				res := task.Execute(ctx, &Request{TaskType: typ, Input: data, Services: newServices()})
				cancel()
				if res.Status == "" || (res.Status != Completed && res.Reason == "") {
					t.Fatalf("%s: status %q reason %q", typ, res.Status, res.Reason)
				}
				if len(res.Output) > 0 {
					var m map[string]any
					if err := json.Unmarshal(res.Output, &m); err != nil {
						t.Fatalf("%s: output not an object: %s", typ, res.Output)
					}
				}
			}
			for _, err := range task.(Validator).Validate(data) {
				var fe *FieldError
				if !errors.As(err, &fe) {
					t.Fatalf("%s validator: %T %v", typ, err, err)
				}
			}
		}
	})
}

// FuzzWaitTime checks that ParseDuration and ParseUntil never panic and
// never return a negative duration.
func FuzzWaitTime(f *testing.F) {
	for _, s := range []string{"10m20s", "2 hours 30 minutes", "1d", "2026-12-25 09:00 PST", "2026-12-25", "1.5.5h", "9999999999999999999d"} {
		f.Add(s)
	}
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		if d, err := ParseDuration(s); err == nil && d < 0 {
			t.Fatalf("ParseDuration(%q) = %v", s, d)
		} else if err != nil && !errors.Is(err, ErrBadWaitTime) {
			t.Fatalf("ParseDuration(%q): %v", s, err)
		}
		if _, err := ParseUntil(s, now); err != nil && !errors.Is(err, ErrBadWaitTime) {
			t.Fatalf("ParseUntil(%q): %v", s, err)
		}
	})
}
