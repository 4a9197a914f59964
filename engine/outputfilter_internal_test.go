package engine

import "testing"

func TestPromoteEscapes(t *testing.T) {
	for in, want := range map[string]string{
		"$${a.output.x}":          "${a.output.x}",
		"$$<a.output.x>":          "$<a.output.x>",
		"${live} and $${escaped}": "${live} and ${escaped}",
		"$$${x}":                  "$${x}", // one level only: still an escape afterwards
		"cost $$5, $$":            "cost $$5, $$",
		"no dollars":              "no dollars",
		"$$":                      "$$",
		"$${":                     "${",
	} {
		if got := promoteEscapes(in); got != want {
			t.Errorf("promoteEscapes(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestWithholdReason(t *testing.T) {
	raw := []byte(`{"response":{"statusCode":500,"reasonPhrase":"Internal Server Error","body":{"token":"tok-123456789"}}}`)
	for reason, want := range map[string]string{
		`HTTP 500 Internal Server Error: {"token":"tok-123456789"}`: "HTTP 500 Internal Server Error (details withheld: the task's output goes through its outputFilter)",
		"connection refused": "connection refused",
		"":                   "",
	} {
		if got := withholdReason(reason, raw); got != want {
			t.Errorf("withholdReason(%q) = %q, want %q", reason, got, want)
		}
	}
	long := []byte(`{"response":{"body":"` + "a-very-long-text-body-that-the-excerpt-cuts-somewhere-in-the-middle" + `"}}`)
	if got := withholdReason("HTTP 502: a-very-long-text-body-that-the-exc…", long); got != "HTTP 502 (details withheld: the task's output goes through its outputFilter)" {
		t.Errorf("excerpt of a long body: %q", got)
	}
}

// FuzzOutputFilterDefinition: any outputFilter value loads or fails with a
// located problem, never a panic.
func FuzzOutputFilterDefinition(f *testing.F) {
	for _, s := range []string{`{"a":"$${t.output.x}"}`, `"$${t.output}"`, `5`, `{"a":["$$<t.output.y>",{"b":"$${t.output.a"}]}`, `null`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, filter string) {
		def := `{"name":"f","tasks":[{"name":"t","taskReferenceName":"t","type":"INLINE","inputParameters":{"expression":"1","outputFilter":` + filter + `}}]}`
		_, _ = ParseDefinition([]byte(def))
		_ = promoteEscapes(filter)
		_ = withholdReason(filter, []byte(filter))
	})
}

func TestWithoutOutputFilterKeepsBytes(t *testing.T) {
	wt := &WorkflowTask{outputFilter: &outputFilter{}}
	in := []byte(`{"body":{"q":"a<b&c>d","n":1.50},"outputFilter":{"x":"${t.output.y}"},"uri":"http://h/?a=1&b=2"}`)
	got := string(withoutOutputFilter(wt, in))
	if got != `{"body":{"q":"a<b&c>d","n":1.50},"uri":"http://h/?a=1&b=2"}` {
		t.Fatalf("got %s", got)
	}
	if string(withoutOutputFilter(&WorkflowTask{}, in)) != string(in) {
		t.Fatal("a task without a filter must get its input unchanged")
	}
}
