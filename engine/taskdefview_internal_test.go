package engine

import (
	"encoding/json"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"
)

// mappedDefsOneWriteEach is how withMappedDefs set the definitions before
// it made one pass: one sjson write of the whole view per definition. It
// is kept here as the reference the one pass must equal, byte for byte.
func mappedDefsOneWriteEach(doc []byte) []byte {
	m := gjson.GetBytes(doc, mappedDefsMember)
	if !m.IsObject() {
		return doc
	}
	var mapped struct {
		Defs []json.RawMessage                    `json:"defs"`
		By   map[string]map[string]map[string]int `json:"by"`
	}
	if json.Unmarshal([]byte(m.Raw), &mapped) != nil || len(mapped.By) == 0 {
		return doc
	}
	gjson.GetBytes(doc, "tasks").ForEach(func(i, t gjson.Result) bool {
		refs := mapped.By[t.Get("taskId").String()]
		if refs == nil {
			return true
		}
		t.Get("inputData.forkedTaskDefs").ForEach(func(j, wt gjson.Result) bool {
			if wt.Get("taskDefinition").Exists() {
				return true
			}
			k, ok := refs[wt.Get("taskReferenceName").String()][wt.Get("name").String()]
			if !ok || k < 0 || k >= len(mapped.Defs) {
				return true
			}
			path := "tasks." + strconv.FormatInt(i.Int(), 10) + ".inputData.forkedTaskDefs." + strconv.FormatInt(j.Int(), 10) + ".taskDefinition"
			if out, err := sjson.SetRawBytes(doc, path, mapped.Defs[k]); err == nil {
				doc = out
			}
			return true
		})
		return true
	})
	return doc
}

func TestMappedDefsViewInOnePass(t *testing.T) {
	const mapped = `"mappedTaskDefinitions":{"defs":[{"name":"a","retryCount":2},{"name":"b","description":"x } \" {"}],` +
		`"by":{"f1":{"a1":{"a":0},"b1":{"b":1},"n1":{"a":-1},"o1":{"a":7}},"f2":{"a2":{"a":0},"":{"":1}},"f3":{"x":{"y":1}}}}`
	docs := map[string]string{
		"two forks": `{"workflowId":"w","tasks":[` +
			`{"taskId":"f1","inputData":{"forkedTaskDefs":[{"name":"a","taskReferenceName":"a1"},{"name":"b","taskReferenceName":"b1","type":"SIMPLE"}]}},` +
			`{"taskId":"t2","inputData":{"forkedTaskDefs":[{"name":"a","taskReferenceName":"a1"}]}},` +
			`{"taskId":"f2","inputData":{"forkedTaskDefs":[{"name":"a","taskReferenceName":"a2","inputParameters":{"s":"}{\"}"}}]}}],` + mapped + `}`,
		"held, none, out of range, -1": `{"tasks":[{"taskId":"f1","inputData":{"forkedTaskDefs":[` +
			`{"name":"a","taskReferenceName":"a1","taskDefinition":{"name":"a"}},{"name":"a","taskReferenceName":"a1","taskDefinition":null},` +
			`{"name":"a","taskReferenceName":"n1"},{"name":"a","taskReferenceName":"o1"},{"name":"zz","taskReferenceName":"a1"}]}}],` + mapped + `}`,
		"empty objects, forkedTaskDefs not an array": `{"tasks":[{"taskId":"f2","inputData":{"forkedTaskDefs":[{},{ }]}},` +
			`{"taskId":"f1","inputData":{"forkedTaskDefs":{"name":"a","taskReferenceName":"a1"}}}],` + mapped + `}`,
		"pretty": "{\n  \"tasks\": [\n    {\n      \"taskId\": \"f1\",\n      \"inputData\": {\n        \"forkedTaskDefs\": [\n" +
			"          { \"name\" : \"a\" , \"taskReferenceName\" : \"a1\" } ,\n          {\n            \"name\": \"b\",\n            \"taskReferenceName\": \"b1\"\n          }\n" +
			"        ]\n      }\n    }\n  ],\n  " + mapped + "\n}",
		"escaped keys and strings": `{"tasks":[{"taskId":"f1","note":"\"taskId\":\"f2\" }]","inputData":{"forkedTaskDefs":[{"name":"a","taskReferenceName":"a\u0031"},` +
			`{"name":"b","taskReferenceName":"b1","x":"\\\"}"}]}}],` + mapped + `}`,
		"no tasks":       `{"tasks":[],` + mapped + `}`,
		"no mappings":    `{"tasks":[{"taskId":"f1","inputData":{"forkedTaskDefs":[{"name":"a","taskReferenceName":"a1"}]}}]}`,
		"damaged member": `{"tasks":[{"taskId":"f1","inputData":{"forkedTaskDefs":[{"name":"a","taskReferenceName":"a1"}]}}],"mappedTaskDefinitions":{"defs":3}}`,
		"empty by":       `{"tasks":[{"taskId":"f1","inputData":{"forkedTaskDefs":[{"name":"a","taskReferenceName":"a1"}]}}],"mappedTaskDefinitions":{"defs":[],"by":{}}}`,
	}
	added := 0
	for name, doc := range docs {
		want := mappedDefsOneWriteEach([]byte(doc))
		got := withMappedDefs([]byte(doc))
		if string(got) != string(want) {
			t.Errorf("%s:\n got %s\nwant %s", name, got, want)
		}
		if !json.Valid(got) {
			t.Errorf("%s: not JSON: %s", name, got)
		}
		added += strings.Count(string(got), `"taskDefinition"`) - strings.Count(doc, `"taskDefinition"`)
	}
	// The documents do exercise the additions, not only the cases that
	// leave a view as it is.
	if added != 9 {
		t.Errorf("%d definitions added in all, want 9", added)
	}
	// A forked WorkflowTask that is not an object (never in a view wfrun
	// encodes) is left as it is; the write per definition replaced it
	// with an object holding only the definition.
	doc := `{"tasks":[{"taskId":"f2","inputData":{"forkedTaskDefs":["a2",7,null,[]]}}],` + mapped + `}`
	if got := withMappedDefs([]byte(doc)); string(got) != doc {
		t.Errorf("non-object WorkflowTasks changed:\n got %s\nwant %s", got, doc)
	}
}

// remapView is a view of n fork records, each forking one task whose
// mapping took a changed definition, as withMappedDefs reads it.
func remapView(n int) []byte {
	var b strings.Builder
	b.WriteString(`{"workflowId":"w","tasks":[`)
	by := make(map[string]map[string]map[string]int, n)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		id := fmt.Sprintf("fork-%d", i)
		fmt.Fprintf(&b, `{"taskId":%q,"status":"COMPLETED","inputData":{"forkedTaskDefs":[{"name":"work","taskReferenceName":"w__%d","type":"SIMPLE","inputParameters":{"n":%d}}]},"outputData":{}}`, id, i, i)
		by[id] = map[string]map[string]int{fmt.Sprintf("w__%d", i): {"work": i % 4}}
	}
	m, _ := json.Marshal(map[string]any{"defs": []json.RawMessage{
		json.RawMessage(`{"name":"work","retryCount":1}`), json.RawMessage(`{"name":"work","retryCount":2}`),
		json.RawMessage(`{"name":"work","retryCount":3}`), json.RawMessage(`{"name":"work","retryCount":4}`)}, "by": by})
	b.WriteString(`],"mappedTaskDefinitions":`)
	b.Write(m)
	b.WriteByte('}')
	return []byte(b.String())
}

// TestMappedDefsViewIsLinear: the bytes a view of 2,000 remapped fork
// records allocates per record are within 2× of a view of 20's (counted,
// not timed: the same on a loaded machine). The write per definition the
// one pass replaced copied the whole view each time, ~100× per record at
// that size.
func TestMappedDefsViewIsLinear(t *testing.T) {
	perRecord := func(view func([]byte) []byte, n int) float64 {
		doc := remapView(n)
		if got := gjson.GetBytes(view(doc), "tasks.#.inputData.forkedTaskDefs.0.taskDefinition.retryCount").Array(); len(got) != n {
			t.Fatalf("%d definitions added to %d records", len(got), n)
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		view(doc)
		runtime.ReadMemStats(&after)
		return float64(after.TotalAlloc-before.TotalAlloc) / float64(n)
	}
	small, large := perRecord(withMappedDefs, 20), perRecord(withMappedDefs, 2000)
	if large > 2*small {
		t.Errorf("bytes allocated per remapped record: %.0f with 2000 records, %.0f with 20: not linear", large, small)
	}
	// The count does tell the two apart.
	if s, l := perRecord(mappedDefsOneWriteEach, 20), perRecord(mappedDefsOneWriteEach, 500); l < 10*s {
		t.Errorf("the write per definition allocated %.0f bytes per record with 500 records, %.0f with 20: the count cannot see quadratic cost", l, s)
	}
}

func BenchmarkMappedDefsView(b *testing.B) {
	for _, n := range []int{10, 1000} {
		doc := remapView(n)
		b.Run(fmt.Sprintf("records=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				withMappedDefs(doc)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/record")
		})
	}
}
