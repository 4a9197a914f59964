package tasks

import (
	"math"
	"slices"
	"strings"
	"unicode/utf16"

	"github.com/itchyny/gojq"
)

// jackson-jq 0.0.13 compares with one comparator
// (internal/misc/JsonNodeComparator.java, through
// operators/ComparisonOperator.java for ==, !=, <, <=, >, >=): null,
// false, true, numbers, strings, arrays, objects; numbers by
// Double.compare of their doubles (NaN equals NaN and is above every
// number, a large integer compares by its double), strings by their
// UTF-16 units, arrays item by item, objects by their sorted keys and
// then their values. gojq compares as jq does (NaN below every number and
// equal to none, integers exactly, strings by their UTF-8 bytes).
// javaCompares rewrites each comparison of q into a call that compares as
// jackson-jq does. It runs after leftFirst, so the call's arguments are
// one value each, in jackson-jq's order.

var jqCompareFuncs = map[gojq.Operator]string{
	gojq.OpEq: "_wfrun_eq", gojq.OpNe: "_wfrun_ne", gojq.OpLt: "_wfrun_lt",
	gojq.OpLe: "_wfrun_le", gojq.OpGt: "_wfrun_gt", gojq.OpGe: "_wfrun_ge",
}

var jqCompareTests = map[string]func(int) bool{
	"_wfrun_eq": func(r int) bool { return r == 0 }, "_wfrun_ne": func(r int) bool { return r != 0 },
	"_wfrun_lt": func(r int) bool { return r < 0 }, "_wfrun_le": func(r int) bool { return r <= 0 },
	"_wfrun_gt": func(r int) bool { return r > 0 }, "_wfrun_ge": func(r int) bool { return r >= 0 },
}

func javaCompares(q *gojq.Query) {
	walkJQ(q, func(x *gojq.Query) {
		name, ok := jqCompareFuncs[x.Op]
		if !ok || x.Left == nil || x.Right == nil {
			return
		}
		call := &gojq.Term{Type: gojq.TermTypeFunc, Func: &gojq.Func{Name: name, Args: []*gojq.Query{x.Left, x.Right}}}
		*x = gojq.Query{FuncDefs: x.FuncDefs, Term: call}
	}, nil)
}

// jqCompareOptions registers the calls javaCompares writes.
func jqCompareOptions() []gojq.CompilerOption {
	var opts []gojq.CompilerOption
	for name, test := range jqCompareTests {
		opts = append(opts, gojq.WithFunction(name, 2, 2, func(_ any, args []any) any {
			return test(javaCompare(args[0], args[1]))
		}))
	}
	return opts
}

// javaTypeOrder is the comparator's order of v's type.
func javaTypeOrder(v any) int {
	switch v := v.(type) {
	case nil:
		return 0
	case bool:
		return 1
	case string:
		return 3
	case []any:
		return 4
	case map[string]any:
		return 5
	default:
		if _, ok := javaAsDouble(v); ok {
			return 2
		}
		return 6 // no JSON value: after all
	}
}

// javaCompare is JsonNodeComparator.compare.
func javaCompare(a, b any) int {
	ta, tb := javaTypeOrder(a), javaTypeOrder(b)
	if ta != tb {
		return ta - tb
	}
	switch a := a.(type) {
	case bool:
		switch bb := b.(bool); {
		case a == bb:
			return 0
		case a:
			return 1
		}
		return -1
	case string:
		return javaStringCompare(a, b.(string))
	case []any:
		bl := b.([]any)
		for i := range min(len(a), len(bl)) {
			if r := javaCompare(a[i], bl[i]); r != 0 {
				return r
			}
		}
		return len(a) - len(bl)
	case map[string]any:
		bm := b.(map[string]any)
		ka, kb := sortedKeys(a), sortedKeys(bm)
		for i := range min(len(ka), len(kb)) {
			if r := javaStringCompare(ka[i], kb[i]); r != 0 {
				return r
			}
		}
		if len(ka) != len(kb) {
			return len(ka) - len(kb)
		}
		for _, k := range ka {
			if r := javaCompare(a[k], bm[k]); r != 0 {
				return r
			}
		}
		return 0
	}
	if ta == 2 {
		fa, _ := javaAsDouble(a)
		fb, _ := javaAsDouble(b)
		return javaDoubleCompare(fa, fb)
	}
	return 0
}

// javaDoubleCompare is Double.compare: -0.0 below 0.0, NaN equal to
// itself and above everything else.
func javaDoubleCompare(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	// Equal, or a NaN: by the bits, as Java does (doubleToLongBits).
	ba, bb := javaDoubleBits(a), javaDoubleBits(b)
	switch {
	case ba < bb:
		return -1
	case ba > bb:
		return 1
	}
	return 0
}

// javaDoubleBits is Double.doubleToLongBits (every NaN the same).
func javaDoubleBits(f float64) int64 {
	if f != f {
		return 0x7ff8000000000000
	}
	return int64(math.Float64bits(f))
}

// javaStringCompare is String.compareTo: by UTF-16 units. Their order is
// the UTF-8 bytes' but where a character from U+E000 to U+FFFF meets one
// above U+FFFF (a surrogate pair, units from U+D800): without a byte from
// 0xEE up (U+E000 and above), the bytes decide.
func javaStringCompare(a, b string) int {
	if !hasHighByte(a) || !hasHighByte(b) {
		return strings.Compare(a, b)
	}
	ua, ub := utf16.Encode([]rune(a)), utf16.Encode([]rune(b))
	return slices.Compare(ua, ub)
}

func hasHighByte(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0xEE {
			return true
		}
	}
	return false
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, javaStringCompare)
	return keys
}
