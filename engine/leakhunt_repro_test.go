package engine_test

// The leaks the generative leak hunt (leakhunt_test.go) found, each
// pinned by a test that failed on the code it was found on. While one is
// open its shape is listed in knownLeakShapes, so that the hunt keeps
// running until it is fixed.

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/interpolate"
	"github.com/wfrun/wfrun/tasks"
)

// TestBase64OfJSONEscapedValueInRuns: a value holding a character that
// JSON escapes (`"` or `\`), written into a JSON document (jq tostring,
// JavaScript JSON.stringify) that is then base64-encoded (jq @base64, a
// JWT segment, an "X-Payload: base64(json)" header), is masked in the
// task's output, the view and the stored run, as a value JSON leaves as
// it is (letters and digits) always was: the masker registers the base64
// of a value's JSON-escaped spellings (masking/derive.go). Found by the
// leak hunt (fuzz seed 1350, shape "jq:base64json"), which failed on it.
func TestBase64OfJSONEscapedValueInRuns(t *testing.T) {
	for _, tc := range []struct{ name, value string }{
		{"quote", `pass"word-Zq7Lm2Xv9Kp4`},
		{"backslash", `pass\word-Zq7Lm2Xv9Kp4`},
		{"letters only (control)", "passXword-Zq7Lm2Xv9Kp4"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vb, _ := json.Marshal(tc.value)
			rs := runstore.NewMemory()
			e, err := engine.New(
				engine.WithRegistry(tasks.NewDefaultRegistry()),
				engine.WithRunStore(rs),
				engine.WithSecrets(func(engine.Principal, string, string) interpolate.SecretSource {
					return interpolate.MapSecrets{"pw": vb}
				}))
			if err != nil {
				t.Fatal(err)
			}
			d, err := e.Parse([]byte(`{"name":"b64json","version":1,"schemaVersion":2,"tasks":[
			 {"name":"j","taskReferenceName":"j","type":"JSON_JQ_TRANSFORM","inputParameters":{
			  "x":"${workflow.secrets.pw}","queryExpression":"{a: .x} | tostring | @base64"}}],
			 "outputParameters":{"payload":"${j.output.result}"}}`))
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			res, err := e.Start(ctx, d, nil)
			if err != nil || res.Status != engine.StatusCompleted {
				t.Fatalf("run: %v %+v", err, res)
			}
			// The whole value's JSON-escaped form, base64-encoded at the
			// alignment `{"a":"` (6 bytes) gives it in the document.
			esc, _ := json.Marshal(tc.value)
			enc := base64.StdEncoding.EncodeToString([]byte(`{"a":` + string(esc) + `}`))
			form := enc[8 : 8+len(esc[1:len(esc)-1])/3*4]
			view, err := e.Show(ctx, res.RunID)
			if err != nil {
				t.Fatal(err)
			}
			doc, _, err := rs.Load(ctx, res.RunID)
			if err != nil {
				t.Fatal(err)
			}
			for name, text := range map[string]string{"result output": string(res.Output), "view": string(view), "archived run": string(doc)} {
				if strings.Contains(text, form) {
					// Not the value: the test's output is a surface too.
					t.Errorf("%s holds base64 of the value's JSON-escaped form (%d base64 characters decoding to the value)", name, len(form))
				}
			}
		})
	}
}
