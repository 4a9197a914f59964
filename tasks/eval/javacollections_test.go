package eval_test

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/wfrun/wfrun/tasks/eval"
)

// JavaScript written for Conductor's GraalJS calls java.util.List/Map
// methods on the input; plain JavaScript use of the same values is unchanged.
func TestJavaScriptJavaCollections(t *testing.T) {
	input := map[string]any{"list": []any{1.0, 2.0, 3.0}, "map": map[string]any{"a": "x"}, "own": map[string]any{"size": "mine"}, "empty": []any{}}
	cases := []struct{ expr, want string }{
		{`$.list.get(1)`, `2`},
		{`$.list.size()`, `3`},
		{`$.list.length`, `3`},
		{`$.list.isEmpty()`, `false`},
		{`$.empty.isEmpty()`, `true`},
		{`$.list.contains(3)`, `true`},
		{`$.map.get("a")`, `"x"`},
		{`$.map.get("nope")`, `null`},
		{`$.map.size()`, `1`},
		{`$.map.containsKey("a")`, `true`},
		{`$.own.size`, `"mine"`},
		{`Object.keys($.map)`, `["a"]`},
		{`(function(){ var k = []; for (var x in $.list) k.push(x); return k; })()`, `["0","1","2"]`},
		{`JSON.stringify($)`, `"{\"list\":[1,2,3],\"map\":{\"a\":\"x\"},\"own\":{\"size\":\"mine\"},\"empty\":[]}"`},
		{`$.list.map(function(x){ return x * 2; })`, `[2,4,6]`},
		{`$.list`, `[1,2,3]`},
	}
	for _, tc := range cases {
		for _, typ := range []string{eval.TypeJavaScript, eval.TypeGraalJS} {
			p, err := eval.Compile(typ, tc.expr)
			if err != nil {
				t.Fatalf("%s: %v", tc.expr, err)
			}
			v, err := p.Eval(context.Background(), input)
			if err != nil {
				t.Fatalf("%s: %v", tc.expr, err)
			}
			var want any
			_ = json.Unmarshal([]byte(tc.want), &want)
			gb, _ := json.Marshal(v)
			var got any
			_ = json.Unmarshal(gb, &got)
			if tc.expr == `JSON.stringify($)` {
				var a, b any
				_ = json.Unmarshal([]byte(got.(string)), &a)
				_ = json.Unmarshal([]byte(want.(string)), &b)
				got, want = a, b
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s (%s) = %s, want %s", tc.expr, typ, gb, tc.want)
			}
		}
	}
	p, _ := eval.Compile(eval.TypeJavaScript, `$.list.get(7)`)
	if _, err := p.Eval(context.Background(), input); err == nil {
		t.Error("get out of bounds: no error")
	}
}
