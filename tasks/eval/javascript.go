package eval

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/dop251/goja"
	"github.com/dop251/goja/parser"
)

// jsEvaluator runs JavaScript with goja. name is "javascript" or "graaljs",
// kept so errors use the name the definition used.
type jsEvaluator struct {
	cfg  config
	name string
}

type jsProgram struct {
	ev  *jsEvaluator
	prg *goja.Program
}

// Reasons a running script is interrupted; the value passed to
// Runtime.Interrupt tells them apart afterwards.
var (
	errJSTimeout = errors.New("time limit exceeded")
	errJSMemory  = errors.New("memory limit exceeded")
)

// maxErrMsg bounds the text of a script error: a script can throw an
// arbitrarily large string.
const maxErrMsg = 1024

func (e *jsEvaluator) Compile(expression string) (p Program, err error) {
	if err := e.cfg.checkSize(e.name, expression); err != nil {
		return nil, err
	}
	defer func() {
		if r := recover(); r != nil {
			p, err = nil, e.cfg.recovered(e.name, PhaseCompile, r)
		}
	}()
	ast, perr := parser.ParseFile(nil, "expression", expression, 0, parser.WithDisableSourceMaps)
	if perr != nil {
		var list parser.ErrorList
		if errors.As(perr, &list) && len(list) > 0 {
			first := list[0]
			return nil, e.cfg.newError(e.name, PhaseCompile, ErrCompile,
				first.Position.Line, first.Position.Column, "SyntaxError: "+first.Message)
		}
		return nil, e.cfg.newError(e.name, PhaseCompile, ErrCompile, 0, 0, perr.Error())
	}
	// Sloppy mode, as Conductor's script engines run expressions.
	prg, cerr := goja.CompileAST(ast, false)
	if cerr != nil {
		var syn *goja.CompilerSyntaxError
		if errors.As(cerr, &syn) && syn.File != nil {
			pos := syn.File.Position(syn.Offset)
			return nil, e.cfg.newError(e.name, PhaseCompile, ErrCompile, pos.Line, pos.Column, "SyntaxError: "+syn.Message)
		}
		return nil, e.cfg.newError(e.name, PhaseCompile, ErrCompile, 0, 0, cerr.Error())
	}
	return &jsProgram{ev: e, prg: prg}, nil
}

// Eval runs the script in a fresh Runtime. A pooled runtime would be
// faster, but a script can leave globals or patched prototypes behind, and
// one workflow's script must never see another's data.
func (p *jsProgram) Eval(ctx context.Context, input any) (out any, err error) {
	cfg := &p.ev.cfg
	name := p.ev.name
	if err := ctx.Err(); err != nil {
		return nil, cfg.newError(name, PhaseEval, ErrTimeout, 0, 0, err.Error())
	}
	vm := goja.New()
	if cfg.maxStack > 0 {
		vm.SetMaxCallStackSize(cfg.maxStack)
	}
	budget := cfg.maxInputVals
	if budget <= 0 {
		budget = int(^uint(0) >> 1)
	}
	jc := newJavaCollections(vm)
	dollar, err := toJSWith(vm, input, &budget, jc)
	if err != nil {
		return nil, cfg.newError(name, PhaseEval, ErrTooLarge, 0, 0, "input: "+err.Error())
	}
	if err := vm.Set("$", dollar); err != nil {
		return nil, cfg.newError(name, PhaseEval, ErrEval, 0, 0, err.Error())
	}
	if err := setConsole(vm); err != nil {
		return nil, cfg.newError(name, PhaseEval, ErrEval, 0, 0, err.Error())
	}

	// Taken before the script runs, so a script that replaces
	// JSON.stringify cannot influence how its result is exported.
	stringify, ok := goja.AssertFunction(vm.Get("JSON").ToObject(vm).Get("stringify"))
	if !ok {
		return nil, cfg.newError(name, PhaseEval, ErrEval, 0, 0, "JSON.stringify is missing")
	}

	guard := newGuard(ctx, vm, cfg)
	// Everything that may call back into script code (running it, but
	// also formatting a thrown value or JSON.stringify calling a toJSON
	// method) happens while the guard can still interrupt it.
	out, err = p.runGuarded(vm, stringify)
	guard.stop()
	return out, err
}

func (p *jsProgram) runGuarded(vm *goja.Runtime, stringify goja.Callable) (out any, err error) {
	cfg := &p.ev.cfg
	name := p.ev.name
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, p.classify(vm, r)
		}
	}()
	res, runErr := vm.RunProgram(p.prg)
	if runErr != nil {
		return nil, p.classify(vm, runErr)
	}
	out, err = exportJS(res, stringify, cfg.maxResult)
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			return nil, cfg.newError(name, PhaseEval, e.Kind, 0, 0, e.Msg)
		}
		return nil, p.classify(vm, err)
	}
	return out, nil
}

// classify turns whatever goja raised (an error or a panic value) into an
// *Error with the script position when goja knows it.
func (p *jsProgram) classify(vm *goja.Runtime, raised any) *Error {
	cfg := &p.ev.cfg
	name := p.ev.name
	var intr *goja.InterruptedError
	var so *goja.StackOverflowError
	var ex *goja.Exception
	err, isErr := raised.(error)
	switch {
	case !isErr:
		return cfg.recovered(name, PhaseEval, raised)
	case errors.As(err, &intr):
		switch v := intr.Value(); v {
		case errJSMemory:
			return cfg.newError(name, PhaseEval, ErrTooLarge, 0, 0, errJSMemory.Error())
		case errJSTimeout:
			e := cfg.newError(name, PhaseEval, ErrTimeout, 0, 0,
				fmt.Sprintf("time limit of %s exceeded", cfg.timeout))
			e.limit = cfg.timeout
			return e
		default:
			return cfg.newError(name, PhaseEval, ErrTimeout, 0, 0, fmt.Sprint(v))
		}
	case errors.As(err, &so):
		return cfg.newError(name, PhaseEval, ErrTooLarge, 0, 0,
			fmt.Sprintf("call stack exceeded %d frames", cfg.maxStack))
	case errors.As(err, &ex):
		line, col := 0, 0
		if st := ex.Stack(); len(st) > 0 {
			pos := st[0].Position()
			line, col = pos.Line, pos.Column
		}
		return cfg.newError(name, PhaseEval, ErrEval, line, col, cfg.maskThenCut(thrownText(ex)))
	default:
		return cfg.newError(name, PhaseEval, ErrEval, 0, 0, cfg.maskThenCut(err.Error()))
	}
}

// thrownText renders a thrown value; converting an arbitrary object to text
// runs its toString, which may itself throw.
func thrownText(ex *goja.Exception) (s string) {
	defer func() {
		if recover() != nil {
			s = "uncaught exception (its value could not be converted to text)"
		}
	}()
	if v := ex.Value(); v != nil {
		return v.String()
	}
	return "uncaught exception"
}

// maskThenCut shortens thrown text, which may quote input values, to
// maxErrMsg bytes — but only once it is masked: a value cut first keeps its
// head in clear. Without a WithMasker hook the text is returned whole, and
// the caller masks it and then cuts it.
func (c *config) maskThenCut(s string) string {
	if c.mask == nil || len(s) <= maxErrMsg {
		return s
	}
	s = c.mask(s)
	if len(s) <= maxErrMsg {
		return s
	}
	i := maxErrMsg
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}

// guard interrupts one evaluation on context cancellation, on timeout, or
// when the heap grows past the memory limit.
type guard struct {
	stopCtx func() bool
	timer   *time.Timer
	done    atomic.Bool
	mu      sync.Mutex // guards watch
	watch   *time.Timer
}

func newGuard(ctx context.Context, vm *goja.Runtime, cfg *config) *guard {
	g := &guard{}
	if ctx.Done() != nil {
		g.stopCtx = context.AfterFunc(ctx, func() { vm.Interrupt(ctx.Err()) })
	}
	if cfg.timeout > 0 {
		g.timer = time.AfterFunc(cfg.timeout, func() { vm.Interrupt(errJSTimeout) })
	}
	if cfg.memoryLimit > 0 {
		g.startWatchdog(vm, cfg.memoryLimit, cfg.memoryPoll)
	}
	return g
}

// heapObjectsMetric is the live-and-not-yet-swept heap object bytes; it is
// read without stopping the world.
const heapObjectsMetric = "/memory/classes/heap/objects:bytes"

func (g *guard) startWatchdog(vm *goja.Runtime, limit uint64, every time.Duration) {
	sample := []metrics.Sample{{Name: heapObjectsMetric}}
	read := func() uint64 {
		metrics.Read(sample)
		if sample[0].Value.Kind() != metrics.KindUint64 {
			return 0
		}
		return sample[0].Value.Uint64()
	}
	base := read()
	var tick func()
	tick = func() {
		if g.done.Load() {
			return
		}
		if now := read(); now > base && now-base > limit {
			vm.Interrupt(errJSMemory)
			return
		}
		g.mu.Lock()
		if !g.done.Load() {
			g.watch = time.AfterFunc(every, tick)
		}
		g.mu.Unlock()
	}
	g.mu.Lock()
	g.watch = time.AfterFunc(every, tick)
	g.mu.Unlock()
}

func (g *guard) stop() {
	g.done.Store(true)
	if g.stopCtx != nil {
		g.stopCtx()
	}
	if g.timer != nil {
		g.timer.Stop()
	}
	g.mu.Lock()
	if g.watch != nil {
		g.watch.Stop()
	}
	g.mu.Unlock()
}

// toJS copies a decoded JSON value into native JavaScript values, so the
// script sees real objects and arrays (Array.isArray, push, for-in all
// behave) and cannot write through to the caller's maps.
func toJS(vm *goja.Runtime, v any, budget *int) (goja.Value, error) {
	return toJSWith(vm, v, budget, nil)
}

func toJSWith(vm *goja.Runtime, v any, budget *int, jc *javaCollections) (goja.Value, error) {
	*budget--
	if *budget < 0 {
		return nil, errors.New("too many values")
	}
	switch x := v.(type) {
	case nil:
		return goja.Null(), nil
	case string, bool, float64, int, int64, int32, float32:
		return vm.ToValue(x), nil
	case json.Number:
		f, err := x.Float64()
		if err != nil {
			return nil, fmt.Errorf("bad number %q", string(x))
		}
		return vm.ToValue(f), nil
	case map[string]any:
		obj := vm.NewObject()
		for k, e := range x {
			jv, err := toJSWith(vm, e, budget, jc)
			if err != nil {
				return nil, err
			}
			if k == "__proto__" {
				// Set would replace the prototype; a data key named
				// __proto__ must stay a plain property.
				if err := obj.DefineDataProperty(k, jv, goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_TRUE); err != nil {
					return nil, err
				}
				continue
			}
			if err := obj.Set(k, jv); err != nil {
				return nil, err
			}
		}
		jc.addMap(obj, x)
		return obj, nil
	case Lazy:
		return newLazyObject(vm, x, budget, jc), nil
	case []any:
		items := make([]any, len(x))
		for i, e := range x {
			jv, err := toJSWith(vm, e, budget, jc)
			if err != nil {
				return nil, err
			}
			items[i] = jv
		}
		arr := vm.NewArray(items...)
		jc.addList(arr)
		return arr, nil
	}
	n, err := normalize(v)
	if err != nil {
		return nil, err
	}
	switch n.(type) {
	case map[string]any, []any, nil, string, bool, int64, float64:
		*budget++ // the normalized copy is counted instead
		return toJSWith(vm, n, budget, jc)
	}
	return nil, fmt.Errorf("unsupported input value of type %T", v)
}

// exportJS converts a script result into plain Go data (see the package
// documentation for the rules).
func exportJS(v goja.Value, stringify goja.Callable, maxBytes int) (any, error) {
	if v == nil || goja.IsUndefined(v) || goja.IsNull(v) {
		return nil, nil
	}
	if _, isObj := v.(*goja.Object); !isObj {
		switch x := v.Export().(type) {
		case int64:
			if x > maxSafeInt || x < -maxSafeInt {
				return number(float64(x)), nil
			}
			return x, nil
		case float64:
			return number(x), nil
		case bool:
			return x, nil
		case string:
			if maxBytes > 0 && len(x) > maxBytes {
				return nil, &Error{Phase: PhaseEval, Kind: ErrTooLarge,
					Msg: fmt.Sprintf("result is %d bytes, limit %d", len(x), maxBytes)}
			}
			return x, nil
		case *big.Int:
			if x.IsInt64() {
				return x.Int64(), nil
			}
			return x.String(), nil
		default:
			// Symbols and other exotic primitives have no JSON form.
			return nil, nil
		}
	}
	js, err := stringify(goja.Undefined(), v)
	if err != nil {
		return nil, err
	}
	if goja.IsUndefined(js) {
		return nil, nil // a function, for instance
	}
	text := js.String()
	if maxBytes > 0 && len(text) > maxBytes {
		return nil, &Error{Phase: PhaseEval, Kind: ErrTooLarge,
			Msg: fmt.Sprintf("result is %d bytes as JSON, limit %d", len(text), maxBytes)}
	}
	var out any
	if err := json.Unmarshal([]byte(text), &out); err != nil {
		return nil, fmt.Errorf("result is not JSON: %v", err)
	}
	return normalize(out)
}

// setConsole gives scripts a console whose methods accept anything and print
// nothing. Conductor's own examples call console.log inside loop conditions;
// what a script logs may well be a resolved secret, so it is discarded rather
// than routed to progress output.
func setConsole(vm *goja.Runtime) error {
	console := vm.NewObject()
	discard := func(goja.FunctionCall) goja.Value { return goja.Undefined() }
	for _, m := range []string{"log", "info", "warn", "error", "debug", "trace"} {
		if err := console.Set(m, discard); err != nil {
			return err
		}
	}
	return vm.Set("console", console)
}
