package tasks

import (
	"errors"
	"strings"
	"testing"
)

func TestValidators(t *testing.T) {
	r := NewDefaultRegistry()
	cases := []struct {
		name, typ, def string
		want           []string // each a field (and message part) expected, in order
	}{
		{"http ok flat", TypeHTTP, `{"inputParameters":{"uri":"http://x","method":"GET"}}`, nil},
		{"http ok nested templates", TypeHTTP, `{"inputParameters":{"http_request":{"uri":"${workflow.input.u}","method":"${workflow.input.m}","readTimeOut":"${workflow.input.t}"}}}`, nil},
		{"http whole request template", TypeHTTP, `{"inputParameters":{"http_request":"${workflow.input.req}"}}`, nil},
		{"http missing both", TypeHTTP, `{"inputParameters":{}}`, []string{"inputParameters.uri: missing", "inputParameters.method: missing"}},
		{"http no inputParameters", TypeHTTP, `{"name":"x"}`, []string{"inputParameters.uri: missing", "inputParameters.method: missing"}},
		{"http nested bad method", TypeHTTP, `{"inputParameters":{"http_request":{"uri":"http://x","method":"FETCH"}}}`, []string{`inputParameters.http_request.method: unknown HTTP method "FETCH"`}},
		{"http bad types", TypeHTTP, `{"inputParameters":{"uri":5,"method":"","connectionTimeOut":"soon","headers":[1]}}`, []string{"inputParameters.uri: must be a string", "inputParameters.method: must not be empty", "inputParameters.connectionTimeOut", "inputParameters.headers: must be a JSON object"}},
		{"http http_request not object", TypeHTTP, `{"inputParameters":{"http_request":[1]}}`, []string{"inputParameters.http_request: must be a JSON object"}},
		{"http inputParameters not object", TypeHTTP, `{"inputParameters":"x"}`, []string{"inputParameters: must be a JSON object"}},
		{"http node not object", TypeHTTP, `[`, []string{"(task)"}},

		{"inline ok", TypeInline, `{"inputParameters":{"a":1,"expression":"(function(){ return $.a; })()"}}`, nil},
		{"inline ok expr", TypeInline, `{"inputParameters":{"evaluatorType":"expr","expression":"a + 1"}}`, nil},
		{"inline template expression", TypeInline, `{"inputParameters":{"expression":"${workflow.input.script}"}}`, nil},
		{"inline missing expression", TypeInline, `{"inputParameters":{"evaluatorType":"javascript"}}`, []string{"inputParameters.expression: missing"}},
		{"inline unknown evaluator", TypeInline, `{"inputParameters":{"evaluatorType":"python","expression":"1"}}`, []string{`inputParameters.evaluatorType: unknown evaluator "python"`}},
		{"inline blank evaluator", TypeInline, `{"inputParameters":{"evaluatorType":" ","expression":"1"}}`, []string{"inputParameters.evaluatorType: must not be empty"}},
		{"inline does not compile", TypeInline, `{"inputParameters":{"expression":"function ("}}`, []string{"inputParameters.expression: javascript: compile at 1:"}},
		{"inline expr does not compile", TypeInline, `{"inputParameters":{"evaluatorType":"expr","expression":"a +* b"}}`, []string{"inputParameters.expression: expr: compile at 1:4"}},

		{"jq ok", TypeJSONJQTransform, `{"inputParameters":{"queryExpression":".a | length"}}`, nil},
		{"jq missing", TypeJSONJQTransform, `{"inputParameters":{}}`, []string{"inputParameters.queryExpression: missing"}},
		{"jq bad", TypeJSONJQTransform, `{"inputParameters":{"queryExpression":".a | | ."}}`, []string{"inputParameters.queryExpression: jq: compile error"}},
		{"jq not string", TypeJSONJQTransform, `{"inputParameters":{"queryExpression":{"a":1}}}`, []string{"inputParameters.queryExpression: must be a string"}},

		{"poll ok orkes", TypeHTTPPoll, `{"inputParameters":{"http_request":{"uri":"http://x","method":"GET","terminationCondition":"(function(){ return $.output.response.body.randomInt > 10;})();","pollingInterval":"60","pollingStrategy":"FIXED"}}}`, nil},
		{"poll missing condition", TypeHTTPPoll, `{"inputParameters":{"uri":"http://x","method":"GET"}}`, []string{"inputParameters.terminationCondition: missing"}},
		{"poll bad everything", TypeHTTPPoll, `{"inputParameters":{"http_request":{"method":"GET","terminationCondition":"((","pollingStrategy":"SOMETIMES","pollingInterval":"often","maxPollCount":-2}}}`,
			[]string{"inputParameters.http_request.uri: missing", "inputParameters.http_request.terminationCondition: javascript: compile", "inputParameters.http_request.pollingStrategy: unknown strategy", "inputParameters.http_request.pollingInterval", "inputParameters.http_request.maxPollCount: must not be negative"}},
		{"poll unknown evaluator", TypeHTTPPoll, `{"inputParameters":{"uri":"http://x","method":"GET","terminationCondition":"x","evaluatorType":"lua"}}`, []string{`inputParameters.evaluatorType: unknown evaluator "lua"`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			task, _ := r.Lookup(tc.typ)
			v, ok := task.(Validator)
			if !ok {
				t.Fatalf("%s has no validator", tc.typ)
			}
			errs := v.Validate([]byte(tc.def))
			if len(errs) != len(tc.want) {
				t.Fatalf("got %d errors %v, want %v", len(errs), errs, tc.want)
			}
			for i, err := range errs {
				if !strings.HasPrefix(err.Error(), tc.want[i]) && !strings.Contains(err.Error(), tc.want[i]) {
					t.Fatalf("error %d: %q, want %q", i, err, tc.want[i])
				}
				var fe *FieldError
				if !errors.Is(err, ErrInvalidDefinition) || !errors.As(err, &fe) || fe.Field == "" {
					t.Fatalf("error %q is not a FieldError naming its field", err)
				}
			}
		})
	}
}
