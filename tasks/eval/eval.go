package eval

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Program is a compiled expression. It is immutable and safe for
// concurrent use.
type Program interface {
	// Eval runs the program against input, a decoded JSON value
	// (map[string]any for an object).
	Eval(ctx context.Context, input any) (any, error)
}

// Evaluator compiles expressions of one evaluator type.
type Evaluator interface {
	Compile(expression string) (Program, error)
}

// Evaluator type names, as Conductor spells them.
const (
	TypeValueParam = "value-param"
	TypeExpr       = "expr"
	TypeJavaScript = "javascript"
	TypeGraalJS    = "graaljs"
)

// Sentinel errors, for errors.Is on an *Error.
var (
	ErrUnknownEvaluator = errors.New("unknown evaluator")
	ErrCompile          = errors.New("compile error")
	ErrEval             = errors.New("evaluation error")
	ErrTimeout          = errors.New("evaluation interrupted")
	ErrTooLarge         = errors.New("size limit exceeded")
)

// Phase tells whether an error happened while compiling or evaluating.
type Phase string

// Phases of an Error.
const (
	PhaseCompile Phase = "compile"
	PhaseEval    Phase = "evaluate"
)

// Error is the one error type of this package.
type Error struct {
	Evaluator string // evaluator type, e.g. "javascript"
	Phase     Phase
	Line      int // 1-based; 0 when unknown
	Column    int // 1-based; 0 when unknown
	Msg       string
	Kind      error // one of the sentinel errors
	// limit: the time limit that stopped a script (ErrTimeout), 0 when
	// something else did (the context).
	limit time.Duration
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Evaluator)
	b.WriteString(": ")
	b.WriteString(string(e.Phase))
	if e.Line > 0 {
		fmt.Fprintf(&b, " at %d:%d", e.Line, e.Column)
	}
	b.WriteString(": ")
	b.WriteString(e.Msg)
	return b.String()
}

// Unwrap returns the sentinel error that classifies e.
func (e *Error) Unwrap() error { return e.Kind }

// ScriptMessage renders err as Conductor's ScriptEvaluator reports a
// script that throws while it runs: "Error evaluating the script `<what
// was thrown>` at line N", without " at line N" when the line is not
// known. ok is false for anything else (another evaluator, a compile
// error, a time or size limit), which keeps its own text.
func ScriptMessage(err error) (msg string, ok bool) {
	var e *Error
	if !errors.As(err, &e) || e.Phase != PhaseEval || e.Kind != ErrEval ||
		(e.Evaluator != TypeJavaScript && e.Evaluator != TypeGraalJS) {
		return "", false
	}
	if e.Line > 0 {
		return fmt.Sprintf("Error evaluating the script `%s` at line %d", e.Msg, e.Line), true
	}
	return "Error evaluating the script `" + e.Msg + "`", true
}

// InterruptedMessage renders err as Conductor's ScriptEvaluator reports a
// javascript or graaljs script its time limit stopped: "Script not
// evaluated within N seconds, interrupted." (N: the limit in whole seconds,
// as Conductor configures it). ok is false for anything else, a script
// stopped because its context ended included.
func InterruptedMessage(err error) (msg string, ok bool) {
	var e *Error
	if !errors.As(err, &e) || e.Kind != ErrTimeout || e.limit <= 0 ||
		(e.Evaluator != TypeJavaScript && e.Evaluator != TypeGraalJS) {
		return "", false
	}
	return fmt.Sprintf("Script not evaluated within %d seconds, interrupted.", int64(e.limit/time.Second)), true
}

// config holds the options shared by all evaluators.
type config struct {
	timeout       time.Duration
	maxExprBytes  int
	maxInputVals  int
	maxStack      int
	maxResult     int
	memoryLimit   uint64
	memoryPoll    time.Duration
	mask          func(string) string
	exprMaxNodes  uint
	exprMemBudget uint
}

func defaultConfig() config {
	return config{
		timeout:       4 * time.Second, // Conductor's ScriptEvaluator default
		maxExprBytes:  64 << 10,
		maxInputVals:  1_000_000,
		maxStack:      1024,
		maxResult:     1 << 20,
		memoryLimit:   256 << 20,
		memoryPoll:    10 * time.Millisecond,
		exprMaxNodes:  10_000,
		exprMemBudget: 1_000_000,
	}
}

// Option configures an Evaluator or a Cache.
type Option func(*config)

// WithTimeout bounds one evaluation (default 4s). A context deadline that
// comes earlier wins. d <= 0 leaves only the context as a bound.
func WithTimeout(d time.Duration) Option { return func(c *config) { c.timeout = d } }

// WithMaxExpressionBytes rejects longer expressions at compile time
// (default 64 KiB).
func WithMaxExpressionBytes(n int) Option { return func(c *config) { c.maxExprBytes = n } }

// WithMaxInputValues bounds how many values (objects, arrays, scalars) of
// the input are copied into a JavaScript runtime (default 1,000,000).
func WithMaxInputValues(n int) Option { return func(c *config) { c.maxInputVals = n } }

// WithMaxCallStackSize bounds JavaScript call depth (default 1,024).
func WithMaxCallStackSize(n int) Option { return func(c *config) { c.maxStack = n } }

// WithMaxResultBytes bounds the JSON size of a JavaScript result (default 1 MiB).
func WithMaxResultBytes(n int) Option { return func(c *config) { c.maxResult = n } }

// WithMemoryLimit sets how much the process heap may grow while one
// JavaScript evaluation runs before the evaluation is interrupted (default
// 256 MiB; 0 disables the watchdog). See the package documentation for what
// this does and does not guarantee.
func WithMemoryLimit(bytes uint64) Option { return func(c *config) { c.memoryLimit = bytes } }

// WithMasker installs a hook applied to every error message before it is
// returned, because messages can quote the expression and input values.
func WithMasker(mask func(string) string) Option { return func(c *config) { c.mask = mask } }

// WithExprLimits sets expr-lang's AST node limit and per-run memory budget
// (defaults 10,000 nodes and 1,000,000 units).
func WithExprLimits(maxNodes, memoryBudget uint) Option {
	return func(c *config) { c.exprMaxNodes, c.exprMemBudget = maxNodes, memoryBudget }
}

func (c *config) newError(evaluator string, phase Phase, kind error, line, col int, msg string) *Error {
	if c.mask != nil {
		msg = c.mask(msg)
	}
	return &Error{Evaluator: evaluator, Phase: phase, Line: line, Column: col, Msg: msg, Kind: kind}
}

// checkSize rejects blank and oversize expressions before any parser sees them.
func (c *config) checkSize(evaluator, expression string) error {
	if strings.TrimSpace(expression) == "" {
		return c.newError(evaluator, PhaseCompile, ErrCompile, 0, 0, "expression is blank")
	}
	if c.maxExprBytes > 0 && len(expression) > c.maxExprBytes {
		return c.newError(evaluator, PhaseCompile, ErrTooLarge, 0, 0,
			fmt.Sprintf("expression is %d bytes, limit %d", len(expression), c.maxExprBytes))
	}
	return nil
}

// New returns the evaluator for evaluatorType ("value-param", "expr",
// "javascript" or "graaljs"). An unknown type gives an *Error wrapping
// ErrUnknownEvaluator that names it.
func New(evaluatorType string, opts ...Option) (Evaluator, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	switch evaluatorType {
	case TypeValueParam:
		return &valueParam{cfg: cfg}, nil
	case TypeExpr:
		return newExprEvaluator(cfg), nil
	case TypeJavaScript, TypeGraalJS:
		return &jsEvaluator{cfg: cfg, name: evaluatorType}, nil
	}
	return nil, cfg.newError(evaluatorType, PhaseCompile, ErrUnknownEvaluator, 0, 0,
		fmt.Sprintf("unknown evaluator type %q (want value-param, expr, javascript or graaljs)", evaluatorType))
}

// Known reports whether evaluatorType names a supported evaluator.
func Known(evaluatorType string) bool {
	switch evaluatorType {
	case TypeValueParam, TypeExpr, TypeJavaScript, TypeGraalJS:
		return true
	}
	return false
}

// recovered turns a panic value into an *Error so that no evaluator input
// can crash the process.
func (c *config) recovered(evaluator string, phase Phase, p any) *Error {
	return c.newError(evaluator, phase, ErrEval, 0, 0, fmt.Sprintf("internal error: %v", p))
}
