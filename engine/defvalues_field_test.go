package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/interpolate"
)

// TestDefinitionHoldingAJSONSecretsFieldNamesTheField: each string field
// of a JSON secret (4 bytes or more) is a value the run's masker
// registers, so a definition holding one in clear is refused, even where
// it is a whole string of its own (a task's input "deploy" while the
// secret's user is "deploy"): a value is a value, and the run would show
// and resume it as "***". The refusal names the field's path in the
// secret, never its value, so the author can tell why.
func TestDefinitionHoldingAJSONSecretsFieldNamesTheField(t *testing.T) {
	e := litDefEngine(t, runstore.NewMemory(), nil, engine.WithSecrets(func(engine.Principal, string, string) interpolate.SecretSource {
		return interpolate.MapSecrets{
			"db":   json.RawMessage(`{"user":"deploy","password":"Pw-db-5f1c2e9a","conn":{"hosts":["ab","db-a.internal"]}}`),
			"text": json.RawMessage(`"{\"role\":\"operator\"}"`),
			"odd":  json.RawMessage(`{"api key":"Odd-key-value-33"}`),
		}
	}))
	cases := []struct{ what, tasks, want string }{
		{"a field as a whole string", `{"name":"echo","taskReferenceName":"a","type":"SIMPLE","inputParameters":{"pw":"${workflow.secrets.db.password}","target":"deploy"}}`,
			"workflowDef /tasks/0/inputParameters/target holds the value of field user of secret db: use ${workflow.secrets.db.user}"},
		{"a field inside text", `{"name":"echo","taskReferenceName":"a","type":"SIMPLE","inputParameters":{"pw":"${workflow.secrets.db.password}","url":"postgres://db-a.internal:5432/x"}}`,
			"workflowDef /tasks/0/inputParameters/url holds the value of field conn.hosts[1] of secret db: use ${workflow.secrets.db.conn.hosts[1]}"},
		{"a field of a JSON document stored as a string", `{"name":"echo","taskReferenceName":"a","type":"SIMPLE","inputParameters":{"r":"${workflow.secrets.text}","who":"operator"}}`,
			"workflowDef /tasks/0/inputParameters/who holds the value of field role of the JSON document in secret text: use ${workflow.secrets.text}"},
		{"a field not named plainly", `{"name":"echo","taskReferenceName":"a","type":"SIMPLE","inputParameters":{"k":"${workflow.secrets.odd}","h":"Odd-key-value-33"}}`,
			"workflowDef /tasks/0/inputParameters/h holds the value of field ['api key'] of secret odd: use ${workflow.secrets.odd['api key']}"},
	}
	for _, c := range cases {
		d, err := e.Parse([]byte(`{"name":"json_field","version":1,"schemaVersion":2,"tasks":[` + c.tasks + `]}`))
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.Start(context.Background(), d, json.RawMessage(`{}`))
		if !errors.Is(err, engine.ErrDefinitionHoldsSecret) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.what, err, c.want)
			continue
		}
		for _, v := range []string{"deploy", "db-a.internal", "operator", "Pw-db", "Odd-key"} {
			if strings.Contains(strings.ReplaceAll(err.Error(), "${workflow.secrets.", ""), v) {
				t.Errorf("%s: the error holds the value %q", c.what, v)
			}
		}
	}
}

// TestJSONSecretsNumberField: a number field of a JSON secret (4 bytes or
// more) is a value as a string field is. A run that prints only it
// stores "***" (the template registers the fields it resolves), and a
// definition holding it in clear is refused naming the field, as the
// run's masker, which registers the secret's value whole at the start,
// registers the field too.
func TestJSONSecretsNumberField(t *testing.T) {
	store := runstore.NewMemory()
	e := litDefEngine(t, store, nil, engine.WithSecrets(func(engine.Principal, string, string) interpolate.SecretSource {
		return interpolate.MapSecrets{"acct": json.RawMessage(`{"user":"svc","pin":48213907,"big":12345678901234567890,"port":443}`)}
	}))
	d, err := e.Parse([]byte(`{"name":"pin","version":1,"schemaVersion":2,"tasks":[
	  {"name":"show","taskReferenceName":"show","type":"INLINE","inputParameters":{"evaluatorType":"javascript","a":"${workflow.secrets.acct}",
	   "expression":"(function(){ return {pin: $.a.pin, text: 'pin ' + $.a.pin, big: String($.a.big), port: $.a.port}; })()"}}],
	  "outputParameters":{"pin":"${show.output.result.pin}"}}`))
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.Start(context.Background(), d, json.RawMessage(`{}`))
	if err != nil || res.Status != engine.StatusCompleted {
		t.Fatalf("%v %+v", err, res)
	}
	view, err := e.Show(context.Background(), res.RunID)
	if err != nil {
		t.Fatal(err)
	}
	stored, _, err := store.Load(context.Background(), res.RunID)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"48213907", "12345678901234567", "1.2345678901234567e+19"} {
		for what, doc := range map[string][]byte{"stored run": stored, "view": view, "output": res.Output} {
			if strings.Contains(string(doc), v) {
				t.Errorf("the number field %s shows in the %s: %s", v, what, doc)
			}
		}
	}
	if !strings.Contains(string(view), `"port":443`) {
		t.Errorf("a 3-digit number field was masked: %s", view)
	}
	d, err = e.Parse([]byte(`{"name":"pin_def","version":1,"schemaVersion":2,"tasks":[{"name":"echo","taskReferenceName":"a","type":"SIMPLE",
	  "inputParameters":{"u":"${workflow.secrets.acct.user}","code":48213907}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.Start(context.Background(), d, json.RawMessage(`{}`))
	want := "workflowDef /tasks/0/inputParameters/code holds the value of field pin of secret acct: use ${workflow.secrets.acct.pin}"
	if !errors.Is(err, engine.ErrDefinitionHoldsSecret) || !strings.Contains(err.Error(), want) {
		t.Errorf("%v, want %q", err, want)
	}
}
