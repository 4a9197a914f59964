package interpolate_test

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/wfrun/wfrun/interpolate"
)

// checkSplit holds ExecuteSplit to the two Executes it stands for: the
// same stored form, transient form, used values and errors.
func checkSplit(t *testing.T, doc []byte, env interpolate.Env) {
	t.Helper()
	tpl, err := interpolate.Compile(doc)
	if err != nil {
		return
	}
	ctx := context.Background()
	wantStored, _, serr := tpl.Execute(ctx, env, interpolate.DeferSecrets, nil)
	wantTransient, wantUsed, terr := tpl.Execute(ctx, env, interpolate.ResolveSecrets, nil)
	stored, transient, used, err := tpl.ExecuteSplit(ctx, env, nil, []byte("pre"))
	switch {
	case serr != nil:
		if err == nil || err.Error() != serr.Error() || stored != nil || transient != nil || used != nil {
			t.Fatalf("%q: split gave %q %q %v, want the DeferSecrets error %v", doc, stored, transient, err, serr)
		}
	case terr != nil:
		if err == nil || err.Error() != terr.Error() || string(stored) != string(wantStored) || transient != nil || used != nil {
			t.Fatalf("%q: split gave %q %q %v, want %q and the ResolveSecrets error %v", doc, stored, transient, err, wantStored, terr)
		}
	default:
		if err != nil || string(stored) != string(wantStored) || string(transient) != "pre"+string(wantTransient) || !reflect.DeepEqual(used, wantUsed) {
			t.Fatalf("%q: split gave %q %q %q %v\nwant %q %q %q", doc, stored, transient, used, err, wantStored, wantTransient, wantUsed)
		}
	}
	var ie *interpolate.Error
	if err != nil && !errors.As(err, &ie) {
		t.Fatalf("%q: split error %T is not *Error", doc, err)
	}
}

func splitEnv(secret string) *testEnv {
	secretJSON, _ := json.Marshal(secret)
	return &testEnv{
		wf:      `{"input":{"v":` + string(secretJSON) + `,"k":"v","s":"s","n":[1,{"x":"${"}]}}`,
		tasks:   map[string]string{"t": `{"output":{"v":` + string(secretJSON) + `,"o":{"a":[1,2]}}}`},
		taskID:  "tid",
		secrets: interpolate.MapSecrets{"s": secretJSON, "obj": json.RawMessage(`{"k":` + string(secretJSON) + `,"n":7}`)},
	}
}

func TestExecuteSplit(t *testing.T) {
	docs := []string{
		`{"a":1}`,
		`{"a":"${workflow.secrets.s}"}`,
		`{"uri":"http://h/${workflow.input.k}","headers":{"Authorization":"Bearer ${workflow.secrets.s}"}}`,
		`{"a":"${workflow.secrets.obj}","b":"${workflow.secrets.obj.k} and ${workflow.input.v}","c":"$${workflow.secrets.s}"}`,
		`{"a":"${workflow.secrets.missing}","b":"${workflow.input.v}"}`,
		`{"a":"${workflow.input.v}","b":"x ${workflow.secrets.missing}","c":"${workflow.secrets.s}"}`,
		`{"a":"${workflow.secrets.obj.nope}","b":"${t.output.o}"}`,
		`{"a":"${workflow.input.${workflow.input.k}}","b":"${t.output.o.a}"}`,
		`{"a":"${workflow.input.${workflow.secrets.s}}"}`,
		`{"a":"${workflow.${workflow.input.s}ecrets.s}"}`,
		`{"a":"${CPEWF_TASK_ID}","b":"$<workflow.secrets.s>","c":["${workflow.secrets.s}",{"d":"${workflow.input.n}"}]}`,
		`"${workflow.secrets.s}"`,
		`["${t.output.v}", "${workflow.secrets.s}", "${workflow.input.nope}"]`,
	}
	for _, secret := range []string{"tok-9f8e7d6c5b4a", `q"uo\te`, "k"} {
		for _, doc := range docs {
			t.Run(doc, func(t *testing.T) { checkSplit(t, []byte(doc), splitEnv(secret)) })
		}
	}
	t.Run("no secret source", func(t *testing.T) {
		env := splitEnv("tok")
		env.secrets = nil
		checkSplit(t, []byte(`{"a":"${workflow.input.v}","b":"${workflow.secrets.s}"}`), env)
	})
}

func FuzzExecuteSplit(f *testing.F) {
	for _, tc := range cases {
		f.Add([]byte(tc.doc), `s3${workflow.secrets.s}"\`)
	}
	f.Add([]byte(`{"a":"${workflow.secrets.s}","b":"x $<workflow.secrets.obj.k> ${workflow.input.v}","c":"$${workflow.secrets.s}"}`), "${workflow.secrets.s}")
	f.Add([]byte(`["${workflow.secrets.obj}", "in ${workflow.secrets.obj} ${workflow.secrets.missing}"]`), `"}`)
	f.Fuzz(func(t *testing.T, doc []byte, secret string) {
		checkSplit(t, doc, splitEnv(secret))
	})
}
