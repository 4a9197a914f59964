package tasks

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
)

// valueMasker is a small real Masker: it replaces registered values.
type valueMasker struct {
	mu   sync.Mutex
	vals []string
}

func (m *valueMasker) Mask(b []byte) []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, v := range m.vals {
		b = bytes.ReplaceAll(b, []byte(v), []byte("***"))
	}
	return b
}

func (m *valueMasker) Register(v string) bool {
	if len(v) < 3 {
		return false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.vals = append(m.vals, v)
	return true
}

func newServices(secrets ...string) *Services {
	m := &valueMasker{}
	for _, s := range secrets {
		m.Register(s)
	}
	return &Services{Masker: m}
}

// run executes the registered task type with input built from a Go value.
func run(t testing.TB, r *Registry, typ string, input any, svc *Services) Result {
	t.Helper()
	return runCtx(context.Background(), t, r, typ, input, svc)
}

func runCtx(ctx context.Context, t testing.TB, r *Registry, typ string, input any, svc *Services) Result {
	t.Helper()
	task, ok := r.Lookup(typ)
	if !ok {
		t.Fatalf("%s not registered", typ)
	}
	var raw json.RawMessage
	switch x := input.(type) {
	case string:
		raw = json.RawMessage(x)
	default:
		b, err := json.Marshal(input)
		if err != nil {
			t.Fatal(err)
		}
		raw = b
	}
	if svc == nil {
		svc = newServices()
	}
	return task.Execute(ctx, &Request{WorkflowID: "wf", TaskID: "t1", RefName: "ref", TaskType: typ, Input: raw, Services: svc})
}

// output decodes a result's output object.
func output(t testing.TB, res Result) map[string]any {
	t.Helper()
	if len(res.Output) == 0 {
		return map[string]any{}
	}
	var m map[string]any
	if err := json.Unmarshal(res.Output, &m); err != nil {
		t.Fatalf("output is not a JSON object: %v: %s", err, res.Output)
	}
	return m
}

// path walks a decoded JSON value by keys.
func path(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func wantStatus(t testing.TB, res Result, st Status, reasonHas ...string) {
	t.Helper()
	if res.Status != st {
		t.Fatalf("status %s, want %s (reason %q, output %s)", res.Status, st, res.Reason, res.Output)
	}
	for _, s := range reasonHas {
		if !strings.Contains(res.Reason, s) {
			t.Fatalf("reason %q does not contain %q", res.Reason, s)
		}
	}
}

func jsonText(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
