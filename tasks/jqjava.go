package tasks

import (
	"encoding/json"
	"math"
	"math/big"
	"strconv"
	"strings"
	"unicode/utf16"

	"github.com/itchyny/gojq"
)

// jackson-jq 0.0.13 keeps a number as Jackson reads it: a JSON number
// with a fraction or an exponent (1.0, 1e20) is a DoubleNode, one
// without an IntNode, LongNode or BigIntegerNode. Its text of a double is
// Java's (Double.toString: 1.0, 1.0E20), in tostring, in tojson and in
// string interpolation, and so is the text Conductor stores in the task
// output. wfrun reads the task input with its numbers' texts kept
// (json.Number), so gojq holds the same two kinds: an int (or *big.Int)
// where Jackson has an integer node, a float64 where it has a double.
// The operators and builtins whose result jackson-jq turns back into an
// integer node when it is whole (JsonNodeUtils.asNumericNode: +, -, *, /,
// %, negation, length, tonumber, pow, range, add) do the same here
// (jqlong.go, jqNumericDefs).

// javaDoubleOf is v as a double when Jackson holds v as a DoubleNode.
func javaDoubleOf(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case json.Number:
		if strings.ContainsAny(string(n), ".eE") {
			f, _ := n.Float64() // ±Inf on overflow, as Java's parseDouble
			return f, true
		}
	}
	return 0, false
}

// javaWriter writes values as Jackson's JsonNode.toString does, which is
// also how Conductor's ObjectMapper writes the task output: compact JSON,
// strings escaped as Jackson escapes them, a double as Java writes it and
// one that is not finite as a string ("NaN", "Infinity", "-Infinity";
// JsonWriteFeature.WRITE_NAN_AS_STRINGS), an object's keys in its order
// (o, jqkeyorder.go). mask, when set, is applied to every string and key
// (a failure reason's preview, masked before it is cut).
type javaWriter struct {
	o    *jqOrders
	mask func(string) string
}

func (w javaWriter) str(b *strings.Builder, s string) {
	if w.mask != nil {
		s = w.mask(s)
	}
	writeJacksonString(b, s)
}

func (w javaWriter) write(b *strings.Builder, v any) {
	switch v := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		b.WriteString(strconv.FormatBool(v))
	case string:
		w.str(b, v)
	case []any:
		b.WriteByte('[')
		for i, x := range v {
			if i > 0 {
				b.WriteByte(',')
			}
			w.write(b, x)
		}
		b.WriteByte(']')
	case map[string]any:
		b.WriteByte('{')
		for i, k := range w.o.keysOf(v) {
			if i > 0 {
				b.WriteByte(',')
			}
			w.str(b, k)
			b.WriteByte(':')
			w.write(b, v[k])
		}
		b.WriteByte('}')
	default:
		if f, ok := javaDoubleOf(v); ok && (math.IsNaN(f) || math.IsInf(f, 0)) {
			b.WriteByte('"')
			b.WriteString(javaDouble(f))
			b.WriteByte('"')
			return
		}
		b.WriteString(javaNumberText(v))
	}
}

// writeJavaNode writes v (javaWriter), its objects' keys in the order o
// records.
func writeJavaNode(b *strings.Builder, v any, o *jqOrders) {
	javaWriter{o: o}.write(b, v)
}

// javaNumberText is a number's text as Jackson writes its node: an
// integer's digits, a double's Double.toString.
func javaNumberText(v any) string {
	if f, ok := javaDoubleOf(v); ok {
		return javaDouble(f)
	}
	switch n := v.(type) {
	case int:
		return strconv.Itoa(n)
	case *big.Int:
		return n.String()
	case json.Number:
		if i, err := n.Int64(); err == nil {
			return strconv.FormatInt(i, 10) // "-0" is 0
		}
		if z, ok := new(big.Int).SetString(string(n), 10); ok {
			return z.String()
		}
		return string(n)
	}
	return "null"
}

// javaToString is jackson-jq's tostring (functions/ToStringFunction.java):
// a string as it is, anything else as JsonNode.toString.
func javaToString(v any, args []any) any {
	if s, ok := v.(string); ok {
		return s
	}
	var b strings.Builder
	writeJavaNode(&b, v, jqOrdersArg(args))
	return b.String()
}

// jqOrdersArg is the run's key orders when args holds them.
func jqOrdersArg(args []any) *jqOrders {
	if len(args) == 0 {
		return nil
	}
	return jqOrdersOf(args[len(args)-1])
}

// javaToJSON is jackson-jq's tojson (functions/ToJsonFunction.java): a
// double alone is written by its own serializer (NaN as null, an
// infinity as the largest double, the exponent as "e+N"/"e-N"); inside an
// array or object Jackson's node writes it, as toString does.
func javaToJSON(v any, args []any) any {
	f, ok := javaDoubleOf(v)
	if !ok {
		var b strings.Builder
		writeJavaNode(&b, v, jqOrdersArg(args))
		return b.String()
	}
	switch {
	case math.IsNaN(f):
		return "null"
	case math.IsInf(f, 1):
		f = math.MaxFloat64
	case math.IsInf(f, -1):
		f = -math.MaxFloat64
	}
	s := javaDouble(f)
	if strings.Contains(s, "E-") {
		return strings.Replace(s, "E", "e", 1)
	}
	return strings.Replace(s, "E", "e+", 1)
}

// javaAsText is what jackson-jq's string interpolation inserts for v
// (tree/StringInterpolation.java): a value node's asText (a string as it
// is, a double as Double.toString: "NaN", "Infinity"), an array's or
// object's toString.
func javaAsText(v any, args []any) any {
	switch v.(type) {
	case string, []any, map[string]any:
		return javaToString(v, args)
	case nil:
		return "null"
	case bool:
		return strconv.FormatBool(v.(bool))
	}
	return javaNumberText(v)
}

// javaNumericResult is JsonNodeUtils.asNumericNode for a result gojq
// computed as a float64: an integer when it is whole and fits a long.
func javaNumericResult(v any, _ []any) any {
	if f, ok := v.(float64); ok {
		return javaNumeric(f)
	}
	return v
}

// javaImplode is functions/ImplodeFunction.java: each number that fits an
// int (its fraction cut off) is one UTF-16 unit, its low 16 bits; any
// other number fails. A unit of a surrogate pair left alone becomes
// U+FFFD, which Go strings hold in its place.
func javaImplode(v any, _ []any) any {
	l, ok := v.([]any)
	if !ok {
		return jqImplodeNative(v)
	}
	units := make([]uint16, 0, len(l))
	for _, x := range l {
		if _, isNum := javaAsDouble(x); !isNum {
			return jqImplodeNative(v) // not a number: the type check's failure
		}
		n, ok := javaInt(x)
		if !ok {
			return &jqImplodeError{}
		}
		units = append(units, uint16(n))
	}
	return string(utf16.Decode(units))
}

var jqImplode = mustCompileJQ("implode")

func jqImplodeNative(v any) any {
	res, _ := jqImplode.Run(v).Next()
	return res
}

// jqImplodeError is implode's failure on a number that is no int.
type jqImplodeError struct{}

func (*jqImplodeError) Error() string {
	return "input to implode() must be a list of codepoints; NUMBER found"
}

// jqJavaTextOptions registers the functions of this file.
func jqJavaTextOptions() []gojq.CompilerOption {
	return []gojq.CompilerOption{
		gojq.WithFunction("_wfrun_tostring", 1, 1, javaToString),
		gojq.WithFunction("_wfrun_tojson", 1, 1, javaToJSON),
		gojq.WithFunction("_wfrun_astext", 1, 1, javaAsText),
		gojq.WithFunction("_wfrun_numeric", 0, 0, javaNumericResult),
		gojq.WithFunction("_wfrun_implode", 0, 0, javaImplode),
	}
}

// jqNumericDefs are the builtins whose result jackson-jq makes an integer
// node when it is whole, tostring, tojson and implode as jackson-jq's,
// and join, which writes a number as tostring does
// (functions/JoinFunction.java); added with jqJacksonDefs.
const jqNumericDefs = `def _wfrun_length: length; def length: _wfrun_length | _wfrun_numeric;
def _wfrun_tonumber: tonumber; def tonumber: _wfrun_tonumber | _wfrun_numeric;
def _wfrun_pow(a; b): pow(a; b); def pow(a; b): _wfrun_pow(a; b) | _wfrun_numeric;
def _wfrun_range($n): range($n); def range($n): _wfrun_range($n) | _wfrun_numeric;
def _wfrun_range($f; $t): range($f; $t); def range($f; $t): _wfrun_range($f; $t) | _wfrun_numeric;
def _wfrun_range($f; $t; $s): range($f; $t; $s); def range($f; $t; $s): _wfrun_range($f; $t; $s) | _wfrun_numeric;
def add: reduce .[] as $x (null; . + $x);
def _wfrun_join($x): join($x);
def join($x): if type == "array" then map(if type == "number" then _wfrun_tostring($__wfrun_orders) else . end) | _wfrun_join($x) else _wfrun_join($x) end;
def tostring: _wfrun_tostring($__wfrun_orders); def tojson: _wfrun_tojson($__wfrun_orders); def implode: _wfrun_implode;
`

// javaTextFormats rewrites what gojq writes with its own text of a value
// into jackson-jq's: each interpolation of a string ("\(x)", @text
// "\(x)") gets x's asText, and @json "\(x)" x's tojson; @text and @json
// alone are tostring and tojson.
func javaTextFormats(q *gojq.Query) {
	orders := &gojq.Query{Term: &gojq.Term{Type: gojq.TermTypeFunc, Func: &gojq.Func{Name: jqOrdersVar}}}
	call := func(name string) *gojq.Query {
		return &gojq.Query{Term: &gojq.Term{Type: gojq.TermTypeFunc, Func: &gojq.Func{Name: name, Args: []*gojq.Query{orders}}}}
	}
	wrap := func(s *gojq.String, fn string) {
		if s == nil {
			return
		}
		for i, x := range s.Queries {
			if x.Term != nil && x.Term.Type == gojq.TermTypeString && x.Term.Str != nil && x.Term.Str.Queries == nil {
				continue // a literal part
			}
			// A term of its own: gojq tells literal parts from the
			// interpolated ones by their term.
			pipe := &gojq.Query{Left: x, Op: gojq.OpPipe, Right: call(fn)}
			s.Queries[i] = &gojq.Query{Term: &gojq.Term{Type: gojq.TermTypeQuery, Query: pipe}}
		}
	}
	walkJQOrder(q, nil, nil, func(t *gojq.Term) {
		if t.Object != nil {
			for _, kv := range t.Object.KeyVals {
				wrap(kv.KeyString, "_wfrun_astext")
			}
		}
		if t.Index != nil {
			wrap(t.Index.Str, "_wfrun_astext")
		}
		for _, s := range t.SuffixList {
			if s.Index != nil {
				wrap(s.Index.Str, "_wfrun_astext")
			}
		}
		switch {
		case t.Type == gojq.TermTypeString:
			wrap(t.Str, "_wfrun_astext")
		case t.Type == gojq.TermTypeFormat && (t.Format == "@text" || t.Format == "@json"):
			fn := map[string]string{"@text": "_wfrun_tostring", "@json": "_wfrun_tojson"}[t.Format]
			if t.Str == nil {
				*t = gojq.Term{Type: gojq.TermTypeFunc, Func: call(fn).Term.Func, SuffixList: t.SuffixList}
				return
			}
			if t.Format == "@text" {
				fn = "_wfrun_astext"
			}
			wrap(t.Str, fn)
			t.Type, t.Format = gojq.TermTypeString, ""
		}
	})
}
