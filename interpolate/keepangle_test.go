package interpolate_test

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/wfrun/wfrun/interpolate"
)

// With KeepAngle, `$<…>` and its escape `$$<` are text kept as written (a
// remote worker resolves them), also inside `${…}`; `${…}` and `$${` are
// resolved and unescaped as always, and no secret is read for `$<…>`.
func TestKeepAngleKeepsAngleExpressionsAsWritten(t *testing.T) {
	doc := `{"k":"$<workflow.secrets.S>","esc":"$$<kept>","mixed":"Bearer $<workflow.secrets.S> for ${workflow.input.who}",
		"curly":"${workflow.secrets.C}","curlyEsc":"$${workflow.input.who}","path":"${workflow.input.$<x>}","dollars":"a $ b $$$<c>"}`
	env := &testEnv{wf: `{"input":{"who":"ada","$<x>":"odd"}}`, secrets: interpolate.MapSecrets{"S": []byte(`"server-S"`), "C": []byte(`"server-C"`)}}
	tpl, err := interpolate.Compile([]byte(doc), interpolate.KeepAngle())
	if err != nil {
		t.Fatal(err)
	}
	if got := tpl.SecretNames(); len(got) != 1 || got[0] != "C" {
		t.Fatalf("secret names %v: want only C", got)
	}
	out, used, err := tpl.Execute(context.Background(), env, interpolate.ResolveSecrets, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"k":"$<workflow.secrets.S>","esc":"$$<kept>","mixed":"Bearer $<workflow.secrets.S> for ada",
		"curly":"server-C","curlyEsc":"${workflow.input.who}","path":"odd","dollars":"a $ b $$$<c>"}`
	if !jsonEqual(out, want) {
		t.Fatalf("got %s\nwant %s", out, want)
	}
	if len(used) != 1 || used[0].Name != "C" {
		t.Fatalf("secrets read: %+v", used)
	}
	plain := interpolate.MustCompile([]byte(`{"k":"$<workflow.secrets.S>","esc":"$$<kept>"}`))
	again, err := plain.KeepingAngle()
	if err != nil {
		t.Fatal(err)
	}
	if out, _, err := again.Execute(context.Background(), env, interpolate.ResolveSecrets, nil); err != nil || !jsonEqual(out, `{"k":"$<workflow.secrets.S>","esc":"$$<kept>"}`) {
		t.Fatalf("KeepingAngle: %s %v", out, err)
	}
	if out, _, err := plain.Execute(context.Background(), env, interpolate.ResolveSecrets, nil); err != nil || !jsonEqual(out, `{"k":"server-S","esc":"$<kept>"}`) {
		t.Fatalf("without KeepAngle: %s %v", out, err)
	}
}

func jsonEqual(got []byte, want string) bool {
	var a, b any
	return json.Unmarshal(got, &a) == nil && json.Unmarshal([]byte(want), &b) == nil && reflect.DeepEqual(a, b)
}
