package interpolate_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"unicode/utf8"

	"github.com/wfrun/wfrun/interpolate"
)

// FuzzCompileExecute: Compile and Execute never panic; whenever Compile succeeds and Execute
// does not fail, the output is valid JSON; and a secret (or input) value full of "${", quotes
// and backslashes comes out exactly as data, never interpreted.
func FuzzCompileExecute(f *testing.F) {
	for _, tc := range cases {
		f.Add([]byte(tc.doc), `s3${workflow.input.v}"\`)
	}
	f.Add([]byte(`{"a":"${workflow.secrets.s}","b":"$<workflow.input.v>"}`), "${workflow.secrets.s}")
	f.Add([]byte(`"${a.${b.${c}}}"`), `\u0000`)
	f.Add([]byte(`"$${$<${}>}"`), `"}`)
	f.Fuzz(func(t *testing.T, doc []byte, secret string) {
		secretJSON, _ := json.Marshal(secret)
		env := &testEnv{
			wf:      `{"input":{"v":` + string(secretJSON) + `,"k":"v","n":[1,{"x":"${"}]}}`,
			tasks:   map[string]string{"t": `{"output":{"v":` + string(secretJSON) + `}}`},
			taskID:  "tid",
			secrets: interpolate.MapSecrets{"s": secretJSON, "obj": json.RawMessage(`{"k":` + string(secretJSON) + `}`)},
		}
		ctx := context.Background()
		tpl, err := interpolate.Compile(doc)
		if err != nil {
			var e *interpolate.Error
			if !errors.As(err, &e) {
				t.Fatalf("compile error %T is not *Error", err)
			}
		} else {
			for _, mode := range []interpolate.Mode{interpolate.DeferSecrets, interpolate.ResolveSecrets} {
				out, _, err := tpl.Execute(ctx, env, mode, nil)
				if err == nil && !json.Valid(out) {
					t.Fatalf("mode %d: invalid JSON output %q from %q", mode, out, doc)
				}
			}
		}

		if !utf8.ValidString(secret) {
			return
		}
		fixed := interpolate.MustCompile([]byte(`{"a":"${workflow.secrets.s}","b":"x ${workflow.secrets.s} y","c":"${workflow.input.v}","d":"<${t.output.v}>","e":"${workflow.secrets.obj.k}"}`))
		out, used, err := fixed.Execute(ctx, env, interpolate.ResolveSecrets, nil)
		if err != nil {
			t.Fatalf("fixed template: %v", err)
		}
		var got map[string]string
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("fixed template output %q: %v", out, err)
		}
		want := map[string]string{"a": secret, "b": "x " + secret + " y", "c": secret, "d": "<" + secret + ">", "e": secret}
		for k, w := range want {
			if got[k] != w {
				t.Fatalf("%s = %q, want %q", k, got[k], w)
			}
		}
		if secret != "" && (len(used) == 0 || used[0].Value != secret) {
			t.Fatalf("used = %q, want the secret", used)
		}
	})
}
