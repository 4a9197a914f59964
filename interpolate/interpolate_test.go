package interpolate_test

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wfrun/wfrun/interpolate"
)

var update = flag.Bool("update", false, "rewrite testdata/golden.json from the current results")

func loadEnv(t testing.TB) *interpolate.DocEnv {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "context.json"))
	if err != nil {
		t.Fatal(err)
	}
	env, err := interpolate.NewDocEnv(b)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// tcase is one row: a JSON value (usually a string) resolved in both modes. want and
// wantDefer hold the expected JSON (compared after normalising both sides); errIs / errHas
// describe an expected error instead.
type tcase struct {
	name      string
	doc       string
	want      string // ResolveSecrets result
	wantDefer string // DeferSecrets result; "" means same as want
	compile   bool   // the error is a compile error
	errIs     error
	errHas    string
}

var cases = []tcase{
	// Conductor reference table (reference/conductor.md §1.4), with SPEC §9 differences.
	{name: "whole number keeps type", doc: `"${workflow.input.n}"`, want: `5`},
	{name: "whole list keeps type", doc: `"${workflow.input.list}"`, want: `[1,2]`},
	{name: "whole missing is null", doc: `"${workflow.input.missing}"`, want: `null`},
	{name: "embedded number", doc: `"n=${workflow.input.n}"`, want: `"n=5"`},
	{name: "embedded missing is empty (differs from Conductor null)", doc: `"x ${workflow.input.missing} y"`, want: `"x  y"`},
	{name: "embedded object is compact JSON (differs from Conductor {k=1})", doc: `"obj=${workflow.input.obj}"`, want: `"obj={\"k\":1,\"s\":\"v\"}"`},
	{name: "two expressions concatenate", doc: `"${workflow.input.name}-${workflow.input.n}"`, want: `"bob-5"`},
	{name: "escape removes one dollar", doc: `"$${workflow.input.name}"`, want: `"${workflow.input.name}"`},
	{name: "escape and expression", doc: `"a $${x} b ${workflow.input.name}"`, want: `"a ${x} b bob"`},
	{name: "nested key", doc: `"${workflow.input.map.${workflow.input.mapValue}}"`, want: `["x","y"]`},
	{name: "nested index", doc: `"${workflow.input.recordIds[${workflow.input.index}]}"`, want: `2`},
	{name: "nested twice", doc: `"${workflow.input.map.${workflow.input.mapValue}[${workflow.input.index}]}"`, want: `"y"`},
	{name: "nested three levels", doc: `"${workflow.input.map.b[${workflow.input.recordIds[${workflow.input.index}]}]}"`, want: `6`},
	{name: "empty expression", doc: `"${}"`, want: `""`},
	{name: "blank expression", doc: `"${  }"`, want: `""`},
	{name: "json-looking string is text", doc: `"{\"a\":\"${workflow.input.name}\"}"`, want: `"{\"a\":\"bob\"}"`},
	{name: "multi-line string", doc: `"line1\n${workflow.input.name}\nline3"`, want: `"line1\nbob\nline3"`},
	{name: "task output array index", doc: `"${t1.output.list[0].id}"`, want: `"first"`},
	{name: "task id", doc: `"${CPEWF_TASK_ID}"`, want: `"tid-42"`},
	{name: "OS env var not resolved", doc: `"${HOME}"`, want: `null`},
	{name: "OS env var embedded is empty", doc: `"h=${PATH}"`, want: `"h="`},

	// Types and values.
	{name: "whole string", doc: `"${workflow.input.name}"`, want: `"bob"`},
	{name: "whole float", doc: `"${workflow.input.pi}"`, want: `3.5`},
	{name: "whole bool", doc: `"${workflow.input.ok}"`, want: `true`},
	{name: "whole null", doc: `"${workflow.input.nothing}"`, want: `null`},
	{name: "whole object", doc: `"${workflow.input.obj}"`, want: `{"k":1,"s":"v"}`},
	{name: "embedded bool", doc: `"ok=${workflow.input.ok}"`, want: `"ok=true"`},
	{name: "embedded null is empty", doc: `"[${workflow.input.nothing}]"`, want: `"[]"`},
	{name: "embedded array", doc: `"l=${workflow.input.list}"`, want: `"l=[1,2]"`},
	{name: "embedded string is escaped", doc: `"q=${workflow.input.quote}"`, want: `"q=say \"hi\"\n"`},
	{name: "whole string with quotes", doc: `"${workflow.input.quote}"`, want: `"say \"hi\"\n"`},
	{name: "value holding an expression is not rescanned", doc: `"${workflow.input.tmpl}"`, want: `"${workflow.input.name}"`},
	{name: "embedded value holding an expression is not rescanned", doc: `"x${workflow.input.tmpl}"`, want: `"x${workflow.input.name}"`},
	{name: "unicode value", doc: `"${workflow.input.unicode}!"`, want: `"héllo!"`},
	{name: "empty string value embedded", doc: `"<${workflow.input.empty}>"`, want: `"<>"`},

	// Roots.
	{name: "workflow id", doc: `"${workflow.workflowId}"`, want: `"wf-1"`},
	{name: "correlation id", doc: `"${workflow.correlationId}"`, want: `"corr-9"`},
	{name: "status", doc: `"${workflow.status}"`, want: `"RUNNING"`},
	{name: "workflow type and version", doc: `"${workflow.workflowType}@${workflow.version}"`, want: `"demo@2"`},
	{name: "parent id null", doc: `"${workflow.parentWorkflowId}"`, want: `null`},
	{name: "schema version", doc: `"${workflow.schemaVersion}"`, want: `2`},
	{name: "create time", doc: `"${workflow.createTime}"`, want: `1700000000000`},
	{name: "variables", doc: `"${workflow.variables.counter}"`, want: `3`},
	{name: "workflow output empty", doc: `"${workflow.output.result}"`, want: `null`},
	{name: "task status", doc: `"${t1.status}"`, want: `"COMPLETED"`},
	{name: "task taskId", doc: `"${t1.taskId}"`, want: `"task-1"`},
	{name: "task retryCount", doc: `"${t1.retryCount}"`, want: `0`},
	{name: "task iteration", doc: `"${t1.iteration}"`, want: `2`},
	{name: "task input", doc: `"${t1.input.a}"`, want: `1`},
	{name: "task ref with dash", doc: `"${http-call.output.code}"`, want: `200`},
	{name: "task not run is null", doc: `"${t9.output.x}"`, want: `null`},
	{name: "task not run embedded", doc: `"v=${t9.output.x}"`, want: `"v="`},
	{name: "env value", doc: `"${workflow.env.region}"`, want: `"eu-west-1"`},
	{name: "env value field", doc: `"${workflow.env.cfg.host}:${workflow.env.cfg.port}"`, want: `"db.local:5432"`},
	{name: "env missing is null", doc: `"${workflow.env.nope}"`, want: `null`},

	// Path forms.
	{name: "leading dollar dot", doc: `"${$.workflow.input.name}"`, want: `"bob"`},
	{name: "bracket key", doc: `"${workflow.input['dotted.key']}"`, want: `"dk"`},
	{name: "bracket key double quotes", doc: `"${workflow.input[\"dotted.key\"]}"`, want: `"dk"`},
	{name: "gjson metacharacter key is literal", doc: `"${workflow.input['weird*key']}"`, want: `"w"`},
	{name: "dotted key is not a nested path", doc: `"${workflow.input.dotted.key}"`, want: `null`},
	{name: "negative index", doc: `"${workflow.input.recordIds[-1]}"`, want: `3`},
	{name: "wildcard", doc: `"${workflow.input.items[*].id}"`, want: `[1,2,3]`},
	{name: "dot wildcard", doc: `"${t1.output.list.*.id}"`, want: `["first","second"]`},
	{name: "recursive descent", doc: `"${t1.output..token}"`, want: `["abc"]`},
	{name: "filter", doc: `"${workflow.input.items[?(@.kind=='a')].price}"`, want: `[10,30]`},
	{name: "filter comparison", doc: `"${workflow.input.items[?(@.price > 15)].id}"`, want: `[2,3]`},
	{name: "filter no match is empty array", doc: `"${workflow.input.items[?(@.kind=='z')]}"`, want: `[]`},
	{name: "slice", doc: `"${workflow.input.recordIds[0:2]}"`, want: `[1,2]`},
	{name: "union", doc: `"${workflow.input['name','n']}"`, want: `["bob",5]`},
	{name: "filter embedded", doc: `"ids=${workflow.input.items[?(@.kind=='a')].id}"`, want: `"ids=[1,3]"`},
	{name: "filter in angle form", doc: `"$<workflow.input.items[?(@.price > 25)].id>"`, want: `[3]`},
	{name: "nested in quoted key", doc: `"${workflow.input.map['${workflow.input.key}']}"`, want: `[4,5,6]`},
	{name: "computed root", doc: `"${${workflow.input.root}.name}"`, want: `"bob"`},

	// Angle form and escapes.
	{name: "angle form", doc: `"$<workflow.input.name>"`, want: `"bob"`},
	{name: "angle form embedded", doc: `"hi $<workflow.input.name>!"`, want: `"hi bob!"`},
	{name: "angle escape", doc: `"$$<workflow.input.name>"`, want: `"$<workflow.input.name>"`},
	{name: "lone dollar stays", doc: `"costs $5 and $"`, want: `"costs $5 and $"`},
	{name: "triple dollar", doc: `"$$${workflow.input.name}"`, want: `"$${workflow.input.name}"`},
	{name: "unicode-escaped dollar is an expression", doc: `"\u0024{workflow.input.name}"`, want: `"bob"`},
	{name: "task id unset stays literal in embedded form is tested separately", doc: `"id=${CPEWF_TASK_ID}"`, want: `"id=tid-42"`},

	// Structure.
	{name: "keys are never interpolated", doc: `{"${workflow.input.name}": "${workflow.input.name}"}`, want: `{"${workflow.input.name}":"bob"}`},
	{name: "arrays and nesting", doc: `{"a":["${workflow.input.n}",{"b":"${workflow.input.ok}"}],"c":7,"d":null}`, want: `{"a":[5,{"b":true}],"c":7,"d":null}`},
	{name: "no expressions", doc: `{"a":"plain","b":[1,2,{"c":"$"}]}`, want: `{"a":"plain","b":[1,2,{"c":"$"}]}`},

	// Secrets.
	{name: "secret whole", doc: `"${workflow.secrets.api_token}"`, want: `"s3cr3t-tok"`, wantDefer: `"${workflow.secrets.api_token}"`},
	{name: "secret embedded", doc: `"Bearer ${workflow.secrets.api_token}"`, want: `"Bearer s3cr3t-tok"`, wantDefer: `"Bearer ${workflow.secrets.api_token}"`},
	{name: "secret json field", doc: `"${workflow.secrets.db.user}"`, want: `"admin"`, wantDefer: `"${workflow.secrets.db.user}"`},
	{name: "secret json field escaped", doc: `"pw=${workflow.secrets.db.password}"`, want: `"pw=p@ss\"w\\rd"`, wantDefer: `"pw=${workflow.secrets.db.password}"`},
	{name: "secret json whole", doc: `"${workflow.secrets.db}"`, want: `{"user":"admin","password":"p@ss\"w\\rd","port":5432}`, wantDefer: `"${workflow.secrets.db}"`},
	{name: "secret dotted name", doc: `"${workflow.secrets['a.b']}"`, want: `"dotted-secret"`, wantDefer: `"${workflow.secrets['a.b']}"`},
	{name: "secret slashy name", doc: `"${workflow.secrets['ns/app:key-1']}"`, want: `"slashy"`, wantDefer: `"${workflow.secrets['ns/app:key-1']}"`},
	{name: "secret holding an expression is data", doc: `"${workflow.secrets.tricky}"`, want: `"${workflow.input.name} \"quoted\" \\ back"`, wantDefer: `"${workflow.secrets.tricky}"`},
	{name: "secret angle form deferred as written", doc: `"x $<workflow.secrets.api_token> y ${workflow.input.n}"`, want: `"x s3cr3t-tok y 5"`, wantDefer: `"x $<workflow.secrets.api_token> y 5"`},
	{name: "escaped secret stays escaped text", doc: `"$${workflow.secrets.api_token}"`, want: `"${workflow.secrets.api_token}"`},
	{name: "secret missing", doc: `"${workflow.secrets.nope}"`, wantDefer: `"${workflow.secrets.nope}"`, errIs: interpolate.ErrSecretNotFound, errHas: `secret "nope"`},
	{name: "secret missing embedded", doc: `{"h":{"Authorization":"Bearer ${workflow.secrets.nope}"}}`, wantDefer: `{"h":{"Authorization":"Bearer ${workflow.secrets.nope}"}}`, errIs: interpolate.ErrSecretNotFound, errHas: `/h/Authorization: secret "nope"`},
	{name: "secret field missing", doc: `"${workflow.secrets.db.nope}"`, wantDefer: `"${workflow.secrets.db.nope}"`, errIs: interpolate.ErrSecretValue, errHas: `secret "db"`},

	// Compile errors.
	{name: "unterminated", doc: `{"h":{"Authorization":"Bearer ${workflow.secrets.x"}}`, compile: true, errIs: interpolate.ErrSyntax, errHas: `/h/Authorization: unterminated "${" at offset 7`},
	{name: "unterminated angle", doc: `"$<workflow.input.name"`, compile: true, errIs: interpolate.ErrSyntax, errHas: `unterminated "$<" at offset 0`},
	{name: "unterminated nested", doc: `"${a.${b}"`, compile: true, errIs: interpolate.ErrSyntax, errHas: `unterminated`},
	{name: "secret inside a path", doc: `"${workflow.input.${workflow.secrets.api_token}}"`, compile: true, errIs: interpolate.ErrDynamicSecret, errHas: `offset 17`},
	{name: "computed secret name", doc: `"${workflow.secrets.${workflow.input.name}}"`, compile: true, errIs: interpolate.ErrDynamicSecret},
	{name: "computed secret root at run time", doc: `"${${workflow.input.secretsRoot}.api_token}"`, errIs: interpolate.ErrDynamicSecret, wantDefer: "error"},
	{name: "invalid secret name", doc: `"${workflow.secrets['bad name']}"`, compile: true, errIs: interpolate.ErrSyntax, errHas: `invalid secret name`},
	{name: "secret without name", doc: `"${workflow.secrets}"`, compile: true, errIs: interpolate.ErrSyntax},
	{name: "bad path", doc: `"${workflow.input.[}"`, compile: true, errIs: interpolate.ErrSyntax},
	{name: "root wildcard rejected", doc: `"${$..name}"`, compile: true, errIs: interpolate.ErrSyntax},
	{name: "malformed json", doc: `{"a": "x",}`, compile: true, errIs: interpolate.ErrSyntax, errHas: `malformed JSON`},
	{name: "pointer escapes", doc: `{"a/b":{"c~d":"${x"}}`, compile: true, errIs: interpolate.ErrSyntax, errHas: `/a~1b/c~0d: unterminated`},
}

func normalize(t *testing.T, s string) string {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("not JSON: %q: %v", s, err)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func TestTable(t *testing.T) {
	if len(cases) < 60 {
		t.Fatalf("only %d cases", len(cases))
	}
	env := loadEnv(t)
	ctx := context.Background()
	golden := map[string]map[string]string{}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tpl, err := interpolate.Compile([]byte(tc.doc), interpolate.WithLocation(""))
			if tc.compile {
				checkErr(t, tc, err)
				golden[tc.name] = map[string]string{"doc": tc.doc, "error": errString(err)}
				return
			}
			if err != nil {
				t.Fatalf("compile: %v", err)
			}
			g := map[string]string{"doc": tc.doc}
			golden[tc.name] = g
			out, used, err := tpl.Execute(ctx, env, interpolate.ResolveSecrets, nil)
			if tc.errIs != nil {
				checkErr(t, tc, err)
				g["error"] = errString(err)
			} else {
				if err != nil {
					t.Fatalf("execute: %v", err)
				}
				if got, want := normalize(t, string(out)), normalize(t, tc.want); got != want {
					t.Errorf("resolve:\n got %s\nwant %s", got, want)
				}
				g["resolve"] = string(out)
				for _, u := range used {
					if !strings.Contains(string(out), strings.Trim(string(mustJSON(u.Value)), `"`)) {
						t.Errorf("reported secret %q not in output", u.Name)
					}
				}
			}
			wantDefer := tc.wantDefer
			if wantDefer == "" {
				wantDefer = tc.want
			}
			dout, dused, err := tpl.Execute(ctx, env, interpolate.DeferSecrets, nil)
			if wantDefer == "error" {
				if err == nil {
					t.Errorf("defer: want error, got %s", dout)
				}
				return
			}
			if err != nil {
				t.Fatalf("defer execute: %v", err)
			}
			if len(dused) != 0 {
				t.Errorf("defer mode reported %d secrets", len(dused))
			}
			if got, want := normalize(t, string(dout)), normalize(t, wantDefer); got != want {
				t.Errorf("defer:\n got %s\nwant %s", got, want)
			}
			g["defer"] = string(dout)
		})
	}
	checkGolden(t, golden)
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func checkErr(t *testing.T, tc tcase, err error) {
	t.Helper()
	if err == nil {
		t.Fatalf("want error %v, got nil", tc.errIs)
	}
	var e *interpolate.Error
	if !errors.As(err, &e) {
		t.Errorf("error %T is not *interpolate.Error", err)
	}
	if tc.errIs != nil && !errors.Is(err, tc.errIs) {
		t.Errorf("error %q is not %v", err, tc.errIs)
	}
	if tc.errHas != "" && !strings.Contains(err.Error(), tc.errHas) {
		t.Errorf("error %q does not contain %q", err, tc.errHas)
	}
	for _, v := range []string{"s3cr3t-tok", "admin", "p@ss", "dotted-secret", "slashy"} {
		if strings.Contains(err.Error(), v) {
			t.Errorf("error %q leaks a secret value", err)
		}
	}
}

// checkGolden compares every row's exact output and error text with testdata/golden.json
// (-update rewrites it). The golden file holds no secret values: ResolveSecrets outputs of
// rows reading secrets are left out of it.
func checkGolden(t *testing.T, golden map[string]map[string]string) {
	t.Helper()
	for _, g := range golden {
		if strings.Contains(g["doc"], "workflow.secrets") {
			delete(g, "resolve")
		}
	}
	path := filepath.Join("testdata", "golden.json")
	got, err := json.MarshalIndent(golden, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if string(want) != string(got) {
		t.Errorf("golden mismatch: run go test ./interpolate -run TestTable -update and review the diff")
	}
}
