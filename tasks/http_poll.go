package tasks

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/wfrun/wfrun/tasks/eval"
)

// HTTPPollTask executes HTTP_POLL (Orkes): the HTTP call of the HTTP task,
// repeated until terminationCondition holds.
//
// Inputs, beside the HTTP task's (flat or inside http_request; the poll
// fields may sit in either place):
//
//   - terminationCondition (required): an expression, JavaScript unless
//     evaluatorType says otherwise. "$" is the task input with "output" set
//     to this poll's output, so "$.output.response.body.randomInt > 10"
//     reads the response. The response fields are also mirrored one level
//     up, so "$.output.body" and "$.output.statusCode" (another spelling in
//     Orkes' examples) work too; "$.pollCount" is the 1-based poll number.
//     The task completes when the result is true (or the string "true").
//   - pollingInterval: seconds between calls, number or numeric string,
//     fractions allowed (default 60).
//   - pollingStrategy: FIXED (default), LINEAR_BACKOFF (interval × poll
//     count) or EXPONENTIAL_BACKOFF (interval × 2^(poll count − 1)).
//   - maxPollCount: give up after this many calls (default 0: no limit);
//     the task then fails with the last response as output.
//
// A transport error or non-2xx response fails the task as the HTTP task
// would; cancelling the context stops the wait between polls at once.
// The output is the last poll's output plus "pollCount".
type HTTPPollTask struct {
	http  *HTTPTask
	cache *eval.Cache
}

var (
	_ Task      = (*HTTPPollTask)(nil)
	_ Validator = (*HTTPPollTask)(nil)
)

// Polling strategies.
const (
	PollFixed              = "FIXED"
	PollLinearBackoff      = "LINEAR_BACKOFF"
	PollExponentialBackoff = "EXPONENTIAL_BACKOFF"
)

const (
	defaultPollingInterval = 60 * time.Second
	// maxPollWait caps one backoff wait, which EXPONENTIAL_BACKOFF would
	// otherwise grow without bound.
	maxPollWait = 24 * time.Hour
)

type pollConfig struct {
	cond     eval.Program
	interval time.Duration
	strategy string
	maxPolls int
}

func (t *HTTPPollTask) config(in *httpInput) (*pollConfig, error) {
	cfg := &pollConfig{interval: defaultPollingInterval, strategy: PollFixed}
	var cond string
	if !rawNull(in.TerminationCondition) {
		if err := json.Unmarshal(in.TerminationCondition, &cond); err != nil {
			return nil, fmt.Errorf("terminationCondition must be a string")
		}
	}
	if strings.TrimSpace(cond) == "" {
		return nil, fmt.Errorf("missing terminationCondition")
	}
	typ := eval.TypeJavaScript
	if in.EvaluatorType != "" {
		typ = in.EvaluatorType
	}
	p, err := t.cache.Compile(typ, cond)
	if err != nil {
		return nil, fmt.Errorf("terminationCondition: %w", err)
	}
	cfg.cond = p
	if secs, ok, err := flexNumber(in.PollingInterval); err != nil {
		return nil, fmt.Errorf("pollingInterval: %v", err)
	} else if ok {
		if secs < 0 || math.IsNaN(secs) || secs > maxPollWait.Seconds() {
			return nil, fmt.Errorf("pollingInterval: %v is out of range (seconds)", secs)
		}
		cfg.interval = time.Duration(secs * float64(time.Second))
	}
	if min := t.http.opts.minPollInterval; cfg.interval < min {
		cfg.interval = min
	}
	if in.PollingStrategy != "" {
		switch s := strings.ToUpper(in.PollingStrategy); s {
		case PollFixed, PollLinearBackoff, PollExponentialBackoff:
			cfg.strategy = s
		default:
			return nil, fmt.Errorf("pollingStrategy: unknown strategy %q (want FIXED, LINEAR_BACKOFF or EXPONENTIAL_BACKOFF)", in.PollingStrategy)
		}
	}
	if n, ok, err := flexNumber(in.MaxPollCount); err != nil {
		return nil, fmt.Errorf("maxPollCount: %v", err)
	} else if ok {
		if n < 0 || n > math.MaxInt32 {
			return nil, fmt.Errorf("maxPollCount: %v is out of range", n)
		}
		cfg.maxPolls = int(n)
	}
	return cfg, nil
}

// wait returns the pause after poll number n (1-based).
func (c *pollConfig) wait(n int) time.Duration {
	d := c.interval
	switch c.strategy {
	case PollLinearBackoff:
		d = c.interval * time.Duration(n)
	case PollExponentialBackoff:
		if n > 40 {
			return maxPollWait
		}
		d = c.interval * time.Duration(uint64(1)<<(n-1))
	}
	if d < 0 || d > maxPollWait {
		return maxPollWait
	}
	return d
}

// Execute polls until the condition holds, maxPollCount is reached, a call
// fails or ctx ends.
func (t *HTTPPollTask) Execute(ctx context.Context, req *Request) Result {
	svc := req.Services
	var in httpInput
	if err := parseHTTPInput(req.Input, req.InputValid, &in); err != nil {
		return Result{Status: FailedTerminal, Reason: mask(svc, err.Error())}
	}
	cfg, err := t.config(&in)
	if err != nil {
		return failure(FailedTerminal, mask(svc, err.Error()))
	}
	// The condition sees the task input; it is decoded once and the
	// poll-specific keys are replaced on each round.
	base, err := decodeObject(req.Input)
	if err != nil {
		return Result{Status: FailedTerminal, Reason: mask(svc, err.Error())}
	}
	for n := 1; ; n++ {
		out, res := t.http.call(ctx, svc, &in)
		if res.Status != Completed {
			res.Output = withPollCount(out, n)
			return res
		}
		var decoded map[string]any
		if err := json.Unmarshal(out, &decoded); err != nil {
			return Result{Status: Failed, Reason: "HTTP_POLL: cannot decode the response output"}
		}
		view := make(map[string]any, len(decoded)+4)
		for k, v := range decoded {
			view[k] = v
		}
		if resp, ok := decoded["response"].(map[string]any); ok {
			for _, k := range []string{"statusCode", "reasonPhrase", "headers", "body"} {
				if _, taken := view[k]; !taken {
					view[k] = resp[k]
				}
			}
		}
		base["output"] = view
		base["pollCount"] = float64(n)
		v, err := cfg.cond.Eval(ctx, base)
		if err != nil {
			return Result{Status: Failed, Output: withPollCount(out, n),
				Reason: maskCode(svc, "terminationCondition: "+err.Error(), 0)}
		}
		if truthy(v) {
			return Result{Status: Completed, Output: withPollCount(out, n)}
		}
		if cfg.maxPolls > 0 && n >= cfg.maxPolls {
			return Result{Status: Failed, Output: withPollCount(out, n),
				Reason: fmt.Sprintf("terminationCondition not met after %d polls (maxPollCount)", n)}
		}
		if svc != nil && svc.Logf != nil {
			svc.Logf("HTTP_POLL %s: condition not met after poll %d, next in %s", req.RefName, n, cfg.wait(n))
		}
		timer := time.NewTimer(cfg.wait(n))
		select {
		case <-ctx.Done():
			timer.Stop()
			return Result{Status: Failed, Output: withPollCount(out, n),
				Reason: fmt.Sprintf("HTTP_POLL canceled after %d polls: %v", n, ctx.Err())}
		case <-timer.C:
		}
	}
}

func truthy(v any) bool {
	switch x := v.(type) {
	case bool:
		return x
	case string:
		return strings.EqualFold(strings.TrimSpace(x), "true")
	}
	return false
}

// withPollCount appends "pollCount" to an output object (nil gives an
// object with the count alone).
func withPollCount(out json.RawMessage, n int) json.RawMessage {
	if len(out) < 2 || out[len(out)-1] != '}' {
		return json.RawMessage(fmt.Sprintf(`{"pollCount":%d}`, n))
	}
	b := make([]byte, 0, len(out)+24)
	b = append(b, out[:len(out)-1]...)
	if len(out) > 2 {
		b = append(b, ',')
	}
	b = append(b, fmt.Sprintf(`"pollCount":%d}`, n)...)
	return b
}

// Validate checks the HTTP fields, that terminationCondition is present and
// compiles (when literal), and literal polling settings.
func (t *HTTPPollTask) Validate(def json.RawMessage) []error {
	in, prefix, errs := httpDefInputs(def)
	if errs != nil || in == nil {
		return errs
	}
	errs = validateHTTPFields(in, prefix)
	typ := eval.TypeJavaScript
	if s, ok, isStr := literalString(in["evaluatorType"]); ok {
		switch {
		case !isStr:
			errs = append(errs, fieldErr(prefix+"evaluatorType", "must be a string"))
		case isTemplate(s):
			typ = ""
		case !eval.Known(s):
			errs = append(errs, fieldErr(prefix+"evaluatorType", "unknown evaluator %q (want value-param, expr, javascript or graaljs)", s))
			typ = ""
		default:
			typ = s
		}
	}
	cond, ok, isStr := literalString(in["terminationCondition"])
	switch {
	case !ok:
		errs = append(errs, fieldErr(prefix+"terminationCondition", "missing (required)"))
	case !isStr:
		errs = append(errs, fieldErr(prefix+"terminationCondition", "must be a string"))
	case strings.TrimSpace(cond) == "":
		errs = append(errs, fieldErr(prefix+"terminationCondition", "must not be empty"))
	case typ != "" && !isTemplate(cond):
		if _, err := t.cache.Compile(typ, cond); err != nil {
			errs = append(errs, fieldErr(prefix+"terminationCondition", "%v", err))
		}
	}
	if s, ok, isStr := literalString(in["pollingStrategy"]); ok && (!isStr || !isTemplate(s)) {
		switch strings.ToUpper(s) {
		case PollFixed, PollLinearBackoff, PollExponentialBackoff:
		default:
			errs = append(errs, fieldErr(prefix+"pollingStrategy", "unknown strategy %q (want FIXED, LINEAR_BACKOFF or EXPONENTIAL_BACKOFF)", s))
		}
	}
	for _, f := range []string{"pollingInterval", "maxPollCount"} {
		raw := in[f]
		if s, _, isStr := literalString(raw); isStr && isTemplate(s) {
			continue
		}
		if v, _, err := flexNumber(raw); err != nil {
			errs = append(errs, fieldErr(prefix+f, "%v", err))
		} else if v < 0 {
			errs = append(errs, fieldErr(prefix+f, "must not be negative"))
		}
	}
	return errs
}
