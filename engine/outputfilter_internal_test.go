package engine

import (
	"testing"

	"github.com/wfrun/wfrun/tasks/outputfilter"
)

// FuzzOutputFilterDefinition: any outputFilter value loads or fails with a
// located problem, never a panic.
func FuzzOutputFilterDefinition(f *testing.F) {
	for _, s := range []string{`{"a":"$${t.output.x}"}`, `"$${t.output}"`, `5`, `{"a":["$$<t.output.y>",{"b":"$${t.output.a"}]}`, `null`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, filter string) {
		def := `{"name":"f","tasks":[{"name":"t","taskReferenceName":"t","type":"INLINE","inputParameters":{"expression":"1","outputFilter":` + filter + `}}]}`
		_, _ = ParseDefinition([]byte(def))
		_ = outputfilter.UnescapeOnce(filter)
		_ = outputfilter.WithholdReason(filter, []byte(filter))
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
