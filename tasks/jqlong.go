package tasks

import (
	"encoding/json"
	"math"
	"math/big"

	"github.com/itchyny/gojq"

	"github.com/wfrun/wfrun/runsecrets"
)

// jackson-jq 0.0.13's +, - and * of two integers (Jackson's int, long and
// BigInteger nodes) compute on their longs (internal/operators/
// PlusOperator.java: lhs.asLong() + rhs.asLong()): the result wraps
// around at 64 bits (9223372036854775807 + 1 is -9223372036854775808)
// and a BigInteger operand counts by its low 64 bits. gojq's are exact.
// longArith rewrites each A + B, A - B and A * B of q into a call that
// computes as jackson-jq does when both sides are integers and as gojq
// does otherwise. It runs after leftFirst, so each side is one value or a
// variable: the call takes them in jackson-jq's order.

var jqLongFuncs = map[gojq.Operator]string{gojq.OpAdd: "_wfrun_add", gojq.OpSub: "_wfrun_subtract", gojq.OpMul: "_wfrun_multiply",
	gojq.OpMod: "_wfrun_modulo", gojq.OpDiv: "_wfrun_divide"}

func longArith(q *gojq.Query) {
	walkJQ(q, func(x *gojq.Query) {
		name, ok := jqLongFuncs[x.Op]
		if !ok || x.Left == nil || x.Right == nil {
			return
		}
		orders := &gojq.Query{Term: &gojq.Term{Type: gojq.TermTypeFunc, Func: &gojq.Func{Name: jqOrdersVar}}}
		masker := &gojq.Query{Term: &gojq.Term{Type: gojq.TermTypeFunc, Func: &gojq.Func{Name: jqMaskerVar}}}
		call := &gojq.Term{Type: gojq.TermTypeFunc, Func: &gojq.Func{Name: name, Args: []*gojq.Query{x.Left, x.Right, orders, masker}}}
		*x = gojq.Query{FuncDefs: x.FuncDefs, Term: call}
	}, nil)
}

// jqLongNative is gojq's own operator, for the sides that are not both
// integers.
var jqLongNative = map[gojq.Operator]*gojq.Code{
	gojq.OpAdd: mustCompileJQ(".[0] + .[1]"), gojq.OpSub: mustCompileJQ(".[0] - .[1]"), gojq.OpMul: mustCompileJQ(".[0] * .[1]"),
	gojq.OpMod: mustCompileJQ(".[0] % .[1]"), gojq.OpDiv: mustCompileJQ(".[0] / .[1]"),
}

// jqLongOptions registers the calls longArith writes.
func jqLongOptions() []gojq.CompilerOption {
	var opts []gojq.CompilerOption
	for op, name := range jqLongFuncs {
		opts = append(opts, gojq.WithFunction(name, 4, 4, func(_ any, args []any) any {
			mv, _ := args[3].(jqMaskerValue)
			res := jqArith(op, jqLongNative[op], args[0], args[1], jqOrdersOf(args[2]))
			if be, ok := res.(*jqBinopError); ok {
				be.o = jqOrdersOf(args[2])
				if _, isMasker := args[3].(jqMaskerValue); isMasker {
					be.m = &mv
				}
			}
			return res
		}))
	}
	return opts
}

func jqArith(op gojq.Operator, native *gojq.Code, l, r any, o *jqOrders) any {
	if op == gojq.OpMod {
		return jqModulo(native, l, r)
	}
	if lm, ok := l.(map[string]any); ok && (op == gojq.OpAdd || op == gojq.OpMul) {
		if rm, ok := r.(map[string]any); ok {
			return o.merge(lm, rm, op == gojq.OpMul) // in jackson-jq's key order (jqkeyorder.go)
		}
	}
	if a, ok := javaLong(l); ok && op != gojq.OpDiv {
		if b, ok := javaLong(r); ok {
			var v int64
			switch op {
			case gojq.OpAdd:
				v = a + b
			case gojq.OpSub:
				v = a - b
			default:
				v = a * b
			}
			if v >= math.MinInt && v <= math.MaxInt {
				return int(v)
			}
			return big.NewInt(v)
		}
	}
	// Numbers that are not both integers: their doubles, the result an
	// integer when it is whole (asNumericNode). A divisor of 0 fails in
	// gojq's run, worded as jackson-jq's (jqerror.go).
	if a, ok := javaAsDouble(l); ok {
		if b, ok := javaAsDouble(r); ok {
			switch op {
			case gojq.OpAdd:
				return javaNumeric(a + b)
			case gojq.OpSub:
				return javaNumeric(a - b)
			case gojq.OpMul:
				return javaNumeric(a * b)
			case gojq.OpDiv:
				if b != 0 {
					return javaNumeric(a / b)
				}
			}
		}
	}
	if a, ok := l.(string); ok && op == gojq.OpAdd {
		if b, ok := r.(string); ok {
			return a + b
		}
	}
	if op == gojq.OpMul {
		// MultiplyOperator.java: a string times a number that fits an
		// int (taken as one, a fraction cut off) repeats it, or is null
		// when that is not above 0; a number times a string fails.
		if _, ok := l.(string); ok {
			if n, ok := javaInt(r); ok {
				if n <= 0 {
					return nil
				}
			} else if _, isNum := javaAsDouble(r); isNum {
				return &jqBinopError{wording: "cannot be multiplied", l: l, r: r}
			}
		} else if _, ok := r.(string); ok {
			if _, isNum := javaAsDouble(l); isNum {
				return &jqBinopError{wording: "cannot be multiplied", l: l, r: r}
			}
		}
	}
	res, ok := native.Run([]any{l, r}).Next()
	if !ok {
		return nil
	}
	if err, isErr := res.(error); isErr && jqErrorType(err) == "binopTypeError" {
		// The values themselves, not the copies gojq's error holds
		// (read by reflection), so that the reason shows an object's
		// keys in its order.
		return &jqBinopError{wording: jqOpWordings[op], l: l, r: r}
	}
	return res
}

// jqOpWordings are jackson-jq's endings of an operator's type error.
var jqOpWordings = map[gojq.Operator]string{
	gojq.OpAdd: "cannot be added", gojq.OpSub: "cannot be subtracted", gojq.OpMul: "cannot be multiplied", gojq.OpDiv: "cannot be divided",
}

// javaLong is v's asLong() when v is what Jackson holds as an integer
// node (an int, a long, a BigInteger: its low 64 bits).
func javaLong(v any) (int64, bool) {
	switch n := v.(type) {
	case int:
		return int64(n), true
	case *big.Int:
		return bigLow64(n), true
	case json.Number:
		if i, err := n.Int64(); err == nil {
			return i, true
		}
		if b, ok := new(big.Int).SetString(string(n), 10); ok {
			return bigLow64(b), true
		}
	}
	return 0, false
}

// bigLow64 is BigInteger.longValue: the low 64 bits, two's complement.
func bigLow64(n *big.Int) int64 {
	m := new(big.Int).And(n, new(big.Int).SetUint64(math.MaxUint64))
	return int64(m.Uint64())
}

// javaAsDouble is v's asDouble() when v is a number.
func javaAsDouble(v any) (float64, bool) {
	switch n := v.(type) {
	case int:
		return float64(n), true
	case float64:
		return n, true
	case *big.Int:
		f, _ := new(big.Float).SetInt(n).Float64()
		return f, true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil || math.IsInf(f, 0)
	}
	return 0, false
}

// javaInt is v's asInt() when v is a number whose canConvertToInt() holds
// (its value, a fraction cut off, fits an int).
func javaInt(v any) (int, bool) {
	f, ok := javaAsDouble(v)
	if !ok || math.IsNaN(f) || f < math.MinInt32 || f > math.MaxInt32 {
		return 0, false
	}
	return int(f), true
}

// javaNumeric is JsonNodeUtils.asNumericNode(double): an integer when the
// double holds one a long can ((long) value == value, compared as Java
// compares them, in doubles), else the double.
func javaNumeric(f float64) any {
	if math.IsNaN(f) || math.IsInf(f, 0) || f != math.Trunc(f) {
		return f
	}
	var l int64
	switch {
	case f >= math.MaxInt64: // (long) saturates; 2^63 compares equal to Long.MAX_VALUE
		if f != float64(math.MaxInt64) {
			return f
		}
		l = math.MaxInt64
	case f < math.MinInt64:
		return f
	default:
		l = int64(f)
	}
	if l >= math.MinInt && l <= math.MaxInt {
		return int(l)
	}
	return big.NewInt(l)
}

// jqBinopError is an operator's failure on sides it does not take: the
// sides, jackson-jq's ending of the message, the run's key orders and its
// masker.
type jqBinopError struct {
	wording string
	l, r    any
	o       *jqOrders
	m       *jqMaskerValue
}

// Error is what a try/catch reads: jackson-jq's message, its previews
// built from masked text as the failure reason's are (jqPreview); without
// the run's masker, the types only.
func (e *jqBinopError) Error() string {
	if e.m == nil {
		return jqTypeOf(e.l) + " and " + jqTypeOf(e.r) + " " + e.wording
	}
	return e.reason(e.m.m)
}

// reason is jackson-jq's message, its previews masked with m.
func (e *jqBinopError) reason(m runsecrets.Masker) string {
	return jqPreviewOrdered(m, e.l, e.o) + " and " + jqPreviewOrdered(m, e.r, e.o) + " " + e.wording
}

// jqModulo is ModuloOperator.java: both sides integer nodes, the
// remainder of their longs; anything else (a double, 4.0 too) fails.
func jqModulo(native *gojq.Code, l, r any) any {
	a, aok := javaLong(l)
	b, bok := javaLong(r)
	if !aok || !bok {
		return &jqModuloError{}
	}
	if b == 0 {
		res, _ := native.Run([]any{l, r}).Next() // gojq's error, worded as jackson-jq's (jqerror.go)
		return res
	}
	v := a % b
	if v >= math.MinInt && v <= math.MaxInt {
		return int(v)
	}
	return big.NewInt(v)
}

// jqModuloError is jackson-jq's failure of % on sides that are not both
// integers.
type jqModuloError struct{}

func (*jqModuloError) Error() string { return jqModuloWording }
