package tasks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/wfrun/wfrun/tasks/eval"
)

// InlineTask executes Conductor's INLINE task: inputParameters.evaluatorType
// (default "javascript") and inputParameters.expression, evaluated with the
// whole resolved input as "$". The output is {"result": value}. A blank or
// unknown evaluator, a blank expression or one that does not compile fails
// terminally (a retry cannot help), and so does a javascript/graaljs
// script that throws, with Conductor's "Error evaluating the script `…` at
// line N" (its ScriptEvaluator throws TerminateWorkflowException, which
// Inline records FAILED_WITH_TERMINAL_ERROR); any other evaluation error
// (a time or size limit, an expr error) fails retryably. All carry the
// reason in output "error".
type InlineTask struct {
	cache *eval.Cache
}

var (
	_ Task      = (*InlineTask)(nil)
	_ Validator = (*InlineTask)(nil)
)

// inlineProgram resolves evaluatorType and expression from a decoded input.
func inlineProgram(cache *eval.Cache, in map[string]any) (eval.Program, Status, string) {
	typ := eval.TypeJavaScript
	if v, ok := in["evaluatorType"]; ok && v != nil {
		s, isStr := v.(string)
		if !isStr || strings.TrimSpace(s) == "" {
			return nil, FailedTerminal, "Empty 'evaluatorType' in INLINE task's input parameters. A non-empty String value must be provided."
		}
		typ = strings.TrimSpace(s)
	}
	expr, _ := in["expression"].(string)
	if strings.TrimSpace(expr) == "" {
		return nil, FailedTerminal, "Empty 'expression' in INLINE task's input parameters. A non-empty String value must be provided."
	}
	p, err := cache.Compile(typ, expr)
	if err != nil {
		return nil, FailedTerminal, err.Error()
	}
	return p, "", ""
}

// Execute evaluates the expression.
func (t *InlineTask) Execute(ctx context.Context, req *Request) Result {
	in, err := decodeObject(req.Input)
	if err != nil {
		return failure(FailedTerminal, mask(req.Services, err.Error()))
	}
	p, status, reason := inlineProgram(t.cache, in)
	if p == nil {
		// A parser's words may quote a token of a value the expression
		// holds: masked with the pieces of values, as evaluation errors.
		return failure(status, maskCode(req.Services, reason, 0))
	}
	v, err := p.Eval(ctx, in)
	if err != nil {
		status, reason := Failed, err.Error()
		if errors.Is(err, eval.ErrCompile) || errors.Is(err, eval.ErrUnknownEvaluator) {
			status = FailedTerminal
		} else if msg, ok := eval.ScriptMessage(err); ok {
			status, reason = FailedTerminal, msg
		} else if msg, ok := eval.InterruptedMessage(err); ok {
			reason = msg // FAILED: ScriptEvaluator's NonTransientException
		}
		// Thrown text may quote the input: masked whole, then cut.
		return failure(status, maskCode(req.Services, reason, maxQuotedError))
	}
	out, err := json.Marshal(map[string]any{"result": v})
	if err != nil {
		return failure(Failed, mask(req.Services, fmt.Sprintf("result cannot be encoded as JSON: %v", err)))
	}
	return Result{Status: Completed, Output: out}
}

// Validate checks the evaluator type and, when it is a literal, that the
// expression compiles.
func (t *InlineTask) Validate(def json.RawMessage) []error {
	in, errs := defInputs(def)
	if errs != nil {
		return errs
	}
	typ := eval.TypeJavaScript
	typTemplate := false
	if raw, ok := in["evaluatorType"]; ok && !rawNull(raw) {
		s, _, isStr := literalString(raw)
		switch {
		case !isStr:
			errs = append(errs, fieldErr("inputParameters.evaluatorType", "must be a string"))
		case isTemplate(s):
			typTemplate = true
		case strings.TrimSpace(s) == "":
			errs = append(errs, fieldErr("inputParameters.evaluatorType", "must not be empty"))
		case !eval.Known(strings.TrimSpace(s)):
			errs = append(errs, fieldErr("inputParameters.evaluatorType", "unknown evaluator %q (want value-param, expr, javascript or graaljs)", s))
		default:
			typ = strings.TrimSpace(s)
		}
	}
	expr, ok, isStr := literalString(in["expression"])
	switch {
	case !ok:
		errs = append(errs, fieldErr("inputParameters.expression", "missing (required)"))
	case !isStr:
		errs = append(errs, fieldErr("inputParameters.expression", "must be a string"))
	case strings.TrimSpace(expr) == "":
		errs = append(errs, fieldErr("inputParameters.expression", "must not be empty"))
	case len(errs) == 0 && !typTemplate && !isTemplate(expr):
		if _, err := t.cache.Compile(typ, expr); err != nil {
			errs = append(errs, fieldErr("inputParameters.expression", "%v", err))
		}
	}
	return errs
}
