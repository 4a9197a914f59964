package interpolate_test

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/wfrun/wfrun/interpolate"
)

const deferredContext = `{
 "workflow": {"input": {"text": "${workflow.secrets.tok}", "n": 3, "obj": {"a": "$<workflow.secrets.tok>"}}},
 "tasks": {"t1": {"output": {"v": "x\"y"}}},
 "taskId": "tid-1",
 "secrets": {"tok": "s3cr\"et\n${workflow.input.n}", "json": {"user": "alice", "pass": "p@ss<w>"}, "num": 42}
}`

// Resolving a Deferred gives exactly what ResolveSecrets gives from the same
// template and environment, with the same values reported used; data that
// looks like a reference stays data.
func TestDeferredResolveMatchesResolveSecrets(t *testing.T) {
	env, err := interpolate.NewDocEnv([]byte(deferredContext))
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range []string{
		`{"a": "${workflow.secrets.tok}"}`,
		`{"a": "Bearer ${workflow.secrets.tok} and ${workflow.secrets.json.user}", "b": "${workflow.secrets.json}"}`,
		`{"a": "$<workflow.secrets.json.pass>", "b": "x $<workflow.secrets.num> y", "c": "${workflow.secrets['num']}"}`,
		`{"data": "${workflow.input.text}", "obj": "${workflow.input.obj}", "e": "$${workflow.secrets.tok}", "s": "${workflow.secrets.tok}"}`,
		`{"list": ["${workflow.secrets.json}", "in ${workflow.secrets.json} text", "${t1.output.v}${workflow.secrets.tok}"], "id": "${CPEWF_TASK_ID}"}`,
		`{"none": "${workflow.input.n}"}`,
		`{"k": [1, 2, {"x": "$$<workflow.secrets.tok> ${workflow.secrets.tok}"}]}`,
	} {
		tpl, err := interpolate.Compile([]byte(doc))
		if err != nil {
			t.Fatalf("%s: %v", doc, err)
		}
		ctx := context.Background()
		stored, _, err := tpl.Execute(ctx, env, interpolate.DeferSecrets, nil)
		if err != nil {
			t.Fatal(err)
		}
		want, wantUsed, err := tpl.Execute(ctx, env, interpolate.ResolveSecrets, nil)
		if err != nil {
			t.Fatal(err)
		}
		d, err := tpl.ExecuteDeferred(ctx, env, nil)
		if err != nil {
			t.Fatal(err)
		}
		if string(d.Doc) != string(stored) {
			t.Errorf("%s: deferred doc %s, want the stored form %s", doc, d.Doc, stored)
		}
		if strings.Contains(string(d.Doc), "s3cr") {
			t.Errorf("%s: deferred doc holds a secret value", doc)
		}
		// Through JSON, as a queue shared by processes carries it.
		b, _ := json.Marshal(d)
		var back interpolate.Deferred
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		got, used, err := back.Resolve(ctx, interpolate.MapSecrets{
			"tok": json.RawMessage(`"s3cr\"et\n${workflow.input.n}"`), "json": json.RawMessage(`{"user": "alice", "pass": "p@ss<w>"}`), "num": json.RawMessage(`42`)})
		if err != nil {
			t.Fatalf("%s: %v", doc, err)
		}
		if string(got) != string(want) {
			t.Errorf("%s:\n got %s\nwant %s", doc, got, want)
		}
		if !reflect.DeepEqual(used, wantUsed) {
			t.Errorf("%s: used %q, want %q", doc, used, wantUsed)
		}
	}
}

// The secrets are read when Resolve runs: a value changed since the
// Deferred was made is the one used; a missing one is the error Execute
// gives, naming the secret and where, never a value.
func TestDeferredResolveReadsNow(t *testing.T) {
	tpl, err := interpolate.Compile([]byte(`{"h": {"auth": "Bearer ${workflow.secrets.tok}"}}`))
	if err != nil {
		t.Fatal(err)
	}
	env, _ := interpolate.NewDocEnv([]byte(`{"secrets": {"tok": "old"}}`))
	d, err := tpl.ExecuteDeferred(context.Background(), env, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := d.Resolve(context.Background(), interpolate.MapSecrets{"tok": json.RawMessage(`"new"`)})
	if err != nil || string(got) != `{"h": {"auth": "Bearer new"}}` {
		t.Fatalf("got %s, %v", got, err)
	}
	_, _, err = d.Resolve(context.Background(), interpolate.MapSecrets{})
	empty, _ := interpolate.NewDocEnv([]byte(`{"secrets": {}}`))
	_, _, want := tpl.Execute(context.Background(), empty, interpolate.ResolveSecrets, nil)
	var ie *interpolate.Error
	if !errors.As(err, &ie) || !errors.Is(err, interpolate.ErrSecretNotFound) || ie.Secret != "tok" || ie.Location != "/h/auth" {
		t.Fatalf("missing secret: %v", err)
	}
	if want == nil || err.Error() != want.Error() {
		t.Errorf("error %q, want Execute's %v", err, want)
	}
}

// A Deferred whose holes do not match its document is refused.
func TestDeferredResolveRefusesMismatch(t *testing.T) {
	tpl, _ := interpolate.Compile([]byte(`{"a": "${workflow.input.x}", "b": "${workflow.secrets.tok}"}`))
	env, _ := interpolate.NewDocEnv([]byte(`{"workflow": {"input": {"x": "${workflow.secrets.tok}"}}}`))
	d, err := tpl.ExecuteDeferred(context.Background(), env, nil)
	if err != nil || len(d.Holes) != 1 {
		t.Fatalf("%+v %v", d, err)
	}
	src := interpolate.MapSecrets{"tok": json.RawMessage(`"v"`)}
	for name, bad := range map[string]func(*interpolate.Deferred){
		"shifted":          func(d *interpolate.Deferred) { d.Holes[0].Start++; d.Holes[0].End++ },
		"out of range":     func(d *interpolate.Deferred) { d.Holes[0].End = len(d.Doc) + 5 },
		"not a secret":     func(d *interpolate.Deferred) { d.Holes[0].Expr = "${workflow.input.x}" },
		"another secret":   func(d *interpolate.Deferred) { d.Holes[0].Expr = "${workflow.secrets.other}" },
		"reversed":         func(d *interpolate.Deferred) { d.Holes[0].Start, d.Holes[0].End = d.Holes[0].End, d.Holes[0].Start },
		"two in one place": func(d *interpolate.Deferred) { d.Holes = append(d.Holes, d.Holes[0]) },
	} {
		c := interpolate.Deferred{Doc: d.Doc, Holes: append([]interpolate.Hole(nil), d.Holes...)}
		bad(&c)
		if out, _, err := c.Resolve(context.Background(), src); !errors.Is(err, interpolate.ErrBadDocument) || out != nil {
			t.Errorf("%s: got %s, %v", name, out, err)
		}
	}
	if out, _, err := d.Resolve(context.Background(), src); err != nil || string(out) != `{"a": "${workflow.secrets.tok}", "b": "v"}` {
		t.Errorf("untouched: %s, %v", out, err)
	}
}

// FuzzDeferredResolve: for any document, resolving the Deferred form gives
// exactly what ResolveSecrets gives (output and values used), and fails
// exactly when it fails; data shaped like a reference stays data.
func FuzzDeferredResolve(f *testing.F) {
	for _, tc := range cases {
		f.Add([]byte(tc.doc), `s3${workflow.secrets.s}"\`)
	}
	f.Add([]byte(`{"a":"${workflow.secrets.s}","b":"x $<workflow.secrets.obj.k> ${workflow.input.v}","c":"$${workflow.secrets.s}"}`), "${workflow.secrets.s}")
	f.Add([]byte(`["${workflow.secrets.obj}", "in ${workflow.secrets.obj} ${workflow.secrets.missing}"]`), `"}`)
	f.Fuzz(func(t *testing.T, doc []byte, secret string) {
		secretJSON, _ := json.Marshal(secret)
		src := interpolate.MapSecrets{"s": secretJSON, "obj": json.RawMessage(`{"k":` + string(secretJSON) + `}`)}
		env := &testEnv{
			wf:      `{"input":{"v":` + string(secretJSON) + `,"k":"v"}}`,
			tasks:   map[string]string{"t": `{"output":{"v":` + string(secretJSON) + `}}`},
			taskID:  "tid",
			secrets: src,
		}
		tpl, err := interpolate.Compile(doc)
		if err != nil {
			return
		}
		ctx := context.Background()
		want, wantUsed, werr := tpl.Execute(ctx, env, interpolate.ResolveSecrets, nil)
		d, derr := tpl.ExecuteDeferred(ctx, env, nil)
		var got []byte
		var used []interpolate.Secret
		gerr := derr
		if derr == nil {
			got, used, gerr = d.Resolve(ctx, src)
		}
		if (werr == nil) != (gerr == nil) {
			t.Fatalf("%q: ResolveSecrets error %v, deferred error %v", doc, werr, gerr)
		}
		if werr == nil && (string(got) != string(want) || !reflect.DeepEqual(used, wantUsed)) {
			t.Fatalf("%q:\n got %s %q\nwant %s %q", doc, got, used, want, wantUsed)
		}
	})
}
