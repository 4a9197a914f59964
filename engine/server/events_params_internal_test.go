package server

import (
	"encoding/json"
	"reflect"
	"testing"
)

// TestReplaceParams: action arguments resolved against a message payload
// as Conductor's ParametersUtils.replace(input, payload) resolves them
// (TestSimpleActionProcessor's cases among them).
func TestReplaceParams(t *testing.T) {
	payload := decodePayload([]byte(`{"workflowId":"wf-1","testId":"test_1","Message":{"someKey":"someData","someNullKey":null},
	  "n":7,"ok":true,"obj":{"a":[1,2]},"f":1.5,"big":123456789012345678901234567890,"items":[{"id":"x","v":1},{"id":"y","v":2}],"key":"id"}`))
	num := int64(7)
	cases := []struct {
		name string
		in   any
		want any
	}{
		{"whole expression keeps its type", "${n}", num},
		{"bool", "${ok}", true},
		{"object", "${obj}", map[string]any{"a": []any{int64(1), int64(2)}}},
		{"dotted path", "${Message.someKey}", "someData"},
		{"missing is null", "${Message.someNEKey}", nil},
		{"null is null", "${Message.someNullKey}", nil},
		{"embedded text", "id ${testId} of ${workflowId}", "id test_1 of wf-1"},
		{"embedded null is null", "x=${nothing}", "x=null"},
		{"embedded object is JSON", "o=${obj}", `o={"a":[1,2]}`},
		{"leading $.", "${$.testId}", "test_1"},
		{"index", "${obj.a[1]}", int64(2)},
		{"filter gives a list", "${items[?(@.v > 1)].id}", []any{"y"}},
		{"wildcard gives a list", "${items[*].id}", []any{"x", "y"}},
		{"nested expression", "${items[0].${key}}", "x"},
		{"blank", "${ }", ""},
		{"escape", "$${testId} ${testId}", "${testId} test_1"},
		{"unterminated is text", "${testId", "${testId"},
		{"secret reference kept as written", "${workflow.secrets.api_key}", "${workflow.secrets.api_key}"},
		{"embedded secret reference kept", "Bearer ${workflow.secrets.api_key}", "Bearer ${workflow.secrets.api_key}"},
		{"fraction", "${f}", 1.5},
		{"integer beyond int64 keeps its digits", "${big}", json.Number("123456789012345678901234567890")},
		{"map and list", map[string]any{"a": []any{"${testId}", 3}}, map[string]any{"a": []any{"test_1", 3}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := replaceParams(c.in, payload); !reflect.DeepEqual(got, c.want) {
				t.Errorf("replace(%v) = %#v, want %#v", c.in, got, c.want)
			}
		})
	}
}

// TestExpandJSON: JsonUtils.expand reads strings holding a JSON object or
// array as JSON, recursively; other strings stay text.
func TestExpandJSON(t *testing.T) {
	in := decodePayload([]byte(`{"doc":"{\"a\":\"[1]\",\"b\":2}","list":["[true]","plain"],"bad":"{nope","n":1}`))
	want := map[string]any{
		"doc":  map[string]any{"a": []any{int64(1)}, "b": int64(2)},
		"list": []any{[]any{true}, "plain"},
		"bad":  "{nope",
		"n":    int64(1),
	}
	if got := expandJSON(in); !reflect.DeepEqual(got, want) {
		t.Errorf("expand = %#v, want %#v", got, want)
	}
	if got := decodePayload([]byte("not json")); got != "not json" {
		t.Errorf("a text payload: %#v", got)
	}
}

// FuzzReplaceParams: no template or payload makes resolution panic or
// resolve a secret reference.
func FuzzReplaceParams(f *testing.F) {
	f.Add("${a.b} and ${c[0]}", `{"a":{"b":1},"c":["x"]}`)
	f.Add("${${k}}", `{"k":"workflow.secrets.x"}`)
	f.Add("$${x} ${", `{}`)
	f.Add("${items[?(@.v>1)]}", `{"items":[{"v":2}]}`)
	f.Fuzz(func(t *testing.T, tmpl, payload string) {
		_ = replaceParams(map[string]any{"v": tmpl}, decodePayload([]byte(payload)))
	})
}
